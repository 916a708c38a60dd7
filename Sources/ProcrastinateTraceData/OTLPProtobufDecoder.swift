/// Decodes an OTLP `ExportTraceServiceRequest` in protobuf, the body OTLP/HTTP exporters
/// send by default (`application/x-protobuf`).
///
/// Written from `opentelemetry/proto/trace/v1/trace.proto` and `common/v1/common.proto`:
/// the fields the dashboard shows are read, every other field is skipped by its wire type,
/// as protobuf requires. Errors name the span (`resourceSpans[0].scopeSpans[0].spans[3]`)
/// and the field.
extension OTLPTraceDecoder {
  /// Nesting deeper than this (arrays in arrays…) is refused rather than recursed into.
  static let maximumValueDepth = 32

  package static func protobuf(_ bytes: [UInt8]) throws(OTLPDecodingError) -> [TraceSpan] {
    var request = ProtobufReader(bytes, path: "request")
    var spans: [TraceSpan] = []
    var resourceIndex = 0
    while let (field, wire) = try request.nextField() {
      if field == 1 {
        var resourceSpans = try request.message(
          wire, path: "resourceSpans[\(resourceIndex)]")
        try resourceSpansMessage(&resourceSpans, into: &spans)
        resourceIndex += 1
      } else {
        try request.skip(wire)
      }
    }
    return spans
  }

  private static func resourceSpansMessage(
    _ reader: inout ProtobufReader, into spans: inout [TraceSpan]
  ) throws(OTLPDecodingError) {
    var service = ""
    var scopes: [ProtobufReader] = []
    while let (field, wire) = try reader.nextField() {
      switch field {
      case 1:
        var resource = try reader.message(wire, path: reader.path + ".resource")
        while let (field, wire) = try resource.nextField() {
          guard field == 1 else {
            try resource.skip(wire)
            continue
          }
          var keyValue = try resource.message(wire, path: resource.path)
          let attribute = try self.keyValue(&keyValue, depth: 0)
          if attribute.key == "service.name", case .string(let name) = attribute.value {
            service = name
          }
        }
      case 2:
        // The resource may come after its scopes: read them once it is known.
        scopes.append(try reader.message(wire, path: reader.path + ".scopeSpans[\(scopes.count)]"))
      default:
        try reader.skip(wire)
      }
    }
    for var scope in scopes {
      var index = 0
      while let (field, wire) = try scope.nextField() {
        guard field == 2 else {
          try scope.skip(wire)
          continue
        }
        var span = try scope.message(wire, path: scope.path + ".spans[\(index)]")
        spans.append(try self.span(&span, service: service))
        index += 1
      }
    }
  }

  private static func span(_ reader: inout ProtobufReader, service: String)
    throws(OTLPDecodingError) -> TraceSpan
  {
    var span = TraceSpan(
      traceID: "", spanID: "", name: "", kind: .unspecified, startNanoseconds: 0,
      endNanoseconds: 0, serviceName: service)
    while let (field, wire) = try reader.nextField() {
      switch field {
      case 1: span.traceID = try reader.id(wire, bytes: 16, name: "traceId")
      case 2: span.spanID = try reader.id(wire, bytes: 8, name: "spanId")
      case 4:
        let parent = try reader.bytes(wire, name: "parentSpanId")
        guard parent.isEmpty || parent.count == 8 else {
          throw OTLPDecodingError(
            "\(reader.path): parentSpanId has \(parent.count) bytes; expected 8 or none")
        }
        span.parentSpanID = parent.isEmpty ? nil : Hex.encode(parent)
      case 5: span.name = bounded(try reader.string(wire, name: "name"))
      case 6:
        span.kind = TraceSpan.Kind(number: Int(clamping: try reader.varint(wire, name: "kind")))
      case 7: span.startNanoseconds = try reader.fixed64(wire, name: "startTimeUnixNano")
      case 8: span.endNanoseconds = try reader.fixed64(wire, name: "endTimeUnixNano")
      case 9 where span.attributes.count >= maximumEntries,
        11 where span.events.count >= maximumEntries:
        span.dropped += 1
        try reader.skip(wire)
      case 9:
        var keyValue = try reader.message(wire, path: reader.path)
        span.attributes.append(try self.keyValue(&keyValue, depth: 0))
      case 11:
        var event = try reader.message(wire, path: reader.path)
        span.events.append(try self.event(&event))
      case 15:
        var status = try reader.message(wire, path: reader.path)
        while let (field, wire) = try status.nextField() {
          switch field {
          case 2: span.statusMessage = bounded(try status.string(wire, name: "message"))
          case 3:
            span.statusCode = TraceSpan.StatusCode(
              number: Int(clamping: try status.varint(wire, name: "code")))
          default: try status.skip(wire)
          }
        }
      default:
        try reader.skip(wire)
      }
    }
    guard !span.traceID.isEmpty, !span.spanID.isEmpty else {
      throw OTLPDecodingError("\(reader.path): a span needs a traceId and a spanId")
    }
    return span
  }

  private static func event(_ reader: inout ProtobufReader) throws(OTLPDecodingError)
    -> TraceEvent
  {
    var event = TraceEvent(name: "", timeNanoseconds: 0)
    while let (field, wire) = try reader.nextField() {
      switch field {
      case 1: event.timeNanoseconds = try reader.fixed64(wire, name: "timeUnixNano")
      case 2: event.name = bounded(try reader.string(wire, name: "name"))
      case 3 where event.attributes.count >= maximumEntries: try reader.skip(wire)
      case 3:
        var keyValue = try reader.message(wire, path: reader.path)
        event.attributes.append(try self.keyValue(&keyValue, depth: 0))
      default: try reader.skip(wire)
      }
    }
    return event
  }

  private static func keyValue(_ reader: inout ProtobufReader, depth: Int)
    throws(OTLPDecodingError) -> TraceAttribute
  {
    var key = ""
    var value = TraceValue.string("")
    while let (field, wire) = try reader.nextField() {
      switch field {
      case 1: key = bounded(try reader.string(wire, name: "key"))
      case 2:
        var any = try reader.message(wire, path: reader.path)
        value = try anyValue(&any, depth: depth + 1)
      default: try reader.skip(wire)
      }
    }
    return TraceAttribute(key, value)
  }

  private static func anyValue(_ reader: inout ProtobufReader, depth: Int)
    throws(OTLPDecodingError) -> TraceValue
  {
    guard depth <= maximumValueDepth else {
      throw OTLPDecodingError(
        "\(reader.path): values nested deeper than \(maximumValueDepth) levels")
    }
    var value = TraceValue.string("")
    while let (field, wire) = try reader.nextField() {
      switch field {
      case 1: value = .string(bounded(try reader.string(wire, name: "stringValue")))
      case 2: value = .bool(try reader.varint(wire, name: "boolValue") != 0)
      case 3: value = .int(Int64(bitPattern: try reader.varint(wire, name: "intValue")))
      case 4: value = .double(Double(bitPattern: try reader.fixed64(wire, name: "doubleValue")))
      case 5, 6:
        var list = try reader.message(wire, path: reader.path)
        var values: [TraceValue] = []
        var entries: [TraceAttribute] = []
        while let (inner, innerWire) = try list.nextField() {
          guard inner == 1, values.count + entries.count < maximumEntries else {
            try list.skip(innerWire)
            continue
          }
          var element = try list.message(innerWire, path: list.path)
          if field == 5 {
            values.append(try anyValue(&element, depth: depth + 1))
          } else {
            entries.append(try keyValue(&element, depth: depth + 1))
          }
        }
        value = field == 5 ? .array(values) : .map(entries)
      case 7: value = .bytes(try reader.bytes(wire, name: "bytesValue"))
      default: try reader.skip(wire)
      }
    }
    return value
  }
}

/// Reads protobuf's wire format from a byte array, one field at a time.
struct ProtobufReader {
  private let bytes: [UInt8]
  private var position: Int
  private let end: Int
  /// Where this message is in the request, for errors ("resourceSpans[0].scopeSpans[0]…").
  let path: String

  init(_ bytes: [UInt8], path: String) {
    self.init(bytes, range: 0..<bytes.count, path: path)
  }

  private init(_ bytes: [UInt8], range: Range<Int>, path: String) {
    self.bytes = bytes
    self.position = range.lowerBound
    self.end = range.upperBound
    self.path = path
  }

  /// The next field's number and wire type; nil at the end of the message.
  mutating func nextField() throws(OTLPDecodingError) -> (Int, Int)? {
    guard position < end else { return nil }
    let key = try rawVarint()
    let field = Int(truncatingIfNeeded: key >> 3)
    guard field > 0 else { throw OTLPDecodingError("\(path): a field numbered 0") }
    return (field, Int(key & 7))
  }

  mutating func skip(_ wire: Int) throws(OTLPDecodingError) {
    switch wire {
    case 0: _ = try rawVarint()
    case 1: try advance(8)
    case 2: _ = try lengthDelimited()
    case 5: try advance(4)
    default:
      throw OTLPDecodingError("\(path): wire type \(wire) is not one OTLP uses")
    }
  }

  mutating func message(_ wire: Int, path: String) throws(OTLPDecodingError) -> ProtobufReader {
    try expect(wire, 2, name: "a message field")
    return ProtobufReader(bytes, range: try lengthDelimited(), path: path)
  }

  mutating func bytes(_ wire: Int, name: String) throws(OTLPDecodingError) -> [UInt8] {
    try expect(wire, 2, name: name)
    return Array(bytes[try lengthDelimited()])
  }

  mutating func string(_ wire: Int, name: String) throws(OTLPDecodingError) -> String {
    try expect(wire, 2, name: name)
    return String(decoding: bytes[try lengthDelimited()], as: UTF8.self)
  }

  mutating func id(_ wire: Int, bytes count: Int, name: String) throws(OTLPDecodingError)
    -> String
  {
    try expect(wire, 2, name: name)
    let range = try lengthDelimited()
    guard range.count == count else {
      throw OTLPDecodingError("\(path): \(name) has \(range.count) bytes; expected \(count)")
    }
    return Hex.encode(bytes[range])
  }

  mutating func varint(_ wire: Int, name: String) throws(OTLPDecodingError) -> UInt64 {
    try expect(wire, 0, name: name)
    return try rawVarint()
  }

  mutating func fixed64(_ wire: Int, name: String) throws(OTLPDecodingError) -> UInt64 {
    try expect(wire, 1, name: name)
    let start = position
    try advance(8)
    var value: UInt64 = 0
    for index in (start..<start + 8).reversed() { value = value << 8 | UInt64(bytes[index]) }
    return value
  }

  private func expect(_ wire: Int, _ expected: Int, name: String) throws(OTLPDecodingError) {
    guard wire == expected else {
      throw OTLPDecodingError(
        "\(path): \(name) has wire type \(wire); expected \(expected)")
    }
  }

  private mutating func advance(_ count: Int) throws(OTLPDecodingError) {
    guard end - position >= count else {
      throw OTLPDecodingError("\(path): the message ends in the middle of a field")
    }
    position += count
  }

  private mutating func lengthDelimited() throws(OTLPDecodingError) -> Range<Int> {
    let length = try rawVarint()
    guard length <= UInt64(end - position) else {
      throw OTLPDecodingError(
        "\(path): a field of \(length) bytes where \(end - position) are left")
    }
    let start = position
    position += Int(length)
    return start..<position
  }

  private mutating func rawVarint() throws(OTLPDecodingError) -> UInt64 {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while position < end {
      let byte = bytes[position]
      position += 1
      value |= UInt64(byte & 0x7f) << shift
      if byte & 0x80 == 0 { return value }
      shift += 7
      guard shift < 64 else { throw OTLPDecodingError("\(path): a varint longer than 10 bytes") }
    }
    throw OTLPDecodingError("\(path): the message ends in the middle of a varint")
  }
}
