import Foundation
import Procrastinate
import ProcrastinateGenerator
import ProcrastinateTracing
import Testing
import Tracing

/// The Python half of a mixed fleet, generated from the same spec as the golden Swift file
/// (`Tests/Fixtures/everything.tasks.yaml`), run by `Tests/Interop/generated_app.py` under
/// procrastinate 3.10 and the OpenTelemetry SDK. Its spans come back encoded by the SDK's
/// official OTLP protobuf encoder.
struct GeneratedPython {
  static let app = Python.repository.appendingPathComponent("Tests/Interop/generated_app.py")
    .path
  static let fixture = Python.repository.appendingPathComponent(
    "Tests/Fixtures/everything.tasks.yaml"
  ).path

  /// The folder holding `everything_tasks.py`.
  let folder: String
  let records = Python.temporaryFile()
  let spanFile = Python.temporaryFile()

  /// Generates the module from the fixture, or from `spec` when given (a changed spec).
  init(spec: String? = nil) throws {
    folder =
      TestScratch.url.appendingPathComponent(
        "generated-python-\(UUID().uuidString)"
      ).path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var path = Self.fixture
    if let spec {
      path = folder + "/everything.tasks.yaml"
      try spec.write(toFile: path, atomically: true, encoding: .utf8)
    }
    try PythonGenerator().generate(paths: [path]).write(
      toFile: folder + "/everything_tasks.py", atomically: true, encoding: .utf8)
  }

  @discardableResult
  func run(_ arguments: [String], database: String) async throws -> String {
    try await runProcess(
      Python.interpreter, [Self.app] + arguments,
      environment: [
        "PROCR_DSN": database, "PROCR_OUT": records, "PROCR_SPANS": spanFile, "PYTHONPATH": folder,
      ])
  }

  /// What the Python handlers received, one record per job.
  func handled() throws -> [[String: JSONValue]] { try Python.records(records) }

  /// The Python process's spans, as the official OTLP classes encoded them.
  func spans() throws -> [PythonSpan] { try Python.records(spanFile).map(PythonSpan.init) }
}

/// One span of the Python SDK, from its OTLP protobuf JSON mapping.
struct PythonSpan {
  let name: String
  let kind: String
  let traceID: String
  let spanID: String
  let parentSpanID: String?
  let attributes: [String: JSONValue]
  let statusCode: String?
  let statusMessage: String?
  let events: [String]

  init(_ document: [String: JSONValue]) {
    name = document["name"]?.stringValue ?? ""
    kind = document["kind"]?.stringValue ?? ""
    traceID = document["traceId"]?.stringValue ?? ""
    spanID = document["spanId"]?.stringValue ?? ""
    parentSpanID = document["parentSpanId"]?.stringValue
    var attributes: [String: JSONValue] = [:]
    for case .object(let pair) in document["attributes"]?.items ?? [] {
      guard let key = pair["key"]?.stringValue, case .object(let value)? = pair["value"] else {
        continue
      }
      attributes[key] = value.values.first
    }
    self.attributes = attributes
    let status = document["status"]?.objectValue
    statusCode = status?["code"]?.stringValue
    statusMessage = status?["message"]?.stringValue
    events = (document["events"]?.items ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
  }

  /// A value as text, whichever OTLP member holds it (`intValue` is a string in the mapping).
  func text(_ key: String) -> String? {
    switch attributes[key] {
    case .string(let value)?: value
    case .int(let value)?: String(value)
    case .double(let value)?: String(value)
    case .bool(let value)?: String(value)
    default: nil
    }
  }
}

extension JSONValue {
  /// The elements, if this is an array.
  fileprivate var items: [JSONValue]? {
    if case .array(let items) = self { return items }
    return nil
  }
}

extension SpanRecord {
  /// An attribute's value as text, for comparing with a Python span's.
  func text(_ key: String) -> String? {
    switch attributes[key]?.toSpanAttribute() {
    case .string(let value)?: value
    case .int64(let value)?: String(value)
    case .double(let value)?: String(value)
    case .bool(let value)?: String(value)
    default: nil
    }
  }
}

@Suite(
  "Generated Python: one spec, both languages",
  .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct GeneratedPythonTests {
  /// The job rows, without the periodic task's ticks (the Python worker defers them, as
  /// procrastinate's workers do for every periodic task of the blueprint).
  static func rows(_ app: ProcrastinateApp, _ columns: String) async throws -> [String] {
    try await psql(
      app.databaseURL,
      "SELECT \(columns) FROM procrastinate_jobs WHERE task_name <> 'cleanup_every_five_minutes' ORDER BY id"
    )
  }

  static func runSwift(_ app: ProcrastinateApp, queues: [String]) async throws
    -> EverythingHandlers
  {
    let handlers = EverythingHandlers()
    var tasks = TaskRegistry()
    try tasks.register(handlers)
    try await Worker(
      app: app, tasks: tasks,
      options: .test(queues: queues, concurrency: 2) { $0.deferPeriodicTasks = false }
    ).run()
    return handlers
  }

  @Test(
    "trace.sample 0 in Python: a root defer exports no span and carries an unsampled context; the Swift run is not traced either"
  )
  func sampledRootFromPython() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let python = try GeneratedPython()
    let queue = TestTracing.uniqueQueue()
    let printed = try await python.run(["defer-sampled-ping", queue], database: app.databaseURL)
    let id = try #require(
      try JSONDecoder().decode([String: Int64].self, from: Data(printed.utf8))["job_id"])
    #expect(try python.spans().filter { $0.name == "procrastinate.defer.sampled_ping" }.isEmpty)
    let carried = try await psql(
      app.databaseURL,
      "SELECT args->'trace_context'->>'traceparent' FROM procrastinate_jobs WHERE id = \(id)")
    #expect(carried.count == 1 && carried[0].hasSuffix("-00"), "\(carried)")
    let handlers = try await Self.runSwift(app, queues: [queue])
    #expect(handlers.pings.values == [3])
    #expect(TestTracing.jobSpans(queue: queue).isEmpty, "the unsampled context stays unsampled")
  }

  @Test(
    "one trace crosses the languages twice: Swift defers, Python runs and defers, Swift runs")
  func oneTrace() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let python = try GeneratedPython()
    let queue = TestTracing.uniqueQueue()
    let when = Date(timeIntervalSince1970: 1_790_000_000.125)
    let (trace, reportJob) = try await withSpan("test.request") { span in
      let id = try await PythonSendReport.defer(
        reportId: 7, when: when, on: app, overrides: DeferOverrides(queue: queue))
      return ("\(span.context.spanContext!.traceID)", id)
    }
    try await python.run(["worker", queue], database: app.databaseURL)
    let handlers = try await Self.runSwift(app, queues: [queue + "-swift"])

    // The values crossed with their types: Int and Date into Python, and back into Swift.
    let handled = try python.handled()
    #expect(handled.count == 1)
    let report = try #require(handled.first?["arguments"]?.objectValue)
    #expect(report["report_id"] == .object(["type": "int", "value": .int(7)]))
    #expect(
      report["when"] == .object(["type": "datetime", "value": "2026-09-21T14:13:20.125000+00:00"]))
    let joke = try #require(handlers.jokes.values.first)
    #expect(joke.category == "report-7" && joke.tags == ["from-python"])
    #expect(joke.notBefore == when)
    #expect(joke.extra == .object(["nested": [.int(1), .double(2.5), .null, .bool(true)]]))
    #expect(joke.limit == 5 && joke.matrix == [[1, 2], [3]] && joke.label == "say \"hi\"")
    #expect(
      try await Self.rows(app, "task_name, status") == [
        "python.send_report|succeeded", "fetch_joke|succeeded",
      ])

    // One trace: request → Swift defer → Python job → Python defer → Swift job.
    let swiftSpans = TestTracing.spans(inTrace: trace)
    let pythonSpans = try python.spans().filter { $0.traceID == trace }
    let swiftDefer = try #require(
      swiftSpans.first { $0.name == "procrastinate.defer.python.send_report" })
    let pythonJob = try #require(
      pythonSpans.first { $0.name == "procrastinate.job.python.send_report" })
    let pythonDefer = try #require(
      pythonSpans.first { $0.name == "procrastinate.defer.fetch_joke" })
    let swiftJob = try #require(swiftSpans.first { $0.name == "procrastinate.job.fetch_joke" })
    #expect(swiftDefer.kind == .producer)
    #expect(pythonJob.kind == "SPAN_KIND_CONSUMER")
    #expect(pythonJob.parentSpanID == "\(swiftDefer.context.spanID)")
    #expect(pythonJob.text("procrastinate.job.id") == String(reportJob))
    #expect(pythonJob.text("procrastinate.job.outcome") == "succeeded")
    #expect(pythonDefer.kind == "SPAN_KIND_PRODUCER")
    #expect(pythonDefer.parentSpanID == pythonJob.spanID)
    #expect(swiftJob.kind == .consumer)
    #expect(swiftJob.parentSpanID.map { "\($0)" } == pythonDefer.spanID)
    #expect(swiftJob.string(TracingKeys.traceContextError) == nil)
    print(
      """
      one trace \(trace):
        test.request (Swift)
        └── \(swiftDefer.name) (Swift, PRODUCER)
            └── \(pythonJob.name) (Python, CONSUMER)
                └── \(pythonDefer.name) (Python, PRODUCER)
                    └── \(swiftJob.name) (Swift, CONSUMER)
      """)
  }

  @Test(
    "the same task's spans carry the same names, kinds and attribute keys in both languages, failures included"
  )
  func sideBySide() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let python = try GeneratedPython()
    let toPython = TestTracing.uniqueQueue()
    let toSwift = TestTracing.uniqueQueue()
    // Swift defers to the Python worker; Python defers to the Swift worker.
    try await FetchJoke.defer(
      category: "swift", on: app, overrides: DeferOverrides(queue: toPython))
    try await AlwaysFails.defer(reason: "py", on: app, overrides: DeferOverrides(queue: toPython))
    try await AlwaysFails.defer(reason: "sw", on: app, overrides: DeferOverrides(queue: toSwift))
    let deferred = try await python.run(
      ["defer-fetch-joke", toSwift, "python"], database: app.databaseURL)
    let pythonTrace = try #require(
      JSONDecoder().decode([String: JSONValue].self, from: Data(deferred.utf8))["trace_id"]?
        .stringValue)
    try await python.run(["worker", toPython], database: app.databaseURL)
    _ = try await Self.runSwift(app, queues: [toSwift])

    let swiftSpans = TestTracing.exporter.finishedSpans
    let pythonSpans = try python.spans()
    // Producers: Swift's defer to the Python worker, Python's defer to the Swift worker.
    let swiftProducer = try #require(
      swiftSpans.first {
        $0.name == "procrastinate.defer.fetch_joke"
          && $0.string(TracingKeys.messagingDestinationName) == toPython
      })
    let pythonProducer = try #require(
      pythonSpans.first { $0.name == "procrastinate.defer.fetch_joke" && $0.traceID == pythonTrace }
    )
    // Consumers: Python ran Swift's job, Swift ran Python's.
    let pythonConsumer = try #require(
      pythonSpans.first { $0.name == "procrastinate.job.fetch_joke" })
    let swiftConsumer = try #require(
      TestTracing.jobSpans(queue: toSwift).first { $0.name == "procrastinate.job.fetch_joke" })
    #expect(swiftConsumer.context.traceID.description == pythonTrace)
    #expect(pythonConsumer.parentSpanID == "\(swiftProducer.context.spanID)")

    var table = ["attribute | Swift | Python"]
    func compare(_ what: String, _ swift: SpanRecord, _ python: PythonSpan, same: [String]) {
      var swiftKeys: Set<String> = []
      swift.attributes.forEach { key, _ in swiftKeys.insert(key) }
      let pythonKeys = Set(python.attributes.keys)
      #expect(swiftKeys == pythonKeys, "\(what): attribute keys differ")
      for key in same {
        #expect(swift.text(key) == python.text(key), "\(what): \(key)")
      }
      table.append("\(what): \(swift.name) (\(swift.kind)) | \(python.name) (\(python.kind))")
      for key in swiftKeys.union(pythonKeys).sorted() {
        table.append("  \(key) | \(swift.text(key) ?? "-") | \(python.text(key) ?? "-")")
      }
    }
    #expect(swiftProducer.name == pythonProducer.name)
    #expect(swiftProducer.kind == .producer && pythonProducer.kind == "SPAN_KIND_PRODUCER")
    compare(
      "producer", swiftProducer, pythonProducer,
      same: [
        "messaging.system", "messaging.operation.type", "messaging.operation.name",
        "procrastinate.task.name", "procrastinate.job.priority", "procrastinate.task.args.limit",
      ])
    #expect(swiftConsumer.name == pythonConsumer.name)
    #expect(swiftConsumer.kind == .consumer && pythonConsumer.kind == "SPAN_KIND_CONSUMER")
    compare(
      "consumer", swiftConsumer, pythonConsumer,
      same: [
        "messaging.system", "messaging.operation.type", "messaging.operation.name",
        "procrastinate.task.name", "procrastinate.job.priority", "procrastinate.job.attempts",
        "procrastinate.job.outcome", "procrastinate.task.args.limit",
      ])

    // A failing task: each attempt its own span, the outcome, the error's type and event.
    let swiftFailures = TestTracing.jobSpans(queue: toSwift).filter {
      $0.name == "procrastinate.job.always_fails"
    }
    let pythonFailures = pythonSpans.filter { $0.name == "procrastinate.job.always_fails" }
    #expect(swiftFailures.map { $0.text(TracingKeys.jobOutcome) } == ["retried", "failed"])
    #expect(pythonFailures.map { $0.text(TracingKeys.jobOutcome) } == ["retried", "failed"])
    #expect(pythonFailures.allSatisfy { $0.statusCode == "STATUS_CODE_ERROR" })
    #expect(pythonFailures.allSatisfy { $0.events == ["exception"] })
    #expect(pythonFailures.first?.statusMessage == "refused: py")
    #expect(pythonFailures.first?.text(TracingKeys.errorType) == "RuntimeError")
    if let swift = swiftFailures.first, let python = pythonFailures.first {
      compare("failed attempt", swift, python, same: ["procrastinate.job.outcome"])
    }
    #expect(
      try await Self.rows(app, "task_name, status, attempts").sorted() == [
        "always_fails|failed|2", "always_fails|failed|2", "fetch_joke|succeeded|1",
        "fetch_joke|succeeded|1",
      ])
    print(table.joined(separator: "\n"))
  }

  @Test(
    "a Python module not regenerated after an argument was renamed fails the job with an error naming the argument, and is not retried"
  )
  func staleModule() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    // The Python module still has the spec from before `report_id` was renamed `report_number`
    // (and made optional, where a silent None would hide the rename).
    let fixture = try String(contentsOfFile: GeneratedPython.fixture, encoding: .utf8)
    let stale = fixture.replacingOccurrences(
      of: "args: { report_id: Int, definition:", with: "args: { report_number: Int?, definition:")
    #expect(stale != fixture)
    let python = try GeneratedPython(spec: stale)
    let queue = TestTracing.uniqueQueue()
    let renamed = try await LinkedReport.defer(
      reportId: 3, on: app, overrides: DeferOverrides(queue: queue))
    // A hand-written producer's wrong type, too.
    let mistyped = try await app.deferUntraced(
      JobRequest(
        task: "fetch_joke", arguments: JobArguments(["category": .int(5)]),
        options: DeferOptions(queue: queue)))
    try await python.run(["worker", queue], database: app.databaseURL)

    #expect(try python.handled().isEmpty)
    // linked_report retries twice, but not a job whose arguments cannot match.
    #expect(
      try await Self.rows(app, "id, status, attempts") == [
        "\(renamed)|failed|1", "\(mistyped)|failed|1",
      ])
    let spans = try python.spans()
    let report = try #require(spans.first { $0.name == "procrastinate.job.linked_report" })
    #expect(report.text(TracingKeys.errorType) == "everything_tasks.TaskArgumentsError")
    #expect(report.text(TracingKeys.jobOutcome) == "failed")
    let message = report.statusMessage ?? ""
    #expect(
      message.hasPrefix(
        "task 'linked_report': argument 'report_id': not in everything.tasks.yaml (it declares: report_number, definition)"
      ), "\(message)")
    #expect(message.contains("without regenerating"))
    let joke = try #require(spans.first { $0.name == "procrastinate.job.fetch_joke" })
    #expect(
      joke.statusMessage
        == "task 'fetch_joke': argument 'category': expected str, found a number")

    // The other way: the stale module's producer, and a Swift worker built from the spec.
    let swiftQueue = TestTracing.uniqueQueue()
    let deferred = try await python.run(
      ["defer-renamed-report", swiftQueue], database: app.databaseURL)
    guard
      case .int(let stalePython)? = try JSONDecoder().decode(
        [String: JSONValue].self, from: Data(deferred.utf8))["job_id"]
    else {
      Issue.record("no job id in \(deferred)")
      return
    }
    let handlers = try await Self.runSwift(app, queues: [swiftQueue])
    #expect(handlers.reports.values.isEmpty)
    #expect(try await Self.rows(app, "id, status, attempts").last == "\(stalePython)|failed|1")
    let swiftJob = try #require(TestTracing.jobSpans(queue: swiftQueue).first)
    #expect(
      swiftJob.status?.message
        == "task 'linked_report': argument 'report_number' is not in the task's spec (it allows: definition, report_id, trace_context); was the job deferred from another version of the spec?"
    )
  }

  @Test(
    "under procrastinate's InMemoryConnector (no database), async callables, sync functions and failures run traced"
  )
  func inMemory() async throws {
    let python = try GeneratedPython()
    let output = try await runProcess(
      Python.interpreter,
      [Python.repository.appendingPathComponent("Tests/Interop/generated_inmemory.py").path],
      environment: ["PYTHONPATH": python.folder])
    let result = try JSONDecoder().decode([String: JSONValue].self, from: Data(output.utf8))
    #expect(
      result["received"]
        == [
          ["task": "fetch_joke", "category": "memory"], ["task": "linked_report", "report_id": 9],
        ])
    #expect(
      result["statuses"]?.objectValue?.filter { $0.key != "cleanup_every_five_minutes" }
        == ["fetch_joke": "succeeded", "linked_report": "succeeded", "always_fails": "failed"])
    #expect(
      result["spans"]
        == [
          ["name": "procrastinate.job.fetch_joke", "outcome": "succeeded"],
          ["name": "procrastinate.job.linked_report", "outcome": "succeeded"],
          ["name": "procrastinate.job.always_fails", "outcome": "retried"],
          ["name": "procrastinate.job.always_fails", "outcome": "failed"],
        ])
  }

  @Test("the generated module passes mypy --strict and ruff; a wrong call or handler fails mypy")
  func typeChecks() async throws {
    let python = try GeneratedPython()
    let mypy = Python.venv + "/bin/mypy"
    let ruff = Python.venv + "/bin/ruff"
    let cache = ["--cache-dir", python.folder + "/.mypy_cache"]
    let module = python.folder + "/everything_tasks.py"
    let good = try await runProcessCapturing(
      mypy,
      ["--strict"] + cache + [
        module, GeneratedPython.app,
        Python.repository.appendingPathComponent("Tests/Interop/generated_inmemory.py").path,
      ],
      environment: ["MYPYPATH": python.folder], allowFailure: true)
    #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
    let lint = try await runProcessCapturing(
      ruff, ["check", "--no-cache", module], allowFailure: true)
    #expect(lint.status == 0, "\(lint.stdout)\(lint.stderr)")

    let misuse = python.folder + "/misuse.py"
    try """
    import procrastinate

    import everything_tasks as tasks

    tasks.defer_fetch_joke(categry="dev")
    tasks.defer_fetch_joke(category="dev", limit="5")


    @tasks.implement_linked_report
    async def linked(
        context: procrastinate.JobContext, *, report_id: str, definition: str
    ) -> None:
        pass

    """.write(toFile: misuse, atomically: true, encoding: .utf8)
    let bad = try await runProcessCapturing(
      mypy, ["--strict"] + cache + [misuse], environment: ["MYPYPATH": python.folder],
      allowFailure: true)
    #expect(bad.status == 1)
    #expect(
      bad.stdout.contains(#"misuse.py:5: error: Unexpected keyword argument "categry""#),
      "\(bad.stdout)")
    #expect(
      bad.stdout.contains(
        #"misuse.py:6: error: Argument "limit" to "defer_fetch_joke" has incompatible type "str"; expected "int""#
      ), "\(bad.stdout)")
    #expect(bad.stdout.contains("misuse.py:9: error"), "\(bad.stdout)")
  }
}
