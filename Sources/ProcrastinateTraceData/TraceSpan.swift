import ProcrastinateConventions

/// A span as OTLP carries it, whoever sent it: decoded from protobuf or OTLP/JSON, kept by
/// the dashboard's span store, and drawn by the trace view and the dashboard's waterfall.
public struct TraceSpan: Sendable, Equatable {
  /// OTLP's span kind.
  public enum Kind: String, Sendable, Codable {
    case unspecified, `internal`, server, client, producer, consumer

    /// OTLP's `SpanKind` number (0–5); anything else is unspecified.
    init(number: Int) {
      self =
        [.unspecified, .internal, .server, .client, .producer, .consumer][
          (0...5).contains(number) ? number : 0]
    }
  }

  /// OTLP's status code.
  public enum StatusCode: String, Sendable, Codable {
    case unset, ok, error

    /// OTLP's `StatusCode` number (0–2); anything else is unset.
    init(number: Int) { self = number == 1 ? .ok : number == 2 ? .error : .unset }
  }

  /// 32 lowercase hex digits.
  public var traceID: String
  /// 16 lowercase hex digits.
  public var spanID: String
  /// Nil for a root span.
  public var parentSpanID: String?
  /// The operation name.
  public var name: String
  /// What the span stands for: a request served or sent, a message produced or consumed.
  public var kind: Kind = .internal
  /// Unix time in nanoseconds.
  public var startNanoseconds: UInt64
  /// Unix time in nanoseconds; 0 when the sender gave none.
  public var endNanoseconds: UInt64
  /// The span's attributes, in the order they were sent.
  public var attributes: [TraceAttribute] = []
  /// The span's events, in the order they were sent.
  public var events: [TraceEvent] = []
  /// Unset, ok or error.
  public var statusCode: StatusCode = .unset
  /// The status message; nil when there is none.
  public var statusMessage: String?
  /// The resource's `service.name`; empty when it had none.
  public var serviceName: String = ""
  /// Attributes, events and array or map entries left out over the decoder's limits
  /// (strings longer than its limit are cut, not counted).
  public var dropped: Int = 0

  /// Zero when the end is missing or before the start.
  public var durationNanoseconds: UInt64 {
    endNanoseconds > startNanoseconds ? endNanoseconds - startNanoseconds : 0
  }

  /// The first attribute named `key`.
  public func attribute(_ key: String) -> TraceValue? {
    attributes.first { $0.key == key }?.value
  }
}

/// A key and its value.
public struct TraceAttribute: Sendable, Equatable {
  /// The attribute's name, e.g. `procrastinate.job.id`.
  public var key: String
  /// Its value.
  public var value: TraceValue

  /// An attribute.
  public init(_ key: String, _ value: TraceValue) { (self.key, self.value) = (key, value) }
}

/// Something that happened during a span, such as an `exception`.
public struct TraceEvent: Sendable, Equatable {
  /// The event's name.
  public var name: String
  /// When it happened, Unix time in nanoseconds.
  public var timeNanoseconds: UInt64
  /// The event's attributes.
  public var attributes: [TraceAttribute] = []
}

/// OTLP's `AnyValue`.
public indirect enum TraceValue: Sendable, Equatable {
  /// A string.
  case string(String)
  /// A boolean.
  case bool(Bool)
  /// A 64-bit integer.
  case int(Int64)
  /// A floating-point number.
  case double(Double)
  /// Bytes.
  case bytes([UInt8])
  /// A list of values.
  case array([TraceValue])
  /// Keys and values.
  case map([TraceAttribute])

  /// The value as a person reads it: strings as they are, arrays and maps bracketed.
  public var text: String {
    switch self {
    case .string(let text): text
    case .bool(let flag): String(flag)
    case .int(let number): String(number)
    case .double(let number): String(number)
    case .bytes(let bytes): bytes.map { String($0, radix: 16) }.joined()
    case .array(let values): "[" + values.map(\.text).joined(separator: ", ") + "]"
    case .map(let entries):
      "{" + entries.map { "\($0.key): \($0.value.text)" }.joined(separator: ", ") + "}"
    }
  }
}

/// A body that is not an OTLP trace export request, with where and why.
package struct OTLPDecodingError: ProcrastinateError, Sendable, CustomStringConvertible {
  package let description: String

  init(_ description: String) { self.description = description }
}

enum Hex {
  private static let digits = Array("0123456789abcdef".utf8)

  static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Whether `text` is `count` hex digits (either case).
  static func isHex(_ text: String, count: Int) -> Bool {
    text.utf8.count == count
      && text.utf8.allSatisfy { byte in
        (48...57).contains(byte) || (97...102).contains(byte) || (65...70).contains(byte)
      }
  }
}
