import Foundation
import Logging
import OTel
import Procrastinate
import ProcrastinateTesting
import ServiceLifecycle
import Tracing

/// Defers `send_welcome_email` inside a `signup` span and runs it in a worker, with swift-otel
/// as the process's tracer: the spans go wherever swift-otel exports them (OTLP/HTTP,
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, default http://localhost:4318).
@main
struct SwiftOTelExample {
  static func main() async throws {
    var configuration = OTel.Configuration.default
    configuration.serviceName = "procrastinate-swift-otel-example"
    configuration.metrics.enabled = false
    configuration.logs.enabled = false
    configuration.diagnosticLogLevel = .warning
    configuration.traces.batchSpanProcessor.scheduleDelay = .milliseconds(200)
    // The OTEL_* variables override these, as swift-otel documents.
    let otel = try OTel.bootstrap(configuration: configuration)

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
    try tasks.register(Signup())
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
    if stored?.status != "succeeded" { exit(1) }
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
