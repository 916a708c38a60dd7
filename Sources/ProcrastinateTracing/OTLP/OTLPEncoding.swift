import Foundation
import ProcrastinateConventions
import Tracing
import W3CTraceContext

/// Who produced the spans: `service.name`, `telemetry.sdk.*` and any other resource attributes.
package struct TracingResource: Sendable {
  package var attributes: [(key: String, value: SpanAttribute)]

  package init(serviceName: String, attributes extra: [(key: String, value: SpanAttribute)] = []) {
    var attributes: [(key: String, value: SpanAttribute)] = [
      ("service.name", .string(serviceName)),
      ("telemetry.sdk.name", .string("swift-procrastinate")),
      ("telemetry.sdk.language", .string("swift")),
      ("telemetry.sdk.version", .string(TracingResource.sdkVersion)),
    ]
    for (key, value) in extra {
      if let index = attributes.firstIndex(where: { $0.key == key }) {
        attributes[index].value = value
      } else {
        attributes.append((key, value))
      }
    }
    self.attributes = attributes
  }

  package var serviceName: String {
    if case .string(let name) = attributes.first(where: { $0.key == "service.name" })?.value {
      return name
    }
    return "unknown_service"
  }

  package static let sdkVersion = "0.1.0"
}

/// Encodes spans as an OTLP `ExportTraceServiceRequest`, in protobuf or in OTLP/JSON.
///
/// Written by hand from `opentelemetry/proto/trace/v1/trace.proto` (field numbers below);
/// the tests decode the output with the official `opentelemetry-proto` classes.
package enum OTLPEncoding {
  static let scopeName = "swift-procrastinate"

  // MARK: Protobuf

  package static func protobuf(_ spans: [SpanRecord], resource: TracingResource) -> [UInt8] {
    var request = ProtobufWriter()
    request.message(1) { resourceSpans in
      resourceSpans.message(1) { resourceMessage in
        for (key, value) in resource.attributes {
          resourceMessage.message(1) { $0.keyValue(key, value) }
        }
      }
      resourceSpans.message(2) { scopeSpans in
        scopeSpans.message(1) { scope in
          scope.string(1, scopeName)
          scope.string(2, TracingResource.sdkVersion)
        }
        for span in spans { scopeSpans.message(2) { $0.span(span) } }
      }
    }
    return request.bytes
  }

  // MARK: JSON

  /// OTLP/JSON: lowerCamelCase names, enums as numbers, 64-bit integers as strings, and
  /// trace and span ids as lowercase hex (not base64), as the OTLP specification requires.
  package static func json(_ spans: [SpanRecord], resource: TracingResource) -> String {
    var out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    out += resource.attributes.map { jsonKeyValue($0.key, $0.value) }.joined(separator: ",")
    out +=
      "]},\"scopeSpans\":[{\"scope\":{\"name\":\(jsonString(scopeName)),\"version\":\(jsonString(TracingResource.sdkVersion))},\"spans\":["
    out += spans.map(jsonSpan).joined(separator: ",")
    out += "]}]}]}"
    return out
  }

  static func jsonSpan(_ span: SpanRecord) -> String {
    var fields = [
      "\"traceId\":\"\(span.context.traceID)\"",
      "\"spanId\":\"\(span.context.spanID)\"",
    ]
    if let state = span.context.traceStateHeader {
      fields.append("\"traceState\":\(jsonString(state))")
    }
    if let parent = span.parentSpanID { fields.append("\"parentSpanId\":\"\(parent)\"") }
    fields.append("\"name\":\(jsonString(span.name))")
    fields.append("\"kind\":\(kindNumber(span.kind))")
    fields.append("\"startTimeUnixNano\":\"\(span.startNanoseconds)\"")
    fields.append("\"endTimeUnixNano\":\"\(span.endNanoseconds)\"")
    fields.append("\"attributes\":[\(jsonAttributes(span.attributes))]")
    if span.droppedAttributes > 0 {
      fields.append("\"droppedAttributesCount\":\(span.droppedAttributes)")
    }
    let events = span.events.map { event in
      "{\"timeUnixNano\":\"\(event.nanosecondsSinceEpoch)\",\"name\":\(jsonString(event.name)),\"attributes\":[\(jsonAttributes(event.attributes))]}"
    }
    fields.append("\"events\":[\(events.joined(separator: ","))]")
    if span.droppedEvents > 0 { fields.append("\"droppedEventsCount\":\(span.droppedEvents)") }
    let links = span.links.map { link in
      var linkFields = [
        "\"traceId\":\"\(link.context.traceID)\"", "\"spanId\":\"\(link.context.spanID)\"",
      ]
      if let state = link.context.traceStateHeader {
        linkFields.append("\"traceState\":\(jsonString(state))")
      }
      linkFields.append("\"attributes\":[\(jsonAttributes(link.attributes))]")
      linkFields.append("\"flags\":\(linkFlags(link.context))")
      return "{" + linkFields.joined(separator: ",") + "}"
    }
    fields.append("\"links\":[\(links.joined(separator: ","))]")
    if span.droppedLinks > 0 { fields.append("\"droppedLinksCount\":\(span.droppedLinks)") }
    if let status = span.status {
      var statusFields = ["\"code\":\(statusNumber(status.code))"]
      if let message = status.message {
        statusFields.insert("\"message\":\(jsonString(message))", at: 0)
      }
      fields.append("\"status\":{\(statusFields.joined(separator: ","))}")
    }
    fields.append("\"flags\":\(spanFlags(span))")
    return "{" + fields.joined(separator: ",") + "}"
  }

  static func jsonAttributes(_ attributes: SpanAttributes) -> String {
    var parts: [String] = []
    attributes.forEach { key, value in parts.append(jsonKeyValue(key, value)) }
    return parts.joined(separator: ",")
  }

  static func jsonKeyValue(_ key: String, _ value: SpanAttribute) -> String {
    "{\"key\":\(jsonString(key)),\"value\":\(jsonAnyValue(value))}"
  }

  static func jsonAnyValue(_ value: SpanAttribute) -> String {
    switch AttributeValue(value) {
    case .string(let text): return "{\"stringValue\":\(jsonString(text))}"
    case .bool(let flag): return "{\"boolValue\":\(flag)}"
    case .int(let number): return "{\"intValue\":\"\(number)\"}"
    case .double(let number):
      if number.isNaN { return "{\"doubleValue\":\"NaN\"}" }
      if number.isInfinite {
        return "{\"doubleValue\":\"\(number < 0 ? "-Infinity" : "Infinity")\"}"
      }
      return "{\"doubleValue\":\(number)}"
    case .array(let values):
      return "{\"arrayValue\":{\"values\":[" + values.map(jsonAnyValue).joined(separator: ",")
        + "]}}"
    }
  }

  static func jsonAnyValue(_ value: AttributeValue) -> String {
    switch value {
    case .string(let text): "{\"stringValue\":\(jsonString(text))}"
    case .bool(let flag): "{\"boolValue\":\(flag)}"
    case .int(let number): "{\"intValue\":\"\(number)\"}"
    case .double(let number): jsonAnyValue(.double(number) as SpanAttribute)
    case .array(let values):
      "{\"arrayValue\":{\"values\":[" + values.map(jsonAnyValue).joined(separator: ",") + "]}}"
    }
  }

  static func jsonString(_ text: String) -> String {
    TextEscaping.quoted(text) { String(format: "\\u%04x", $0) }
  }

  // MARK: Shared

  static func kindNumber(_ kind: SpanKind) -> UInt64 {
    switch kind {
    case .internal: 1
    case .server: 2
    case .client: 3
    case .producer: 4
    case .consumer: 5
    }
  }

  static func statusNumber(_ code: SpanStatus.Code) -> UInt64 {
    switch code {
    case .ok: 1
    case .error: 2
    }
  }

  /// W3C flags in the low byte, plus "has is-remote" (0x100) and "is remote" (0x200).
  static func spanFlags(_ span: SpanRecord) -> UInt32 {
    UInt32(span.context.flags.rawValue) | 0x100
      | (span.parentSpanID != nil && span.context.isRemote ? 0x200 : 0)
  }

  static func linkFlags(_ context: SpanContext) -> UInt32 {
    UInt32(context.flags.rawValue) | 0x100 | (context.isRemote ? 0x200 : 0)
  }
}

/// A span attribute reduced to the OTLP value kinds.
enum AttributeValue {
  case string(String)
  case bool(Bool)
  case int(Int64)
  case double(Double)
  case array([AttributeValue])

  /// The value as a person reads it: strings as they are, arrays in brackets.
  var display: String {
    switch self {
    case .string(let text): text.contains(" ") ? "\"\(text)\"" : text
    case .bool(let flag): String(flag)
    case .int(let number): String(number)
    case .double(let number): String(number)
    case .array(let values): "[" + values.map(\.display).joined(separator: ",") + "]"
    }
  }

  init(_ attribute: SpanAttribute) {
    switch attribute {
    case .int32(let value): self = .int(Int64(value))
    case .int64(let value): self = .int(value)
    case .double(let value): self = .double(value)
    case .bool(let value): self = .bool(value)
    case .string(let value): self = .string(value)
    case .int32Array(let values): self = .array(values.map { .int(Int64($0)) })
    case .int64Array(let values): self = .array(values.map { .int($0) })
    case .doubleArray(let values): self = .array(values.map { .double($0) })
    case .boolArray(let values): self = .array(values.map { .bool($0) })
    case .stringArray(let values): self = .array(values.map { .string($0) })
    case .stringConvertible(let value): self = .string(String(describing: value))
    case .stringConvertibleArray(let values):
      self = .array(values.map { .string(String(describing: $0)) })
    default: self = .string(String(describing: attribute))
    }
  }
}

/// A minimal protobuf writer: varints, fixed-width numbers, strings, bytes and nested messages.
///
/// Everything goes into one buffer: a nested message is written in place after a one-byte
/// length, which is widened (the body moved right once) only when the body is 128 bytes or
/// more; strings and ids are appended straight from their storage. Encoding a span
/// allocates nothing but the buffer's growth.
struct ProtobufWriter {
  private(set) var bytes: [UInt8] = []

  private mutating func varint(_ value: UInt64) {
    var value = value
    while value >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
      value >>= 7
    }
    bytes.append(UInt8(value))
  }

  private mutating func tag(_ field: Int, _ wireType: UInt64) {
    varint(UInt64(field) << 3 | wireType)
  }

  mutating func uint(_ field: Int, _ value: UInt64) {
    guard value != 0 else { return }
    tag(field, 0)
    varint(value)
  }

  mutating func bool(_ field: Int, _ value: Bool) {
    tag(field, 0)
    varint(value ? 1 : 0)
  }

  mutating func int64(_ field: Int, _ value: Int64) {
    tag(field, 0)
    varint(UInt64(bitPattern: value))
  }

  mutating func fixed64(_ field: Int, _ value: UInt64) {
    tag(field, 1)
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func fixed32(_ field: Int, _ value: UInt32) {
    tag(field, 5)
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func double(_ field: Int, _ value: Double) {
    tag(field, 1)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func bytes(_ field: Int, _ value: UnsafeRawBufferPointer) {
    tag(field, 2)
    varint(UInt64(value.count))
    bytes.append(contentsOf: value)
  }

  /// A string field, even when empty (an `AnyValue`'s string must be there to say its kind).
  mutating func text(_ field: Int, _ value: String) {
    tag(field, 2)
    varint(UInt64(value.utf8.count))
    bytes.append(contentsOf: value.utf8)
  }

  /// A string field, left out when empty (proto3's default).
  mutating func string(_ field: Int, _ value: String) {
    guard !value.isEmpty else { return }
    text(field, value)
  }

  /// An id (trace or span) as its raw bytes.
  mutating func id<ID>(_ field: Int, _ value: ID) {
    withUnsafeBytes(of: value) { bytes(field, $0) }
  }

  mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
    tag(field, 2)
    let lengthAt = bytes.count
    bytes.append(0)
    body(&self)
    let length = bytes.count - lengthAt - 1
    guard length >= 0x80 else {
      bytes[lengthAt] = UInt8(length)
      return
    }
    var width = 1
    var rest = length >> 7
    while rest > 0 {
      width += 1
      rest >>= 7
    }
    bytes.insert(contentsOf: repeatElement(0, count: width - 1), at: lengthAt + 1)
    var value = length
    for index in 0..<width {
      bytes[lengthAt + index] = UInt8(truncatingIfNeeded: value) | (index < width - 1 ? 0x80 : 0)
      value >>= 7
    }
  }

  // MARK: OTLP messages

  mutating func keyValue(_ key: String, _ value: SpanAttribute) {
    string(1, key)
    message(2) { $0.anyValue(AttributeValue(value)) }
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
    attributes.forEach { key, value in message(field) { $0.keyValue(key, value) } }
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
    attributes(9, span.attributes)
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
