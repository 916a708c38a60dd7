// The dashboard under load: page answer times with 1,000,000 jobs in the table, and the
// span receiver's intake in spans per second.
//
//   swift run -c release --package-path Benchmarks DashboardBenchmark [--quick]
//
// A private PostgreSQL gets 1,000,000 jobs (90% succeeded, 5% failed, 3% todo, 2% cancelled,
// 5 queues, 20 tasks; 200,000 with --quick) and procrastinate's own indexes only. The
// dashboard runs in this process on a free port. Each page is asked for with curl (its
// `time_total`: connect to last byte), in 5 rounds whose page order alternates; the targets
// are 100 ms per page and 50,000 spans/s received. The receiver is fed 512-span OTLP bodies
// (protobuf made by the official opentelemetry-proto classes, and gzip'd OTLP/JSON) by curl,
// 4 at a time; its count of received spans is checked against what was sent.
import BenchmarkSupport
import Foundation
import Hummingbird
import Logging
import Procrastinate
import ProcrastinateDashboard
import QueueRuns

let quick = CommandLine.arguments.contains("--quick")
let jobCount = quick ? 200_000 : 1_000_000
let rounds = 5
let spansPerBody = 512
let bodiesPerRound = quick ? 100 : 200

await benchmarkMain {
  let python = PythonEnvironment.require(modules: ["opentelemetry.proto.trace.v1.trace_pb2"])
  let (url, app) = try await benchDatabase("dashboard", maximumConnections: 4)
  let fillStart = ContinuousClock.now
  do {
    try psql(
      url,
      """
      INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)
      SELECT 'queue_' || (i % 5), 'task_' || (i % 20), jsonb_build_object('n', i),
        (CASE WHEN i % 100 < 90 THEN 'succeeded' WHEN i % 100 < 95 THEN 'failed'
              WHEN i % 100 < 98 THEN 'todo' ELSE 'cancelled' END)::procrastinate_job_status,
        CASE WHEN i % 100 < 90 THEN 1 ELSE 0 END
      FROM generate_series(1, \(jobCount)) AS i
      """)
    try psql(url, "VACUUM ANALYZE procrastinate_jobs")
  }
  let fill = seconds(ContinuousClock.now - fillStart)
  print("filled \(jobCount) jobs in \(String(format: "%.1f", fill)) s")

  var logger = Logger(label: "dashboard-bench")
  logger.logLevel = .error
  var options = DashboardOptions()
  options.spanCapacity = 100_000
  let dashboard = ProcrastinateDashboard(app: app, options: options)
  let router = Router()
  router.addRoutes(dashboard)
  let port = try freePort()
  let application = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
    logger: logger)
  let server = Task { try await application.runService() }
  defer { server.cancel() }
  let base = "http://127.0.0.1:\(port)"
  try await waitForServer(base)

  // Pages.
  let middle = jobCount / 2
  let pages: [(name: String, path: String)] = [
    ("overview", "/"),
    ("jobs, newest", "/jobs"),
    ("jobs, failed", "/jobs?status=failed"),
    ("jobs, one queue and task", "/jobs?queue=queue_3&task=task_8"),
    ("jobs, page at the middle", "/jobs?before=\(middle)"),
    ("a job", "/jobs/\(middle)"),
    ("api: queues", "/api/queues"),
  ]
  // The first overview waits for the counts (a scan of the whole table); later pages are
  // served from counts at most 2 s old, taken again in the background.
  let coldOverview = try timedGet(base + "/") * 1000
  _ = try pages.map { try timedGet(base + $0.path) }  // warm the connections and caches
  var times = [String: Samples]()
  for round in 0..<rounds {
    for page in alternating(pages, round: round) {
      times[page.name, default: Samples()].append(try timedGet(base + page.path) * 1000)
    }
  }

  // Span intake.
  let folder = NSTemporaryDirectory() + "dashboard-bench-\(UUID().uuidString)"
  try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  Cleanup.add { try? FileManager.default.removeItem(atPath: folder) }
  try run(
    python,
    [
      repositoryRoot.appendingPathComponent("Benchmarks/python/dashboard_bodies.py").path,
      String(spansPerBody), folder,
    ])
  let bodies: [(name: String, file: String, headers: [String])] = [
    ("protobuf", folder + "/spans.pb", ["Content-Type: application/x-protobuf"]),
    (
      "gzip'd JSON", folder + "/spans.json.gz",
      ["Content-Type: application/json", "Content-Encoding: gzip"]
    ),
  ]
  var intake = [String: Samples]()
  for round in 0..<rounds {
    for body in alternating(bodies, round: round) {
      let before = try receivedSpans(base)
      let elapsed = try postMany(
        base + "/v1/traces", file: body.file, headers: body.headers, count: bodiesPerRound)
      let received = try receivedSpans(base) - before
      guard received == bodiesPerRound * spansPerBody else {
        throw BenchmarkFailure(
          "\(body.name): sent \(bodiesPerRound * spansPerBody) spans, received \(received)")
      }
      intake[body.name, default: Samples()].append(Double(received) / elapsed)
    }
  }

  print(
    "\nDashboard with \(jobCount) jobs: answer time, ms, median (min–max) of \(rounds) rounds; target 100 ms"
  )
  print(
    "  (the first overview, waiting for the counts: \(String(format: "%.1f", coldOverview)) ms)")
  var json: [String: Any] = ["jobs": jobCount, "first overview ms": coldOverview]
  for page in pages {
    let samples = times[page.name]!
    let verdict = samples.median < 100 ? "met" : "missed"
    print(
      "  \(page.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(samples.summary(decimals: 1))  ratio to target \(String(format: "%.2f", samples.median / 100))  \(verdict)"
    )
    json["page " + page.name] = samples.json(decimals: 1)
  }
  print(
    "\nSpan receiver: spans/s, median (min–max) of \(rounds) rounds of \(bodiesPerRound) bodies of \(spansPerBody) spans, 4 at a time; target 50,000"
  )
  for body in bodies {
    let samples = intake[body.name]!
    print(
      "  \(body.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(samples.summary())  ratio to target \(String(format: "%.2f", samples.median / 50_000))  \(samples.median >= 50_000 ? "met" : "missed")"
    )
    json["intake " + body.name] = samples.json()
  }
  let line = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
  print(String(decoding: line, as: UTF8.self))
  await app.close()
}

/// curl's `time_total` for one GET, in seconds; a status other than 200 throws.
func timedGet(_ url: String) throws -> Double {
  let output = try run(
    "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url])
  let parts = output.split(separator: " ")
  guard parts.first == "200", parts.count == 2, let seconds = Double(parts[1]) else {
    throw BenchmarkFailure("GET \(url): \(output)")
  }
  return seconds
}

/// POSTs `file` `count` times, 4 requests at a time, in one curl; the seconds it took.
func postMany(_ url: String, file: String, headers: [String], count: Int) throws -> Double {
  var arguments = ["-s", "-Z", "--parallel-max", "4", "-w", "%{http_code}\n"]
  for header in headers { arguments += ["-H", header] }
  arguments += ["--data-binary", "@" + file]
  for _ in 0..<count { arguments += ["-o", "/dev/null", url] }
  let start = ContinuousClock.now
  let output = try run("/usr/bin/curl", arguments)
  let elapsed = seconds(ContinuousClock.now - start)
  let failures = output.split(separator: "\n").filter { $0 != "200" }
  guard failures.isEmpty else { throw BenchmarkFailure("POST \(url): \(failures.prefix(3))") }
  return elapsed
}

/// The receiver's count of spans received, read from the overview.
func receivedSpans(_ base: String) throws -> Int {
  let page = try run("/usr/bin/curl", ["-s", base + "/"])
  guard let range = page.range(of: #"\d+ received"#, options: .regularExpression),
    let count = Int(page[range].split(separator: " ")[0])
  else { throw BenchmarkFailure("the overview shows no received count") }
  return count
}

func waitForServer(_ base: String) async throws {
  for _ in 0..<200 {
    if (try? run("/usr/bin/curl", ["-s", "-o", "/dev/null", base + "/assets/dashboard.css"])) != nil
    {
      return
    }
    try await Task.sleep(for: .milliseconds(50))
  }
  throw BenchmarkFailure("the dashboard did not start")
}

/// A port nobody listens on now.
func freePort() throws -> Int {
  let output = try run(
    "/usr/bin/python3",
    ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
  guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
    throw BenchmarkFailure("no free port: \(output)")
  }
  return port
}
