import ProcrastinateConventions
import ProcrastinateJobSpans
import Tracing
import W3CTraceContext

/// A finished span, as processors and exporters receive it, and as
/// `InMemorySpanExporter.finishedSpans` (ProcrastinateTracing) returns it to tests.
public struct SpanRecord: Sendable {
  /// A link to another span.
  public struct Link: Sendable {
    /// The linked span.
    public var context: SpanContext
    /// The link's attributes.
    public var attributes: SpanAttributes

    package init(context: SpanContext, attributes: SpanAttributes) {
      self.context = context
      self.attributes = attributes
    }
  }

  /// The span's trace id, span id, flags and trace state.
  public var context: SpanContext
  /// The parent span's id; nil for a root span.
  public var parentSpanID: SpanID?
  /// The operation name, e.g. `procrastinate.job.fetch_joke`.
  public var name: String
  /// `internal`, `server`, `client`, `producer` or `consumer`.
  public var kind: SpanKind
  /// When the span started, in nanoseconds since the Unix epoch.
  public var startNanoseconds: UInt64
  /// When the span ended, in nanoseconds since the Unix epoch.
  public var endNanoseconds: UInt64
  /// The attributes kept (see ``droppedAttributes``).
  public var attributes: SpanAttributes {
    get {
      guard let jobAttributes else { return ownAttributes }
      var all = ownAttributes
      jobAttributes.forEach { key, value in all.set(key, value: value.spanAttribute) }
      return all
    }
    set {
      ownAttributes = newValue
      jobAttributes = nil
    }
  }
  /// The attributes set one by one; ``attributes`` adds ``jobAttributes`` to them.
  package private(set) var ownAttributes: SpanAttributes
  /// A job span's attributes as its span kept them, unhashed: the protobuf encoder writes
  /// them field by field. No key of theirs is in ``ownAttributes``.
  package private(set) var jobAttributes: JobSpanAttributes?
  /// Events, such as the `exception` event of a recorded error, in the order they were added.
  public var events: [SpanEvent]
  /// Links to other spans.
  public var links: [Link]
  /// The status; nil when it was never set.
  public var status: SpanStatus?
  /// Attributes left out because of the tracer's limits on what a span may carry.
  public var droppedAttributes: Int
  /// Events left out because of the tracer's limits.
  public var droppedEvents: Int
  /// Links left out because of the tracer's limits.
  public var droppedLinks: Int

  package init(
    context: SpanContext, parentSpanID: SpanID?, name: String, kind: SpanKind,
    startNanoseconds: UInt64, endNanoseconds: UInt64, attributes: SpanAttributes,
    jobAttributes: JobSpanAttributes? = nil, events: [SpanEvent], links: [Link],
    status: SpanStatus?, droppedAttributes: Int,
    droppedEvents: Int, droppedLinks: Int
  ) {
    self.context = context
    self.parentSpanID = parentSpanID
    self.name = name
    self.kind = kind
    self.startNanoseconds = startNanoseconds
    self.endNanoseconds = endNanoseconds
    self.ownAttributes = attributes
    self.jobAttributes = jobAttributes
    self.events = events
    self.links = links
    self.status = status
    self.droppedAttributes = droppedAttributes
    self.droppedEvents = droppedEvents
    self.droppedLinks = droppedLinks
  }
}

extension JobSpanAttributes.Value {
  /// The value as swift-distributed-tracing's attribute.
  package var spanAttribute: SpanAttribute {
    switch self {
    case .string(let text): .string(text)
    case .int(let number): .int64(number)
    case .double(let number): .double(number)
    }
  }
}
