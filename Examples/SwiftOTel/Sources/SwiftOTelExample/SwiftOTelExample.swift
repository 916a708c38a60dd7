import ArgumentParser
import Foundation
import Logging
import OTel
import Procrastinate
import ProcrastinateCommands
import ProcrastinateTesting
import ServiceLifecycle
import Tracing

/// Generated tasks under swift-otel, two ways:
/// - `swift-otel-example` (or `demo`): defers `send_welcome_email` inside a `signup` span and
///   runs it in a worker, in one process, with swift-otel as the process's tracer;
/// - `swift-otel-example defer …` and `swift-otel-example worker …`: the embeddable commands
///   of ProcrastinateCommands, under swift-otel through ``SignupApp``'s bootstrap hook.
///
/// The spans go wherever swift-otel exports them (OTLP/HTTP, `OTEL_EXPORTER_OTLP_ENDPOINT`,
/// default http://localhost:4318).
@main
struct SwiftOTelExample: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "swift-otel-example",
    abstract: "Generated procrastinate tasks traced by swift-otel.",
    subcommands: [Demo.self, WorkerCommand<SignupApp>.self, DeferCommand<SignupApp>.self],
    defaultSubcommand: Demo.self)
}

/// The app's tasks and its tracer, for the embedded commands: swift-otel, bootstrapped by
/// the commands through this hook, and run by them beside their work.
enum SignupApp: TaskProvider {
  static let serviceName = "procrastinate-swift-otel-example"

  static func register(into tasks: inout TaskRegistry) throws {
    try tasks.register(Signup())
  }

  static func bootstrapObservability(serviceName: String) throws -> (any Service)? {
    try OTel.bootstrap(configuration: otelConfiguration(serviceName: serviceName))
  }

  /// Traces only, exported every 200 ms; the `OTEL_*` variables override these, as
  /// swift-otel documents.
  static func otelConfiguration(serviceName: String) -> OTel.Configuration {
    var configuration = OTel.Configuration.default
    configuration.serviceName = serviceName
    configuration.metrics.enabled = false
    configuration.logs.enabled = false
    configuration.diagnosticLogLevel = .warning
    configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(200)
    return configuration
  }
}

/// Defer and run in one process.
struct Demo: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo", abstract: "Defer send_welcome_email in a signup span and run it.")

  func run() async throws {
    let otel = try OTel.bootstrap(
      configuration: SignupApp.otelConfiguration(serviceName: SignupApp.serviceName))

    var logger = Logger(label: "swift-otel-example")
    logger.logLevel = .warning
    var server: EmbeddedPostgres?
    defer { server?.stop() }
    var url: String?
    if !DatabaseSettings.isConfigured() {
      print("No database configured: starting a private PostgreSQL in a temporary folder…")
      let started = try await EmbeddedPostgres.start()
      server = started
      url = try await started.createDatabase("swift_otel_example")
    }
    let app = try ProcrastinateApp(
      database: DatabaseSettings.resolve(explicit: url), logger: logger)
    try await app.applySchema()

    var tasks = TaskRegistry()
    try SignupApp.register(into: &tasks)
    var options = WorkerOptions(queues: ["emails"], concurrency: 2)
    options.pollingInterval = .milliseconds(200)
    let worker = Worker(app: app, tasks: tasks, options: options)
    // swift-otel's service first: a group stops services in reverse order, so the worker's
    // last spans are exported when swift-otel shuts down.
    let group = ServiceGroup(services: [otel, worker], logger: logger)
    let running = Task { try await group.run() }

    let (job, traceID) = try await withSpan("signup", ofKind: .server) { span in
      span.attributes["user.id"] = 42
      let job = try await SendWelcomeEmail.defer(userId: 42, address: "ada@example.com", on: app)
      return (job, W3CTrace.traceID(in: span.context) ?? "?")
    }
    print("Deferred send_welcome_email as job \(job) in trace \(traceID).")
    while let status = try await app.jobs(JobFilter(id: job)).first?.status,
      status == "todo" || status == "doing"
    {
      try await Task.sleep(for: .milliseconds(50))
    }
    let stored = try await app.jobs(JobFilter(id: job)).first
    print("Job \(job) \(stored?.status ?? "vanished"); its arguments: \(stored?.arguments ?? "")")
    await group.triggerGracefulShutdown()
    try await running.value
    await app.close()
    print("swift-otel shut down: it exported the queued spans, or logged why it could not.")
    if stored?.status != "succeeded" { throw ExitCode(1) }
  }
}

/// `SignupTasks` is generated from signup.tasks.yaml.
struct Signup: SignupTasks {
  func sendWelcomeEmail(userId: Int, address: String, context: JobContext) async throws {
    try await withSpan("email.send", ofKind: .client) { span in
      span.attributes["email.to.domain"] = String(address.split(separator: "@").last ?? "")
      try await Task.sleep(for: .milliseconds(5))
    }
  }
}
