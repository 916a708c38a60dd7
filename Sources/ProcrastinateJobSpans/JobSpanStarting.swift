import Tracing

/// A tracer that starts a job's CONSUMER span straight from the W3C headers of the job's
/// trace carrier, with the job's attributes already in it.
///
/// For any other tracer the run wrapper extracts the producer's context into a
/// `ServiceContext` and starts the span under it: two context writes per job (each a
/// dictionary and a boxed value), the first only to be read back at once. A tracer that
/// adopts this protocol (`ProcrastinateTracer`) reads the headers itself and writes one
/// context, the span's own. What comes out is the same span: parent, sampling, kind,
/// attributes.
package protocol JobSpanStarting: Tracer {
  /// Starts the span named `operationName` as a child of the remote span `traceParent` names,
  /// with `attributes` set if the span records, at the current time.
  ///
  /// The caller has checked that `traceParent` is a valid W3C `traceparent`. Returns nil when
  /// this tracer does not read it (a later W3C version it does not know): the caller then
  /// treats the job as having no parent, as it would after `extract`.
  func startJobSpan(
    _ operationName: String, traceParent: String, traceState: String?,
    attributes: @autoclosure () -> JobSpanAttributes
  ) -> (any Tracing.Span & JobAttributeRecording)?
}
