import Foundation
import MetricsTestKit
import ProcrastinateTracing
import Testing
import Tracing

/// An exporter whose every export fails, as a collector that is down.
private struct FailingExporter: SpanExporter {
  struct Down: Error {}
  func export(_ spans: [SpanRecord]) async throws { throw Down() }
  func shutdown() async {}
  var componentType: String { "otlp_http_span_exporter" }
}

@Suite("Tracing pipeline metrics")
struct TracingMetricsTests {
  @Test(
    "spans started by sampling result, processed and dropped (queue full), exported, queue size and export duration"
  )
  func counted() async throws {
    // A backend of this test's own: nothing else in the process writes to it.
    let backend = TestMetrics()
    let sink = TracingMetricsSink(factory: backend)
    let starts = SpanStartCounts(sink: sink, samplerRatio: 0.25)
    let memory = InMemorySpanExporter()
    var configuration = BatchSpanProcessor.Configuration()
    // Nothing is exported until the flush: 4 spans fit, the 2 after them are dropped.
    configuration.maximumQueueSize = 4
    configuration.maximumBatchSize = 100
    configuration.scheduledDelay = .seconds(3600)
    let processor = BatchSpanProcessor(
      exporter: memory, configuration: configuration, metrics: sink, startCounts: starts)
    let sampled = ProcrastinateTracer(
      sampler: ConstantSampler.alwaysOn, processor: processor, startCounts: starts)
    let unsampled = ProcrastinateTracer(
      sampler: ConstantSampler.alwaysOff, processor: processor, startCounts: starts)
    for index in 0..<6 { sampled.withSpan("kept.\(index)") { _ in } }
    for index in 0..<3 { unsampled.withSpan("not.sampled.\(index)") { _ in } }

    processor.publishMetrics()
    let processorLabels = [
      ("otel_component_type", "batching_span_processor"),
      ("otel_component_name", processor.componentName),
    ]
    let exporterLabels = [
      ("otel_component_type", "in_memory_span_exporter"),
      ("otel_component_name", processor.exporterComponentName),
    ]
    func counter(_ label: String, _ dimensions: [(String, String)]) throws -> Int64 {
      try backend.expectCounter(label, dimensions).totalValue
    }
    #expect(
      try counter(TracingMetrics.spansStarted, [("otel_span_sampling_result", "RECORD_AND_SAMPLE")])
        == 6)
    #expect(try counter(TracingMetrics.spansStarted, [("otel_span_sampling_result", "DROP")]) == 3)
    #expect(try backend.expectGauge(TracingMetrics.samplerRatio).lastValue == 0.25)
    #expect(
      try counter(TracingMetrics.spansProcessed, processorLabels + [("error_type", "queue_full")])
        == 2)
    #expect(try backend.expectGauge(TracingMetrics.queueSize, processorLabels).lastValue == 4)
    #expect(try backend.expectGauge(TracingMetrics.queueCapacity, processorLabels).lastValue == 4)

    await processor.forceFlush()
    processor.publishMetrics()
    #expect(try counter(TracingMetrics.spansExported, exporterLabels) == 4)
    #expect(try counter(TracingMetrics.spansProcessed, processorLabels) == 4)
    #expect(try backend.expectGauge(TracingMetrics.queueSize, processorLabels).lastValue == 0)
    #expect(
      try backend.expectTimer(TracingMetrics.exportDuration, exporterLabels).values.count == 1)
    // Published counts are not published again.
    processor.publishMetrics()
    #expect(try counter(TracingMetrics.spansExported, exporterLabels) == 4)
    #expect(
      try counter(TracingMetrics.spansStarted, [("otel_span_sampling_result", "RECORD_AND_SAMPLE")])
        == 6)
    await processor.shutdown()
  }

  @Test("failed exports are counted by exporter with error_type, and timed")
  func failed() async throws {
    let backend = TestMetrics()
    let sink = TracingMetricsSink(factory: backend)
    var configuration = BatchSpanProcessor.Configuration()
    configuration.scheduledDelay = .seconds(3600)
    let processor = BatchSpanProcessor(
      exporter: FailingExporter(), configuration: configuration,
      logger: TestDatabase.quietLogger, metrics: sink)
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOn, processor: processor)
    for index in 0..<5 { tracer.withSpan("lost.\(index)") { _ in } }
    // Shutdown flushes, fails, and publishes.
    await processor.shutdown()
    let failed = [
      ("otel_component_type", "otlp_http_span_exporter"),
      ("otel_component_name", processor.exporterComponentName), ("error_type", "export_failed"),
    ]
    #expect(try backend.expectCounter(TracingMetrics.spansExported, failed).totalValue == 5)
    #expect(try backend.expectTimer(TracingMetrics.exportDuration, failed).values.count == 1)
    #expect(processor.statistics == SpanExportStatistics(failed: 5))
  }

  @Test("setupTracing's processors publish to the process's metrics backend")
  func setup() async throws {
    let backend = TestMetricsBackend.metrics
    let file = TestScratch.url.appendingPathComponent(
      "metrics-\(UUID().uuidString).jsonl"
    ).path
    defer { try? FileManager.default.removeItem(atPath: file) }
    let tracing = try setupTracing(
      serviceName: "metrics-test", bootstrap: false,
      environment: ["PROCRASTINATE_TRACES_FILE": file])
    for index in 0..<3 { tracing.tracer.withSpan("filed.\(index)") { _ in } }
    await tracing.shutdown()
    let processor = try #require(tracing.batchProcessors.first)
    let labels = [
      ("otel_component_type", "otlp_file_span_exporter"),
      ("otel_component_name", processor.exporterComponentName),
    ]
    #expect(try backend.expectCounter(TracingMetrics.spansExported, labels).totalValue == 3)
  }
}
