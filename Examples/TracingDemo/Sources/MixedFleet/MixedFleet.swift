import Foundation
import Logging
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import Tracing

/// A mixed fleet from one spec, `fleet.tasks.yaml`: a Swift producer defers
/// `python.render_report`, a Python worker (`python/fleet_worker.py`, over the generated
/// `python/fleet_tasks.py`) runs it and defers `store_report`, and a Swift worker runs that.
/// Both languages write their spans to one file, and the trace is printed as one tree.
@main
struct MixedFleet {
  static let serviceName = "fleet-swift"
  static let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("python")

  static func main() async throws {
    LoggingSystem.bootstrap(StreamLogHandler.standardError)
    var logger = Logger(label: serviceName)
    logger.logLevel = .warning
    let tracing = try setupTracing(
      serviceName: serviceName, defaultFile: "mixed-fleet.traces.jsonl")
    let interpreter = try pythonInterpreter()
    var server: EmbeddedPostgres?
    defer { server?.stop() }
    var url: String?
    if !DatabaseSettings.isConfigured(explicit: nil) {
      say("No database configured: starting a private PostgreSQL in a temporary folder…")
      let started = try await EmbeddedPostgres.start()
      server = started
      url = try await started.createDatabase("mixed_fleet")
    }
    let app = try ProcrastinateApp(databaseURL: url, logger: logger)
    try await app.applySchema()

    // Swift producer → Python worker.
    let traceID = try await withSpan("fleet.request") { span in
      let id = try await PythonRenderReport.defer(
        reportId: 42, requestedAt: Date(), sections: ["summary", "figures", "outlook"], on: app)
      say("Swift deferred python.render_report (job \(id)).")
      return W3CTrace.traceID(in: span.context) ?? "?"
    }
    // The Python worker runs it, and defers store_report: Python producer → Swift worker.
    let file = tracing.configuration.file.map { URL(fileURLWithPath: $0).path }
    var environment = ["PROCR_DSN": app.database.conninfo]
    environment["FLEET_TRACE_FILE"] = file
    let status = try await run(
      interpreter, [python.appendingPathComponent("fleet_worker.py").path],
      environment: environment)
    guard status == 0 else {
      throw FleetError(description: "the Python worker exited with status \(status)")
    }
    var tasks = TaskRegistry()
    try tasks.register(FleetHandlers())
    try await Worker(
      app: app, tasks: tasks, options: WorkerOptions(queues: ["swift"], oneShot: true)
    ).run()
    await app.close()
    await tracing.shutdown()
    if let file {
      say()
      say(TraceView.tree(try TraceView.read(path: file), traceID: traceID), terminator: "")
    } else {
      say("Trace \(traceID).")
    }
  }

  /// Runs a program to its end, its output on ours, and returns its exit status; the task
  /// suspends meanwhile (nothing blocks Swift's cooperative pool).
  static func run(_ executable: String, _ arguments: [String], environment: [String: String])
    async throws -> Int32
  {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    return try await withCheckedThrowingContinuation { continuation in
      process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
      do {
        try process.run()
      } catch {
        process.terminationHandler = nil
        continuation.resume(throwing: error)
      }
    }
  }

  /// `$PYTHON`, else the repository's `.venv` that `scripts/setup` creates.
  static func pythonInterpreter() throws -> String {
    let candidate =
      ProcessInfo.processInfo.environment["PYTHON"]
      ?? python.deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent(".venv/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: candidate) else {
      throw FleetError(
        description:
          "no Python at \(candidate): run scripts/setup (it creates .venv with procrastinate 3.10 and OpenTelemetry), or set PYTHON"
      )
    }
    return candidate
  }
}

/// The Swift half of the fleet: `FleetTasks` is generated from fleet.tasks.yaml.
struct FleetHandlers: FleetTasks {
  func pythonRenderReport(
    reportId: Int, requestedAt: Date, sections: [String], context: JobContext
  ) async throws {
    // Declared in the shared spec, run by the Python workers of queue `python`; this
    // process's worker listens to `swift` only.
    throw FleetError(description: "python.render_report runs on the Python workers")
  }

  func storeReport(reportId: Int, pages: Int, summary: String, context: JobContext) async throws {
    withSpan("fleet.store") { span in
      span.attributes["fleet.summary"] = summary
      say("Swift stored report \(reportId): \(pages) pages, \(summary).")
    }
  }
}

/// Writes a line at once (no buffer), so that it comes in order with the Python worker's.
func say(_ text: String = "", terminator: String = "\n") {
  FileHandle.standardOutput.write(Data((text + terminator).utf8))
}

struct FleetError: Error, CustomStringConvertible {
  var description: String
}
