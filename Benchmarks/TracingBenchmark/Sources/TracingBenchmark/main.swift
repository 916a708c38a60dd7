// Tracing benchmark, measured in one run:
//  1. span start+end cost on the caller's side: our tracer vs swift-otel 1.6.0, both
//     sampled, both behind a batch processor exporting OTLP/HTTP protobuf to a loopback
//     receiver (queues large enough that nothing is dropped);
//  2. spans per second exported over OTLP/HTTP protobuf by our batch processor to that
//     receiver, which decodes every request with the official opentelemetry-proto classes.
//
//   swift run -c release --package-path Benchmarks/TracingBenchmark TracingBenchmark [--quick]
import Foundation
import Logging
import OTel
import Procrastinate
import ProcrastinateTracing
import ServiceLifecycle
import Tracing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let quick = CommandLine.arguments.contains("--quick")
let costSpans = quick ? 50_000 : 200_000
let throughputSpans = quick ? 100_000 : 500_000

struct Failure: Error, CustomStringConvertible { var description: String }

/// The loopback receiver in count-only mode.
final class Receiver {
  let process = Process()
  let port: Int
  let countFile: String

  init() throws {
    let base = NSTemporaryDirectory() + "tracing-bench-\(UUID().uuidString)"
    countFile = base + ".count"
    let portFile = base + ".port"
    process.executableURL = URL(
      fileURLWithPath: repository.appendingPathComponent(".venv/bin/python").path)
    process.arguments = [
      repository.appendingPathComponent("Tests/Interop/otlp_receiver.py").path, "--port-file",
      portFile,
      "--output", countFile, "--count-only",
    ]
    try process.run()
    let deadline = Date().addingTimeInterval(20)
    var port: Int?
    while port == nil && Date() < deadline {
      port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
      if port == nil { Thread.sleep(forTimeInterval: 0.05) }
    }
    guard let port else { throw Failure(description: "the OTLP receiver did not start") }
    self.port = port
  }

  var count: Int {
    (try? String(contentsOfFile: countFile, encoding: .utf8)).flatMap { Int($0) } ?? 0
  }
  var endpoint: String { "http://127.0.0.1:\(port)/v1/traces" }

  func stop() { process.terminate() }
}

func nanosecondsPerSpan(_ count: Int, _ body: () -> Void) -> Double {
  let start = ContinuousClock.now
  for _ in 0..<count { body() }
  let elapsed = ContinuousClock.now - start
  return (Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9)
    / Double(count)
}

let receiver = try Receiver()
defer { receiver.stop() }

// MARK: Ours
var batch = BatchSpanProcessor.Configuration()
batch.maximumQueueSize = costSpans + 1_000
batch.scheduledDelay = .milliseconds(200)
var otlp = OTLPHTTPExporter.Configuration(endpoint: receiver.endpoint)
otlp.wireProtocol = .protobuf
let ourProcessor = BatchSpanProcessor(
  exporter: OTLPHTTPExporter(configuration: otlp, resource: TracingResource(serviceName: "bench")),
  configuration: batch)
let ourTracer = ProcrastinateTracer(sampler: AlwaysOnSampler(), processor: ourProcessor)
_ = nanosecondsPerSpan(5_000) { ourTracer.startSpan("warm-up").end() }
await ourProcessor.forceFlush()
let ours = nanosecondsPerSpan(costSpans) {
  let span = ourTracer.startSpan("bench.span", ofKind: .internal)
  span.attributes["procrastinate.job.id"] = 42
  span.end()
}
await ourProcessor.forceFlush()

// MARK: swift-otel 1.6.0
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
_ = nanosecondsPerSpan(5_000) { otelTracer.startSpan("warm-up").end() }
let theirs = nanosecondsPerSpan(costSpans) {
  let span = otelTracer.startSpan("bench.span", ofKind: .internal)
  span.attributes["procrastinate.job.id"] = 42
  span.end()
}
serviceTask.cancel()
_ = await serviceTask.result
// swift-otel flushes its queue on shutdown: wait until the receiver has it all, so the
// throughput count below holds only our spans.
var settled = receiver.count
while true {
  try await Task.sleep(for: .milliseconds(500))
  let now = receiver.count
  if now == settled { break }
  settled = now
}

// MARK: Export throughput (ours), nothing dropped
let before = receiver.count
var throughputBatch = BatchSpanProcessor.Configuration()
throughputBatch.maximumQueueSize = 50_000
throughputBatch.maximumBatchSize = 2_048
throughputBatch.scheduledDelay = .milliseconds(100)
let throughputProcessor = BatchSpanProcessor(
  exporter: OTLPHTTPExporter(configuration: otlp, resource: TracingResource(serviceName: "bench")),
  configuration: throughputBatch)
let throughputTracer = ProcrastinateTracer(
  sampler: AlwaysOnSampler(), processor: throughputProcessor)
let started = ContinuousClock.now
// Produce at the rate the exporter drains, in slices, so the queue never overflows.
var produced = 0
while produced < throughputSpans {
  let slice = min(10_000, throughputSpans - produced)
  for _ in 0..<slice { throughputTracer.startSpan("throughput").end() }
  produced += slice
  while produced - throughputProcessor.statistics.exported > 40_000 {
    try await Task.sleep(for: .milliseconds(1))
  }
}
await throughputProcessor.forceFlush()
let exportSeconds = ContinuousClock.now - started
let stats = throughputProcessor.statistics
var received = receiver.count - before
let deadline = ContinuousClock.now + .seconds(5)
while received < throughputSpans && ContinuousClock.now < deadline {
  try await Task.sleep(for: .milliseconds(20))
  received = receiver.count - before
}
let spansPerSecond =
  Double(stats.exported)
  / (Double(exportSeconds.components.seconds) + Double(exportSeconds.components.attoseconds) / 1e18)

let ratio = (ours / theirs * 100).rounded() / 100
print("our tracer        \(String(format: "%7.0f", ours)) ns per span start+end")
print("swift-otel 1.6.0  \(String(format: "%7.0f", theirs)) ns per span start+end")
print("ratio ours/theirs \(ratio) (lower is better)")
print(
  "exported          \(String(format: "%7.0f", spansPerSecond)) spans/s over OTLP/HTTP protobuf, \(stats.dropped) dropped, \(stats.failed) failed, \(received) decoded by the receiver"
)
let json: [String: Any] = [
  "benchmark": "tracing", "quick": quick,
  "ours_ns_per_span": ours.rounded(), "swift_otel_ns_per_span": theirs.rounded(),
  "ours_vs_swift_otel": ratio,
  "exported_spans_per_second": spansPerSecond.rounded(), "exported": stats.exported,
  "dropped": stats.dropped,
  "failed": stats.failed, "received": received,
]
print(
  String(
    decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
    as: UTF8.self))
