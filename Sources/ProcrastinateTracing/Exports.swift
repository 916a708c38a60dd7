// The span model the tracer records and its OTLP codecs live in ProcrastinateTraceData, the
// one trace-data module; code that imports ProcrastinateTracing sees them too (SpanRecord,
// SpanContext, TraceSpan and TraceTree for `TraceView`).
@_exported import ProcrastinateTraceData
