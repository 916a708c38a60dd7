import ArgumentParser
import Foundation
import Logging
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import Tracing

/// The guide's simple example in Swift. With no arguments it runs end to end: a private
/// PostgreSQL when no database is configured, a root span that defers a traced job, and a
/// one-shot worker that runs it in the same trace.
@main
struct SimpleTracing: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "simple-tracing",
    abstract: "The guide's simple tracing example: defer a traced job and run it.",
    subcommands: [RunAll.self, Defer.self, WorkerCommand.self],
    defaultSubcommand: RunAll.self)
}

/// The task implementation; `SimpleTasks` is generated from simple.tasks.yaml.
struct Messages: SimpleTasks {
  func processMessage(message: String, times: Int, context: JobContext) async throws {
    // A nested span, as in the guide's "Custom Instrumentation": it joins the job's trace.
    try await withSpan("simple.process_message") { span in
      span.attributes["message.length"] = message.count
      for _ in 0..<times { try await Task.sleep(for: .milliseconds(5)) }
    }
    context.logger.info("processed \"\(message)\" \(times) time(s) (job \(context.jobID))")
  }
}

struct DatabaseOptions: ParsableArguments {
  @Option(help: "PostgreSQL URL (else PROCRASTINATE_DATABASE_URL, DATABASE_URL, PG* variables).")
  var databaseURL: String?
}

/// Where the spans go: the `OTEL_*`/`JAEGER_ENDPOINT` configuration, or else a file.
func startTracing() throws -> TracingSetup {
  try setupTracing(serviceName: "simple-example", defaultFile: "simple-example.traces.jsonl")
}

func logger() -> Logger {
  LoggingSystem.bootstrap(StreamLogHandler.standardError, metadataProvider: .procrastinateTracing)
  var logger = Logger(label: "simple-example")
  logger.logLevel = .info
  return logger
}

struct RunAll: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run", abstract: "Defer a traced job and run it with a one-shot worker (default).")

  @OptionGroup var database: DatabaseOptions
  @Option(help: "The message to process.") var message = "Hello from Swift!"

  func run() async throws {
    let logger = logger()
    let tracing = try startTracing()
    var server: EmbeddedPostgres?
    defer { server?.stop() }
    let url: String?
    if DatabaseSettings.isConfigured(explicit: database.databaseURL) {
      url = database.databaseURL
    } else {
      print("No database configured: starting a private PostgreSQL in a temporary folder…")
      let started = try await EmbeddedPostgres.start()
      server = started
      url = try await started.createDatabase("simple_example")
    }
    let app = try ProcrastinateApp(databaseURL: url, logger: logger)
    if case .created = try await app.applySchema() { print("Applied the procrastinate schema.") }

    let (traceID, jobID) = try await withSpan("simple_example") { span in
      let id = try await ProcessMessage.defer(message: message, times: 2, on: app)
      return (W3CTrace.traceID(in: span.context) ?? "?", id)
    }
    print("Deferred job \(jobID) in trace \(traceID).")

    var tasks = TaskRegistry()
    try tasks.register(Messages())
    try await Worker(app: app, tasks: tasks, options: WorkerOptions(concurrency: 1, oneShot: true))
      .run()
    await app.close()
    await tracing.shutdown()
    print("Trace \(traceID): \(tracing.summary)")
    if let file = tracing.configuration.file {
      // The guide's "Trace Structure", from what the file exporter wrote.
      print()
      print(TraceView.tree(try TraceView.read(path: file), traceID: traceID), terminator: "")
      print(
        "\nThe same as a waterfall page: procrastinate-swift traces show \(file) --html trace.html")
    }
  }
}

struct Defer: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Defer one traced process_message job on a database you run.")

  @OptionGroup var database: DatabaseOptions
  @Option(help: "The message to process.") var message = "Hello from Swift!"
  @Option(help: "How many times to process it.") var times = 1

  func run() async throws {
    let tracing = try startTracing()
    let app = try ProcrastinateApp(databaseURL: database.databaseURL, logger: logger())
    let id = try await withSpan("simple_example") { _ in
      try await ProcessMessage.defer(message: message, times: times, on: app)
    }
    await app.close()
    await tracing.shutdown()
    print("Deferred job \(id); traces went to \(tracing.destinations.joined(separator: ", ")).")
  }
}

struct WorkerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "worker", abstract: "Run a worker for the example's tasks (Ctrl-C stops it).")

  @OptionGroup var database: DatabaseOptions
  @Option(help: "Comma-separated queues to consume (default: all).") var queues: String?
  @Option(help: "Jobs run at once.") var concurrency = 1
  @Flag(help: "Stop when no job is left to fetch.") var oneShot = false

  func run() async throws {
    let tracing = try startTracing()
    let app = try ProcrastinateApp(databaseURL: database.databaseURL, logger: logger())
    var tasks = TaskRegistry()
    try tasks.register(Messages())
    var options = WorkerOptions(
      queues: queues.map { $0.split(separator: ",").map(String.init) }, concurrency: concurrency,
      oneShot: oneShot)
    options.installSignalHandlers = true  // no ServiceGroup here: SIGINT/SIGTERM stop it
    try await Worker(app: app, tasks: tasks, options: options).run()
    await app.close()
    await tracing.shutdown()
    print("Traces went to \(tracing.destinations.joined(separator: ", ")).")
  }
}
