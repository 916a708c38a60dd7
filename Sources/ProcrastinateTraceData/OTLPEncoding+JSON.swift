import Foundation
import ProcrastinateConventions
import Tracing

/// OTLP/JSON: what the file exporter writes and `OTEL_EXPORTER_OTLP_PROTOCOL=http/json` sends.
extension OTLPEncoding {
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
}
