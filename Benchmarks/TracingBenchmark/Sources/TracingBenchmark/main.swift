// Tracing benchmark, measured in one run, 5 rounds, each figure reported as the median and
// spread (min–max):
//  1. the caller's cost of a span start + one attribute + end: our tracer vs swift-otel
//     1.6.0, alternating which goes first, both sampled, both behind a batch processor
//     exporting OTLP/HTTP protobuf to the same loopback receiver (queues large enough that
//     nothing is dropped). Reported as the calling thread's CPU time per span (what the
//     span costs the code that makes it) and as wall time (which also shows the exporter
//     and the receiver taking the caller's core on this 2-core machine);
//  2. our export over OTLP/HTTP protobuf in batches of 512 (the default): spans per second,
//     and the process's whole CPU per span end to end (creation, processor, encoding and
//     send), to a receiver that decodes every request with the official
//     opentelemetry-proto classes.
//
//   swift run -c release --package-path Benchmarks/TracingBenchmark TracingBenchmark [--quick]
import BenchmarkSupport
import Foundation
import Logging
import OTel
import Procrastinate
import ProcrastinateTracing
import ServiceLifecycle
import Tracing

let quick = CommandLine.arguments.contains("--quick")
let rounds = quick ? 2 : 5
let costSpans = quick ? 20_000 : 100_000
let exportSpans = quick ? 100_000 : 300_000

/// The loopback receiver in count-only mode.
struct Receiver {
  let port: Int
  let countFile: String

  init(python: String) throws {
    let base = NSTemporaryDirectory() + "tracing-bench-\(UUID().uuidString)"
    countFile = base + ".count"
    let portFile = base + ".port"
    _ = try spawn(
      python,
      [
        repositoryRoot.appendingPathComponent("Tests/Interop/otlp_receiver.py").path,
        "--port-file", portFile, "--output", countFile, "--count-only",
      ], standardError: FileHandle.nullDevice)
    let deadline = Date().addingTimeInterval(20)
    var port: Int?
    while port == nil && Date() < deadline {
      port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
      if port == nil { Thread.sleep(forTimeInterval: 0.05) }
    }
    guard let port else { throw BenchmarkFailure("the OTLP receiver did not start within 20 s") }
    self.port = port
  }

  var count: Int {
    (try? String(contentsOfFile: countFile, encoding: .utf8)).flatMap { Int($0) } ?? 0
  }
  var endpoint: String { "http://127.0.0.1:\(port)/v1/traces" }

  /// Waits until the receiver has decoded `expected` spans in all.
  func waitFor(_ expected: Int) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while count < expected {
      guard ContinuousClock.now < deadline else {
        throw BenchmarkFailure("the receiver decoded \(count) of \(expected) spans within 60 s")
      }
      try await Task.sleep(for: .milliseconds(20))
    }
  }
}

func nanoseconds(_ clock: clockid_t) -> Double {
  var time = timespec()
  clock_gettime(clock, &time)
  return Double(time.tv_sec) * 1e9 + Double(time.tv_nsec)
}

/// Nanoseconds per span, of the calling thread's CPU time and of wall time.
func spanCost<T: Tracer>(_ tracer: T, count: Int) -> (cpu: Double, wall: Double) {
  let cpuStart = nanoseconds(CLOCK_THREAD_CPUTIME_ID)
  let wallStart = nanoseconds(CLOCK_MONOTONIC)
  for _ in 0..<count {
    let span = tracer.startSpan("bench.span", ofKind: .internal)
    span.attributes["procrastinate.job.id"] = 42
    span.end()
  }
  return (
    (nanoseconds(CLOCK_THREAD_CPUTIME_ID) - cpuStart) / Double(count),
    (nanoseconds(CLOCK_MONOTONIC) - wallStart) / Double(count)
  )
}

/// This process's CPU time (user + system), in nanoseconds.
func processCPU() -> Double { nanoseconds(CLOCK_PROCESS_CPUTIME_ID) }

await benchmarkMain {
  let python = PythonEnvironment.require(modules: ["opentelemetry.proto"])
  let receiver = try Receiver(python: python)
  var sent = 0

  // Ours, behind the batch processor and OTLP exporter setupTracing would build.
  var batch = BatchSpanProcessor.Configuration()
  batch.maximumQueueSize = costSpans + 1_000
  batch.scheduledDelay = .milliseconds(200)
  var otlp = OTLPHTTPExporter.Configuration(endpoint: receiver.endpoint)
  otlp.wireProtocol = .protobuf
  let ourProcessor = BatchSpanProcessor(
    exporter: OTLPHTTPExporter(
      configuration: otlp, resource: TracingResource(serviceName: "bench")),
    configuration: batch)
  let ourTracer = ProcrastinateTracer(sampler: AlwaysOnSampler(), processor: ourProcessor)

  // swift-otel 1.6.0, configured alike.
  var configuration = OTel.Configuration.default
  configuration.serviceName = "bench"
  configuration.diagnosticLogLevel = .error
  configuration.metrics.enabled = false
  configuration.logs.enabled = false
  configuration.traces.sampler = .alwaysOn
  configuration.traces.batchSpanProcessor.maxQueueSize = costSpans + 1_000
  configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(200)
  configuration.traces.otlpExporter.endpoint = receiver.endpoint
  configuration.traces.otlpExporter.protocol = .httpProtobuf
  let (otelTracer, otelService) = try OTel.makeTracingBackend(configuration: configuration)
  let serviceTask = Task { try await otelService.run() }
  try await Task.sleep(for: .milliseconds(300))

  // Warm-up, then every measurement starts with both exporters idle.
  _ = spanCost(ourTracer, count: 5_000)
  _ = spanCost(otelTracer, count: 5_000)
  sent += 10_000
  await ourProcessor.forceFlush()
  try await receiver.waitFor(sent)

  var oursCPU = Samples()
  var oursWall = Samples()
  var theirsCPU = Samples()
  var theirsWall = Samples()
  for round in 0..<rounds {
    for tracer in alternating(["ours", "swift-otel"], round: round) {
      if tracer == "ours" {
        let cost = spanCost(ourTracer, count: costSpans)
        oursCPU.append(cost.cpu)
        oursWall.append(cost.wall)
      } else {
        let cost = spanCost(otelTracer, count: costSpans)
        theirsCPU.append(cost.cpu)
        theirsWall.append(cost.wall)
      }
      sent += costSpans
      await ourProcessor.forceFlush()
      try await receiver.waitFor(sent)
    }
    FileHandle.standardError.write(
      Data(
        "round \(round + 1): ours \(Int(oursCPU.values.last!)) ns CPU (\(Int(oursWall.values.last!)) wall), swift-otel \(Int(theirsCPU.values.last!)) ns CPU (\(Int(theirsWall.values.last!)) wall)\n"
          .utf8))
  }
  serviceTask.cancel()
  _ = await serviceTask.result
  await ourProcessor.shutdown()

  // Export in batches of 512, producing as fast as the queue allows (never dropping).
  var throughputBatch = BatchSpanProcessor.Configuration()
  throughputBatch.maximumQueueSize = 50_000
  throughputBatch.scheduledDelay = .milliseconds(100)
  let exportProcessor = BatchSpanProcessor(
    exporter: OTLPHTTPExporter(
      configuration: otlp, resource: TracingResource(serviceName: "bench")),
    configuration: throughputBatch)
  let exportTracer = ProcrastinateTracer(sampler: AlwaysOnSampler(), processor: exportProcessor)
  var exportRate = Samples()
  var endToEndCPU = Samples()
  for round in 0..<rounds {
    let exportedBefore = exportProcessor.statistics.exported
    let cpuStart = processCPU()
    let started = ContinuousClock.now
    var produced = 0
    while produced < exportSpans {
      let slice = min(5_000, exportSpans - produced)
      for _ in 0..<slice {
        let span = exportTracer.startSpan("bench.span", ofKind: .internal)
        span.attributes["procrastinate.job.id"] = 42
        span.end()
      }
      produced += slice
      while produced - (exportProcessor.statistics.exported - exportedBefore) > 40_000 {
        try await Task.sleep(for: .milliseconds(1))
      }
    }
    await exportProcessor.forceFlush()
    let elapsed = seconds(ContinuousClock.now - started)
    endToEndCPU.append((processCPU() - cpuStart) / Double(exportSpans))
    exportRate.append(Double(exportProcessor.statistics.exported - exportedBefore) / elapsed)
    sent += exportSpans
    try await receiver.waitFor(sent)
    FileHandle.standardError.write(
      Data(
        "export round \(round + 1): \(Int(exportRate.values.last!)) spans/s, \(Int(endToEndCPU.values.last!)) ns CPU per span\n"
          .utf8))
  }
  let statistics = exportProcessor.statistics
  await exportProcessor.shutdown()

  let cpuRatio = oursCPU.pairedRatio(over: theirsCPU)
  print("median (min–max) of \(rounds) rounds")
  print("span start+attribute+end, caller's thread CPU:")
  print("  our tracer         \(oursCPU.summary()) ns")
  print("  swift-otel 1.6.0   \(theirsCPU.summary()) ns")
  print("  ours/swift-otel    \(cpuRatio.summary(decimals: 2)) (round by round; lower is better)")
  print("span start+attribute+end, wall time (exporter and receiver share the 2 cores):")
  print("  our tracer         \(oursWall.summary()) ns")
  print("  swift-otel 1.6.0   \(theirsWall.summary()) ns")
  print("export over OTLP/HTTP protobuf, batches of 512:")
  print("  rate               \(exportRate.summary()) spans/s")
  print("  CPU end to end     \(endToEndCPU.summary()) ns per span (whole process)")
  print(
    "  \(statistics.exported) exported, \(statistics.dropped) dropped, \(statistics.failed) failed; \(receiver.count) spans decoded by the receiver in all (\(sent) sent)"
  )
  let json: [String: Any] = [
    "benchmark": "tracing", "quick": quick, "rounds": rounds,
    "ours_cpu_ns_per_span": oursCPU.json(), "swift_otel_cpu_ns_per_span": theirsCPU.json(),
    "ours_vs_swift_otel_cpu": cpuRatio.json(decimals: 2),
    "ours_wall_ns_per_span": oursWall.json(), "swift_otel_wall_ns_per_span": theirsWall.json(),
    "export_spans_per_second": exportRate.json(),
    "export_end_to_end_cpu_ns_per_span": endToEndCPU.json(),
    "exported": statistics.exported, "dropped": statistics.dropped, "failed": statistics.failed,
    "received": receiver.count, "sent": sent,
  ]
  print(
    String(
      decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
      as: UTF8.self))
}
