import Foundation
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import Testing

/// `procrastinate-swift dashboard` as a process on a private PostgreSQL, over HTTP.
struct DashboardServer {
  static let binary = Python.repository.appendingPathComponent(".build/debug/procrastinate-swift")
    .path

  let child: RunningChild
  let url: String
  let log: String

  /// Starts the dashboard on a free port and waits for the URL it prints.
  static func start(
    databaseURL: String, _ arguments: [String] = [], environment: [String: String] = [:]
  ) async throws -> DashboardServer {
    let log = TestScratch.url.appendingPathComponent(
      "dashboard-\(UUID().uuidString).log"
    ).path
    let child = try ChildProcess.spawn(
      binary, ["dashboard", "--port", "0", "--database-url", databaseURL] + arguments,
      environment: environment.merging([
        "PROCRASTINATE_DASHBOARD_AUTH": environment["PROCRASTINATE_DASHBOARD_AUTH"] ?? ""
      ]) { $1 },
      logPath: log)
    var url: String?
    try await eventually(timeout: .seconds(120), "the dashboard to print its URL") {
      url =
        tail(of: log).split(separator: "\n").lazy.compactMap { line -> String? in
          guard let range = line.range(of: "dashboard on ") else { return nil }
          return line[range.upperBound...].split(separator: " ").first.map(String.init)
        }.first
      if url != nil { return true }
      return await child.waitForExit(timeout: .zero) != nil
    }
    guard let url else {
      child.terminate()
      throw ProcessFailure(description: "the dashboard did not start: \(tail(of: log))")
    }
    return DashboardServer(child: child, url: url, log: log)
  }

  func stop() {
    child.terminate()
    try? FileManager.default.removeItem(atPath: log)
  }

  typealias Answer = HTTPAnswer

  /// One request to the dashboard (``httpRequest(_:_:body:headers:)``).
  func request(
    _ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]
  ) async throws -> Answer {
    try await httpRequest(method, url + path, body: body, headers: headers)
  }

  func get(_ path: String, headers: [String: String] = [:]) async throws -> Answer {
    try await request("GET", path, headers: headers)
  }

  func json(_ path: String) async throws -> [String: Any] {
    let answer = try await get(path)
    return try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any] ?? [:]
  }

  func csrfToken() async throws -> String {
    try await json("/api/csrf-token")["csrfToken"] as? String ?? ""
  }
}

@Suite("Dashboard, served", .serialized)
struct DashboardServerTests {
  @Test(
    "pages: the overview, jobs newest first a keyset page at a time, a job; bad input gets 400 or 404"
  )
  func pages() async throws {
    let (app, url) = try await Self.database()
    let hostile = "<script>alert('args')</script>"
    // Untraced: whether a tracer is bootstrapped in this process depends on the test order.
    let ids = try await app.deferBatchUntraced(
      (0..<120).map { (index: Int) -> JobRequest in
        let arguments: JobArguments =
          index == 7
          ? JobArguments(["note": .string(hostile)]) : JobArguments(["n": .int(Int64(index))])
        return JobRequest(
          task: index == 7 ? "hostile" : "page.task", arguments: arguments,
          options: DeferOptions(queue: index % 2 == 0 ? "even" : "odd"))
      })
    let server = try await DashboardServer.start(databaseURL: url)
    defer { server.stop() }

    let overview = try await server.get("/")
    #expect(overview.status == 200)
    #expect(overview.headers["content-security-policy"]?.contains("script-src 'self'") == true)
    #expect(overview.body.contains(">even</a>") && overview.body.contains(">odd</a>"))
    #expect(overview.body.contains("id=\"card-todo\"") && overview.body.contains("todo<b>120</b>"))

    var seen: [Int64] = []
    var path = "/jobs"
    for page in 0..<3 {
      let answer = try await server.get(path)
      #expect(answer.status == 200)
      let rows = Self.jobIDs(in: answer.body)
      #expect(rows.count == (page < 2 ? 50 : 20), "page \(page)")
      #expect(rows == rows.sorted(by: >), "newest first")
      seen += rows
      guard let older = Self.olderLink(in: answer.body) else {
        #expect(page == 2, "only the last page has no older link")
        break
      }
      path = older
    }
    #expect(seen == ids.sorted(by: >), "every job once, across the pages")

    let filtered = try await server.get("/jobs?queue=odd&status=todo")
    #expect(Self.jobIDs(in: filtered.body).count == 50)
    let bad = try await server.get("/jobs?status=sleeping")
    #expect(bad.status == 400)
    #expect(bad.body.contains("status 'sleeping' is not one of todo, doing"), "\(bad.body)")
    #expect(try await server.get("/jobs/999999999").status == 404)
    let rebound = try await server.get("/", headers: ["Host": "attacker.example:80"])
    #expect(rebound.status == 403 && rebound.body.contains("answers only to localhost"))
    let flash = try await server.get("/jobs/\(ids[0])?done=You+won+a+prize")
    #expect(flash.status == 200 && !flash.body.contains("prize"))
    #expect(try await server.get("/jobs/abc").status == 400)

    let page = try await server.get("/jobs/\(ids[7])")
    #expect(page.status == 200)
    #expect(!page.body.contains(hostile), "a task argument is escaped")
    #expect(page.body.contains("&lt;script&gt;alert(&#39;args&#39;)&lt;/script&gt;"))
    #expect(page.body.contains("This job&#39;s arguments carry no trace context"))
    let list = try await server.get("/jobs?task=hostile")
    #expect(!list.body.contains(hostile) && Self.jobIDs(in: list.body) == [ids[7]])
    let queues = try await server.json("/api/queues")["queues"] as? [[String: Any]] ?? []
    #expect(queues.compactMap { $0["name"] as? String }.sorted() == ["even", "odd"])
  }

  @Test(
    "the receiver takes OTLP protobuf, JSON and gzip, refuses bad bodies with the reason, and the job shows its trace"
  )
  func receiver() async throws {
    let (app, url) = try await Self.database()
    let job = try await app.deferUntraced(JobRequest(task: "traced"))
    let server = try await DashboardServer.start(databaseURL: url)
    defer { server.stop() }

    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOn, processor: memory)
    let producer = tracer.startSpan("procrastinate.defer.traced", ofKind: .producer)
    let consumer = tracer.startSpan(
      "procrastinate.job.traced", context: producer.context, ofKind: .consumer)
    consumer.updateAttributes {
      $0["procrastinate.job.id"] = Int(job)
      $0["note"] = "<img src=x onerror=alert(1)>"
    }
    consumer.end()
    producer.end()
    let resource = TracingResource(serviceName: "receiver-test")
    let first = Array(memory.finishedSpans.prefix(1))
    let second = Array(memory.finishedSpans.dropFirst())

    let protobuf = try await server.request(
      "POST", "/v1/traces", body: Data(OTLPEncoding.protobuf(first, resource: resource)),
      headers: ["Content-Type": "application/x-protobuf"])
    #expect(protobuf.status == 200)
    #expect(protobuf.headers["content-type"] == "application/x-protobuf")

    let json = TestScratch.url.appendingPathComponent("otlp-\(UUID()).json")
      .path
    try OTLPEncoding.json(second, resource: resource).write(
      toFile: json, atomically: true, encoding: .utf8)
    #expect(try await ChildProcess.run("/bin/gzip", ["-f", json]).status == 0)
    defer { try? FileManager.default.removeItem(atPath: json + ".gz") }
    let gzipped = try await server.request(
      "POST", "/v1/traces", body: FileManager.default.contents(atPath: json + ".gz"),
      headers: ["Content-Type": "application/json", "Content-Encoding": "gzip"])
    #expect(gzipped.status == 200, "\(gzipped.body)")

    let garbage = try await server.request(
      "POST", "/v1/traces", body: Data([0x0a, 0xff, 0x01]),
      headers: ["Content-Type": "application/x-protobuf"])
    #expect(garbage.status == 400)
    #expect(
      garbage.body.contains("resourceSpans[0]") || garbage.body.contains("request"),
      "\(garbage.body)")
    let wrongType = try await server.request(
      "POST", "/v1/traces", body: Data("{}".utf8), headers: ["Content-Type": "text/plain"])
    #expect(
      wrongType.status == 400
        && wrongType.body.contains("application/x-protobuf or application/json"))
    let notGzip = try await server.request(
      "POST", "/v1/traces", body: Data("{}".utf8),
      headers: ["Content-Type": "application/json", "Content-Encoding": "gzip"])
    #expect(notGzip.status == 400 && notGzip.body.contains("not valid gzip"), "\(notGzip.body)")

    let api = try await server.json("/api/jobs/\(job)")
    let spans = api["spans"] as? [[String: Any]] ?? []
    #expect(
      Set(spans.compactMap { $0["name"] as? String }) == [
        "procrastinate.defer.traced", "procrastinate.job.traced",
      ])
    let consumerJSON = try #require(
      spans.first { $0["name"] as? String == "procrastinate.job.traced" })
    #expect(consumerJSON["kind"] as? String == "consumer")
    #expect(consumerJSON["parentSpanId"] as? String == "\(producer.context.spanContext!.spanID)")
    #expect(
      (consumerJSON["attributes"] as? [String: Any])?["procrastinate.job.id"] as? Int == Int(job))
    #expect(consumerJSON["traceId"] as? String == "\(producer.context.spanContext!.traceID)")

    let page = try await server.get("/jobs/\(job)")
    #expect(page.body.contains("id=\"waterfall\""))
    #expect(page.body.contains("procrastinate.job.traced") && page.body.contains("receiver-test"))
    #expect(!page.body.contains("<img src=x"), "a span attribute is escaped")
    #expect(page.body.contains("&lt;img src=x onerror=alert(1)&gt;"))
    let overview = try await server.get("/")
    #expect(overview.body.contains("2 spans kept"), "\(overview.body)")
    #expect(overview.body.contains("3 request bodies refused"))
  }

  @Test(
    "actions are POST with the CSRF token only; retry, cancel and abort where the status allows")
  func actions() async throws {
    let (app, url) = try await Self.database()
    let failed = try await app.defer(task: "will.fail")
    try await app.query(
      "UPDATE procrastinate_jobs SET status = 'failed', attempts = 1 WHERE id = $1",
      [String(failed)])
    let waiting = try await app.defer(task: "waiting")
    let server = try await DashboardServer.start(databaseURL: url)
    defer { server.stop() }
    let token = try await server.csrfToken()
    #expect(token.count >= 32)

    let noToken = try await server.request("POST", "/api/jobs/\(failed)/retry")
    #expect(noToken.status == 403 && noToken.body.contains("CSRF token"))
    let wrong = try await server.request(
      "POST", "/api/jobs/\(failed)/retry", headers: ["X-CSRF-Token": String(token.reversed())])
    #expect(wrong.status == 403)
    let otherOrigin = try await server.request(
      "POST", "/api/jobs/\(failed)/retry",
      headers: ["X-CSRF-Token": token, "Origin": "http://evil.example"])
    #expect(otherOrigin.status == 403 && otherOrigin.body.contains("another origin"))
    #expect(try await server.get("/api/jobs/\(failed)/retry").status == 404, "GET is no action")
    #expect(try await app.store.job(id: failed)?.status == "failed", "nothing happened so far")

    let retried = try await server.request(
      "POST", "/api/jobs/\(failed)/retry", headers: ["X-CSRF-Token": token])
    #expect(retried.status == 200, "\(retried.body)")
    #expect(retried.body.contains("\"status\":\"todo\""))
    let again = try await server.request(
      "POST", "/api/jobs/\(failed)/retry", headers: ["X-CSRF-Token": token])
    #expect(again.status == 409, "a todo job is not retried")

    // The page's form: a urlencoded body with the token; the redirect lands on the job.
    let cancelled = try await server.request(
      "POST", "/jobs/\(waiting)/cancel", body: Data("csrf=\(token)".utf8),
      headers: ["Content-Type": "application/x-www-form-urlencoded"])
    #expect(cancelled.status == 303)
    #expect(cancelled.headers["location"] == "/jobs/\(waiting)?done=cancel")
    #expect(try await server.get("/jobs/\(waiting)?done=cancel").body.contains("Done: cancel."))
    #expect(try await app.store.job(id: waiting)?.status == "cancelled")
    let formWithoutToken = try await server.request(
      "POST", "/jobs/\(failed)/cancel", body: Data("csrf=".utf8),
      headers: ["Content-Type": "application/x-www-form-urlencoded"])
    #expect(formWithoutToken.status == 403)
    #expect(try await app.store.job(id: failed)?.status == "todo")
  }

  @Test("basic authentication guards everything when set; a non-loopback host without it warns")
  func authentication() async throws {
    let (_, url) = try await Self.database()
    let server = try await DashboardServer.start(
      databaseURL: url, environment: ["PROCRASTINATE_DASHBOARD_AUTH": "ops:s3cret"])
    defer { server.stop() }
    let anonymous = try await server.get("/")
    #expect(anonymous.status == 401)
    #expect(anonymous.headers["www-authenticate"]?.hasPrefix("Basic") == true)
    let basic = { (pair: String) in
      ["Authorization": "Basic " + Data(pair.utf8).base64EncodedString()]
    }
    #expect(try await server.get("/", headers: basic("ops:wrong")).status == 401)
    #expect(try await server.get("/", headers: basic("ops:s3cret")).status == 200)
    let receiver = try await server.request(
      "POST", "/v1/traces", body: Data("{}".utf8), headers: ["Content-Type": "application/json"])
    #expect(receiver.status == 401, "the receiver is guarded too")

    let open = try await DashboardServer.start(
      databaseURL: url, ["--host", "0.0.0.0"])
    defer { open.stop() }
    #expect(tail(of: open.log).contains("without authentication"))
    let refused = try await runProcessCapturing(
      DashboardServer.binary,
      ["dashboard", "--database-url", url, "--auth", "nocolon"], allowFailure: true)
    #expect(refused.status != 0)
    #expect(
      refused.stderr.contains("--auth: authentication must be 'user:password'"), "\(refused.stderr)"
    )
  }

  @Test("--traces FILE: spans appear as the file grows; a bad line is logged with its number")
  func tracesFile() async throws {
    let (app, url) = try await Self.database()
    let job = try await app.deferUntraced(JobRequest(task: "from.file"))
    let file = TestScratch.url.appendingPathComponent(
      "traces-\(UUID()).jsonl"
    ).path
    defer { try? FileManager.default.removeItem(atPath: file) }
    let server = try await DashboardServer.start(databaseURL: url, ["--traces", file])
    defer { server.stop() }
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOn, processor: memory)
    let span = tracer.startSpan("procrastinate.job.from.file", ofKind: .consumer)
    span.attributes["procrastinate.job.id"] = Int(job)
    span.end()
    let line =
      OTLPEncoding.json(memory.finishedSpans, resource: TracingResource(serviceName: "file")) + "\n"
    try ("not json\n" + line).write(toFile: file, atomically: false, encoding: .utf8)
    try await eventually(timeout: .seconds(60), "the file's span on the job") {
      (try await server.json("/api/jobs/\(job)")["spans"] as? [Any])?.count == 1
    }
    #expect(tail(of: server.log).contains("\(file):1: not JSON"), "\(tail(of: server.log))")
  }

  @Test(
    "a Python service exporting with the OpenTelemetry SDK (protobuf, gzip) shows up on its job",
    .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
  func pythonExporter() async throws {
    let (app, url) = try await Self.database()
    let job = try await app.deferUntraced(JobRequest(task: "python.side"))
    let server = try await DashboardServer.start(databaseURL: url)
    defer { server.stop() }
    let output = try await runProcess(
      Python.interpreter,
      [
        Python.repository.appendingPathComponent("Tests/Interop/otel_sdk_sender.py").path,
        "--endpoint", server.url + "/v1/traces", "--job", String(job),
      ])
    #expect(output.contains("exported: SUCCESS"), "\(output)")
    let spans = try await server.json("/api/jobs/\(job)")["spans"] as? [[String: Any]] ?? []
    #expect(
      spans.compactMap { $0["name"] as? String }.sorted() == ["python.handler", "python.request"])
    #expect(spans.allSatisfy { $0["service"] as? String == "python-sender" })
  }

  static var browserInstalled: Bool {
    ["/usr/bin/chromium", "/usr/bin/chromedriver"].allSatisfy(FileManager.default.isExecutableFile)
  }

  @Test(
    "in a real browser: the demo's trace on its job page, a failed job retried from its page, markup shown as text, POSTs without the token refused",
    .enabled(if: TracingDemoBinary.testable, "build Examples/TracingDemo (scripts/test does)"))
  func browser() async throws {
    try #require(
      Self.browserInstalled, "chromium and chromium-driver are missing: scripts/setup installs them"
    )
    let (_, url) = try await Self.database()
    let server = try await DashboardServer.start(databaseURL: url)
    defer { server.stop() }
    let result = try await ChildProcess.run(
      Python.interpreter,
      [
        Python.repository.appendingPathComponent("Tests/Interop/dashboard_browser.py").path,
        "--url", server.url, "--database-url", url, "--demo", TracingDemoBinary.path,
      ])
    #expect(
      result.status == 0 && result.output.contains("browser test passed"),
      "\(result.output)\(result.errorOutput)\nthe dashboard's log:\n\(tail(of: server.log))")
    print(result.output.split(separator: "\n").map { "browser: \($0)" }.joined(separator: "\n"))
  }

  static func database() async throws -> (ProcrastinateApp, String) {
    let url = try await TestDatabase.emptyDatabaseURL()
    let app = try ProcrastinateApp(databaseURL: url, logger: TestDatabase.quietLogger)
    try await app.applySchema()
    return (app, url)
  }

  static func jobIDs(in html: String) -> [Int64] {
    html.components(separatedBy: "<tr><td class=\"num\"><a href=\"").dropFirst().compactMap {
      $0.split(separator: "\"").first.flatMap {
        $0.split(separator: "/").last.flatMap { Int64($0) }
      }
    }
  }

  static func olderLink(in html: String) -> String? {
    guard let range = html.range(of: "id=\"older\" href=\"") else { return nil }
    let link = html[range.upperBound...].prefix { $0 != "\"" }
    return String(link).replacingOccurrences(of: "&amp;", with: "&")
  }
}
