import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// `Examples/WebService`, built by `scripts/test` before the tests run.
enum WebServiceBinary {
  static let path = ExampleBuild.binary("web-service")
  static var testable: Bool {
    Python.available
      && (TracingDemoBinary.required || FileManager.default.isExecutableFile(atPath: path))
  }
}

/// The test's stand-in for the joke API (`Tests/Interop/joke_api.py`).
final class JokeAPI {
  let port: Int
  let output: String
  private let child: RunningChild

  init(slow: [String] = [], delay: Double = 2) async throws {
    let base = TestScratch.url.appendingPathComponent(
      "joke-api-\(UUID().uuidString)"
    ).path
    output = base + ".jsonl"
    let portFile = base + ".port"
    child = try ChildProcess.spawn(
      Python.interpreter,
      [
        Python.repository.appendingPathComponent("Tests/Interop/joke_api.py").path,
        "--port-file", portFile, "--output", output, "--slow", slow.joined(separator: ","),
        "--delay", String(delay),
      ],
      logPath: base + ".log")
    var found: Int?
    try await eventually("the joke API to listen") {
      found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
      return found != nil
    }
    port = found ?? 0
  }

  var url: String { "http://127.0.0.1:\(port)/jokes/random" }

  /// The `traceparent` header of each request, in order.
  func traceParents() throws -> [String?] {
    let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    return try text.split(separator: "\n").map {
      (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["traceparent"]
        as? String
    }
  }

  deinit { child.terminate() }
}

/// One `web-service serve` process on a free port.
final class WebServiceProcess {
  let child: RunningChild
  let logPath: String
  let port: Int

  init(databaseURL: String, environment: [String: String]) async throws {
    logPath =
      TestScratch.url.appendingPathComponent(
        "web-service-\(UUID().uuidString).log"
      ).path
    child = try ChildProcess.spawn(
      WebServiceBinary.path, ["serve", "--port", "0", "--database-url", databaseURL],
      environment: environment.merging(["PROCRASTINATE_TRACES_FILE": ""]) { mine, _ in mine },
      logPath: logPath)
    var found: Int?
    let log = logPath
    try await eventually(timeout: .seconds(120), "the web service to listen") {
      let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
      guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Listening on") })
      else { return false }
      found = line.split(separator: ":").last.flatMap { Int($0) }
      return true
    }
    port = found ?? 0
  }

  var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

  /// Sends a request; returns the status and the body.
  func request(_ method: String, _ path: String, headers: [String: String] = [:]) async throws
    -> (status: Int, body: String)
  {
    var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
    request.httpMethod = method
    request.timeoutInterval = 60
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    return try await withCheckedThrowingContinuation { continuation in
      URLSession.shared.dataTask(with: request) { data, response, error in
        if let error {
          continuation.resume(throwing: error)
        } else {
          continuation.resume(
            returning: (
              (response as? HTTPURLResponse)?.statusCode ?? 0,
              String(decoding: data ?? Data(), as: UTF8.self)
            ))
        }
      }.resume()
    }
  }

  /// `POST /jokes?category=…`: the job id and trace id of a 202.
  func deferJoke(category: String, headers: [String: String] = [:]) async throws -> (
    jobID: Int64, traceID: String
  ) {
    let (status, body) = try await request("POST", "/jokes?category=\(category)", headers: headers)
    try #require(status == 202, "POST /jokes answered \(status): \(body)")
    let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
    let jobID = try #require(object?["job_id"] as? Int, "no job_id in \(body)")
    let traceID = try #require(object?["trace_id"] as? String, "no trace_id in \(body)")
    return (Int64(jobID), traceID)
  }

  /// `GET /jobs/{id}`'s status.
  func status(of job: Int64) async throws -> String? {
    let (status, body) = try await request("GET", "/jobs/\(job)")
    guard status == 200 else { return nil }
    return (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["status"]
      as? String
  }

  /// SIGTERM, then the exit status (nil if it did not exit within `timeout`).
  func terminate(timeout: Duration = .seconds(90)) async -> Int32? {
    child.signal(SIGTERM)
    return await child.waitForExit(timeout: timeout)
  }

  deinit { child.terminate() }
}

@Suite(
  "Web service (Hummingbird), end to end",
  .enabled(if: WebServiceBinary.testable, "build Examples/WebService (scripts/test does)"))
struct WebServiceTests {
  /// OTLP kinds: 2 server, 3 client, 4 producer, 5 consumer.
  static func field(_ span: [String: Any], _ key: String) -> String { span[key] as? String ?? "" }

  @Test(
    "POST /jokes: the request's SERVER span is the root of the job's five-span trace, checked span by span; a caller's traceparent is continued"
  )
  func trace() async throws {
    let receiver = try await OTLPReceiver()
    let jokes = try await JokeAPI()
    let service = try await WebServiceProcess(
      databaseURL: try await TestDatabase.emptyDatabaseURL(),
      environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)",
        "OTEL_BSP_SCHEDULE_DELAY": "200", "JOKE_API_URL": jokes.url,
      ])
    let (job, traceID) = try await service.deferJoke(category: "dev")
    #expect(traceID.count == 32 && traceID.allSatisfy(\.isHexDigit))
    let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    let callerSpan = "00f067aa0ba902b7"
    let (continued, continuedTrace) = try await service.deferJoke(
      category: "science", headers: ["traceparent": "00-\(callerTrace)-\(callerSpan)-01"])
    #expect(continuedTrace == callerTrace)
    for id in [job, continued] {
      try await eventually(timeout: .seconds(60), "job \(id) to succeed") {
        try await service.status(of: id) == "succeeded"
      }
    }
    // The app's one-line /metrics route serves what the queue and the worker recorded.
    let metrics = try await httpRequest("GET", "http://127.0.0.1:\(service.port)/metrics")
    #expect(metrics.status == 200)
    for sample in [
      #"procrastinate_jobs_deferred_total{task="traced_fetch_joke",queue="default"} 2"#,
      #"procrastinate_jobs_finished_total{task="traced_fetch_joke",queue="default",outcome="succeeded"} 2"#,
    ] {
      #expect(metrics.body.contains(sample), "\(sample) in \(metrics.body)")
    }
    #expect(await service.terminate() == 0, "\(service.log)")

    let spans = try receiver.spans()
    func trace(_ id: String) -> [[String: Any]] {
      spans.filter { Self.field($0, "trace_id") == id }
    }
    func one(_ spans: [[String: Any]], _ name: String) throws -> [String: Any] {
      let matches = spans.filter { Self.field($0, "name") == name }
      try #require(
        matches.count == 1, "\(name): \(matches.count) spans in \(spans.map { $0["name"] ?? "?" })")
      return matches[0]
    }
    let first = trace(traceID)
    #expect(first.count == 5, "\(first.map { $0["name"] ?? "?" })")
    let server = try one(first, "/jokes")
    let deferSpan = try one(first, "procrastinate.defer.traced_fetch_joke")
    let jobSpan = try one(first, "procrastinate.job.traced_fetch_joke")
    let fetch = try one(first, "api.chuck_norris.fetch_joke")
    let store = try one(first, "db.store_joke")
    func parent(_ span: [String: Any]) -> String { Self.field(span, "parent_span_id") }
    func id(_ span: [String: Any]) -> String { Self.field(span, "span_id") }
    func kind(_ span: [String: Any]) -> Int { span["kind"] as? Int ?? -1 }
    func attributes(_ span: [String: Any]) -> [String: Any] {
      span["attributes"] as? [String: Any] ?? [:]
    }
    #expect(parent(server).isEmpty && kind(server) == 2)
    #expect(attributes(server)["http.request.method"] as? String == "POST")
    #expect(attributes(server)["http.response.status_code"] as? Int == 202)
    #expect(parent(deferSpan) == id(server) && kind(deferSpan) == 4)
    #expect(parent(jobSpan) == id(deferSpan) && kind(jobSpan) == 5)
    #expect(attributes(jobSpan)["procrastinate.job.id"] as? Int == Int(job))
    #expect(attributes(jobSpan)["procrastinate.job.outcome"] as? String == "succeeded")
    #expect(parent(fetch) == id(jobSpan) && kind(fetch) == 3)
    #expect(parent(store) == id(jobSpan) && kind(store) == 3)
    // The joke API received the fetch span's context in its traceparent header.
    #expect(try jokes.traceParents().contains("00-\(traceID)-\(id(fetch))-01"))

    let second = trace(callerTrace)
    #expect(second.count == 5, "\(second.map { $0["name"] ?? "?" })")
    #expect(parent(try one(second, "/jokes")) == callerSpan)
    let resource = try receiver.requests().first?["resource"] as? [String: Any]
    #expect(resource?["service.name"] as? String == "procrastinate-web-service")
  }

  @Test("a malformed category or job id gets a 400 with a one-line reason; an unknown job a 404")
  func badInput() async throws {
    let jokes = try await JokeAPI()
    let service = try await WebServiceProcess(
      databaseURL: try await TestDatabase.emptyDatabaseURL(),
      environment: ["OTEL_SDK_DISABLED": "true", "JOKE_API_URL": jokes.url])
    let category = try await service.request("POST", "/jokes?category=nope")
    #expect(category.status == 400)
    #expect(category.body.hasPrefix("unknown category 'nope'; use one of animal, career"))
    #expect(category.body.filter { $0 == "\n" }.count == 1)
    let id = try await service.request("GET", "/jobs/abc")
    #expect(id.status == 400)
    #expect(id.body == "job id 'abc' is not a positive integer\n")
    let missing = try await service.request("GET", "/jobs/999999")
    #expect(missing.status == 404)
    #expect(missing.body == "no job 999999\n")
    let (job, _) = try await service.deferJoke(category: "dev")
    let found = try await service.request("GET", "/jobs/\(job)")
    #expect(found.status == 200)
    let object = try JSONSerialization.jsonObject(with: Data(found.body.utf8)) as? [String: Any]
    #expect(object?["id"] as? Int == Int(job))
    #expect(object?["attempts"] is Int && object?["status"] is String)
    #expect(await service.terminate() == 0)
  }

  @Test(
    "SIGTERM with a job in flight: the server stops, the job finishes, its spans are exported, exit 0"
  )
  func sigtermWithJobInFlight() async throws {
    let receiver = try await OTLPReceiver()
    let jokes = try await JokeAPI(slow: ["animal"], delay: 5)
    let database = try await TestDatabase.emptyDatabaseURL()
    let service = try await WebServiceProcess(
      databaseURL: database,
      environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)",
        // Only the shutdown flush can export the job's spans.
        "OTEL_BSP_SCHEDULE_DELAY": "3600000", "JOKE_API_URL": jokes.url,
      ])
    let (job, traceID) = try await service.deferJoke(category: "animal")
    // The joke API records the request before its 5 s delay: the job is then in flight.
    // (The service's start-up probe asks for category dev.)
    try await eventually("the job to call the joke API for an animal joke") {
      (try? String(contentsOfFile: jokes.output, encoding: .utf8))?.contains(
        #""category": "animal""#) == true
    }
    let start = ContinuousClock.now
    #expect(await service.terminate() == 0, "\(service.log)")
    let shutdown = ContinuousClock.now - start
    #expect(
      try await psql(database, "SELECT status FROM procrastinate_jobs WHERE id = \(job)") == [
        "succeeded"
      ])
    #expect(try await psql(database, "SELECT count(*) FROM procrastinate_workers") == ["0"])
    let names = try receiver.spans().filter { Self.field($0, "trace_id") == traceID }.map {
      Self.field($0, "name")
    }
    #expect(
      Set(names) == [
        "/jokes", "procrastinate.defer.traced_fetch_joke", "procrastinate.job.traced_fetch_joke",
        "api.chuck_norris.fetch_joke", "db.store_joke",
      ])
    #expect(service.log.contains("Stopped."))
    // The job had at most 5 s left; the shutdown waits for it (or, at worst, the service's
    // 30 s shutdownTimeout), and then exits; the bound leaves room for a slow machine.
    #expect(shutdown < .seconds(60), "shutdown took \(shutdown)")
    print("web service shutdown with a job in flight took \(shutdown)")
  }
}
