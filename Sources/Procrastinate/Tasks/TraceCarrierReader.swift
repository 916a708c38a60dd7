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
  /// The carrier, and the bytes of `json` to remove to take its member out (with one of the
  /// commas around it), when the member is there.
  static func scan(_ json: String, key: String) -> (carrier: TraceCarrier, member: Range<Int>?) {
    var text = json
    return text.withUTF8 { bytes in
      var scanner = JSONScanner(bytes: bytes)
      return (try? scanner.carrier(key: key)) ?? (.unreadable, nil)
    }
  }

  /// `json` without the bytes in `member`, as ``scan(_:key:)`` found them.
  static func removing(_ member: Range<Int>, from json: String) -> String {
    var text = json
    return text.withUTF8 { bytes in
      String(unsafeUninitializedCapacity: bytes.count - member.count) { buffer in
        let head = UnsafeBufferPointer(rebasing: bytes[..<member.lowerBound])
        let tail = UnsafeBufferPointer(rebasing: bytes[member.upperBound...])
        _ = UnsafeMutableBufferPointer(rebasing: buffer[..<head.count]).initialize(from: head)
        _ = UnsafeMutableBufferPointer(rebasing: buffer[head.count...]).initialize(from: tail)
        return head.count + tail.count
      }
    }
  }
}

private struct Malformed: Error {}

/// A forward-only reader over JSON text: enough of JSON to find members and skip values.
private struct JSONScanner {
  let bytes: UnsafeBufferPointer<UInt8>
  var index = 0

  init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  mutating func carrier(key: String) throws -> (TraceCarrier, Range<Int>?) {
    var found: TraceCarrier?
    var member: Range<Int>?
    try members { scanner, name, start in
      if try found == nil && scanner.name(name, equals: key) {
        found = try scanner.carrierValue()
        member = start..<scanner.index
      } else {
        try scanner.skipValue()
      }
    }
    skipWhitespace()
    guard index == bytes.count else { throw Malformed() }
    return (found ?? .missing, member.map(withComma))
  }

  /// A member's bytes widened to one comma beside it, so that the rest stays an object:
  /// the comma after it, or before it when it is the last member.
  func withComma(_ member: Range<Int>) -> Range<Int> {
    var after = member.upperBound
    while after < bytes.count, Self.isWhitespace(bytes[after]) { after += 1 }
    if after < bytes.count, bytes[after] == UInt8(ascii: ",") {
      return member.lowerBound..<(after + 1)
    }
    var before = member.lowerBound
    while before > 0, Self.isWhitespace(bytes[before - 1]) { before -= 1 }
    if before > 0, bytes[before - 1] == UInt8(ascii: ",") {
      return (before - 1)..<member.upperBound
    }
    return member  // the only member
  }

  /// Reads an object, calling `member` with each member's name (a range of the text) and
  /// where the member starts; `member` must consume the value.
  mutating func members(_ member: (inout JSONScanner, Range<Int>, Int) throws -> Void) throws {
    skipWhitespace()
    try expect(UInt8(ascii: "{"))
    skipWhitespace()
    if peek() == UInt8(ascii: "}") {
      index += 1
      return
    }
    while true {
      skipWhitespace()
      let start = index
      try skipString()
      let name = (start + 1)..<(index - 1)
      skipWhitespace()
      try expect(UInt8(ascii: ":"))
      skipWhitespace()
      try member(&self, name, start)
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

  /// Whether the name at `range` (between its quotes, escapes undecoded) is `key`.
  func name(_ range: Range<Int>, equals key: String) throws -> Bool {
    let raw = UnsafeBufferPointer(rebasing: bytes[range])
    guard raw.contains(UInt8(ascii: "\\")) else { return raw.elementsEqual(key.utf8) }
    var copy = JSONScanner(bytes: bytes)
    copy.index = range.lowerBound - 1
    return try copy.string().elementsEqual(key.utf8)
  }

  /// A string value: straight from the text when it has no escape, decoded otherwise.
  mutating func stringValue() throws -> String {
    let start = index
    try skipString()
    let raw = UnsafeBufferPointer(rebasing: bytes[(start + 1)..<(index - 1)])
    guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
    index = start
    return String(decoding: try string(), as: UTF8.self)
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
    try members { scanner, name, _ in
      let isParent = try traceParent == nil && scanner.name(name, equals: "traceparent")
      let isState = try traceState == nil && scanner.name(name, equals: "tracestate")
      guard isParent || isState else { return try scanner.skipValue() }
      var value: String?
      if scanner.peek() == UInt8(ascii: "\"") {
        value = try scanner.stringValue()
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
    while index < bytes.count, Self.isWhitespace(bytes[index]) { index += 1 }
  }

  static func isWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
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
