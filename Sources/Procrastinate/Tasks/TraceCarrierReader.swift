/// What a job's arguments hold under a trace carrier's key.
enum TraceCarrier: Equatable {
  /// The arguments have no member with that key.
  case missing
  /// The member is not an object; `kind` names what it is ("a number", "null", …).
  case notAnObject(kind: String)
  /// The member is an object; its `traceparent` and `tracestate` when they are strings.
  case object(traceParent: String?, traceState: String?)
  /// The text is not a JSON object that can be read.
  case unreadable
}

/// Reads the trace carrier straight from the arguments' JSON text, on every traced job.
///
/// Decoding the arguments with `JSONDecoder` to find one member parsed and materialised the
/// whole document, and was the largest part of what tracing cost a job (see
/// `docs/benchmarks.md`). This walks the UTF-8 bytes once, skipping every other member
/// without building it, and builds only the two header strings. The text comes from a
/// `jsonb` column or from `JobArguments`' checks, so it is valid JSON; anything else reads
/// as `.unreadable`. With a repeated key the first member counts, as with `JSONDecoder`
/// (text read back from `jsonb` has no repeated keys).
enum TraceCarrierReader {
  static func read(_ json: String, key: String) -> TraceCarrier {
    var text = json
    return text.withUTF8 { bytes in
      var scanner = JSONScanner(bytes: bytes)
      return (try? scanner.carrier(key: Array(key.utf8))) ?? .unreadable
    }
  }
}

private struct Malformed: Error {}

/// A forward-only reader over JSON text: enough of JSON to find members and skip values.
private struct JSONScanner {
  let bytes: UnsafeBufferPointer<UInt8>
  var index = 0

  init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  mutating func carrier(key: [UInt8]) throws -> TraceCarrier {
    var found: TraceCarrier?
    try members { scanner, name in
      if found == nil && name.elementsEqual(key) {
        found = try scanner.carrierValue()
      } else {
        try scanner.skipValue()
      }
    }
    skipWhitespace()
    guard index == bytes.count else { throw Malformed() }
    return found ?? .missing
  }

  /// Reads an object, calling `member` with each key; `member` must consume the value.
  mutating func members(_ member: (inout JSONScanner, [UInt8]) throws -> Void) throws {
    skipWhitespace()
    try expect(UInt8(ascii: "{"))
    skipWhitespace()
    if peek() == UInt8(ascii: "}") {
      index += 1
      return
    }
    while true {
      skipWhitespace()
      let name = try string()
      skipWhitespace()
      try expect(UInt8(ascii: ":"))
      skipWhitespace()
      try member(&self, name)
      skipWhitespace()
      switch peek() {
      case UInt8(ascii: ","): index += 1
      case UInt8(ascii: "}"):
        index += 1
        return
      default: throw Malformed()
      }
    }
  }

  mutating func carrierValue() throws -> TraceCarrier {
    guard peek() == UInt8(ascii: "{") else {
      let kind = kindName(peek())
      try skipValue()
      // A null member reads as no member, as `decodeIfPresent` has it.
      return kind == "null" ? .missing : .notAnObject(kind: kind)
    }
    // Each header once: nil until seen, then .some(the string, or nil when not a string).
    var traceParent: String??
    var traceState: String??
    try members { scanner, name in
      let isParent = traceParent == nil && name.elementsEqual("traceparent".utf8)
      let isState = traceState == nil && name.elementsEqual("tracestate".utf8)
      guard isParent || isState else { return try scanner.skipValue() }
      var value: String?
      if scanner.peek() == UInt8(ascii: "\"") {
        value = String(decoding: try scanner.string(), as: UTF8.self)
      } else {
        try scanner.skipValue()
      }
      if isParent { traceParent = .some(value) } else { traceState = .some(value) }
    }
    return .object(traceParent: traceParent ?? nil, traceState: traceState ?? nil)
  }

  func kindName(_ byte: UInt8?) -> String {
    switch byte {
    case UInt8(ascii: "{"): "an object"
    case UInt8(ascii: "["): "an array"
    case UInt8(ascii: "\""): "a string"
    case UInt8(ascii: "t"), UInt8(ascii: "f"): "a boolean"
    case UInt8(ascii: "n"): "null"
    default: "a number"
    }
  }

  func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

  mutating func expect(_ byte: UInt8) throws {
    guard peek() == byte else { throw Malformed() }
    index += 1
  }

  mutating func skipWhitespace() {
    while index < bytes.count {
      switch bytes[index] {
      case 0x20, 0x0A, 0x0D, 0x09: index += 1
      default: return
      }
    }
  }

  /// Skips one value of any kind, nested ones included.
  mutating func skipValue() throws {
    switch peek() {
    case UInt8(ascii: "\""):
      try skipString()
    case UInt8(ascii: "{"), UInt8(ascii: "["):
      var depth = 0
      repeat {
        guard let byte = peek() else { throw Malformed() }
        switch byte {
        case UInt8(ascii: "\""):
          try skipString()
          continue
        case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
        default: break
        }
        index += 1
      } while depth > 0
    case nil:
      throw Malformed()
    default:  // a number, true, false or null: up to the next delimiter
      let start = index
      while let byte = peek(), !Self.isDelimiter(byte) { index += 1 }
      guard index > start else { throw Malformed() }
    }
  }

  static func isDelimiter(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: true
    default: false
    }
  }

  mutating func skipString() throws {
    try expect(UInt8(ascii: "\""))
    while let byte = peek() {
      index += 1
      if byte == UInt8(ascii: "\\") {
        index += 1
      } else if byte == UInt8(ascii: "\"") {
        return
      }
    }
    throw Malformed()
  }

  /// A string's UTF-8 bytes with its escapes decoded.
  mutating func string() throws -> [UInt8] {
    try expect(UInt8(ascii: "\""))
    var result: [UInt8] = []
    while let byte = peek() {
      index += 1
      switch byte {
      case UInt8(ascii: "\""):
        return result
      case UInt8(ascii: "\\"):
        guard let escaped = peek() else { throw Malformed() }
        index += 1
        switch escaped {
        case UInt8(ascii: "b"): result.append(0x08)
        case UInt8(ascii: "f"): result.append(0x0C)
        case UInt8(ascii: "n"): result.append(0x0A)
        case UInt8(ascii: "r"): result.append(0x0D)
        case UInt8(ascii: "t"): result.append(0x09)
        case UInt8(ascii: "u"): result.append(contentsOf: try unicodeEscape())
        default: result.append(escaped)  // \" \\ \/
        }
      default:
        result.append(byte)
      }
    }
    throw Malformed()
  }

  /// The scalar of a `\uXXXX` escape (and of its low surrogate), as UTF-8.
  mutating func unicodeEscape() throws -> [UInt8] {
    var value = try hex4()
    if (0xD800..<0xDC00).contains(value) {
      guard peek() == UInt8(ascii: "\\") else { return Array("\u{FFFD}".utf8) }
      index += 1
      try expect(UInt8(ascii: "u"))
      let low = try hex4()
      guard (0xDC00..<0xE000).contains(low) else { return Array("\u{FFFD}".utf8) }
      value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
    }
    let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
    return Array(String(Character(scalar)).utf8)
  }

  mutating func hex4() throws -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 {
      guard let byte = peek(), let digit = Self.hexValue(byte) else { throw Malformed() }
      value = value << 4 | UInt32(digit)
      index += 1
    }
    return value
  }

  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
