// Tracing benchmark, measured in one run, 5 rounds, each figure reported as the median and
// spread (min–max):
//  1. the caller's cost of a span start + one attribute + end: our tracer vs swift-otel
//     1.6.0, alternating which goes first, both sampled, both behind a batch processor
//     exporting OTLP/HTTP protobuf to the same loopback receiver (queues large enough that
//     nothing is dropped). Reported as the calling thread's CPU time per span (what the
//     span costs the code that makes it) and as wall time (which also shows the exporter
//     and the receiver taking the caller's core on this 2-core machine);
//  2. our export over OTLP/HTTP protobuf in batches of 512 (the default) and of 2,048,
//     alternating: spans per second,
//     and the process's whole CPU per span end to end (creation, processor, encoding and
//     send), to a receiver that decodes every request with the official
//     opentelemetry-proto classes;
//  3. the default queue sizes (2,048 spans, batches of 512) at 10,000 spans/s for 5 s:
//     what was dropped.
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
let batchSizes = [512, 2_048]

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

/// Our tracer as a user gets it: `setupTracing` with the `OTEL_*` variables, here passed as
/// its environment (nothing is read from the shell's), every span sampled, exported over
/// OTLP/HTTP protobuf to `endpoint` by the batch processor `setupTracing` builds.
func ourTracing(endpoint: String, batch: [String: String] = [:]) throws -> TracingSetup {
  try setupTracing(
    serviceName: "bench", bootstrap: false,
    environment: [
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
      "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
      "OTEL_TRACES_SAMPLER": "always_on",
    ].merging(batch) { $1 })
}

await benchmarkMain {
  let python = PythonEnvironment.require(modules: ["opentelemetry.proto"])
  let receiver = try OTLPReceiver(python: python)
  var sent = 0

  // Ours, behind the batch processor and OTLP exporter setupTracing builds.
  let ours = try ourTracing(
    endpoint: receiver.endpoint,
    batch: ["OTEL_BSP_MAX_QUEUE_SIZE": String(costSpans + 1_000), "OTEL_BSP_SCHEDULE_DELAY": "200"])
  let ourTracer = ours.tracer

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
  await ourTracer.flush()
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
      await ourTracer.flush()
      try await receiver.waitFor(sent)
    }
    FileHandle.standardError.write(
      Data(
        "round \(round + 1): ours \(Int(oursCPU.values.last!)) ns CPU (\(Int(oursWall.values.last!)) wall), swift-otel \(Int(theirsCPU.values.last!)) ns CPU (\(Int(theirsWall.values.last!)) wall)\n"
          .utf8))
  }
  serviceTask.cancel()
  _ = await serviceTask.result
  await ours.shutdown()

  // Export in batches of 512 (the default) and of 2,048, alternating, producing as fast as
  // the queue allows (never dropping).
  var exportRate: [Int: Samples] = [:]
  var endToEndCPU: [Int: Samples] = [:]
  var exportTracing: [Int: TracingSetup] = [:]
  for batchSize in batchSizes {
    exportTracing[batchSize] = try ourTracing(
      endpoint: receiver.endpoint,
      batch: [
        "OTEL_BSP_MAX_QUEUE_SIZE": "50000", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": String(batchSize),
        "OTEL_BSP_SCHEDULE_DELAY": "100",
      ])
  }
  for round in 0..<rounds {
    for batchSize in alternating(batchSizes, round: round) {
      let tracing = exportTracing[batchSize]!
      let tracer = tracing.tracer
      let exportedBefore = tracing.statistics.exported
      let cpuStart = processCPU()
      let started = ContinuousClock.now
      var produced = 0
      while produced < exportSpans {
        let slice = min(5_000, exportSpans - produced)
        for _ in 0..<slice {
          let span = tracer.startSpan("bench.span", ofKind: .internal)
          span.attributes["procrastinate.job.id"] = 42
          span.end()
        }
        produced += slice
        while produced - (tracing.statistics.exported - exportedBefore) > 40_000 {
          try await Task.sleep(for: .milliseconds(1))
        }
      }
      await tracer.flush()
      let elapsed = seconds(ContinuousClock.now - started)
      endToEndCPU[batchSize, default: Samples()].append(
        (processCPU() - cpuStart) / Double(exportSpans))
      exportRate[batchSize, default: Samples()].append(
        Double(tracing.statistics.exported - exportedBefore) / elapsed)
      sent += exportSpans
      try await receiver.waitFor(sent)
      FileHandle.standardError.write(
        Data(
          "export round \(round + 1), batches of \(batchSize): \(Int(exportRate[batchSize]!.values.last!)) spans/s, \(Int(endToEndCPU[batchSize]!.values.last!)) ns CPU per span\n"
            .utf8))
    }
  }
  var statistics = SpanExportStatistics()
  for tracing in exportTracing.values {
    await tracing.shutdown()
    statistics.exported += tracing.statistics.exported
    statistics.dropped += tracing.statistics.dropped
    statistics.failed += tracing.statistics.failed
  }

  // The default queue (2,048 spans, batches of 512, 5 s delay) at 10,000 spans/s for 5 s,
  // paced on the clock: nothing may be dropped.
  let defaultTracing = try ourTracing(endpoint: receiver.endpoint)
  let defaultTracer = defaultTracing.tracer
  let paceStart = ContinuousClock.now
  var paced = 0
  while case let elapsed = seconds(ContinuousClock.now - paceStart), elapsed < 5 {
    let due = Int(elapsed * 10_000)
    while paced < due {
      let span = defaultTracer.startSpan("bench.span", ofKind: .internal)
      span.attributes["procrastinate.job.id"] = 42
      span.end()
      paced += 1
    }
    try await Task.sleep(for: .milliseconds(1))
  }
  await defaultTracing.shutdown()
  let defaults = defaultTracing.statistics
  sent += defaults.exported
  try await receiver.waitFor(sent)

  let cpuRatio = oursCPU.pairedRatio(over: theirsCPU)
  print("median (min–max) of \(rounds) rounds")
  print("span start+attribute+end, caller's thread CPU:")
  print("  our tracer         \(oursCPU.summary()) ns")
  print("  swift-otel 1.6.0   \(theirsCPU.summary()) ns")
  print("  ours/swift-otel    \(cpuRatio.summary(decimals: 2)) (round by round; lower is better)")
  print("span start+attribute+end, wall time (exporter and receiver share the 2 cores):")
  print("  our tracer         \(oursWall.summary()) ns")
  print("  swift-otel 1.6.0   \(theirsWall.summary()) ns")
  print("export over OTLP/HTTP protobuf:")
  for batchSize in batchSizes {
    print("  batches of \(batchSize):")
    print("    rate             \(exportRate[batchSize]!.summary()) spans/s")
    print("    CPU end to end   \(endToEndCPU[batchSize]!.summary()) ns per span (whole process)")
  }
  print(
    "  \(statistics.exported) exported, \(statistics.dropped) dropped, \(statistics.failed) failed; \(receiver.count) spans decoded by the receiver in all (\(sent) sent)"
  )
  print(
    "default queue sizes at 10,000 spans/s for 5 s: \(paced) spans, \(defaults.exported) exported, \(defaults.dropped) dropped, \(defaults.failed) failed"
  )
  let json: [String: Any] = [
    "benchmark": "tracing", "quick": quick, "rounds": rounds,
    "ours_cpu_ns_per_span": oursCPU.json(), "swift_otel_cpu_ns_per_span": theirsCPU.json(),
    "ours_vs_swift_otel_cpu": cpuRatio.json(decimals: 2),
    "ours_wall_ns_per_span": oursWall.json(), "swift_otel_wall_ns_per_span": theirsWall.json(),
    "export_spans_per_second": Dictionary(
      uniqueKeysWithValues: exportRate.map { ("batch_\($0.key)", $0.value.json()) }),
    "export_end_to_end_cpu_ns_per_span": Dictionary(
      uniqueKeysWithValues: endToEndCPU.map { ("batch_\($0.key)", $0.value.json()) }),
    "exported": statistics.exported, "dropped": statistics.dropped, "failed": statistics.failed,
    "received": receiver.count, "sent": sent,
    "default_queue_10k_per_second": [
      "spans": paced, "exported": defaults.exported, "dropped": defaults.dropped,
      "failed": defaults.failed,
    ],
  ]
  print(
    String(
      decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
      as: UTF8.self))
}
