import Foundation
import Procrastinate
import ProcrastinateTesting
import Synchronization

/// Collects values from concurrently running handlers.
final class Recorder<Value: Sendable>: Sendable {
  private let storage = Mutex<[Value]>([])
  func append(_ value: Value) { storage.withLock { $0.append(value) } }
  var values: [Value] { storage.withLock { $0 } }
  var count: Int { storage.withLock { $0.count } }
}

struct TaskFailure: Error, CustomStringConvertible {
  var description: String
}

extension WorkerOptions {
  /// A quiet one-shot worker for tests.
  static func test(
    queues: [String]? = nil, concurrency: Int = 1, oneShot: Bool = true,
    strategy: FetchStrategy = .batched, _ configure: (inout WorkerOptions) -> Void = { _ in }
  ) -> WorkerOptions {
    var options = WorkerOptions(
      queues: queues, concurrency: concurrency, oneShot: oneShot, fetchStrategy: strategy)
    options.installSignalHandlers = false
    options.pollingInterval = .milliseconds(100)
    options.reconnectDelay = .milliseconds(100)
    configure(&options)
    return options
  }
}

extension ProcrastinateApp {
  /// The job rows of this app's database as `id|status|attempts|worker_id`, ordered by id.
  func jobRows(_ columns: String = "id, status, attempts") throws -> [String] {
    try psql(databaseURL, "SELECT \(columns) FROM procrastinate_jobs ORDER BY id")
  }

  /// The event types of one job, in order.
  func events(of job: Int64) throws -> [String] {
    try psql(databaseURL, "SELECT type FROM procrastinate_events WHERE job_id = \(job) ORDER BY id")
  }

  var databaseURL: String { database.conninfo }
}

/// Waits until `condition` holds, polling; fails after `timeout`.
func eventually(
  timeout: Duration = .seconds(10), _ what: String, _ condition: () async throws -> Bool
) async throws {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if try await condition() { return }
    try await Task.sleep(for: .milliseconds(20))
  }
  throw TaskFailure(description: "timed out waiting for \(what)")
}

/// Runs `body`; when it throws, the error says so with the last lines of each log (a worker
/// process's output, a server's log), so that a failure leaves something to read.
func withLogs<T>(
  _ logs: [(name: String, tail: () -> String)], _ body: () async throws -> T
) async throws -> T {
  do {
    return try await body()
  } catch {
    let tails = logs.map { "\n--- last lines of \($0.name) ---\n\($0.tail())" }.joined()
    throw TaskFailure(description: "\(error)\(tails)")
  }
}

/// The last `lines` lines of a file, for a failure message.
func tail(of path: String, lines: Int = 30) -> String {
  let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(nothing at \(path))"
  return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
}

extension EmbeddedPostgres {
  /// Creates a role that must log in over TCP with `password` (scram-sha-256), ahead of
  /// initdb's trust rules.
  func createPasswordRole(_ role: String, password: String, superuser: Bool = false) throws {
    _ = try psql(
      url, "CREATE ROLE \(role) LOGIN \(superuser ? "SUPERUSER " : "")PASSWORD '\(password)'")
    let hba = directory + "/data/pg_hba.conf"
    let rules = try String(contentsOfFile: hba, encoding: .utf8)
    try ("host all \(role) 127.0.0.1/32 scram-sha-256\n" + rules).write(
      toFile: hba, atomically: true, encoding: .utf8)
    _ = try psql(url, "SELECT pg_reload_conf()")
  }
}
