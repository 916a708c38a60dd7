import ProcrastinateConventions

/// A span as OTLP carries it, whoever sent it: decoded from protobuf or OTLP/JSON by
/// ``OTLPTraceDecoder``, kept by the dashboard's span store and shown in its waterfall.
package struct TraceSpan: Sendable, Equatable {
  package enum Kind: String, Sendable, Codable {
    case unspecified, `internal`, server, client, producer, consumer

    /// OTLP's `SpanKind` number (0–5); anything else is unspecified.
    init(number: Int) {
      self =
        [.unspecified, .internal, .server, .client, .producer, .consumer][
          (0...5).contains(number) ? number : 0]
    }
  }

  package enum StatusCode: String, Sendable, Codable {
    case unset, ok, error

    /// OTLP's `StatusCode` number (0–2); anything else is unset.
    init(number: Int) { self = number == 1 ? .ok : number == 2 ? .error : .unset }
  }

  /// 32 lowercase hex digits.
  package var traceID: String
  /// 16 lowercase hex digits.
  package var spanID: String
  /// Nil for a root span.
  package var parentSpanID: String?
  package var name: String
  package var kind: Kind = .internal
  /// Unix time in nanoseconds.
  package var startNanoseconds: UInt64
  package var endNanoseconds: UInt64
  package var attributes: [TraceAttribute] = []
  package var events: [TraceEvent] = []
  package var statusCode: StatusCode = .unset
  package var statusMessage: String?
  /// The resource's `service.name`; empty when it had none.
  package var serviceName: String = ""
  /// Attributes, events and array or map entries left out over ``OTLPTraceDecoder``'s
  /// limits (strings longer than its limit are cut, not counted).
  package var dropped: Int = 0

  /// Zero when the end is missing or before the start.
  package var durationNanoseconds: UInt64 {
    endNanoseconds > startNanoseconds ? endNanoseconds - startNanoseconds : 0
  }

  /// The first attribute named `key`.
  package func attribute(_ key: String) -> TraceValue? {
    attributes.first { $0.key == key }?.value
  }
}

package struct TraceAttribute: Sendable, Equatable {
  package var key: String
  package var value: TraceValue

  package init(_ key: String, _ value: TraceValue) { (self.key, self.value) = (key, value) }
}

package struct TraceEvent: Sendable, Equatable {
  package var name: String
  package var timeNanoseconds: UInt64
  package var attributes: [TraceAttribute] = []
}

/// OTLP's `AnyValue`.
package indirect enum TraceValue: Sendable, Equatable {
  case string(String)
  case bool(Bool)
  case int(Int64)
  case double(Double)
  case bytes([UInt8])
  case array([TraceValue])
  case map([TraceAttribute])

  /// The value as a person reads it: strings as they are, arrays and maps bracketed.
  package var text: String {
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
