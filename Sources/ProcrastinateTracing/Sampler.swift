import ProcrastinateConventions
import Tracing
import W3CTraceContext

/// Decides whether a new span is recorded and exported.
package protocol Sampler: Sendable {
  /// - Parameters:
  ///   - traceID: the trace the span belongs to (new or inherited).
  ///   - parent: the parent span's context, nil for a root span.
  func shouldSample(traceID: TraceID, parent: SpanContext?, operationName: String, kind: SpanKind)
    -> Bool
  /// The name used in `OTEL_TRACES_SAMPLER`, for logs.
  var description: String { get }
  /// The share of root spans it samples (0 to 1): `procrastinate_tracing_sampler_ratio`.
  var ratio: Double { get }
}

/// Records every span (`always_on`) or none (`always_off`).
package struct ConstantSampler: Sampler {
  package static let alwaysOn = ConstantSampler(sampled: true)
  package static let alwaysOff = ConstantSampler(sampled: false)

  package let sampled: Bool

  package func shouldSample(
    traceID: TraceID, parent: SpanContext?, operationName: String, kind: SpanKind
  ) -> Bool { sampled }

  package var description: String { sampled ? "always_on" : "always_off" }

  package var ratio: Double { sampled ? 1 : 0 }
}

/// Records a fixed fraction of traces, decided from the trace id (`traceidratio`), so every
/// service sampling at the same ratio keeps the same traces.
package struct TraceIDRatioSampler: Sampler {
  package let ratio: Double
  private let bound: UInt64

  /// - Parameter ratio: between 0 and 1; values outside are clamped.
  package init(ratio: Double) {
    let clamped = min(max(ratio, 0), 1)
    self.ratio = clamped
    self.bound = clamped >= 1 ? UInt64.max : UInt64(clamped * 18_446_744_073_709_551_616.0)
  }

  package func shouldSample(
    traceID: TraceID, parent: SpanContext?, operationName: String, kind: SpanKind
  ) -> Bool {
    if ratio >= 1 { return true }
    if ratio <= 0 { return false }
    // The low 8 bytes of the trace id, big-endian, as the OpenTelemetry SDKs read them.
    let value = withUnsafeBytes(of: traceID.bytes) { raw in
      raw.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
    return value < bound
  }

  package var description: String { "traceidratio(\(ratio))" }
}

/// Follows the parent's decision when there is a parent, and `root` otherwise (`parentbased_*`).
package struct ParentBasedSampler: Sampler {
  package let root: any Sampler

  package init(root: any Sampler) { self.root = root }

  package func shouldSample(
    traceID: TraceID, parent: SpanContext?, operationName: String, kind: SpanKind
  ) -> Bool {
    guard let parent else {
      return root.shouldSample(
        traceID: traceID, parent: nil, operationName: operationName, kind: kind)
    }
    return parent.isSampled
  }

  package var description: String { "parentbased(\(root.description))" }

  package var ratio: Double { root.ratio }
}
