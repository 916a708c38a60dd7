import Tracing

/// A task's own sampling ratio (``TaskTraceOptions/sampleRatio``, a spec's
/// `trace: { sample: 0.1 }`), applied where a trace would start: a defer outside any trace,
/// or a run whose job carries no context to continue.
///
/// It works under any tracer that follows its parent's sampled flag (ours and swift-otel's
/// by default, `parentbased_*`): a root left out gets, as its parent, an unsampled remote
/// span context read through the process's instrument (a W3C `traceparent` ending in `-00`),
/// so the tracer records neither the span nor anything below it, and a deferred job carries
/// that unsampled context to its run. A job whose producer was sampled stays sampled: only
/// roots are drawn. A tracer that ignores its parent's flag (an `always_on` sampler) records
/// everything, as it would without this setting.
enum RootSampling {
  /// `context`, or, when it holds no trace and the draw leaves this root out, `context`
  /// under an unsampled parent.
  static func context(ratio: Double?, in context: ServiceContext) -> ServiceContext {
    guard let ratio, ratio < 1, !carriesTrace(context) else { return context }
    if ratio > 0, Double.random(in: 0..<1) < ratio { return context }
    var unsampled = context
    InstrumentationSystem.instrument.extract(
      [TracingKeys.traceParent: unsampledTraceParent()], into: &unsampled,
      using: DictionaryExtractor())
    return unsampled
  }

  /// Whether the process's instrument would send a trace context from `context`.
  private static func carriesTrace(_ context: ServiceContext) -> Bool {
    var headers: [String: String] = [:]
    InstrumentationSystem.instrument.inject(context, into: &headers, using: DictionaryInjector())
    return headers[TracingKeys.traceParent] != nil
  }

  /// A W3C traceparent with fresh random ids and the sampled flag off.
  static func unsampledTraceParent() -> String {
    var generator = SystemRandomNumberGenerator()
    func hex(_ value: UInt64) -> String {
      let digits = String(value, radix: 16)
      return String(repeating: "0", count: 16 - digits.count) + digits
    }
    // Never all zeros (invalid in W3C): the low bits are forced on.
    let traceHigh = generator.next() as UInt64
    let traceLow = (generator.next() as UInt64) | 1
    let span = (generator.next() as UInt64) | 1
    return "00-\(hex(traceHigh))\(hex(traceLow))-\(hex(span))-00"
  }
}
