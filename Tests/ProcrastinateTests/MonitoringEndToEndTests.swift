import Foundation
import Procrastinate
import ProcrastinateDashboard
import ProcrastinateTesting
import Testing

/// Debian's `prometheus` server, run by a test: it scrapes the given targets every second,
/// evaluates the alert rules every second and answers its HTTP API.
final class PrometheusServer {
  static let binary = "/usr/bin/prometheus"
  static var available: Bool { FileManager.default.isExecutableFile(atPath: binary) }

  let url: String
  let log: String
  private let folder: URL
  private let child: RunningChild

  /// Starts a server with `rules` and `scrapeConfigs` (YAML, the `scrape_configs` list).
  init(rules: String, scrapeConfigs: String) async throws {
    folder = TestScratch.url.appendingPathComponent(
      "prometheus-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try rules.write(
      to: folder.appendingPathComponent("rules.yml"), atomically: true, encoding: .utf8)
    let config = """
      global:
        scrape_interval: 1s
        scrape_timeout: 1s
        evaluation_interval: 1s
      rule_files: [rules.yml]
      scrape_configs:
      \(scrapeConfigs)
      """
    try config.write(
      to: folder.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
    let port = try EmbeddedPostgres.freePort()
    url = "http://127.0.0.1:\(port)"
    log = folder.appendingPathComponent("prometheus.log").path
    child = try ChildProcess.spawn(
      Self.binary,
      [
        "--config.file=\(folder.path)/prometheus.yml", "--storage.tsdb.path=\(folder.path)/data",
        "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
      ],
      logPath: log)
    try await eventually(timeout: .seconds(120), "prometheus to be ready") {
      (try? await httpRequest("GET", self.url + "/-/ready").status) == 200
    }
  }

  /// The state of each active alert (`pending` or `firing`), by alert name.
  func alerts() async throws -> [String: String] {
    let answer = try await httpRequest("GET", url + "/api/v1/alerts")
    let root = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
    let alerts = (root?["data"] as? [String: Any])?["alerts"] as? [[String: Any]] ?? []
    var states: [String: String] = [:]
    for alert in alerts {
      guard let name = (alert["labels"] as? [String: Any])?["alertname"] as? String,
        let state = alert["state"] as? String
      else { continue }
      // One alert may have several series: firing wins over pending.
      if states[name] != "firing" { states[name] = state }
    }
    return states
  }

  /// The value of an instant query whose answer is one sample, or nil when it is empty.
  func value(_ query: String) async throws -> Double? {
    let encoded = query.addingPercentEncoding(
      withAllowedCharacters: CharacterSet(charactersIn: "-._~").union(.alphanumerics))!
    let answer = try await httpRequest("GET", url + "/api/v1/query?query=" + encoded)
    let root = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
    let results = (root?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
    return (results.first?["value"] as? [Any])?.last.flatMap {
      ($0 as? String).flatMap(Double.init)
    }
  }

  /// The health of each scrape target, by job name.
  func targets() async throws -> [String: String] {
    let answer = try await httpRequest("GET", url + "/api/v1/targets")
    let root = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
    let active = (root?["data"] as? [String: Any])?["activeTargets"] as? [[String: Any]] ?? []
    var health: [String: String] = [:]
    for target in active {
      guard let job = (target["labels"] as? [String: Any])?["job"] as? String else { continue }
      health[job] = target["health"] as? String
    }
    return health
  }

  deinit {
    child.terminate()
    try? FileManager.default.removeItem(at: folder)
  }
}

/// `docs/monitoring/alerts.yml` with every `for:` shortened to 3 s and every range window to
/// 45 s: the expressions are the shipped ones; only the durations (which `alerts_test.yml`
/// checks with promtool) are scaled down, so the test takes a minute or two. 45 s is longer
/// than a failing export takes (5 retries, 31 s of backoff), so the export alert stays
/// firing while the collector is down, and resolves only once exports succeed again.
func alertRulesForTests() throws -> String {
  let path = Python.repository.appendingPathComponent("docs/monitoring/alerts.yml").path
  var text = try String(contentsOfFile: path, encoding: .utf8)
  text = text.replacingOccurrences(
    of: #"for: \d+[smh]"#, with: "for: 3s", options: .regularExpression)
  text = text.replacingOccurrences(
    of: #"\[\d+[smh]\]"#, with: "[45s]", options: .regularExpression)
  return text
}

@Suite(
  "Monitoring, end to end",
  .enabled(
    if: PrometheusServer.available && TracingDemoBinary.testable,
    "needs Debian's prometheus (scripts/setup) and Examples/TracingDemo (scripts/test)"))
struct MonitoringEndToEndTests {
  @Test(
    "a real Prometheus scrapes a worker and the dashboard: a stopped collector fires the export alert, which resolves when it is back; a killed worker fires 'no live worker'"
  )
  func alertsFireAndResolve() async throws {
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    let databaseURL = try await server.createDatabase("monitoring")
    let app = ProcrastinateApp(
      database: try DatabaseSettings(conninfo: databaseURL), logger: TestDatabase.quietLogger)
    defer { Task { await app.close() } }
    try await app.applySchema()

    var collector = try await OTLPReceiver()
    let collectorPort = collector.port
    let dashboard = try await DashboardServer.start(
      databaseURL: databaseURL,
      // A worker beats every 10 s: live within 15 s.
      ["--queue-metrics-interval", "1", "--silent-worker-after", "15"],
      environment: ["PROCRASTINATE_DASHBOARD_AUTH": "ops:s3cret"])
    defer { dashboard.stop() }

    let workerLog = TestScratch.url.appendingPathComponent(
      "monitored-worker-\(UUID().uuidString).log"
    ).path
    let metricsPort = try EmbeddedPostgres.freePort()
    let worker = try ChildProcess.spawn(
      TracingDemoBinary.path,
      ["worker", "--concurrency", "2", "--metrics-port", String(metricsPort)],
      environment: [
        "PROCRASTINATE_DATABASE_URL": databaseURL,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(collectorPort)",
        "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_EXPORTER_OTLP_TIMEOUT": "1000",
        "PROCRASTINATE_TRACES_FILE": "",
      ],
      logPath: workerLog)
    defer { worker.terminate() }

    let dashboardHost = dashboard.url.replacingOccurrences(of: "http://", with: "")
    let prometheus = try await PrometheusServer(
      rules: try alertRulesForTests(),
      scrapeConfigs: """
          - job_name: worker
            static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]
          - job_name: dashboard
            basic_auth: {username: ops, password: s3cret}
            static_configs: [{targets: ["\(dashboardHost)"]}]
        """)

    // Jobs keep coming, so that spans keep being exported (or failing to be).
    let producing = Task {
      while !Task.isCancelled {
        _ = try? await app.deferBatch(
          (0..<5).map { _ in
            JobRequest(task: "traced_process_data", arguments: JobArguments(["data": [1, 2, 3]]))
          })
        try? await Task.sleep(for: .milliseconds(200))
      }
    }
    defer { producing.cancel() }

    let start = ContinuousClock.now
    var timeline: [String] = []
    func mark(_ event: String) {
      let seconds = (ContinuousClock.now - start).components.seconds
      timeline.append("+\(seconds) s \(event)")
    }
    func state(_ alert: String) async throws -> String {
      try await prometheus.alerts()[alert] ?? "inactive"
    }

    try await withLogs([
      ("the worker's log", { tail(of: workerLog) }),
      ("the dashboard's log", { tail(of: dashboard.log) }),
      ("prometheus's log", { tail(of: prometheus.log) }),
      ("the alerts", { "\((try? await prometheus.alerts()) ?? [:])" }),
      ("the targets", { "\((try? await prometheus.targets()) ?? [:])" }),
      (
        "the worker's tracing metrics",
        {
          ((try? await httpRequest("GET", "http://127.0.0.1:\(metricsPort)/metrics"))?.body ?? "")
            .split(separator: "\n").filter { $0.hasPrefix("otel_sdk_exporter") }
            .joined(separator: "\n")
        }
      ),
    ]) {
      try await eventually(timeout: .seconds(120), "both targets to be scraped") {
        try await prometheus.targets() == ["worker": "up", "dashboard": "up"]
      }
      mark("both targets up")
      // The dashboard's /metrics is behind its basic authentication, as Prometheus's scrape
      // (with basic_auth) is; what both processes serve, abridged, goes in the output.
      #expect(try await dashboard.get("/metrics").status == 401)
      let queueScrape = try await dashboard.get(
        "/metrics",
        headers: ["Authorization": "Basic " + Data("ops:s3cret".utf8).base64EncodedString()])
      #expect(queueScrape.body.contains("procrastinate_workers_live 1"), "\(queueScrape.body)")
      #expect(queueScrape.body.contains(#"procrastinate_jobs{queue="default",status="#))
      // The span receiver's counters are there at 0 before anything happens to them.
      #expect(queueScrape.body.contains("\n\(DashboardMetrics.spansEvicted) 0\n"))
      #expect(queueScrape.body.contains("\n\(DashboardMetrics.rejectedRequests) 0\n"))
      let workerScrape = try await httpRequest("GET", "http://127.0.0.1:\(metricsPort)/metrics")
      #expect(workerScrape.body.contains("procrastinate_jobs_finished_total{"))
      #expect(
        workerScrape.body.contains(
          #"otel_sdk_span_started_total{otel_span_sampling_result="RECORD_AND_SAMPLE"}"#))
      for (name, scrape) in [("dashboard", queueScrape), ("worker", workerScrape)] {
        let samples = scrape.body.split(separator: "\n").filter {
          !$0.hasPrefix("#") && !$0.contains("_bucket{")
        }
        print("monitoring e2e: the \(name)'s /metrics, \(samples.count) samples, abridged:")
        print(samples.sorted().prefix(40).joined(separator: "\n"))
      }
      let export = "ProcrastinateTraceExportFailing"
      let noWorker = "ProcrastinateNoLiveWorker"
      // Healthy as Prometheus sees it: spans exported without error and a live worker in what
      // it scraped, and neither alert active.
      try await eventually(
        timeout: .seconds(120), "a healthy start: spans exported, a live worker, no alert"
      ) {
        let exported = try await prometheus.value(
          #"sum(rate(otel_sdk_exporter_span_exported_total{error_type=""}[45s]))"#)
        let live = try await prometheus.value("max(procrastinate_workers_live)")
        let alerts = try await prometheus.alerts()
        return (exported ?? 0) > 0 && (live ?? 0) >= 1 && alerts[export] == nil
          && alerts[noWorker] == nil
      }
      mark("healthy: spans exported, a live worker, no alert")

      #expect(try collector.spans().count > 0, "spans reached the collector before it stopped")
      collector.stop()
      mark("collector stopped")
      try await eventually(timeout: .seconds(120), "the export alert to be pending") {
        try await ["pending", "firing"].contains(state(export))
      }
      mark("\(export) pending")
      try await eventually(timeout: .seconds(120), "the export alert to fire") {
        try await state(export) == "firing"
      }
      mark("\(export) firing")

      collector = try await OTLPReceiver(port: collectorPort)
      mark("collector started again")
      try await eventually(timeout: .seconds(120), "the export alert to resolve") {
        try await state(export) == "inactive"
      }
      mark("\(export) resolved")
      #expect(try collector.spans().count > 0, "spans reach the collector again")

      worker.signal(SIGKILL)
      mark("the only worker killed")
      try await eventually(timeout: .seconds(120), "the no-live-worker alert to fire") {
        try await state(noWorker) == "firing"
      }
      mark("\(noWorker) firing")
    }
    print("monitoring e2e timeline:\n" + timeline.joined(separator: "\n"))
  }
}
