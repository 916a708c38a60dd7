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
  func jobRows(_ columns: String = "id, status, attempts") async throws -> [String] {
    try await psql(databaseURL, "SELECT \(columns) FROM procrastinate_jobs ORDER BY id")
  }

  /// The event types of one job, in order.
  func events(of job: Int64) async throws -> [String] {
    try await psql(
      databaseURL, "SELECT type FROM procrastinate_events WHERE job_id = \(job) ORDER BY id")
  }

  var databaseURL: String { database.conninfo }
}

/// Waits until `condition` holds, polling (every 20 ms at first, backing off to 250 ms, since
/// many conditions start a process). `timeout` is a deadline for a machine several times
/// slower than the one it was written on, not an expectation: a test waits for the event it
/// needs. A condition that throws counts as not holding yet (a server still starting, one
/// failed request): polling goes on, unless it throws ``GiveUp``, a verdict that waiting
/// cannot change. On timeout the error says how long it waited, the last error the
/// condition threw, and, through `seen`, what it last saw.
func eventually(
  timeout: Duration = .seconds(60), _ what: String, seen: (() async -> String)? = nil,
  _ condition: () async throws -> Bool
) async throws {
  let start = ContinuousClock.now
  var pause = Duration.milliseconds(20)
  var lastError: (any Error)?
  while ContinuousClock.now - start < timeout {
    do {
      if try await condition() { return }
      lastError = nil
    } catch let error as GiveUp {
      throw TaskFailure(description: "gave up waiting for \(what): \(error.reason)")
    } catch is CancellationError {
      throw CancellationError()
    } catch {
      lastError = error
    }
    try await Task.sleep(for: pause)
    pause = min(pause * 1.5, .milliseconds(250))
  }
  var message = "timed out after \(ContinuousClock.now - start) waiting for \(what)"
  if let lastError { message += "; the last check threw: \(lastError)" }
  if let seen { message += "; last seen: \(await seen())" }
  throw TaskFailure(description: message)
}

/// Thrown by an ``eventually(timeout:_:seen:_:)`` condition to fail at once.
struct GiveUp: Error {
  var reason: String
}

/// Runs `body`; when it throws, the error says so with the last lines of each log (a worker
/// process's output, a server's log), so that a failure leaves something to read.
func withLogs<T>(
  _ logs: [(name: String, tail: () async -> String)], _ body: () async throws -> T
) async throws -> T {
  do {
    return try await body()
  } catch {
    var tails = ""
    for log in logs { tails += "\n--- last lines of \(log.name) ---\n\(await log.tail())" }
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
  func createPasswordRole(_ role: String, password: String, superuser: Bool = false)
    async throws
  {
    _ = try await psql(
      url, "CREATE ROLE \(role) LOGIN \(superuser ? "SUPERUSER " : "")PASSWORD '\(password)'")
    let hba = directory + "/data/pg_hba.conf"
    let rules = try String(contentsOfFile: hba, encoding: .utf8)
    try ("host all \(role) 127.0.0.1/32 scram-sha-256\n" + rules).write(
      toFile: hba, atomically: true, encoding: .utf8)
    _ = try await psql(url, "SELECT pg_reload_conf()")
  }
}

/// A gate a job handler waits at until the test opens it: the test, not the machine's speed,
/// decides when a running job ends. A gate never opened throws after 10 minutes, so a failed
/// test still ends; a cancelled task stops waiting (and throws) at once.
final class Gate: Sendable {
  private let isOpen = Atomic<Bool>(false)

  func open() { isOpen.store(true, ordering: .releasing) }

  func wait() async throws {
    let deadline = ContinuousClock.now + .seconds(600)
    while !isOpen.load(ordering: .acquiring) {
      guard ContinuousClock.now < deadline else {
        throw TaskFailure(description: "the test never opened the gate")
      }
      try await Task.sleep(for: .milliseconds(10))
    }
  }
}

/// Waits until a session of `app`'s database has LISTENed (a worker's listener is in place):
/// what a test of NOTIFY wake-ups needs before it defers.
func waitForListener(_ app: ProcrastinateApp) async throws {
  var sessions: [String] = []
  try await eventually("a worker's LISTEN to be in place", seen: { "\(sessions)" }) {
    sessions = try await psql(
      app.databaseURL,
      "SELECT state || ': ' || query FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
    )
    return sessions.contains { $0.hasPrefix("idle: LISTEN ") }
  }
}

/// What an HTTP server answered: the status, the body as text, the headers (names lowercased).
struct HTTPAnswer {
  var status: Int
  var body: String
  var headers: [String: String]
}

/// One HTTP request with curl (URLSession on Linux was seen to hang on a 401 with a Basic
/// challenge), waited for off the cooperative pool.
func httpRequest(
  _ method: String, _ url: String, body: Data? = nil, headers: [String: String] = [:]
) async throws -> HTTPAnswer {
  let folder = TestScratch.url.appendingPathComponent(
    "curl-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  var arguments = [
    "-s", "-o", folder.path + "/body", "-D", folder.path + "/headers", "-w", "%{http_code}",
    "--max-time", "60",
  ]
  // curl's -X HEAD would wait for the body Content-Length announces.
  arguments += method == "HEAD" ? ["--head"] : ["-X", method]
  for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
  if let body {
    try body.write(to: folder.appendingPathComponent("request"))
    arguments += ["--data-binary", "@" + folder.path + "/request"]
  }
  arguments.append(url)
  let result = try await ChildProcess.run("/usr/bin/curl", arguments)
  guard result.status == 0, let status = Int(result.output) else {
    throw ProcessFailure(description: "curl \(method) \(url) failed: \(result.errorOutput)")
  }
  var fields: [String: String] = [:]
  let head =
    (try? String(contentsOf: folder.appendingPathComponent("headers"), encoding: .utf8)) ?? ""
  for line in head.split(separator: "\r\n") {
    guard let colon = line.firstIndex(of: ":") else { continue }
    fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
      in: .whitespaces)
  }
  let data = (try? Data(contentsOf: folder.appendingPathComponent("body"))) ?? Data()
  return HTTPAnswer(status: status, body: String(decoding: data, as: UTF8.self), headers: fields)
}
