import Metrics
import Synchronization

/// The tracing pipeline's own metrics, named after OpenTelemetry's SDK self-observability
/// conventions (`otel.sdk.*`), written as Prometheus names them (underscores, `_total` on
/// counters, `_seconds` on durations).
///
/// | label | kind | dimensions |
/// |---|---|---|
/// | `otel_sdk_span_started_total` | counter | `otel_span_sampling_result` (`RECORD_AND_SAMPLE`, `DROP`) |
/// | `otel_sdk_processor_span_processed_total` | counter | `otel_component_type`, `otel_component_name`; `error_type` = `queue_full` for dropped spans |
/// | `otel_sdk_processor_span_queue_size` | gauge | `otel_component_type`, `otel_component_name` |
/// | `otel_sdk_processor_span_queue_capacity` | gauge | `otel_component_type`, `otel_component_name` |
/// | `otel_sdk_exporter_span_exported_total` | counter | `otel_component_type` (e.g. `otlp_http_span_exporter`), `otel_component_name`; `error_type` = `export_failed` for failed spans |
/// | `otel_sdk_exporter_operation_duration_seconds` | timer | as above |
/// | `procrastinate_tracing_sampler_ratio` | gauge | — (the configured share of root spans sampled; no OpenTelemetry name exists) |
///
/// Nothing is sent to swift-metrics on the span path: a span start adds to an atomic count,
/// and the batch span processors publish what was counted after each round of exports (at
/// least every `OTEL_BSP_SCHEDULE_DELAY`) and at shutdown, reading the process's metrics
/// backend then, so one bootstrapped after the tracer still gets everything.
package enum TracingMetrics {
  package static let spansStarted = "otel_sdk_span_started_total"
  package static let spansProcessed = "otel_sdk_processor_span_processed_total"
  package static let queueSize = "otel_sdk_processor_span_queue_size"
  package static let queueCapacity = "otel_sdk_processor_span_queue_capacity"
  package static let spansExported = "otel_sdk_exporter_span_exported_total"
  package static let exportDuration = "otel_sdk_exporter_operation_duration_seconds"
  package static let samplerRatio = "procrastinate_tracing_sampler_ratio"

  package static let samplingResult = "otel_span_sampling_result"
  package static let componentType = "otel_component_type"
  package static let componentName = "otel_component_name"
  package static let errorType = "error_type"
}

/// Where the pipeline's metrics go: a given factory (tests), or the process's, read at each
/// publish.
package struct TracingMetricsSink: Sendable {
  package var factory: (any MetricsFactory)?

  package init(factory: (any MetricsFactory)? = nil) { self.factory = factory }

  func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
    Counter(label: label, dimensions: dimensions, factory: factory ?? MetricsSystem.factory)
  }

  func gauge(_ label: String, _ dimensions: [(String, String)]) -> Gauge {
    Gauge(label: label, dimensions: dimensions, factory: factory ?? MetricsSystem.factory)
  }

  func timer(_ label: String, _ dimensions: [(String, String)]) -> Metrics.Timer {
    Metrics.Timer(label: label, dimensions: dimensions, factory: factory ?? MetricsSystem.factory)
  }
}

/// Spans a tracer started, sampled or not: two relaxed atomic counts on the span path,
/// published as counter increments by whoever calls ``publish()``.
package final class SpanStartCounts: Sendable {
  private let sampled = Atomic<Int>(0)
  private let dropped = Atomic<Int>(0)
  package let sink: TracingMetricsSink
  /// The sampler's ratio, published with the counts (what the sampling alert compares with).
  package let samplerRatio: Double?

  package init(sink: TracingMetricsSink = TracingMetricsSink(), samplerRatio: Double? = nil) {
    self.sink = sink
    self.samplerRatio = samplerRatio
  }

  @inline(__always)
  func count(sampled isSampled: Bool) {
    if isSampled {
      sampled.add(1, ordering: .relaxed)
    } else {
      dropped.add(1, ordering: .relaxed)
    }
  }

  /// Adds what was counted since the last publish to the counters; safe to call from
  /// several processors at once (each count is taken once).
  package func publish() {
    let (kept, notKept) = (
      sampled.exchange(0, ordering: .relaxed), dropped.exchange(0, ordering: .relaxed)
    )
    // Both series, at 0 until something is counted (see BatchSpanProcessor.publishMetrics).
    sink.counter(
      TracingMetrics.spansStarted, [(TracingMetrics.samplingResult, "RECORD_AND_SAMPLE")]
    ).increment(by: kept)
    sink.counter(TracingMetrics.spansStarted, [(TracingMetrics.samplingResult, "DROP")])
      .increment(by: notKept)
    if let samplerRatio { sink.gauge(TracingMetrics.samplerRatio, []).record(samplerRatio) }
  }
}

/// A process-wide number for each component, as OpenTelemetry's `otel.component.name`
/// (`batching_span_processor/0`, `otlp_http_span_exporter/1`, …).
enum ComponentNames {
  private static let next = Atomic<Int>(0)

  static func make(_ type: String) -> String {
    "\(type)/\(next.add(1, ordering: .relaxed).oldValue)"
  }
}
