import Tracing
import W3CTraceContext

/// The identity of a span as W3C trace context carries it: trace id, span id, flags and
/// vendor state. It travels in `ServiceContext`, so spans of Hummingbird, Vapor or
/// AsyncHTTPClient started under one of ours become its children.
///
/// You read it from a ``SpanRecord`` (its ``SpanRecord/context``) in tests; the tracer
/// creates it.
public struct SpanContext: Sendable {
  /// The 16-byte id shared by every span of the trace.
  public var traceID: TraceID
  /// The 8-byte id of this span.
  public var spanID: SpanID
  /// W3C trace flags; `sampled` says whether the span is recorded and exported.
  public var flags: TraceFlags
  /// Vendor-specific `tracestate` entries, passed on unchanged.
  public var traceState: TraceState
  /// Whether the context came from another process (extracted from a carrier).
  public var isRemote: Bool

  package init(
    traceID: TraceID, spanID: SpanID, flags: TraceFlags, traceState: TraceState = TraceState(),
    isRemote: Bool
  ) {
    self.traceID = traceID
    self.spanID = spanID
    self.flags = flags
    self.traceState = traceState
    self.isRemote = isRemote
  }

  /// Whether the span is sampled (recorded and exported).
  public var isSampled: Bool { flags.contains(.sampled) }

  /// The `traceparent` header value.
  public var traceParent: String {
    TraceContext(traceID: traceID, spanID: spanID, flags: flags, state: traceState)
      .traceParentHeaderValue
  }

  /// The `tracestate` header value, nil when empty.
  public var traceStateHeader: String? {
    TraceContext(traceID: traceID, spanID: spanID, flags: flags, state: traceState)
      .traceStateHeaderValue
  }

  /// Parses W3C headers; nil when `traceparent` is malformed (callers start a new trace).
  /// A malformed `tracestate` alone is dropped, keeping the parent.
  package init?(traceParent: String, traceState: String?) {
    let parsed: TraceContext
    if let context = try? TraceContext(
      traceParentHeaderValue: traceParent, traceStateHeaderValue: traceState)
    {
      parsed = context
    } else if let context = try? TraceContext(traceParentHeaderValue: traceParent) {
      parsed = context
    } else {
      return nil
    }
    self.init(
      traceID: parsed.traceID, spanID: parsed.spanID, flags: parsed.flags, traceState: parsed.state,
      isRemote: true)
  }
}
