// Generated-task benchmark, measured in one run:
//  1. worker throughput of a no-op generated task (batched fetch, concurrency 10) with
//     tracing on (our tracer, every span sampled, exported over OTLP/HTTP protobuf to a
//     loopback receiver that decodes every request) vs tracing off (no tracer), on the same
//     private PostgreSQL. Each measurement runs in a child process (a process bootstraps
//     one tracer), alternating off/on for `rounds` rounds; the best of each is kept.
//  2. generating Swift for a spec of 1,000 tasks (parse, validate, render; median of 5).
//
//   swift run -c release --package-path Benchmarks TaskBenchmark [--quick]
import Foundation
import Logging
import Procrastinate
import ProcrastinateTracing
import ProcrastinateGenerator
import ProcrastinateTesting
import Tracing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
let jobs = quick ? 3_000 : 10_000
let rounds = quick ? 1 : 3

struct Failure: Error, CustomStringConvertible { var description: String }

struct Noop: BenchTasks {
  func benchNoop(i: Int, context: JobContext) async throws {}
}

func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// User + system CPU time of this process so far.
func cpuSeconds() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
    + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

// MARK: - Child: one measurement

/// `TaskBenchmark --child on|off URL`: defers `jobs` traced jobs inside a span, then times
/// a one-shot worker over them; prints `jobs/s dropped failed`.
func child(mode: String, url: String) async throws {
  var logger = Logger(label: "bench")
  logger.logLevel = .error
  let tracing: TracingSetup? =
    mode == "on" ? try setupTracing(serviceName: "task-benchmark") : nil
  let app = try ProcrastinateApp(databaseURL: url, logger: logger)
  for start in stride(from: 0, to: jobs, by: 5_000) {
    try await withSpan("bench.defer") { _ in
      _ = try await BenchNoop.deferBatch(
        (start..<min(start + 5_000, jobs)).map { BenchNoop.Arguments(i: $0) }, on: app)
    }
  }
  var tasks = TaskRegistry()
  try tasks.register(Noop())
  var options = WorkerOptions(queues: ["bench"], concurrency: 10, oneShot: true)
  options.installSignalHandlers = false
  let cpuBefore = cpuSeconds()
  let started = ContinuousClock.now
  try await Worker(app: app, tasks: tasks, options: options).run()
  let elapsed = seconds(ContinuousClock.now - started)
  let cpu = cpuSeconds() - cpuBefore
  await tracing?.shutdown()
  let statistics = tracing?.statistics ?? SpanExportStatistics()
  await app.close()
  print(
    "\(Double(jobs) / elapsed) \(statistics.dropped) \(statistics.failed) \(statistics.exported) \(cpu / Double(jobs) * 1e6)"
  )
}

if let index = arguments.firstIndex(of: "--child") {
  try await child(mode: arguments[index + 1], url: arguments[index + 2])
  exit(0)
}

// MARK: - Parent

func runChild(_ mode: String, url: String, environment: [String: String]) throws -> [Double] {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
  process.arguments = (quick ? ["--quick"] : []) + ["--child", mode, url]
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  let output = Pipe()
  process.standardOutput = output
  try process.run()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let text = String(decoding: data, as: UTF8.self)
  guard process.terminationStatus == 0 else {
    throw Failure(description: "child \(mode) exited \(process.terminationStatus): \(text)")
  }
  return text.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
}

/// The loopback OTLP receiver, decoding every request with opentelemetry-proto.
func startReceiver() throws -> (Process, Int, String) {
  let base = NSTemporaryDirectory() + "task-bench-\(UUID().uuidString)"
  let process = Process()
  process.executableURL = repository.appendingPathComponent(".venv/bin/python")
  process.arguments = [
    repository.appendingPathComponent("Tests/Interop/otlp_receiver.py").path,
    "--port-file", base + ".port", "--output", base + ".count", "--count-only",
  ]
  // Not our stdout: a pipe reading this program's output would wait for the receiver too.
  process.standardOutput = FileHandle.nullDevice
  process.standardError = FileHandle.nullDevice
  try process.run()
  for _ in 0..<400 {
    if let port = (try? String(contentsOfFile: base + ".port", encoding: .utf8)).flatMap({ Int($0) }
    ) {
      return (process, port, base + ".count")
    }
    Thread.sleep(forTimeInterval: 0.05)
  }
  throw Failure(description: "the OTLP receiver did not start")
}

let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
let (receiver, port, countFile) = try startReceiver()
let traced = [
  "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(port)",
  // A queue and batches sized for tens of thousands of spans per second: nothing dropped.
  "OTEL_BSP_MAX_QUEUE_SIZE": "65536", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
  "OTEL_BSP_SCHEDULE_DELAY": "200",
]
var off: [Double] = []
var on: [Double] = []
/// The worker process's CPU time per job, in microseconds (user + system).
var offCPU: [Double] = []
var onCPU: [Double] = []
var dropped = 0.0
var failed = 0.0
var exported = 0.0
/// A fresh database per measurement: jobs left by an earlier run slow every fetch down.
func freshDatabase(_ name: String) async throws -> String {
  let url = try await server.createDatabase(name)
  let app = try ProcrastinateApp(databaseURL: url)
  try await app.applySchema()
  await app.close()
  return url
}
for round in 0..<rounds {
  // Alternate which mode goes first, so neither always runs on a warmer server.
  for mode in round % 2 == 0 ? ["off", "on"] : ["on", "off"] {
    let url = try await freshDatabase("bench_\(round)_\(mode)")
    if mode == "off" {
      let figures = try runChild("off", url: url, environment: [:])
      off.append(figures[0])
      offCPU.append(figures[4])
    } else {
      let figures = try runChild("on", url: url, environment: traced)
      on.append(figures[0])
      onCPU.append(figures[4])
      dropped += figures[1]
      failed += figures[2]
      exported += figures[3]
    }
  }
  FileHandle.standardError.write(
    Data(
      "round \(round + 1): off \(Int(off.last!)) jobs/s (\(Int(offCPU.last!)) µs CPU/job), on \(Int(on.last!)) jobs/s (\(Int(onCPU.last!)) µs CPU/job)\n"
        .utf8))
}
let received = (try? String(contentsOfFile: countFile, encoding: .utf8)).flatMap { Int($0) } ?? 0
receiver.terminate()
server.stop()

// MARK: Generation of 1,000 tasks

var spec = "tasks:\n"
for index in 0..<1_000 {
  spec += """
      task_\(index):
        doc: Task number \(index).
        queue: queue_\(index % 7)
        retry: { max_attempts: 3, wait: 1, exponential_wait: 2 }
        args:
          user_id: Int
          name: { type: String, default: "n\(index)" }
          tags: "[String]?"
        trace: { record_args: [user_id] }

    """
}
let generator = try Generator(
  templatesDirectory: repository.appendingPathComponent("Templates").path)
var generation: [Double] = []
var lines = 0
for _ in 0..<5 {
  let started = ContinuousClock.now
  let parsed = try SpecParser.parse(spec, path: "thousand.tasks.yaml")
  let source = generator.render(parsed, sourceName: "thousand.tasks.yaml")
  generation.append(seconds(ContinuousClock.now - started))
  lines = source.split(separator: "\n").count
}
let generationSeconds = generation.sorted()[generation.count / 2]

let bestOff = off.max() ?? 0
let bestOn = on.max() ?? 0
let ratio = (bestOn / bestOff * 1000).rounded() / 1000
print("no-op generated task, batched, concurrency 10, \(jobs) jobs, best of \(rounds):")
print("  tracing off  \(Int(bestOff)) jobs/s")
print(
  "  tracing on   \(Int(bestOn)) jobs/s (a job span per job, a producer span per batch, exported over OTLP/HTTP)"
)
print("  on/off       \(ratio)")
print(
  "  spans: \(Int(exported)) exported, \(Int(dropped)) dropped, \(Int(failed)) failed, \(received) decoded by the receiver"
)
print(
  "generating 1,000 tasks (\(lines) lines): \(String(format: "%.3f", generationSeconds)) s (median of 5)"
)
let json: [String: Any] = [
  "benchmark": "generated_tasks", "quick": quick, "jobs": jobs, "rounds": rounds,
  "tracing_off_jobs_per_second": bestOff.rounded(), "tracing_on_jobs_per_second": bestOn.rounded(),
  "on_vs_off": ratio, "spans_exported": Int(exported), "spans_dropped": Int(dropped),
  "spans_failed": Int(failed), "spans_received": received,
  "generate_1000_tasks_seconds": (generationSeconds * 1000).rounded() / 1000,
]
print(
  String(
    decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
    as: UTF8.self))
