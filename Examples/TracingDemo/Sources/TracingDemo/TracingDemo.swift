import ArgumentParser
import Foundation
import Logging
import Procrastinate
import ProcrastinateCommands
import ProcrastinateTesting
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

/// The demo's tasks, for the embedded `worker` command.
enum DemoApp: TaskProvider {
  static let serviceName = "procrastinate-demo"

  static func register(into tasks: inout TaskRegistry) throws {
    try tasks.register(DemoTasksImplementation(jokes: JokeSourceBox()))
  }
}

/// Resolves the joke source once, on first use (one probe and at most one local service,
/// however many jobs ask at the same time), so `worker` and `run` share the logic.
final class JokeSourceBox: Sendable {
  private let source = Task { await JokeSource.resolve() }
  func get() async -> JokeSource { await source.value }
}

/// `DemoTasks` is generated from demo.tasks.yaml.
struct DemoTasksImplementation: DemoTasks {
  let jokes: JokeSourceBox

  func tracedFetchJoke(category: String, context: JobContext) async throws {
    let joke = try await jokes.get().fetchJoke(category: category)
    try await withSpan("db.store_joke", ofKind: .client) { span in
      span.attributes["db.system"] = "postgresql"
      span.attributes["db.operation.name"] = "INSERT"
      span.attributes["db.collection.name"] = "demo_jokes"
      let rows = try await context.app.query(
        "INSERT INTO demo_jokes (job_id, category, joke) VALUES ($1, $2, $3) RETURNING id",
        [String(context.jobID), category, joke])
      span.attributes["demo.joke.id"] = rows.first?.first??.description ?? ""
    }
    context.logger.info("stored a \(category) joke: \(joke)")
  }

  func tracedProcessData(data: [Int], multiplier: Int, context: JobContext) async throws {
    let result = data.map { $0 * multiplier }
    context.span?.attributes["demo.data.count"] = data.count
    context.span?.attributes["demo.result.sum"] = result.reduce(0, +)
    context.logger.info("processed \(data) × \(multiplier) = \(result)")
  }
}

struct Demo: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Defer the demo's jobs and run a one-shot worker (both by default).")

  static let createTable = """
    CREATE TABLE IF NOT EXISTS demo_jokes (
      id bigserial PRIMARY KEY, job_id bigint, category text, joke text,
      stored_at timestamptz NOT NULL DEFAULT now())
    """

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
    var environment = ProcessInfo.processInfo.environment
    let exporters = [
      "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "JAEGER_ENDPOINT",
      "PROCRASTINATE_TRACES_FILE",
    ]
    if !exporters.contains(where: { !(environment[$0] ?? "").isEmpty }) {
      environment["PROCRASTINATE_TRACES_FILE"] = "procrastinate-demo.traces.jsonl"
    }
    let tracing = try setupTracing(serviceName: DemoApp.serviceName, environment: environment)
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
    try await app.query(Self.createTable)

    var traceID: String?
    if both || deferJobs {
      traceID = try await withSpan("demo.full_workflow") { workflow in
        workflow.attributes["demo.mode"] = both ? "defer-and-run" : "defer-only"
        try await withSpan("demo.defer_jobs") { _ in
          let joke = try await TracedFetchJoke.defer(category: "dev", on: app)
          let data = try await TracedProcessData.defer(data: [1, 2, 3, 4], on: app)
          print("Deferred traced_fetch_joke (job \(joke)) and traced_process_data (job \(data)).")
        }
        return workflow.context.spanContext.map { "\($0.traceID)" }
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
    let statistics = tracing.statistics
    print(
      "\(statistics.exported) spans sent to \(tracing.destinations.joined(separator: ", "))"
        + (statistics.dropped + statistics.failed > 0
          ? " (\(statistics.dropped) dropped, \(statistics.failed) failed)" : ""))
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
