// Queue benchmark: no-op jobs with swift-procrastinate vs Python procrastinate 3.10, on the
// same private PostgreSQL server in the same run, plus pgbench's ceiling for the same
// fetch-and-finish SQL. Every figure is measured in 5 rounds, Swift and Python alternating
// which goes first, and reported as the median and spread (min–max); ratios are taken
// round by round. Prints a table, then one JSON line.
//
//   swift run -c release --package-path Benchmarks QueueBenchmark [--quick]
//
// Python's side needs the virtualenv `scripts/setup` creates (.venv at the repository root).
import BenchmarkSupport
import Foundation
import Procrastinate
import QueueRuns

let quick = CommandLine.arguments.contains("--quick")
let rounds = quick ? 2 : 5
let processJobs = quick ? 2_000 : 5_000
let singleDeferJobs = quick ? 300 : 1_000
let batchDeferJobs = quick ? 5_000 : 10_000
let pythonProcessJobs = quick ? 500 : 1_500
let pgbenchTransactions = quick ? 200 : 500

/// figure name → one value per round.
nonisolated(unsafe) var figures: [String: Samples] = [:]

func record(_ name: String, _ value: Double) {
  figures[name, default: Samples()].append(value)
  FileHandle.standardError.write(Data("  \(name): \(Int(value.rounded())) jobs/s\n".utf8))
}

func swiftRound(app: ProcrastinateApp, url: String) async throws {
  let single = try await measure {
    for index in 0..<singleDeferJobs {
      try await app.defer(
        task: "bench.noop", arguments: JobArguments(["i": .int(Int64(index))]),
        options: DeferOptions(queue: "swift_single"))
    }
  }
  record("swift_defer_single", Double(singleDeferJobs) / single)
  try resetJobTables(url)
  let batch = (0..<batchDeferJobs).map {
    JobRequest(
      task: "bench.noop", arguments: JobArguments(["i": .int(Int64($0))]),
      options: DeferOptions(queue: "swift_batch"))
  }
  let batchSeconds = try await measure { try await app.deferBatch(batch) }
  record("swift_defer_batch", Double(batchDeferJobs) / batchSeconds)
  try resetJobTables(url)
  for (strategy, label) in [(WorkerOptions.FetchStrategy.perJob, "per_job"), (.batched, "batched")]
  {
    for concurrency in [1, 10] {
      record(
        "swift_process_\(label)_c\(concurrency)",
        try await processSwift(
          app: app, url: url, jobs: processJobs, strategy: strategy, concurrency: concurrency))
    }
  }
}

func pythonRound(python: String, url: String) throws {
  record(
    "python_defer_single",
    try runPython(python: python, url: url, mode: "defer_single", jobs: singleDeferJobs))
  record(
    "python_defer_batch",
    try runPython(python: python, url: url, mode: "defer_batch", jobs: batchDeferJobs))
  for concurrency in [1, 10] {
    record(
      "python_process_c\(concurrency)",
      try runPython(
        python: python, url: url, mode: "process", jobs: pythonProcessJobs,
        concurrency: concurrency))
  }
}

func pgbenchRound(url: String) throws {
  // fetch_job_v2 + finish_job_v1 in one transaction, 10 clients.
  let result = try lastJSON(
    try run(
      "/bin/bash",
      [
        repositoryRoot.appendingPathComponent("Benchmarks/pgbench/run_pgbench.sh").path, url,
        "10", String(pgbenchTransactions),
      ]))
  guard let tps = result["tps"] else { throw BenchmarkFailure("run_pgbench.sh printed no tps") }
  record("pgbench_fetch_finish_c10", tps)
  try resetJobTables(url)
}

await benchmarkMain {
  let python = PythonEnvironment.require(modules: ["procrastinate", "psycopg"])
  let (url, app) = try await benchDatabase("bench", maximumConnections: 1)
  for round in 0..<rounds {
    FileHandle.standardError.write(Data("round \(round + 1) of \(rounds)\n".utf8))
    for side in alternating(["swift", "python", "pgbench"], round: round) {
      switch side {
      case "swift": try await swiftRound(app: app, url: url)
      case "python": try pythonRound(python: python, url: url)
      default: try pgbenchRound(url: url)
      }
    }
  }
  await app.close()

  func ratio(_ a: String, _ b: String) -> Samples {
    guard let x = figures[a], let y = figures[b] else { return Samples() }
    return x.pairedRatio(over: y)
  }
  let ratios: [String: Samples] = [
    "defer_single_vs_python": ratio("swift_defer_single", "python_defer_single"),
    "defer_batch_vs_python": ratio("swift_defer_batch", "python_defer_batch"),
    "per_job_c1_vs_python": ratio("swift_process_per_job_c1", "python_process_c1"),
    "per_job_c10_vs_python": ratio("swift_process_per_job_c10", "python_process_c10"),
    "batched_c1_vs_python": ratio("swift_process_batched_c1", "python_process_c1"),
    "batched_c10_vs_python": ratio("swift_process_batched_c10", "python_process_c10"),
    "per_job_c10_vs_pgbench": ratio("swift_process_per_job_c10", "pgbench_fetch_finish_c10"),
    "batched_c10_vs_pgbench": ratio("swift_process_batched_c10", "pgbench_fetch_finish_c10"),
  ]
  print("figure (jobs/s; median (min–max) of \(rounds) alternating rounds)")
  for (name, value) in figures.sorted(by: { $0.key < $1.key }) {
    print(name.padding(toLength: 38, withPad: " ", startingAt: 0), value.summary())
  }
  print("ratio (round by round)")
  for (name, value) in ratios.sorted(by: { $0.key < $1.key }) {
    print(name.padding(toLength: 38, withPad: " ", startingAt: 0), value.summary(decimals: 2))
  }
  let json: [String: Any] = [
    "benchmark": "queue", "quick": quick, "rounds": rounds,
    "figures": figures.mapValues { $0.json() }, "ratios": ratios.mapValues { $0.json(decimals: 2) },
  ]
  print(
    String(
      decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
      as: UTF8.self))
}
