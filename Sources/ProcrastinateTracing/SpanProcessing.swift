import ProcrastinateTraceData
import Tracing

/// Bounds on what one span may carry; what goes past them is dropped and counted.
package struct SpanLimits: Sendable {
  package var attributeCount: Int
  /// Longer string values are cut to this many characters; nil keeps them whole.
  package var attributeValueLength: Int?
  package var eventCount: Int
  package var linkCount: Int

  package init(
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
package protocol SpanProcessor: Sendable {
  func onEnd(_ span: SpanRecord)
  /// Exports what is queued; returns when done or when the processor's timeout passes.
  func forceFlush() async
  /// Flushes, then stops accepting spans.
  func shutdown() async
}

/// Sends batches of finished spans somewhere.
package protocol SpanExporter: Sendable {
  func export(_ spans: [SpanRecord]) async throws
  func shutdown() async
  /// OpenTelemetry's `otel.component.type` of the exporter, e.g. `otlp_http_span_exporter`.
  var componentType: String { get }
}

extension SpanExporter {
  package var componentType: String { "span_exporter" }
}
