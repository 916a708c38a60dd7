import ArgumentParser
import Foundation
import GuideTasks
import Hummingbird
import Logging
import Procrastinate
import ProcrastinateCommands
import ProcrastinateMetrics
import ProcrastinateTesting
import ProcrastinateTracing
import ServiceLifecycle

/// `serve`: the HTTP service and, unless `--no-worker`, a worker, in one `ServiceGroup` that
/// owns SIGTERM and SIGINT. On either it stops accepting requests, lets running jobs finish,
/// exports the spans still queued and exits 0.
struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Run the HTTP service (POST /jokes, GET /jobs/{id}) and a worker.")

  static let serviceName = "procrastinate-web-service"

  @OptionGroup var database: DatabaseOptions
  @Option(help: "The address to listen on.") var host = "127.0.0.1"
  @Option(help: "The port to listen on (0 picks a free one).") var port = 8080
  @Flag(help: "Run no worker here (run `web-service worker` elsewhere).") var noWorker = false
  @Option(help: "Jobs the worker runs at once.") var concurrency = 4
  @Option(help: "Seconds running jobs may take to finish after SIGTERM before they are aborted.")
  var shutdownTimeout: Double = 30

  func validate() throws {
    guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a port") }
    guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    guard shutdownTimeout > 0 else { throw ValidationError("--shutdown-timeout must be positive") }
  }

  func run() async throws {
    LoggingSystem.bootstrap(StreamLogHandler.standardError, metadataProvider: .procrastinateTracing)
    var logger = Logger(label: Self.serviceName)
    logger.logLevel =
      ProcessInfo.processInfo.environment["PROCRASTINATE_LOG_LEVEL"].flatMap {
        Logger.Level(rawValue: $0)
      }
      ?? .info
    // With no exporter configured, spans go to a file that `traces show` prints.
    let tracing = try setupTracing(
      serviceName: Self.serviceName, defaultFile: "web-service.traces.jsonl", logger: logger)

    var server: EmbeddedPostgres?
    defer { server?.stop() }
    var url = database.databaseURL
    if !DatabaseSettings.isConfigured(explicit: url) {
      say("No database configured: starting a private PostgreSQL in a temporary folder…")
      let started = try await EmbeddedPostgres.start()
      server = started
      url = try await started.createDatabase("procrastinate_web_service")
      say("Database: \(url ?? "") (for `web-service worker --database-url …`)")
    }
    let app = try ProcrastinateApp(
      database: DatabaseSettings.resolve(explicit: url), maximumConnections: concurrency + 2,
      logger: logger)
    if case .created = try await app.applySchema() { say("Applied the procrastinate schema.") }
    try await app.query(DemoApp.createTable)

    // The queue's and the tracer's metrics, for Prometheus: one bootstrap, one route.
    let registry = try PrometheusMetrics.bootstrap()
    let router = Router(context: BasicRequestContext.self)
    router.get("/metrics") { _, _ in registry.emitToString() }
    // Added before the routes, so each request gets a SERVER span that continues an incoming
    // `traceparent`; the handlers run with it as the current span.
    router.middlewares.add(TracingMiddleware())
    JokeRoutes(app: app).add(to: router)
    let (host, port) = (self.host, self.port)
    let http = Application(
      router: router, configuration: .init(address: .hostname(host, port: port)),
      onServerRunning: { channel in
        // Tests and scripts read this line for the port (`--port 0` picks a free one).
        let bound = channel.localAddress?.port ?? port
        say("Listening on http://\(host):\(bound)")
      },
      logger: logger)

    // A group stops its services in reverse order: the HTTP server first (no new requests),
    // then the worker (running jobs finish), then tracing (queued spans are exported).
    var services: [any Service] = [tracing]
    if !noWorker {
      var tasks = TaskRegistry()
      try DemoApp.register(into: &tasks)
      var options = WorkerOptions(concurrency: concurrency)
      options.shutdownTimeout = .milliseconds(Int(shutdownTimeout * 1000))
      services.append(Worker(app: app, tasks: tasks, options: options))
    }
    services.append(http)
    let group = ServiceGroup(
      configuration: ServiceGroupConfiguration(
        services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()

    await app.close()
    say("Stopped. \(tracing.summary)")
  }
}

/// Prints a line at once (standard output is block-buffered when it is a file or a pipe), so
/// a script or a test reading the output sees each line as it happens.
func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
