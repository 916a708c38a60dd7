// Queue benchmark: no-op jobs with swift-procrastinate vs Python procrastinate 3.10, on the
// same private PostgreSQL server in the same run, plus pgbench's ceiling for the same
// fetch-and-finish SQL. Prints a table, then one JSON line of figures and ratios.
//
//   swift run -c release --package-path Benchmarks QueueBenchmark [--quick]
//
// Python's side needs the virtualenv `scripts/setup` creates (.venv at the repository root).
import Foundation
import Logging
import Procrastinate
import ProcrastinateTesting

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent()
let quick = CommandLine.arguments.contains("--quick")
let processJobs = quick ? 2_000 : 10_000
let singleDeferJobs = quick ? 500 : 2_000
let batchDeferJobs = quick ? 5_000 : 20_000
let pythonProcessJobs = quick ? 1_000 : 3_000

var logger = Logger(label: "bench")
logger.logLevel = .error

struct Failure: Error, CustomStringConvertible { var description: String }

@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  let output = Pipe()
  process.standardOutput = output
  try process.run()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw Failure(
      description:
        "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
  }
  return String(decoding: data, as: UTF8.self)
}

/// The last line of a program's output, parsed as a JSON object.
func lastJSON(_ output: String) throws -> [String: Double] {
  guard let line = output.split(separator: "\n").last,
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
  else { throw Failure(description: "expected a JSON line, got: \(output)") }
  return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

func measure(_ body: () async throws -> Void) async rethrows -> Double {
  let start = ContinuousClock.now
  try await body()
  let elapsed = ContinuousClock.now - start
  return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// Empties the job tables between measurements, so no run pays for another's leftovers
/// (jobs of other queues in `todo` slow every fetch down).
func reset() throws {
  try run(
    "/usr/bin/psql",
    [
      url, "-XAtq", "-c",
      "TRUNCATE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs",
    ])
  try run("/usr/bin/psql", [url, "-XAtq", "-c", "VACUUM"])
}

let server = try await EmbeddedPostgres.start()
defer { server.stop() }
let url = try await server.createDatabase("bench")
let app = try ProcrastinateApp(databaseURL: url, maximumConnections: 1, logger: logger)
try await app.applySchema()
var figures: [String: Double] = [:] {
  didSet {
    for (name, value) in figures where oldValue[name] == nil {
      FileHandle.standardError.write(Data("\(name): \(Int(value.rounded())) jobs/s\n".utf8))
    }
  }
}

// MARK: Swift

let singleSeconds = try await measure {
  for index in 0..<singleDeferJobs {
    try await app.defer(
      task: "bench.noop", arguments: JobArguments(["i": .int(Int64(index))]),
      options: DeferOptions(queue: "swift_single"))
  }
}
figures["swift_defer_single"] = Double(singleDeferJobs) / singleSeconds
try reset()

let batch = (0..<batchDeferJobs).map {
  JobRequest(
    task: "bench.noop", arguments: JobArguments(["i": .int(Int64($0))]),
    options: DeferOptions(queue: "swift_batch"))
}
let batchSeconds = try await measure { try await app.deferBatch(batch) }
figures["swift_defer_batch"] = Double(batchDeferJobs) / batchSeconds
try reset()

var tasks = TaskRegistry()
try tasks.register("bench.noop") { _, _ in }

for (strategy, label) in [(WorkerOptions.FetchStrategy.perJob, "per_job"), (.batched, "batched")] {
  for concurrency in [1, 10] {
    let queue = "swift_\(label)_c\(concurrency)"
    for start in stride(from: 0, to: processJobs, by: 5_000) {
      try await app.deferBatch(
        (start..<min(start + 5_000, processJobs)).map { _ in
          JobRequest(task: "bench.noop", options: DeferOptions(queue: queue))
        })
    }
    // Pre-filled jobs have statistics, as autovacuum would give them in production.
    try run("/usr/bin/psql", [url, "-XAtq", "-c", "ANALYZE procrastinate_jobs"])
    var options = WorkerOptions(
      queues: [queue], concurrency: concurrency, oneShot: true, fetchStrategy: strategy)
    options.installSignalHandlers = false
    options.listenNotify = false
    let seconds = try await measure {
      try await Worker(app: app, tasks: tasks, options: options).run()
    }
    let done = try run(
      "/usr/bin/psql",
      [
        url, "-XAtq", "-c",
        "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = '\(queue)' AND status = 'succeeded'",
      ])
    guard Int(done.trimmingCharacters(in: .whitespacesAndNewlines)) == processJobs else {
      throw Failure(description: "\(queue): only \(done) of \(processJobs) jobs succeeded")
    }
    figures["swift_process_\(label)_c\(concurrency)"] = Double(processJobs) / seconds
    // Events written in one transaction share their timestamp: this counts the fetch and
    // finish statements, to show the average batch sizes.
    let statements = try run(
      "/usr/bin/psql",
      [
        url, "-XAtq", "-c",
        "SELECT count(DISTINCT at) FILTER (WHERE type = 'started'), count(DISTINCT at) FILTER (WHERE type = 'succeeded') FROM procrastinate_events",
      ])
    FileHandle.standardError.write(
      Data("  \(queue): fetch|finish transactions = \(statements)".utf8))
    try reset()
  }
}

// MARK: Python procrastinate 3.10

let python = repository.appendingPathComponent(".venv/bin/python").path
let pythonScript = repository.appendingPathComponent("Benchmarks/python/procrastinate_bench.py")
  .path
for (mode, jobs) in [
  ("defer_single", singleDeferJobs), ("defer_batch", batchDeferJobs),
  ("process_c1", pythonProcessJobs), ("process_c10", pythonProcessJobs),
] {
  let result = try lastJSON(
    try run(python, [pythonScript, "--dsn", url, "--jobs", String(jobs), "--mode", mode]))
  figures["python_\(mode)"] = result["per_second"]
  try reset()
}

// MARK: pgbench ceiling: fetch_job_v2 + finish_job_v1 in one transaction, 10 clients

let pgbench = try lastJSON(
  try run(
    "/bin/bash",
    [
      repository.appendingPathComponent("Benchmarks/pgbench/run_pgbench.sh").path, url, "10",
      quick ? "300" : "1000",
    ]))
figures["pgbench_fetch_finish_c10"] = pgbench["tps"]

// MARK: Report

@MainActor func ratio(_ a: String, _ b: String) -> Double {
  guard let x = figures[a], let y = figures[b], y > 0 else { return .nan }
  return (x / y * 100).rounded() / 100
}
let ratios: [String: Double] = [
  "defer_single_vs_python": ratio("swift_defer_single", "python_defer_single"),
  "defer_batch_vs_python": ratio("swift_defer_batch", "python_defer_batch"),
  "per_job_c1_vs_python": ratio("swift_process_per_job_c1", "python_process_c1"),
  "per_job_c10_vs_python": ratio("swift_process_per_job_c10", "python_process_c10"),
  "batched_c1_vs_python": ratio("swift_process_batched_c1", "python_process_c1"),
  "batched_c10_vs_python": ratio("swift_process_batched_c10", "python_process_c10"),
  "per_job_c10_vs_pgbench": ratio("swift_process_per_job_c10", "pgbench_fetch_finish_c10"),
  "batched_c10_vs_pgbench": ratio("swift_process_batched_c10", "pgbench_fetch_finish_c10"),
]
print("figure                                  jobs/s")
for (name, value) in figures.sorted(by: { $0.key < $1.key }) {
  print(name.padding(toLength: 38, withPad: " ", startingAt: 0), String(format: "%9.0f", value))
}
print("ratio")
for (name, value) in ratios.sorted(by: { $0.key < $1.key }) {
  print(name.padding(toLength: 38, withPad: " ", startingAt: 0), String(format: "%9.2f", value))
}
let json: [String: Any] = [
  "benchmark": "queue", "quick": quick,
  "figures": figures.mapValues { $0.rounded() }, "ratios": ratios,
]
print(
  String(
    decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
    as: UTF8.self))
