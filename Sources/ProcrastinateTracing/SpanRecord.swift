import Procrastinate
import Tracing
import W3CTraceContext

/// A finished span, as processors and exporters receive it.
public struct SpanRecord: Sendable {
  /// A link to another span.
  public struct Link: Sendable {
    public var context: SpanContext
    public var attributes: SpanAttributes
  }

  public var context: SpanContext
  public var parentSpanID: SpanID?
  public var name: String
  public var kind: SpanKind
  public var startNanoseconds: UInt64
  public var endNanoseconds: UInt64
  public var attributes: SpanAttributes
  public var events: [SpanEvent]
  public var links: [Link]
  /// nil when unset.
  public var status: SpanStatus?
  /// Attributes, events and links left out because of ``SpanLimits``.
  public var droppedAttributes: Int
  public var droppedEvents: Int
  public var droppedLinks: Int
}

/// Bounds on what one span may carry; what goes past them is dropped and counted.
public struct SpanLimits: Sendable {
  public var attributeCount: Int
  /// Longer string values are cut to this many characters; nil keeps them whole.
  public var attributeValueLength: Int?
  public var eventCount: Int
  public var linkCount: Int

  public init(
    attributeCount: Int = 128, attributeValueLength: Int? = nil, eventCount: Int = 128,
    linkCount: Int = 128
  ) {
    self.attributeCount = attributeCount
    self.attributeValueLength = attributeValueLength
    self.eventCount = eventCount
    self.linkCount = linkCount
  }

  /// Applies the count and length limits; returns the kept attributes and how many were dropped.
  func limit(_ attributes: SpanAttributes) -> (SpanAttributes, dropped: Int) {
    if attributes.count <= attributeCount && attributeValueLength == nil {
      return (attributes, 0)  // the usual case: nothing to cut, no copy
    }
    var kept = SpanAttributes()
    var dropped = 0
    attributes.forEach { key, value in
      if kept.count >= attributeCount {
        dropped += 1
        return
      }
      if let length = attributeValueLength, case .string(let text) = value, text.count > length {
        kept.set(key, value: .string(String(text.prefix(length))))
      } else {
        kept.set(key, value: value)
      }
    }
    return (kept, dropped)
  }
}

/// Receives spans as they end. Implementations must never block the caller.
public protocol SpanProcessor: Sendable {
  func onEnd(_ span: SpanRecord)
  /// Exports what is queued; returns when done or when the processor's timeout passes.
  func forceFlush() async
  /// Flushes, then stops accepting spans.
  func shutdown() async
}

/// Sends batches of finished spans somewhere.
public protocol SpanExporter: Sendable {
  func export(_ spans: [SpanRecord]) async throws
  func shutdown() async
}
