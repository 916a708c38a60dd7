import ProcrastinateConventions
import ProcrastinateJobSpans
import Tracing
import W3CTraceContext

/// The OTLP trace messages, field numbers from `opentelemetry/proto/trace/v1/trace.proto`.
extension ProtobufWriter {
  mutating func keyValue(_ key: String, _ value: AttributeValue) {
    string(1, key)
    message(2) { $0.anyValue(value) }
  }

  /// Each job span attribute's key field, as ``keyValue(_:_:)`` writes it, by
  /// `JobSpanAttributes.Key` raw value.
  private static let jobKeys: [[UInt8]] = JobSpanAttributes.Key.allCases.map { key in
    var writer = ProtobufWriter()
    writer.string(1, key.name)
    return writer.bytes
  }

  mutating func anyValue(_ value: AttributeValue) {
    switch value {
    case .string(let text): self.text(1, text)
    case .bool(let flag): bool(2, flag)
    case .int(let number): int64(3, number)
    case .double(let number): double(4, number)
    case .array(let values):
      message(5) { array in
        for value in values { array.message(1) { $0.anyValue(value) } }
      }
    }
  }

  mutating func attributes(_ field: Int, _ attributes: SpanAttributes) {
    attributes.forEach { key, value in message(field) { $0.keyValue(key, AttributeValue(value)) } }
  }

  /// A job span's attributes, field by field, with no dictionary in between: each key's
  /// bytes prepared once, and each `KeyValue` and `AnyValue` written after its length,
  /// which the value's kind and size give beforehand (the fields' tags are one byte).
  mutating func attributes(_ field: Int, _ attributes: JobSpanAttributes) {
    attributes.forEachKeyed { key, value in
      let encodedKey = Self.jobKeys[key.rawValue]
      let valueLength: Int  // of the AnyValue `anyValue` writes
      switch value {
      case .string(let text):
        let count = text.utf8.count
        valueLength = 1 + Self.varintSize(UInt64(count)) + count
      case .int(let number): valueLength = 1 + Self.varintSize(UInt64(bitPattern: number))
      case .double: valueLength = 1 + 8
      }
      lengthDelimited(
        field, length: encodedKey.count + 1 + Self.varintSize(UInt64(valueLength)) + valueLength)
      raw(encodedKey)
      lengthDelimited(2, length: valueLength)
      anyValue(AttributeValue(value))
    }
  }

  mutating func span(_ span: SpanRecord) {
    id(1, span.context.traceID.bytes)
    id(2, span.context.spanID.bytes)
    if !span.context.traceState.isEmpty, let state = span.context.traceStateHeader {
      string(3, state)
    }
    if let parent = span.parentSpanID { id(4, parent.bytes) }
    string(5, span.name)
    uint(6, OTLPEncoding.kindNumber(span.kind))
    fixed64(7, span.startNanoseconds)
    fixed64(8, span.endNanoseconds)
    if let job = span.jobAttributes { attributes(9, job) }
    attributes(9, span.ownAttributes)
    uint(10, UInt64(span.droppedAttributes))
    for event in span.events {
      message(11) { encoded in
        encoded.fixed64(1, event.nanosecondsSinceEpoch)
        encoded.string(2, event.name)
        encoded.attributes(3, event.attributes)
      }
    }
    uint(12, UInt64(span.droppedEvents))
    for link in span.links {
      message(13) { encoded in
        encoded.id(1, link.context.traceID.bytes)
        encoded.id(2, link.context.spanID.bytes)
        if let state = link.context.traceStateHeader { encoded.string(3, state) }
        encoded.attributes(4, link.attributes)
        encoded.fixed32(6, OTLPEncoding.linkFlags(link.context))
      }
    }
    uint(14, UInt64(span.droppedLinks))
    if let status = span.status {
      message(15) { encoded in
        if let message = status.message { encoded.string(2, message) }
        encoded.uint(3, OTLPEncoding.statusNumber(status.code))
      }
    }
    fixed32(16, OTLPEncoding.spanFlags(span))
  }
}
