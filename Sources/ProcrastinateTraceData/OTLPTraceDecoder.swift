import Foundation

/// Decodes OTLP trace export requests, as OTLP/HTTP exporters send them and as the file
/// exporter writes them (one OTLP/JSON request per line), into ``TraceSpan``s.
///
/// What one span may bring is bounded, as OpenTelemetry SDKs bound what they record: at most
/// ``maximumEntries`` attributes, events, and array or map entries (the rest is counted in
/// ``TraceSpan/dropped``), and strings cut at ``maximumStringBytes``.
package enum OTLPTraceDecoder {
  package static let maximumEntries = 128
  package static let maximumStringBytes = 8_192

  /// `text`, cut to ``maximumStringBytes`` bytes (at a character boundary) with "…".
  static func bounded(_ text: String) -> String {
    guard text.utf8.count > maximumStringBytes else { return text }
    var cut = String(decoding: text.utf8.prefix(maximumStringBytes), as: UTF8.self)
    if cut.last == "\u{FFFD}" { cut.removeLast() }
    return cut + "…"
  }

  /// OTLP/JSON (`application/json`): lowerCamelCase names, trace and span ids as hex, enums
  /// as numbers (or their names), 64-bit integers as strings (or numbers).
  ///
  /// `lenient` reads files from other tools as they are (`traces show`): a trace, span or
  /// parent id that is missing or not hex is kept as written (a missing one as empty)
  /// instead of refusing the request. What is not an OTLP request is refused either way.
  package static func json(_ data: Data, lenient: Bool = false) throws(OTLPDecodingError)
    -> [TraceSpan]
  {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: data)
    } catch {
      throw OTLPDecodingError("not JSON: \(error.localizedDescription)")
    }
    guard let request = object as? [String: Any] else {
      throw OTLPDecodingError(
        "not an OTLP/JSON export request: expected {\"resourceSpans\": [...]}")
    }
    guard let resourceSpansValue = request["resourceSpans"] else { return [] }
    guard let resourceSpans = resourceSpansValue as? [Any] else {
      throw OTLPDecodingError("resourceSpans is not an array")
    }
    var spans: [TraceSpan] = []
    for (resourceIndex, element) in resourceSpans.enumerated() {
      let path = "resourceSpans[\(resourceIndex)]"
      guard let resourceSpan = element as? [String: Any] else {
        throw OTLPDecodingError("\(path) is not an object")
      }
      let resource = resourceSpan["resource"] as? [String: Any] ?? [:]
      let resourceAttributes = try attributes(resource["attributes"], path: path + ".resource").kept
      var service = ""
      if case .string(let name)? = resourceAttributes.first(where: { $0.key == "service.name" })?
        .value
      {
        service = name
      }
      for (scopeIndex, scopeElement) in try array(
        resourceSpan["scopeSpans"], path: path + ".scopeSpans"
      ).enumerated() {
        let scopePath = "\(path).scopeSpans[\(scopeIndex)]"
        guard let scope = scopeElement as? [String: Any] else {
          throw OTLPDecodingError("\(scopePath) is not an object")
        }
        for (spanIndex, spanElement) in try array(scope["spans"], path: scopePath + ".spans")
          .enumerated()
        {
          let spanPath = "\(scopePath).spans[\(spanIndex)]"
          guard let span = spanElement as? [String: Any] else {
            throw OTLPDecodingError("\(spanPath) is not an object")
          }
          spans.append(try self.span(span, service: service, path: spanPath, lenient: lenient))
        }
      }
    }
    return spans
  }

  private static func span(_ span: [String: Any], service: String, path: String, lenient: Bool)
    throws(OTLPDecodingError) -> TraceSpan
  {
    func id(_ key: String, digits: Int) throws(OTLPDecodingError) -> String {
      if lenient { return span[key] as? String ?? "" }
      return try self.id(span[key], digits: digits, name: key, path: path)
    }
    let traceID = try id("traceId", digits: 32)
    let spanID = try id("spanId", digits: 16)
    var parent: String?
    if let value = span["parentSpanId"] as? String, !value.isEmpty {
      parent = try id("parentSpanId", digits: 16)
    }
    let status = span["status"] as? [String: Any] ?? [:]
    var events: [TraceEvent] = []
    var dropped = 0
    for (index, element) in try array(span["events"], path: path + ".events").enumerated() {
      guard events.count < maximumEntries else {
        dropped += 1
        continue
      }
      guard let event = element as? [String: Any] else {
        throw OTLPDecodingError("\(path).events[\(index)] is not an object")
      }
      events.append(
        TraceEvent(
          name: event["name"] as? String ?? "",
          timeNanoseconds: try unsigned(event["timeUnixNano"], name: "timeUnixNano", path: path),
          attributes: try attributes(event["attributes"], path: "\(path).events[\(index)]").kept))
    }
    let attributes = try attributes(span["attributes"], path: path)
    var decoded = TraceSpan(
      traceID: traceID, spanID: spanID, parentSpanID: parent,
      name: span["name"] as? String ?? "",
      kind: TraceSpan.Kind(
        number: enumNumber(span["kind"], prefix: "SPAN_KIND_", names: kindNames)),
      startNanoseconds: try unsigned(
        span["startTimeUnixNano"], name: "startTimeUnixNano", path: path),
      endNanoseconds: try unsigned(span["endTimeUnixNano"], name: "endTimeUnixNano", path: path),
      attributes: attributes.kept, events: events,
      statusCode: TraceSpan.StatusCode(
        number: enumNumber(status["code"], prefix: "STATUS_CODE_", names: statusNames)),
      statusMessage: (status["message"] as? String).flatMap { $0.isEmpty ? nil : bounded($0) },
      serviceName: service)
    decoded.dropped = dropped + attributes.dropped
    return decoded
  }

  private static let kindNames = [
    "UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER",
  ]
  private static let statusNames = ["UNSET", "OK", "ERROR"]

  /// An enum given as its number, or as its name (`SPAN_KIND_SERVER`); 0 when unknown.
  private static func enumNumber(_ value: Any?, prefix: String, names: [String]) -> Int {
    if let number = value as? NSNumber { return number.intValue }
    if let name = value as? String {
      let bare = name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : name
      return names.firstIndex(of: bare) ?? 0
    }
    return 0
  }

  private static func array(_ value: Any?, path: String) throws(OTLPDecodingError) -> [Any] {
    guard let value else { return [] }
    guard let array = value as? [Any] else { throw OTLPDecodingError("\(path) is not an array") }
    return array
  }

  private static func id(_ value: Any?, digits: Int, name: String, path: String)
    throws(OTLPDecodingError) -> String
  {
    guard let text = value as? String, Hex.isHex(text, count: digits) else {
      throw OTLPDecodingError(
        "\(path): \(name) must be \(digits) hex digits; got \(describe(value))")
    }
    return text.lowercased()
  }

  /// A 64-bit unsigned integer, as a string (OTLP/JSON) or a number; 0 when missing.
  private static func unsigned(_ value: Any?, name: String, path: String)
    throws(OTLPDecodingError) -> UInt64
  {
    guard let value else { return 0 }
    if let text = value as? String, let number = UInt64(text) { return number }
    if let number = value as? NSNumber, number.doubleValue >= 0 { return number.uint64Value }
    throw OTLPDecodingError("\(path): \(name) is not an unsigned integer; got \(describe(value))")
  }

  private static func attributes(_ value: Any?, path: String) throws(OTLPDecodingError)
    -> (kept: [TraceAttribute], dropped: Int)
  {
    var result: [TraceAttribute] = []
    var dropped = 0
    for (index, element) in try array(value, path: path + ".attributes").enumerated() {
      guard result.count < maximumEntries else {
        dropped += 1
        continue
      }
      guard let entry = element as? [String: Any], let key = entry["key"] as? String else {
        throw OTLPDecodingError("\(path).attributes[\(index)] is not {\"key\": …, \"value\": …}")
      }
      result.append(
        TraceAttribute(
          bounded(key), try anyValue(entry["value"], path: "\(path).attributes[\(index)]", depth: 0)
        ))
    }
    return (result, dropped)
  }

  private static func anyValue(_ value: Any?, path: String, depth: Int) throws(OTLPDecodingError)
    -> TraceValue
  {
    guard depth <= maximumValueDepth else {
      throw OTLPDecodingError("\(path): values nested deeper than \(maximumValueDepth) levels")
    }
    guard let object = value as? [String: Any], let (kind, inner) = object.first else {
      return .string("")
    }
    switch kind {
    case "stringValue": return .string(bounded(inner as? String ?? "\(inner)"))
    case "boolValue": return .bool((inner as? NSNumber)?.boolValue ?? (inner as? Bool) ?? false)
    case "intValue":
      if let text = inner as? String, let number = Int64(text) { return .int(number) }
      if let number = inner as? NSNumber { return .int(number.int64Value) }
      throw OTLPDecodingError("\(path): intValue is not an integer; got \(describe(inner))")
    case "doubleValue":
      if let number = inner as? NSNumber { return .double(number.doubleValue) }
      if let text = inner as? String, let number = Double(text) { return .double(number) }
      throw OTLPDecodingError("\(path): doubleValue is not a number; got \(describe(inner))")
    case "bytesValue":
      guard let text = inner as? String, let data = Data(base64Encoded: text) else {
        throw OTLPDecodingError("\(path): bytesValue is not base64")
      }
      return .bytes(Array(data))
    case "arrayValue":
      let values = try array((inner as? [String: Any])?["values"], path: path + ".arrayValue")
      var result: [TraceValue] = []
      for element in values.prefix(maximumEntries) {
        result.append(try anyValue(element, path: path, depth: depth + 1))
      }
      return .array(result)
    case "kvlistValue":
      let values = try array((inner as? [String: Any])?["values"], path: path + ".kvlistValue")
      var result: [TraceAttribute] = []
      for element in values.prefix(maximumEntries) {
        guard let entry = element as? [String: Any], let key = entry["key"] as? String else {
          throw OTLPDecodingError("\(path).kvlistValue: an entry is not {\"key\": …, \"value\": …}")
        }
        result.append(
          TraceAttribute(key, try anyValue(entry["value"], path: path, depth: depth + 1)))
      }
      return .map(result)
    default:
      throw OTLPDecodingError("\(path): unknown value kind \(kind)")
    }
  }

  private static func describe(_ value: Any?) -> String {
    guard let value else { return "nothing" }
    let text = "\(value)"
    return text.count > 60 ? String(text.prefix(60)) + "…" : text
  }
}
