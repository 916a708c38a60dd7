import BenchmarkSupport
import Foundation
import Logging
import Procrastinate
import ProcrastinateTesting

/// Runs a program to completion and returns its standard output; a non-zero exit throws
/// with what it printed.
@discardableResult
public func run(_ executable: String, _ arguments: [String]) throws -> String {
  let output = Pipe()
  // Standard error to a file, not a second pipe: a child filling that pipe while this reads
  // the other would wait for ever.
  let errorPath = NSTemporaryDirectory() + "bench-stderr-\(UUID().uuidString)"
  _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
  defer { try? FileManager.default.removeItem(atPath: errorPath) }
  let errors = FileHandle(forWritingAtPath: errorPath)
  let process = try spawn(executable, arguments, standardOutput: output, standardError: errors)
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  try? errors?.close()
  let errorData = FileManager.default.contents(atPath: errorPath) ?? Data()
  guard process.terminationStatus == 0 else {
    throw BenchmarkFailure(
      "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(String(decoding: errorData, as: UTF8.self))"
    )
  }
  return String(decoding: data, as: UTF8.self)
}

/// One SQL statement through psql; its trimmed output.
@discardableResult
public func psql(_ url: String, _ sql: String) throws -> String {
  try run("/usr/bin/psql", [url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
    .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A private PostgreSQL (stopped on every way out) with database `name` carrying the
/// schema, and an app on it that logs errors only.
public func benchDatabase(
  _ name: String, maximumConnections: Int, settings: [String: String] = [:]
) async throws -> (url: String, app: ProcrastinateApp) {
  var logger = Logger(label: "bench")
  logger.logLevel = .error
  let server = try await EmbeddedPostgres.start(options: .init(settings: settings))
  Cleanup.add { server.stop() }
  let url = try await server.createDatabase(name)
  let app = try ProcrastinateApp(
    databaseURL: url, maximumConnections: maximumConnections, logger: logger)
  try await app.applySchema()
  return (url, app)
}

/// Empties the job tables between measurements, so no run pays for another's leftovers
/// (jobs of other queues in `todo` slow every fetch down).
public func resetJobTables(_ url: String) throws {
  try psql(url, "TRUNCATE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs")
  try psql(url, "VACUUM")
}

/// The last line of a program's output, parsed as a JSON object of numbers.
public func lastJSON(_ output: String) throws -> [String: Double] {
  guard let line = output.split(separator: "\n").last,
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
  else { throw BenchmarkFailure("expected a JSON line, got: \(output)") }
  return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

/// The `bench.noop` task: does nothing, or sleeps `workMilliseconds` as the public
/// harness's jobs do.
public func benchTasks(workMilliseconds: Int) throws -> TaskRegistry {
  var tasks = TaskRegistry()
  try tasks.register("bench.noop") { _, _ in
    if workMilliseconds > 0 { try await Task.sleep(for: .milliseconds(workMilliseconds)) }
  }
  return tasks
}

/// Pre-fills `jobs` jobs on a queue of their own (untimed, then `ANALYZE`), times a
/// one-shot Swift worker until it has drained them, checks that every one succeeded, and
/// empties the tables. Returns jobs per second.
public func processSwift(
  app: ProcrastinateApp, url: String, jobs: Int, strategy: WorkerOptions.FetchStrategy,
  concurrency: Int, workMilliseconds: Int = 0
) async throws -> Double {
  let queue = "swift_\(strategy)_c\(concurrency)_w\(workMilliseconds)"
  for start in stride(from: 0, to: jobs, by: 5_000) {
    try await app.deferBatch(
      (start..<min(start + 5_000, jobs)).map { _ in
        JobRequest(task: "bench.noop", options: DeferOptions(queue: queue))
      })
  }
  // Pre-filled jobs have statistics, as autovacuum would give them in production.
  try psql(url, "ANALYZE procrastinate_jobs")
  var options = WorkerOptions(
    queues: [queue], concurrency: concurrency, oneShot: true, fetchStrategy: strategy)
  options.installSignalHandlers = false
  options.listenNotify = false
  let tasks = try benchTasks(workMilliseconds: workMilliseconds)
  let elapsed = try await measure {
    try await Worker(app: app, tasks: tasks, options: options).run()
  }
  let done = try psql(
    url,
    "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = '\(queue)' AND status = 'succeeded'"
  )
  guard Int(done) == jobs else {
    throw BenchmarkFailure("\(queue): only \(done) of \(jobs) jobs succeeded")
  }
  try resetJobTables(url)
  return Double(jobs) / elapsed
}

/// Python procrastinate 3.10 (`Benchmarks/python/procrastinate_bench.py`) in `mode`;
/// returns jobs per second, and empties the tables.
public func runPython(
  python: String, url: String, mode: String, jobs: Int, concurrency: Int = 1,
  workMilliseconds: Int = 0
) throws -> Double {
  let script = repositoryRoot.appendingPathComponent("Benchmarks/python/procrastinate_bench.py")
    .path
  let result = try lastJSON(
    try run(
      python,
      [
        script, "--dsn", url, "--jobs", String(jobs), "--mode", mode, "--concurrency",
        String(concurrency), "--work-ms", String(workMilliseconds),
      ]))
  try resetJobTables(url)
  guard let perSecond = result["per_second"] else {
    throw BenchmarkFailure("procrastinate_bench.py --mode \(mode) printed no per_second")
  }
  return perSecond
}
