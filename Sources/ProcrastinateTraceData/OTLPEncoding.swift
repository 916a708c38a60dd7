import Tracing
import W3CTraceContext

/// Encodes spans as an OTLP `ExportTraceServiceRequest`, in protobuf or in OTLP/JSON.
///
/// Written by hand from `opentelemetry/proto/trace/v1/trace.proto`: the request here, the
/// span's messages in `ProtobufWriter+OTLP.swift`, OTLP/JSON in `OTLPEncoding+JSON.swift`;
/// the tests decode the output with the official `opentelemetry-proto` classes.
package enum OTLPEncoding {
  static let scopeName = "swift-procrastinate"

  package static func protobuf(_ spans: [SpanRecord], resource: TracingResource) -> [UInt8] {
    var request = ProtobufWriter()
    // A job span with its attributes takes 600–800 bytes: a batch of 512 grows to ~350 KB,
    // which doubling would copy about as many bytes again on its way.
    request.reserve(spans.count * 768 + 1_024)
    request.message(1) { resourceSpans in
      resourceSpans.message(1) { resourceMessage in
        for (key, value) in resource.attributes {
          resourceMessage.message(1) { $0.keyValue(key, AttributeValue(value)) }
        }
      }
      resourceSpans.message(2) { scopeSpans in
        scopeSpans.message(1) { scope in
          scope.string(1, scopeName)
          scope.string(2, TracingResource.sdkVersion)
        }
        for span in spans { scopeSpans.message(2) { $0.span(span) } }
      }
    }
    return request.bytes
  }

  package static func kindNumber(_ kind: SpanKind) -> UInt64 {
    switch kind {
    case .internal: 1
    case .server: 2
    case .client: 3
    case .producer: 4
    case .consumer: 5
    }
  }

  package static func statusNumber(_ code: SpanStatus.Code) -> UInt64 {
    switch code {
    case .ok: 1
    case .error: 2
    }
  }

  /// W3C flags in the low byte, plus "has is-remote" (0x100) and "is remote" (0x200).
  package static func spanFlags(_ span: SpanRecord) -> UInt32 {
    UInt32(span.context.flags.rawValue) | 0x100
      | (span.parentSpanID != nil && span.context.isRemote ? 0x200 : 0)
  }

  package static func linkFlags(_ context: SpanContext) -> UInt32 {
    UInt32(context.flags.rawValue) | 0x100 | (context.isRemote ? 0x200 : 0)
  }
}
