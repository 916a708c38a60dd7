import ProcrastinateJobSpans
import Tracing

/// A span attribute reduced to the OTLP value kinds.
package enum AttributeValue {
  case string(String)
  case bool(Bool)
  case int(Int64)
  case double(Double)
  case array([AttributeValue])

  /// The value as a person reads it: strings as they are, arrays in brackets.
  package var display: String {
    switch self {
    case .string(let text): text.contains(" ") ? "\"\(text)\"" : text
    case .bool(let flag): String(flag)
    case .int(let number): String(number)
    case .double(let number): String(number)
    case .array(let values): "[" + values.map(\.display).joined(separator: ",") + "]"
    }
  }

  /// A job span's attribute (``JobSpanAttributes``), kept without a `SpanAttribute`.
  package init(_ value: JobSpanAttributes.Value) {
    switch value {
    case .string(let text): self = .string(text)
    case .int(let number): self = .int(number)
    case .double(let number): self = .double(number)
    }
  }

  package init(_ attribute: SpanAttribute) {
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
