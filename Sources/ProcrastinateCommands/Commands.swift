import ArgumentParser
import Foundation
import Logging
import Procrastinate
import ProcrastinateMetrics
import ServiceLifecycle
import Tracing

/// What an app gives the embedded commands: its service name (for traces), its tasks, and
/// how its process bootstraps logging and tracing.
///
/// ```swift
/// enum DemoApp: TaskProvider {
///   static let serviceName = "procrastinate-demo"
///   static func register(into tasks: inout TaskRegistry) throws { try tasks.register(DemoTasks()) }
///   // This package's tracer (ProcrastinateTracing); swift-otel's would be
///   // `try OTel.bootstrap(configuration: …)`.
///   static func bootstrapObservability(serviceName: String) throws -> (any Service)? {
///     try bootstrapLoggingAndTracing(serviceName: serviceName)
///   }
/// }
///
/// @main struct TracingDemo: AsyncParsableCommand {
///   static let configuration = CommandConfiguration(subcommands: [
///     WorkerCommand<DemoApp>.self, DeferCommand<DemoApp>.self, SchemaCommand.self,
///     HealthchecksCommand.self,
///   ])
/// }
/// ```
///
/// so that `swift run tracing-demo worker --queues=default` works as Python's
/// `procrastinate worker --queues=default` does.
public protocol TaskProvider {
  /// `service.name` of the spans, unless `OTEL_SERVICE_NAME` says otherwise.
  static var serviceName: String { get }
  /// Registers the app's tasks (generated `register(_:)` calls, or hand-written ones).
  static func register(into tasks: inout TaskRegistry) throws
  /// Bootstraps the process's logging and tracing before `worker` or `defer` does its work,
  /// and returns the service that exports spans, if there is one: the command runs it beside
  /// its work and shuts it down after, so the last spans are exported before the process
  /// exits.
  ///
  /// The default bootstraps swift-log onto standard error and no tracer: spans go to the
  /// tracer the process has, if any. Return this package's tracer with
  /// `try bootstrapLoggingAndTracing(serviceName:)` (ProcrastinateTracing), swift-otel's with
  /// `try OTel.bootstrap(configuration:)`, or nil when the app bootstrapped both before the
  /// command ran (a process can bootstrap each only once).
  static func bootstrapObservability(serviceName: String) throws -> (any Service)?
}

extension TaskProvider {
  /// swift-log onto standard error, no tracer, no service.
  public static func bootstrapObservability(serviceName: String) throws -> (any Service)? {
    _ = standardErrorLogging
    return nil
  }
}

/// A logger on standard error, at `PROCRASTINATE_LOG_LEVEL` (default `info`).
func commandLogger() -> Logger {
  var logger = Logger(label: "procrastinate")
  logger.logLevel =
    ProcessInfo.processInfo.environment["PROCRASTINATE_LOG_LEVEL"].flatMap {
      Logger.Level(rawValue: $0)
    }
    ?? .info
  return logger
}

private let standardErrorLogging: Void = LoggingSystem.bootstrap(StreamLogHandler.standardError)

/// Runs a command's `work` beside the services it needs while it runs (the span exporter
/// ``TaskProvider/bootstrapObservability(serviceName:)`` returned, a metrics endpoint), in a
/// `ServiceGroup` that handles no signals; they shut down once the work has ended, however
/// it ended, so the last spans are exported.
func runBeside(
  _ services: [any Service], _ work: @escaping @Sendable () async throws -> Void
) async throws {
  guard !services.isEmpty else { return try await work() }
  let group = ServiceGroup(
    configuration: ServiceGroupConfiguration(
      services: services.map { .init(service: $0) } + [
        .init(
          service: CommandWork(body: work), successTerminationBehavior: .gracefullyShutdownGroup,
          failureTerminationBehavior: .gracefullyShutdownGroup)
      ],
      logger: commandLogger()))
  try await group.run()
}

/// A command's work as a service, so that the span exporter it runs beside stops after it.
private struct CommandWork: Service {
  let body: @Sendable () async throws -> Void
  func run() async throws { try await body() }
}

/// `worker`: runs the app's tasks until SIGINT/SIGTERM (or, one-shot, an empty queue),
/// as Python's `procrastinate worker` does: a subcommand of your executable.
///
/// Options: `--queues`, `--concurrency`, `--one-shot`, `--delete-jobs`,
/// `--shutdown-timeout`, `--name`, `--metrics-port`, `--metrics-host` and those of
/// ``DatabaseOptions``. Spans go to the tracer `Tasks.bootstrapObservability` sets up, under
/// `Tasks.serviceName`. With `--metrics-port`, the process's metrics (the queue's counters
/// and timers, and the tracing pipeline's) are served for Prometheus at `/metrics` on
/// `--metrics-host` (127.0.0.1 by default); swift-metrics is then bootstrapped with
/// Prometheus, so an app whose hook installs another metrics backend must not pass it.
public struct WorkerCommand<Tasks: TaskProvider>: AsyncParsableCommand {
  /// The `worker` subcommand's name and help.
  public static var configuration: CommandConfiguration {
    CommandConfiguration(
      commandName: "worker",
      abstract: "Run a worker for this app's tasks (SIGINT/SIGTERM stop it gracefully).")
  }

  @OptionGroup var database: DatabaseOptions
  @Option(help: "Comma-separated queues to consume, e.g. --queues=default,emails (default: all).")
  var queues: String?
  @Option(help: "Jobs run at once.") var concurrency = 1
  @Flag(help: "Stop when no job is left to fetch.") var oneShot = false
  @Option(help: "Delete finished jobs: never, successful or always.")
  var deleteJobs: WorkerOptions.DeleteJobs = .never
  @Option(help: "Seconds running jobs may take to finish after SIGTERM before they are aborted.")
  var shutdownTimeout: Double?
  @Option(help: "The worker's name, in logs.") var name = "worker"
  @Option(help: "Serve this process's metrics for Prometheus at /metrics on this port.")
  var metricsPort: Int?
  @Option(help: "The address the metrics port listens on (an IP address).")
  var metricsHost = "127.0.0.1"

  /// The command with its default options (ArgumentParser parses them from the command line).
  public init() {}

  /// Checks `--concurrency`, `--shutdown-timeout` and `--metrics-port`.
  public func validate() throws {
    if concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
    if let metricsPort, !(0...65_535).contains(metricsPort) {
      throw ValidationError("--metrics-port must be between 0 and 65535")
    }
    if let shutdownTimeout, !(0...86_400).contains(shutdownTimeout) {
      throw ValidationError("--shutdown-timeout must be between 0 and 86400 seconds")
    }
  }

  /// Bootstraps logging and tracing (``TaskProvider/bootstrapObservability(serviceName:)``),
  /// registers the tasks and runs the worker until it stops.
  public func run() async throws {
    let exporter = try Tasks.bootstrapObservability(serviceName: Tasks.serviceName)
    var beside = exporter.map { [$0] } ?? []
    if let metricsPort {
      let registry = try PrometheusMetrics.bootstrap()
      beside.append(
        PrometheusEndpoint(
          registry: registry, host: metricsHost, port: metricsPort, logger: commandLogger()))
    }
    let app = try database.makeApp()
    var tasks = TaskRegistry()
    try Tasks.register(into: &tasks)
    var options = WorkerOptions(
      queues: queues.map {
        $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      },
      concurrency: concurrency, oneShot: oneShot, deleteJobs: deleteJobs)
    options.name = name
    // A command owns its process: SIGINT/SIGTERM stop the worker gracefully.
    options.installSignalHandlers = true
    options.shutdownTimeout = shutdownTimeout.map { .milliseconds(Int($0 * 1000)) }
    let worker = Worker(app: app, tasks: tasks, options: options)
    try await runBeside(beside) {
      try await worker.run()
      await app.close()
    }
  }
}

extension WorkerOptions.DeleteJobs: ExpressibleByArgument {}

/// `defer TASK [JSON]`: defers one job inside a `procrastinate.defer.<task>` span and prints
/// its id, as Python's `procrastinate defer` does.
///
/// Options: `--queue`, `--priority`, `--lock`, `--queueing-lock`, `--at` or `--in`, and
/// those of ``DatabaseOptions``. The span's `service.name` is `Tasks.serviceName`.
public struct DeferCommand<Tasks: TaskProvider>: AsyncParsableCommand {
  /// The `defer` subcommand's name and help.
  public static var configuration: CommandConfiguration {
    CommandConfiguration(
      commandName: "defer",
      abstract: "Defer one job: a task name and its arguments as a JSON object.",
      discussion: """
        The job carries the trace context of a procrastinate.defer.<task> span under \
        'trace_context', as generated code does. Prints the job id.
        """)
  }

  @Argument(help: "The task name, e.g. traced_fetch_joke.") var task: String
  @Argument(help: "The arguments, a JSON object, e.g. '{\"category\": \"dev\"}'.")
  var json = "{}"
  @OptionGroup var database: DatabaseOptions
  @Option(help: "The queue.") var queue = "default"
  @Option(help: "Higher runs first.") var priority: Int32 = 0
  @Option(help: "At most one job with this lock runs at a time.") var lock: String?
  @Option(help: "At most one job with this queueing lock waits at a time.")
  var queueingLock: String?
  @Option(help: "Run no earlier than this ISO 8601 time, e.g. 2026-11-25T18:00:00Z.")
  var at: String?
  @Option(name: .customLong("in"), help: "Run after this many seconds.") var delay: Double?

  /// The command with its default options (ArgumentParser parses them from the command line).
  public init() {}

  /// Checks `--at` and `--in`.
  public func validate() throws {
    if at != nil && delay != nil { throw ValidationError("give --at or --in, not both") }
    if let delay, !(0...31_536_000).contains(delay) {
      throw ValidationError("--in must be between 0 and 31536000 seconds")
    }
    if let at, Self.date(at) == nil {
      throw ValidationError("--at '\(at)' is not an ISO 8601 time such as 2026-11-25T18:00:00Z")
    }
  }

  static func date(_ text: String) -> Date? {
    (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
      ?? (try? Date.ISO8601FormatStyle().parse(text))
  }

  /// Defers the job in a traced span, prints its id and exports the span; exits 1 when a
  /// job with the same queueing lock is already waiting.
  public func run() async throws {
    let arguments: JSONValue
    do {
      arguments = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
    } catch {
      throw ValidationError("the arguments are not valid JSON: \(json)")
    }
    guard case .object = arguments else {
      throw ValidationError("the arguments must be a JSON object, e.g. '{\"n\": 1}'; got \(json)")
    }
    let exporter = try Tasks.bootstrapObservability(serviceName: Tasks.serviceName)
    let app = try database.makeApp()
    var schedule: DeferOptions.Schedule?
    if let at, let date = Self.date(at) { schedule = .at(date) }
    if let delay { schedule = .in(.milliseconds(Int(delay * 1000))) }
    let overrides = DeferOverrides(
      queue: queue, priority: priority, lock: lock, queueingLock: queueingLock, schedule: schedule)
    let definition = TaskDefinition(name: task)
    try await runBeside(exporter.map { [$0] } ?? []) {
      do {
        let id = try await app.defer(definition, arguments: arguments, overrides: overrides)
        print(id)
      } catch let error as AlreadyEnqueuedError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        await app.close()
        throw ExitCode(1)
      }
      await app.close()
    }
  }
}

/// `healthchecks`: can we reach the database, does it carry the schema, which workers live,
/// as Python's `procrastinate healthchecks` does.
public struct HealthchecksCommand: AsyncParsableCommand {
  /// The `healthchecks` subcommand's name and help.
  public static let configuration = CommandConfiguration(
    commandName: "healthchecks",
    abstract: "Check the database connection, the schema and the workers' heartbeats.")

  @OptionGroup var database: DatabaseOptions

  /// The command with its default options (ArgumentParser parses them from the command line).
  public init() {}

  /// Prints each check; exits 1 when the database is unreachable or the schema incomplete.
  public func run() async throws {
    let app = try database.makeApp()
    print("Database: \(app.database.redacted)")
    do {
      try await app.store.ping()
      print("DB connection: OK")
    } catch {
      print("DB connection: FAILED: \(error)")
      throw ExitCode(1)
    }
    let report = try await app.checkSchema()
    guard report.isComplete else {
      print(
        "Schema: MISSING \(report.missing.count) object(s), e.g. \(report.missing.prefix(3).joined(separator: ", ")); run 'schema --apply'"
      )
      throw ExitCode(1)
    }
    print("Schema: OK (procrastinate 3.10)")
    let workers = try await app.store.workerHeartbeats()
    print("Workers: \(workers.count)")
    for worker in workers {
      print("  worker \(worker.id): last heartbeat \(Int(worker.silentFor.rounded())) s ago")
    }
    await app.close()
  }
}
