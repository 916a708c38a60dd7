import Foundation
import Logging
import Procrastinate
import ProcrastinateTesting
import Synchronization

/// One private PostgreSQL for the whole test process; each test gets its own database.
///
/// It takes 600 connections: the suites run in parallel, each test with an app's pool and
/// often a worker's (up to concurrency + 1) and a listener, and under load, when tests last
/// longer and overlap more, 200 ran out ("sorry, too many clients already" in a soak's
/// server log, and then failed psql calls and workers that could not start).
enum TestDatabase {
  static let server = Task {
    try await EmbeddedPostgres.start(
      options: .init(fsync: false, settings: ["max_connections": "600"]))
  }
  private static let counter = Atomic<Int>(0)

  /// A new, empty database's URL.
  static func emptyDatabaseURL() async throws -> String {
    let number = counter.add(1, ordering: .relaxed).newValue
    return try await server.value.createDatabase(
      "test_\(ProcessInfo.processInfo.processIdentifier)_\(number)")
  }

  /// An app on a new database that carries the schema.
  static func app(schema: Bool = true) async throws -> ProcrastinateApp {
    let app = try ProcrastinateApp(databaseURL: try await emptyDatabaseURL(), logger: quietLogger)
    if schema { try await app.applySchema() }
    return app
  }

  static var quietLogger: Logger {
    var logger = Logger(label: "test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG"] == nil ? .critical : .debug
    return logger
  }
}

/// Runs SQL through psql and returns the rows, `|`-separated, for assertions. psql runs as a
/// child process waited for off the cooperative pool.
@discardableResult
func psql(_ url: String, _ sql: String) async throws -> [String] {
  let output = try await runProcess(
    "/usr/bin/psql", [url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
  return output.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
}

struct ProcessFailure: Error, CustomStringConvertible {
  let description: String
}

struct ProcessOutput {
  var status: Int32
  var stdout: String
  var stderr: String
}

/// Runs a program to completion, off the cooperative pool; throws with its output when it
/// exits non-zero, unless `allowFailure`.
@discardableResult
func runProcess(
  _ executable: String, _ arguments: [String], environment: [String: String] = [:],
  allowFailure: Bool = false
) async throws -> String {
  try await runProcessCapturing(
    executable, arguments, environment: environment, allowFailure: allowFailure
  ).stdout
}

func runProcessCapturing(
  _ executable: String, _ arguments: [String], environment: [String: String] = [:],
  allowFailure: Bool = false
) async throws -> ProcessOutput {
  let child = try await ChildProcess.run(executable, arguments, environment: environment)
  let result = ProcessOutput(status: child.status, stdout: child.output, stderr: child.errorOutput)
  if result.status != 0 && !allowFailure {
    throw ProcessFailure(
      description:
        "\(executable) \(arguments.joined(separator: " ")) exited \(result.status)\nstdout: \(result.stdout)\nstderr: \(result.stderr)"
    )
  }
  return result
}
