import Foundation
import Logging
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import Testing
import Tracing

@Suite("Tracing configuration")
struct TracingConfigurationUnitTests {
  @Test("OTEL_* variables: endpoints, protocol, headers, sampler, batch settings, resource")
  func environment() throws {
    let configuration = TracingConfiguration.fromEnvironment(
      defaultServiceName: "fallback",
      [
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=from-resource,deployment.environment=prod%20eu",
        "OTEL_SERVICE_NAME": "billing",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s%3Dcret,x-team=queue",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "256",
        "OTEL_CONSOLE_ENABLED": "true",
      ])
    #expect(configuration.warnings == [])
    #expect(configuration.serviceName == "billing")
    #expect(configuration.resourceAttributes.map(\.key) == ["deployment.environment"])
    #expect(configuration.resourceAttributes.first?.value == .string("prod eu"))
    let otlp = try #require(configuration.otlp)
    #expect(otlp.endpoint == "http://collector:4318/v1/traces")
    #expect(otlp.wireProtocol == .json && otlp.gzip && otlp.timeout == .milliseconds(2500))
    #expect(otlp.headers.map { "\($0.0)=\($0.1)" } == ["api-key=s=cret", "x-team=queue"])
    #expect(configuration.sampler.description == "parentbased(traceidratio(0.25))")
    #expect(configuration.batch.scheduledDelay == .milliseconds(200))
    #expect(
      configuration.batch.maximumQueueSize == 4096 && configuration.batch.maximumBatchSize == 256)
    #expect(configuration.console)

    let signalSpecific = TracingConfiguration.fromEnvironment([
      "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4318",
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom/path",
    ])
    #expect(signalSpecific.otlp?.endpoint == "http://collector:4318/custom/path")
    #expect(TracingConfiguration.fromEnvironment([:]).otlp == nil)
    #expect(
      TracingConfiguration.fromEnvironment([:]).sampler.description == "parentbased(always_on)")
  }

  @Test("bad values give one clear warning each and a sane default")
  func badValues() {
    let configuration = TracingConfiguration.fromEnvironment([
      "OTEL_TRACES_SAMPLER": "sometimes",
      "OTEL_TRACES_SAMPLER_ARG": "1.5",
      "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
      "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
      "OTEL_EXPORTER_OTLP_HEADERS": "novalue,ok=1",
      "OTEL_BSP_SCHEDULE_DELAY": "soon",
      "OTEL_SDK_DISABLED": "maybe",
    ])
    #expect(configuration.warnings.count == 6)
    #expect(configuration.warnings.contains { $0.contains("OTEL_TRACES_SAMPLER=sometimes") })
    #expect(configuration.warnings.contains { $0.contains("OTEL_TRACES_SAMPLER_ARG=1.5") })
    #expect(configuration.warnings.contains { $0.contains("grpc") })
    #expect(configuration.warnings.contains { $0.contains("'novalue'") })
    #expect(configuration.sampler.description == "parentbased(always_on)")
    #expect(configuration.otlp?.wireProtocol == .protobuf)
    #expect(configuration.otlp?.headers.count == 1)
    #expect(configuration.batch.scheduledDelay == .seconds(5))
    #expect(!configuration.disabled)
  }

  @Test("setupTracing writes OTLP/JSON lines to the trace file; console lines are readable")
  func fileAndConsole() async throws {
    let path = TestScratch.url.appendingPathComponent(
      "traces-\(UUID().uuidString).jsonl"
    ).path
    let tracing = try setupTracing(
      serviceName: "file-example", bootstrap: false,
      environment: ["PROCRASTINATE_TRACES_FILE": path])
    #expect(tracing.destinations == ["file \(path)"])
    try await tracing.tracer.withSpan("demo.full_workflow") { _ in
      try await tracing.tracer.withSpan("demo.defer_jobs", ofKind: .producer) { span in
        span.attributes["jobs"] = 2
        try await Task.sleep(for: .milliseconds(1))
      }
    }
    await tracing.shutdown()
    #expect(tracing.statistics == SpanExportStatistics(exported: 2, dropped: 0, failed: 0))
    let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 1)
    let request = try #require(
      try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
    let resourceSpans = try #require((request["resourceSpans"] as? [[String: Any]])?.first)
    let spans = try #require(
      ((resourceSpans["scopeSpans"] as? [[String: Any]])?.first?["spans"]) as? [[String: Any]])
    #expect(
      spans.compactMap { $0["name"] as? String } == ["demo.defer_jobs", "demo.full_workflow"])
    let traceID = try #require(spans[0]["traceId"] as? String)
    #expect(traceID.count == 32 && traceID == traceID.lowercased())
    #expect(spans[0]["parentSpanId"] as? String == spans[1]["spanId"] as? String)

    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(processor: memory)
    tracer.withSpan("procrastinate.job.fetch_joke", ofKind: .consumer) {
      $0.attributes["procrastinate.job.id"] = 42
    }
    let line = ConsoleSpanExporter.line(try #require(memory.finishedSpans.first))
    #expect(line.contains("procrastinate.job.fetch_joke CONSUMER"))
    #expect(line.contains("procrastinate.job.id=42"))
    #expect(line.contains(" ms "))
  }

  @Test("log lines inside a span carry trace_id and span_id")
  func logCorrelation() throws {
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(processor: memory)
    let metadata = tracer.withSpan("logged") { _ in
      Logger.MetadataProvider.procrastinateTracing.get()
    }
    let span = try #require(memory.finishedSpans.first)
    #expect(metadata["trace_id"] == "\(span.context.traceID)")
    #expect(metadata["span_id"] == "\(span.context.spanID)")
    #expect(Logger.MetadataProvider.procrastinateTracing.get().isEmpty)
  }
}
