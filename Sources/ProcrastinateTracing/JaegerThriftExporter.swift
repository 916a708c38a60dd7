import Foundation
import ProcrastinateConventions
import Tracing
import W3CTraceContext

/// Sends spans to a Jaeger collector's Thrift-over-HTTP endpoint (the Python guide's
/// `JAEGER_ENDPOINT`, e.g. `http://localhost:14268/api/traces`), as a `jaeger.thrift`
/// `Batch` in Thrift's binary protocol.
///
/// Mapping: 128-bit trace ids as high/low halves, the parent as `parentSpanId`, links as
/// `FOLLOWS_FROM` references, attributes as tags (plus `span.kind`, and `error` and
/// `otel.status_*` for a failed span), events as logs with an `event` field.
package final class JaegerThriftExporter: HTTPSpanSender {
  package var componentType: String { "jaeger_thrift_http_span_exporter" }
  package let endpoint: String
  package let resource: TracingResource
  package let timeout: Duration
  private let client = HTTPClient()

  package init(endpoint: String, resource: TracingResource, timeout: Duration = .seconds(10)) {
    self.endpoint = endpoint
    self.resource = resource
    self.timeout = timeout
  }

  /// Sends one batch in one request (this exporter never retries) and returns the accepting
  /// HTTP status, which `traces ping` prints.
  ///
  /// - Throws: ``HTTPExportError`` with the status and body of an answer
  ///   outside 2xx, or the transport error when no answer came.
  @discardableResult
  package func send(_ spans: [SpanRecord]) async throws -> Int {
    let body = JaegerThrift.batch(spans, resource: resource)
    let response: HTTPResponse
    do {
      response = try await client.post(
        url: endpoint, headers: [("Content-Type", "application/x-thrift")], body: body,
        timeout: timeout)
    } catch let error as HTTPTransportError {
      throw HTTPExportError("Jaeger export", transportError: error)
    }
    guard (200..<300).contains(response.status) else {
      throw HTTPExportError("Jaeger export", response: response)
    }
    return response.status
  }
}

/// `jaeger.thrift` structures in Thrift's binary protocol, written by hand.
enum JaegerThrift {
  // Thrift type codes.
  static let bool: UInt8 = 2
  static let double: UInt8 = 4
  static let i32: UInt8 = 8
  static let i64: UInt8 = 10
  static let string: UInt8 = 11
  static let structure: UInt8 = 12
  static let list: UInt8 = 15

  static func batch(_ spans: [SpanRecord], resource: TracingResource) -> [UInt8] {
    var writer = ThriftWriter()
    writer.structField(1) { process in
      process.stringField(1, resource.serviceName)
      let tags = resource.attributes.filter { $0.key != "service.name" }
      process.listField(2, of: structure, count: tags.count) { list in
        for (key, value) in tags { list.structure { $0.tag(key, AttributeValue(value)) } }
      }
    }
    writer.listField(2, of: structure, count: spans.count) { list in
      for span in spans { list.structure { $0.span(span) } }
    }
    writer.stop()
    return writer.bytes
  }

  static func halves(_ traceID: TraceID) -> (high: Int64, low: Int64) {
    withUnsafeBytes(of: traceID.bytes) { raw in
      let high = raw.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      let low = raw.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      return (Int64(bitPattern: high), Int64(bitPattern: low))
    }
  }

  static func number(_ spanID: SpanID) -> Int64 {
    withUnsafeBytes(of: spanID.bytes) { raw in
      Int64(bitPattern: raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
  }
}

struct ThriftWriter {
  private(set) var bytes: [UInt8] = []

  private mutating func big<T: FixedWidthInteger>(_ value: T) {
    withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
  }

  mutating func fieldHeader(_ type: UInt8, _ id: Int16) {
    bytes.append(type)
    big(id)
  }

  mutating func stop() { bytes.append(0) }

  mutating func stringValue(_ text: String) {
    let utf8 = Array(text.utf8)
    big(Int32(utf8.count))
    bytes.append(contentsOf: utf8)
  }

  mutating func stringField(_ id: Int16, _ text: String) {
    fieldHeader(JaegerThrift.string, id)
    stringValue(text)
  }

  mutating func i64Field(_ id: Int16, _ value: Int64) {
    fieldHeader(JaegerThrift.i64, id)
    big(value)
  }

  mutating func i32Field(_ id: Int16, _ value: Int32) {
    fieldHeader(JaegerThrift.i32, id)
    big(value)
  }

  mutating func boolField(_ id: Int16, _ value: Bool) {
    fieldHeader(JaegerThrift.bool, id)
    bytes.append(value ? 1 : 0)
  }

  mutating func doubleField(_ id: Int16, _ value: Double) {
    fieldHeader(JaegerThrift.double, id)
    big(value.bitPattern)
  }

  mutating func structField(_ id: Int16, _ body: (inout ThriftWriter) -> Void) {
    fieldHeader(JaegerThrift.structure, id)
    structure(body)
  }

  /// A struct's fields followed by the stop byte.
  mutating func structure(_ body: (inout ThriftWriter) -> Void) {
    body(&self)
    stop()
  }

  mutating func listField(
    _ id: Int16, of type: UInt8, count: Int, _ body: (inout ThriftWriter) -> Void
  ) {
    fieldHeader(JaegerThrift.list, id)
    bytes.append(type)
    big(Int32(count))
    body(&self)
  }

  /// `Tag { 1: key, 2: vType, 3: vStr | 4: vDouble | 5: vBool | 6: vLong }`.
  mutating func tag(_ key: String, _ value: AttributeValue) {
    stringField(1, key)
    // Arrays as text.
    switch value {
    case .string(let text): tagValue(0) { $0.stringField(3, text) }
    case .double(let number): tagValue(1) { $0.doubleField(4, number) }
    case .bool(let flag): tagValue(2) { $0.boolField(5, flag) }
    case .int(let number): tagValue(3) { $0.i64Field(6, number) }
    case .array: tagValue(0) { $0.stringField(3, value.display) }
    }
  }

  /// A tag's `vType` (STRING 0, DOUBLE 1, BOOL 2, LONG 3), then its value's field.
  private mutating func tagValue(_ type: Int32, _ value: (inout Self) -> Void) {
    i32Field(2, type)
    value(&self)
  }

  mutating func span(_ span: SpanRecord) {
    let (high, low) = JaegerThrift.halves(span.context.traceID)
    i64Field(1, low)
    i64Field(2, high)
    i64Field(3, JaegerThrift.number(span.context.spanID))
    i64Field(4, span.parentSpanID.map(JaegerThrift.number) ?? 0)
    stringField(5, span.name)
    listField(6, of: JaegerThrift.structure, count: span.links.count) { list in
      for link in span.links {
        let (linkHigh, linkLow) = JaegerThrift.halves(link.context.traceID)
        list.structure { reference in
          reference.i32Field(1, 1)  // FOLLOWS_FROM
          reference.i64Field(2, linkLow)
          reference.i64Field(3, linkHigh)
          reference.i64Field(4, JaegerThrift.number(link.context.spanID))
        }
      }
    }
    i32Field(7, span.context.isSampled ? 1 : 0)
    i64Field(8, Int64(span.startNanoseconds / 1_000))
    i64Field(9, Int64((span.endNanoseconds - span.startNanoseconds) / 1_000))
    var tags: [(String, AttributeValue)] = [("span.kind", .string("\(span.kind)"))]
    span.attributes.forEach { key, value in tags.append((key, AttributeValue(value))) }
    if let status = span.status {
      tags.append(("otel.status_code", .string(status.code == .error ? "ERROR" : "OK")))
      if status.code == .error {
        tags.append(("error", .bool(true)))
        if let message = status.message {
          tags.append(("otel.status_description", .string(message)))
        }
      }
    }
    listField(10, of: JaegerThrift.structure, count: tags.count) { list in
      for (key, value) in tags { list.structure { $0.tag(key, value) } }
    }
    listField(11, of: JaegerThrift.structure, count: span.events.count) { list in
      for event in span.events {
        list.structure { log in
          log.i64Field(1, Int64(event.nanosecondsSinceEpoch / 1_000))
          var fields: [(String, AttributeValue)] = [("event", .string(event.name))]
          event.attributes.forEach { key, value in fields.append((key, AttributeValue(value))) }
          log.listField(2, of: JaegerThrift.structure, count: fields.count) { list in
            for (key, value) in fields { list.structure { $0.tag(key, value) } }
          }
        }
      }
    }
  }
}
