import Synchronization
import W3CTraceContext

/// Trace and span ids for new spans, without a system call per id.
///
/// `TraceID.random()` reads the kernel's random source (`getrandom`) for every id, a system
/// call of about half a microsecond; two per root span made ids the largest part of a span's
/// cost. This is SplitMix64 over one atomic counter, seeded once from the system's random
/// source: lock-free, uniform 64-bit outputs, distinct ids for 2^64 draws per process. Ids
/// need to be unique and unpredictable enough not to collide across processes (each process
/// has its own random seed), not secret; OpenTelemetry's SDKs use non-cryptographic
/// generators for the same reason.
final class SpanIDGenerator: Sendable {
  private let state: Atomic<UInt64>

  init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
    state = Atomic(seed)
  }

  /// The next 64 random bits (never all zero, which W3C reserves for "no id").
  func next() -> UInt64 {
    while true {
      let value = Self.mix(
        state.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue)
      if value != 0 { return value }
    }
  }

  func traceID() -> TraceID {
    var random = Draws(generator: self)
    return TraceID.random(using: &random)
  }

  func spanID() -> SpanID {
    var random = Draws(generator: self)
    return SpanID.random(using: &random)
  }

  /// SplitMix64's output function.
  private static func mix(_ input: UInt64) -> UInt64 {
    var z = input
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  private struct Draws: RandomNumberGenerator {
    let generator: SpanIDGenerator
    mutating func next() -> UInt64 { generator.next() }
  }
}
