import ProcrastinateTraceData
import Tracing

private enum SpanContextKey: InstrumentationContextKey {
  typealias Value = SpanContext
  static let nameOverride: String? = "procrastinate.span-context"
}

extension InstrumentationContext {
  /// The span context of the current span, if any.
  package var spanContext: SpanContext? {
    get { self[SpanContextKey.self] }
    set { self[SpanContextKey.self] = newValue }
  }
}
