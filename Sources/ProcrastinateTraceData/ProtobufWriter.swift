/// A minimal protobuf writer: varints, fixed-width numbers, strings, bytes and nested messages.
///
/// Everything goes into one buffer: a nested message is written in place after a one-byte
/// length, which is widened (the body moved right once) only when the body is 128 bytes or
/// more; strings and ids are appended straight from their storage. Encoding a span
/// allocates nothing but the buffer's growth.
struct ProtobufWriter {
  private(set) var bytes: [UInt8] = []

  /// Room for `count` bytes, so that a large request does not grow by doubling.
  mutating func reserve(_ count: Int) { bytes.reserveCapacity(count) }

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

  /// Bytes already encoded (a field prepared once), as they are.
  mutating func raw(_ encoded: [UInt8]) {
    bytes.append(contentsOf: encoded)
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

  /// The tag and length of a length-delimited field whose `length` bytes the caller writes
  /// next: a nested message whose size is known before it is written.
  mutating func lengthDelimited(_ field: Int, length: Int) {
    tag(field, 2)
    varint(UInt64(length))
  }

  /// How many bytes `value` takes as a varint.
  static func varintSize(_ value: UInt64) -> Int {
    var size = 1
    var rest = value >> 7
    while rest > 0 {
      size += 1
      rest >>= 7
    }
    return size
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
    let width = Self.varintSize(UInt64(length))
    bytes.insert(contentsOf: repeatElement(0, count: width - 1), at: lengthAt + 1)
    var value = length
    for index in 0..<width {
      bytes[lengthAt + index] = UInt8(truncatingIfNeeded: value) | (index < width - 1 ? 0x80 : 0)
      value >>= 7
    }
  }
}
