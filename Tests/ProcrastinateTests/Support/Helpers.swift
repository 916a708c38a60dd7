import Foundation
import Procrastinate
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
