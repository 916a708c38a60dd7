import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Procrastinate
import ProcrastinateCommands
import ProcrastinateDashboard
import ProcrastinateMetrics
import ServiceLifecycle

/// `dashboard`: serves the web dashboard and its OTLP/HTTP span receiver until SIGINT/SIGTERM.
struct DashboardCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dashboard",
    abstract:
      "Serve a web dashboard of the queue, with each job's trace, and an OTLP/HTTP receiver.",
    discussion: """
      Pages: / (queues, workers, periodic tasks), /jobs, /jobs/<id> (with the job's trace as \
      a waterfall). Spans arrive at POST /v1/traces: point OTEL_EXPORTER_OTLP_ENDPOINT at \
      http://HOST:PORT. GET /metrics serves the queue's state (jobs by queue and status, the \
      oldest due job's age, stalled jobs, live workers), read every --queue-metrics-interval \
      seconds, and the span receiver's counters, for Prometheus. It binds 127.0.0.1 unless \
      --host says otherwise; --auth covers every path, /metrics included.
      """)

  @OptionGroup var database: DatabaseOptions
  @Option(help: "The address to listen on (default 127.0.0.1; another one warns without --auth).")
  var host: String?
  @Option(help: "The port (0: any free port; the URL is printed).") var port = 8080
  @Option(help: "Also follow this OTLP/JSON lines file (PROCRASTINATE_TRACES_FILE's output).")
  var traces: String?
  @Option(
    help:
      "Require HTTP basic authentication as user:password (default: PROCRASTINATE_DASHBOARD_AUTH)."
  )
  var auth: String?
  @Option(help: "Spans kept in memory; the oldest go first.") var spanCapacity = 100_000
  @Option(help: "Seconds between two readings of the queue's state for /metrics (1 to 3600).")
  var queueMetricsInterval = 15
  @Option(
    help:
      "Seconds without a heartbeat after which a worker is silent: not live, its jobs stalled.")
  var silentWorkerAfter = 30

  func validate() throws {
    if !(0...65_535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
    if spanCapacity < 1 { throw ValidationError("--span-capacity must be at least 1") }
    if !(1...3600).contains(queueMetricsInterval) {
      throw ValidationError("--queue-metrics-interval must be between 1 and 3600 seconds")
    }
    if silentWorkerAfter < 1 {
      throw ValidationError("--silent-worker-after must be at least 1 second")
    }
  }

  func run() async throws {
    var logger = Logger(label: "procrastinate.dashboard")
    logger.logLevel =
      ProcessInfo.processInfo.environment["PROCRASTINATE_LOG_LEVEL"].flatMap {
        Logger.Level(rawValue: $0)
      } ?? .info
    var options = DashboardOptions()
    options.spanCapacity = spanCapacity
    options.silentWorkerAfter = .seconds(silentWorkerAfter)
    options.metrics = try PrometheusMetrics.bootstrap()
    let fromEnvironment = ProcessInfo.processInfo.environment["PROCRASTINATE_DASHBOARD_AUTH"]
    if let text = auth ?? fromEnvironment.flatMap({ $0.isEmpty ? nil : $0 }) {
      do {
        options.credentials = try DashboardOptions.Credentials(parsing: text)
      } catch {
        throw ValidationError(
          "\(auth != nil ? "--auth" : "PROCRASTINATE_DASHBOARD_AUTH"): \(error)")
      }
    }
    let address = host ?? "127.0.0.1"
    // An address chosen on purpose is reached under names we cannot know.
    options.acceptAnyHost = host != nil
    if host != nil, options.credentials == nil {
      logger.warning(
        "serving on \(address) without authentication: whoever reaches it can retry, cancel and abort jobs; set --auth or PROCRASTINATE_DASHBOARD_AUTH"
      )
    }
    let app = try database.makeApp(maximumConnections: 4)
    let dashboard = ProcrastinateDashboard(app: app, options: options)
    let router = Router()
    router.addRoutes(dashboard)
    let requested = port
    let application = Application(
      router: router, configuration: .init(address: .hostname(address, port: requested)),
      onServerRunning: { channel in
        let bound = channel.localAddress?.port ?? requested
        FileHandle.standardOutput.write(
          Data(
            "dashboard on http://\(address):\(bound) (OTLP/HTTP receiver at /v1/traces, metrics at /metrics)\n"
              .utf8))
      }, logger: logger)
    let queueMetrics = try QueueStateMetrics(
      app: app, interval: .seconds(queueMetricsInterval), stalledAfter: options.silentWorkerAfter,
      liveWithin: options.silentWorkerAfter)
    var services: [any Service] = [application, queueMetrics]
    if let traces { services.append(dashboard.traceFileFollower(path: traces, logger: logger)) }
    let group = ServiceGroup(
      configuration: .init(
        services: services.map { .init(service: $0) },
        gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
    await app.close()
  }
}
