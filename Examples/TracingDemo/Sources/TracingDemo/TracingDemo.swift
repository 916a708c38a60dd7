import ArgumentParser
import Foundation
import GuideTasks
import Logging
import Procrastinate
import ProcrastinateCommands
import ProcrastinateTesting
import ProcrastinateTracing
import Tracing

/// The guide's full demo (`tracing_demo.py`). With no arguments it defers jobs and runs a
/// worker in one process, on a private PostgreSQL when no database is configured, then
/// prints the trace:
///
/// ```
/// demo.full_workflow
/// └── demo.defer_jobs
///     ├── procrastinate.defer.traced_fetch_joke
///     │   └── procrastinate.job.traced_fetch_joke
///     │       ├── api.chuck_norris.fetch_joke
///     │       └── db.store_joke
///     └── procrastinate.defer.traced_process_data
///         └── procrastinate.job.traced_process_data
/// ```
@main
struct TracingDemo: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tracing-demo",
    abstract: "The guide's tracing demo: traced jobs from a web-like workflow to the worker.",
    subcommands: [
      Demo.self, WorkerCommand<DemoApp>.self, DeferCommand<DemoApp>.self, SchemaCommand.self,
      HealthchecksCommand.self,
    ],
    defaultSubcommand: Demo.self)
}

struct Demo: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Defer the demo's jobs and run a one-shot worker (both by default).")

  @OptionGroup var database: DatabaseOptions
  @Flag(help: "Only defer the jobs (a worker elsewhere runs them).") var deferJobs = false
  @Flag(help: "Only run a one-shot worker for jobs deferred earlier.") var runWorker = false

  func validate() throws {
    if deferJobs && runWorker {
      throw ValidationError("give --defer-jobs or --run-worker, or neither for both")
    }
  }

  func run() async throws {
    LoggingSystem.bootstrap(StreamLogHandler.standardError, metadataProvider: .procrastinateTracing)
    let tracing = try setupTracing(
      serviceName: DemoApp.serviceName, defaultFile: "procrastinate-demo.traces.jsonl")
    let both = deferJobs == runWorker
    var server: EmbeddedPostgres?
    defer { server?.stop() }
    var url = database.databaseURL
    if !DatabaseSettings.isConfigured(explicit: url) {
      guard both else {
        throw ValidationError(
          "--defer-jobs and --run-worker alone need a database shared by both runs: give --database-url or set PROCRASTINATE_DATABASE_URL"
        )
      }
      print("No database configured: starting a private PostgreSQL in a temporary folder…")
      let started = try await EmbeddedPostgres.start()
      server = started
      url = try await started.createDatabase("procrastinate_demo")
    }
    var logger = Logger(label: "procrastinate-demo")
    logger.logLevel = .info
    let app = try ProcrastinateApp(databaseURL: url, logger: logger)
    if case .created = try await app.applySchema() { print("Applied the procrastinate schema.") }
    try await app.query(DemoApp.createTable)

    var traceID: String?
    if both || deferJobs {
      traceID = try await withSpan("demo.full_workflow") { workflow in
        workflow.attributes["demo.mode"] = both ? "defer-and-run" : "defer-only"
        try await withSpan("demo.defer_jobs") { _ in
          let joke = try await TracedFetchJoke.defer(category: "dev", on: app)
          let data = try await TracedProcessData.defer(data: [1, 2, 3, 4], on: app)
          print("Deferred traced_fetch_joke (job \(joke)) and traced_process_data (job \(data)).")
        }
        return W3CTrace.traceID(in: workflow.context)
      }
    }
    if both || runWorker {
      var tasks = TaskRegistry()
      try DemoApp.register(into: &tasks)
      try await Worker(
        app: app, tasks: tasks,
        options: WorkerOptions(queues: ["default"], concurrency: 2, oneShot: true)
      ).run()
    }
    let unfinished = try await app.query(
      "SELECT id, task_name, status FROM procrastinate_jobs WHERE status NOT IN ('succeeded', 'todo')"
    )
    await app.close()
    await tracing.shutdown()
    print(tracing.summary)
    if let file = tracing.configuration.file, let traceID {
      print()
      print(TraceView.tree(try TraceView.read(path: file), traceID: traceID), terminator: "")
    } else if let traceID {
      print("Trace \(traceID).")
    }
    if !unfinished.isEmpty {
      print(
        "Jobs that did not succeed: \(unfinished.map { $0.compactMap { $0 }.joined(separator: " ") })"
      )
      throw ExitCode(1)
    }
  }
}
