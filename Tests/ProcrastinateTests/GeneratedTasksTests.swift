import Foundation
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import Synchronization
import Testing
import Tracing

/// Our tracer, bootstrapped once for the test process, recording into memory. Tests tell
/// their spans apart by trace id and job id.
enum TestTracing {
  static let exporter: InMemorySpanExporter = {
    let exporter = InMemorySpanExporter()
    // The public way a user records spans in tests (README, "Testing your tasks").
    InstrumentationSystem.bootstrap(ProcrastinateTracer(recordingInto: exporter))
    return exporter
  }()

  static func spans(inTrace trace: String) -> [SpanRecord] {
    exporter.finishedSpans.filter { "\($0.context.traceID)" == trace }
  }

  /// The job spans of `queue`; every test uses its own queue, since job ids repeat across
  /// the tests' databases.
  static func jobSpans(queue: String) -> [SpanRecord] {
    exporter.finishedSpans.filter {
      $0.kind == .consumer && $0.string(TracingKeys.messagingDestinationName) == queue
    }.sorted { $0.startNanoseconds < $1.startNanoseconds }
  }

  static func uniqueQueue() -> String { "q" + UUID().uuidString.prefix(12).lowercased() }
}

extension SpanRecord {
  func string(_ key: String) -> String? {
    if case .string(let value) = attributes[key]?.toSpanAttribute() { return value }
    return nil
  }

  func int(_ key: String) -> Int? {
    if case .int64(let value) = attributes[key]?.toSpanAttribute() { return Int(value) }
    return nil
  }
}

/// Implements the golden file's `EverythingTasks`, recording what each handler received.
struct EverythingHandlers: EverythingTasks {
  let jokes = Recorder<FetchJoke.Arguments>()
  let reports = Recorder<Int>()
  let nestedTracer = Recorder<Bool>()

  func fetchJoke(
    category: String, limit: Int, tags: [String]?, ratio: Double, safe: Bool, notBefore: Date?,
    extra: JSONValue?, matrix: [[Int]], label: String, context: JobContext
  ) async throws {
    jokes.append(
      FetchJoke.Arguments(
        category: category, limit: limit, tags: tags, ratio: ratio, safe: safe,
        notBefore: notBefore, extra: extra, matrix: matrix, label: label))
    // Nested spans join the job's trace, as in the guide's "Custom Instrumentation".
    withSpan("joke.nested") { _ in }
    nestedTracer.append(context.span != nil)
  }

  func linkedReport(reportId: Int, definition: String, context: JobContext) async throws {
    reports.append(reportId)
  }

  func untracedCleanup(context: JobContext) async throws {}

  func pythonSendReport(reportId: Int, when: Date, context: JobContext) async throws {}

  func cleanupEveryFiveMinutes(timestamp: Int, dryRun: Bool, context: JobContext) async throws {}

  let pings = Recorder<Int>()
  func sampledPing(n: Int, context: JobContext) async throws { pings.append(n) }

  func alwaysFails(reason: String, context: JobContext) async throws {
    struct Refused: Error, CustomStringConvertible { var description: String }
    throw Refused(description: "refused: \(reason)")
  }
}

@Suite("Generated tasks, end to end")
struct GeneratedTasksTests {
  static func run(_ app: ProcrastinateApp, _ handlers: EverythingHandlers) async throws {
    var tasks = TaskRegistry()
    try tasks.register(handlers)
    // The spec's periodic task would add a job of its own to every test database.
    try await Worker(
      app: app, tasks: tasks, options: .test(concurrency: 2) { $0.deferPeriodicTasks = false }
    ).run()
  }

  @Test("a defer inside a span: the job span is the producer's child, nested spans inside it")
  func child() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let handlers = EverythingHandlers()
    let (trace, id) = try await withSpan("test.request") { span in
      let id = try await FetchJoke.defer(category: "dev", tags: ["a"], on: app)
      return ("\(span.context.spanContext!.traceID)", id)
    }
    let stored = try await psql(
      app.databaseURL, "SELECT args->'trace_context'->>'traceparent' FROM procrastinate_jobs")
    try await Self.run(app, handlers)

    let spans = TestTracing.spans(inTrace: trace)
    let root = try #require(spans.first { $0.name == "test.request" })
    let producer = try #require(spans.first { $0.name == "procrastinate.defer.fetch_joke" })
    let job = try #require(spans.first { $0.name == "procrastinate.job.fetch_joke" })
    let nested = try #require(spans.first { $0.name == "joke.nested" })
    #expect(producer.kind == .producer && producer.parentSpanID == root.context.spanID)
    #expect(job.kind == .consumer && job.parentSpanID == producer.context.spanID)
    #expect(nested.parentSpanID == job.context.spanID)
    #expect(stored == ["00-\(trace)-\(producer.context.spanID)-01"])
    #expect(producer.int(TracingKeys.jobID) == Int(id))
    #expect(producer.string(TracingKeys.messagingOperationType) == "send")
    #expect(producer.string(TracingKeys.messagingDestinationName) == "default")
    #expect(producer.string("procrastinate.task.args.category") == "dev")
    #expect(producer.int("procrastinate.task.args.limit") == 5)
    #expect(job.string(TracingKeys.messagingSystem) == "procrastinate")
    #expect(job.string(TracingKeys.messagingOperationType) == "process")
    #expect(job.string(TracingKeys.messagingMessageID) == String(id))
    #expect(job.string(TracingKeys.taskName) == "fetch_joke")
    #expect(job.int(TracingKeys.jobAttempts) == 0)
    #expect(job.int(TracingKeys.jobPriority) == 5)
    #expect(job.string(TracingKeys.jobOutcome) == "succeeded")
    #expect(job.string("procrastinate.task.args.category") == "dev")
    #expect(job.string(TracingKeys.traceContextError) == nil)
    if case .double(let wait) = job.attributes[TracingKeys.jobQueueWait]?.toSpanAttribute() {
      #expect(wait >= 0 && wait < 60_000)
    } else {
      Issue.record("no \(TracingKeys.jobQueueWait) on the job span")
    }
    let received = try #require(handlers.jokes.values.first)
    #expect(received.category == "dev" && received.limit == 5 && received.tags == ["a"])
    #expect(received.ratio == 0.5 && received.safe && received.matrix == [[1, 2], [3]])
    #expect(received.label == "say \"hi\"" && received.notBefore == nil && received.extra == nil)
    #expect(handlers.nestedTracer.values == [true])
  }

  @Test(
    "trace.sample 0: a root defer and its job are not traced, the job carries an unsampled context and runs; inside a sampled trace both are traced"
  )
  func sampledRoots() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let handlers = EverythingHandlers()
    let queue = TestTracing.uniqueQueue()
    let root = try await SampledPing.defer(
      n: 1, on: app, overrides: DeferOverrides(queue: queue))
    let (trace, inside) = try await withSpan("test.request") { span in
      (
        "\(span.context.spanContext!.traceID)",
        try await SampledPing.defer(n: 2, on: app, overrides: DeferOverrides(queue: queue))
      )
    }
    let carried = try await psql(
      app.databaseURL,
      "SELECT args->'trace_context'->>'traceparent' FROM procrastinate_jobs WHERE id = \(root)")
    try await Self.run(app, handlers)

    #expect(Set(handlers.pings.values) == [1, 2], "both jobs ran")
    // The root was left out: its traceparent says not sampled, and no span of it was kept.
    let parent = try #require(carried.first)
    let fields = parent.split(separator: "-")
    #expect(fields.count == 4 && fields[1].count == 32 && fields[2].count == 16, "\(parent)")
    #expect(parent.hasSuffix("-00"), "not sampled: \(parent)")
    let rootTrace = String(parent.split(separator: "-")[1])
    #expect(TestTracing.spans(inTrace: rootTrace).isEmpty)
    let jobs = TestTracing.jobSpans(queue: queue)
    #expect(jobs.count == 1, "only the job deferred inside a trace has a span")
    // Inside a sampled trace the ratio does not apply: producer and job are traced.
    let spans = TestTracing.spans(inTrace: trace)
    let producer = try #require(spans.first { $0.name == "procrastinate.defer.sampled_ping" })
    let job = try #require(spans.first { $0.name == "procrastinate.job.sampled_ping" })
    #expect(producer.int(TracingKeys.jobID) == Int(inside))
    #expect(job.parentSpanID == producer.context.spanID)
  }

  @Test(
    "a task's sample ratio draws its roots at that ratio; a run with no context to continue draws too"
  )
  func sampleRatio() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let queue = TestTracing.uniqueQueue()
    let half = TaskDefinition(
      name: "half_sampled", defaults: DeferOptions(queue: queue),
      trace: TaskTraceOptions(sampleRatio: 0.5))
    struct Empty: Codable, Sendable {}
    let count = 400
    _ = try await app.deferBatchUntraced(
      (0..<count).map { _ in JobRequest(task: half.name, options: DeferOptions(queue: queue)) })
    let ran = Recorder<Int64>()
    var tasks = TaskRegistry()
    try tasks.register(half, arguments: Empty.self) { _, context in ran.append(context.jobID) }
    try await Worker(app: app, tasks: tasks, options: .test(concurrency: 4)).run()
    #expect(ran.count == count)
    // Binomial(400, 0.5): outside 140…260 with a probability under 1e-9.
    let traced = TestTracing.jobSpans(queue: queue).count
    #expect((140...260).contains(traced), "\(traced) of \(count) root runs traced at 0.5")
  }

  @Test("app.defer of a JobRequest is traced as the generated defer is; the untraced calls are not")
  func untypedDefersAreTraced() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let queue = TestTracing.uniqueQueue()
    func args(_ id: Int64) async throws -> [String: JSONValue] {
      let text = try await psql(
        app.databaseURL, "SELECT args::text FROM procrastinate_jobs WHERE id = \(id)")
      return try JSONDecoder().decode([String: JSONValue].self, from: Data(text[0].utf8))
    }
    let options = DeferOptions(queue: queue)
    let (trace, ids) = try await withSpan("test.request") { span in
      let traced = try await app.defer(
        JobRequest(task: "raw.task", arguments: JobArguments(["n": .int(1)]), options: options))
      let noCarrier = try await app.defer(
        JobRequest(
          task: "raw.python", arguments: JobArguments(["n": .int(2)]), options: options,
          trace: TaskTraceOptions(carrier: nil)))
      let untraced = try await app.deferUntraced(
        JobRequest(task: "raw.untraced", arguments: JobArguments(["n": .int(3)]), options: options))
      let mixed = try await app.deferBatch([
        JobRequest(task: "raw.a", options: options), JobRequest(task: "raw.b", options: options),
      ])
      let plain = try await app.deferBatchUntraced([JobRequest(task: "raw.c", options: options)])
      // Arguments as a person writes them: white space (CR LF, tabs) around the braces.
      let spaced = try await app.deferBatch([
        JobRequest(
          task: "raw.d", arguments: try JobArguments(json: " {\r\n \"a\": 1\t}\n"),
          options: options),
        JobRequest(task: "raw.d", arguments: try JobArguments(json: "{\t}"), options: options),
      ])
      return (
        "\(span.context.spanContext!.traceID)",
        [traced, noCarrier, untraced] + mixed + plain + spaced
      )
    }
    let spans = TestTracing.spans(inTrace: trace)
    let producer = try #require(spans.first { $0.name == "procrastinate.defer.raw.task" })
    #expect(producer.kind == .producer && producer.int(TracingKeys.jobID) == Int(ids[0]))
    guard case .object(let carried)? = try await args(ids[0])[TracingKeys.defaultCarrier],
      case .string(let parent)? = carried[TracingKeys.traceParent]
    else {
      Issue.record("job \(ids[0]) carries no trace context: \(try await args(ids[0]))")
      return
    }
    #expect(parent.contains("\(producer.context.spanID)") && parent.contains(trace))
    #expect(try await args(ids[0])["n"] == .int(1))
    // A named carrier of nil: the span, and the arguments exactly as given.
    #expect(spans.contains { $0.name == "procrastinate.defer.raw.python" })
    #expect(try await args(ids[1]) == ["n": .int(2)])
    // The untraced calls: no span, nothing added.
    #expect(!spans.contains { $0.name.hasPrefix("procrastinate.defer.raw.untraced") })
    #expect(try await args(ids[2]) == ["n": .int(3)])
    #expect(!spans.contains { $0.name == "procrastinate.defer.raw.c" })
    #expect(try await args(ids[5]) == [:])
    for id in ids[6...7] {
      let members = try await args(id)
      #expect(members[TracingKeys.defaultCarrier] != nil, "job \(id): \(members)")
    }
    #expect(try await args(ids[6])["a"] == .int(1))
    // A batch of two tasks: one span named for neither, both jobs carry it.
    let batch = try #require(spans.first { $0.name == TracingKeys.deferBatchSpanName })
    #expect(batch.int(TracingKeys.messagingBatchMessageCount) == 2)
    #expect(batch.string(TracingKeys.taskName) == nil)
    #expect(batch.string(TracingKeys.messagingDestinationName) == queue)
    for id in ids[3...4] {
      guard case .object(let carried)? = try await args(id)[TracingKeys.defaultCarrier],
        case .string(let parent)? = carried[TracingKeys.traceParent]
      else {
        Issue.record("batch job \(id) carries no trace context")
        continue
      }
      #expect(parent.contains("\(batch.context.spanID)"))
    }
  }

  @Test("relation link starts a new trace linked to the producer; none ignores the context")
  func linkAndNone() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let queue = TestTracing.uniqueQueue()
    let (trace, ids) = try await withSpan("test.request") { span in
      let linked = try await LinkedReport.defer(
        reportId: 7, on: app, overrides: DeferOverrides(queue: queue))
      let untraced = try await UntracedCleanup.defer(
        on: app, overrides: DeferOverrides(queue: queue))
      return ("\(span.context.spanContext!.traceID)", [linked, untraced])
    }
    #expect(
      try await psql(
        app.databaseURL, "SELECT args::text FROM procrastinate_jobs WHERE id = \(ids[1])")
        == ["{}"])
    try await Self.run(app, EverythingHandlers())

    let producer = try #require(
      TestTracing.spans(inTrace: trace).first { $0.name == "procrastinate.defer.linked_report" })
    let jobs = TestTracing.jobSpans(queue: queue)
    let linked = try #require(jobs.first { $0.name == "procrastinate.job.linked_report" })
    let untraced = try #require(jobs.first { $0.name == "procrastinate.job.untraced_cleanup" })
    #expect("\(linked.context.traceID)" != trace && linked.parentSpanID == nil)
    #expect(linked.links.map(\.context.spanID) == [producer.context.spanID])
    #expect(linked.string(TracingKeys.jobLock) == "reports")
    #expect(linked.string(TracingKeys.jobQueueingLock) == "one_report")
    #expect("\(untraced.context.traceID)" != trace && untraced.parentSpanID == nil)
    #expect(untraced.links.isEmpty && untraced.string(TracingKeys.traceContextError) == nil)
  }

  @Test("a failing task: one span per attempt, same trace, status ERROR and an exception event")
  func failingWithRetry() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let queue = TestTracing.uniqueQueue()
    let (trace, id) = try await withSpan("test.request") { span in
      (
        "\(span.context.spanContext!.traceID)",
        try await AlwaysFails.defer(reason: "no", on: app, overrides: DeferOverrides(queue: queue))
      )
    }
    try await Self.run(app, EverythingHandlers())

    let attempts = TestTracing.jobSpans(queue: queue)
    #expect(attempts.map { $0.int(TracingKeys.jobAttempts) } == [0, 1])
    #expect(attempts.map { $0.string(TracingKeys.jobOutcome) } == ["retried", "failed"])
    #expect(attempts.allSatisfy { "\($0.context.traceID)" == trace && $0.status?.code == .error })
    for span in attempts {
      let exception = try #require(span.events.first { $0.name == TracingKeys.exceptionEvent })
      #expect(
        exception.attributes[TracingKeys.exceptionMessage]?.toSpanAttribute()
          == .string("refused: no"))
      #expect(span.string(TracingKeys.errorType)?.hasSuffix("Refused") == true)
    }
    #expect(try await app.jobStatus(id: id)?.status == .failed)
  }

  @Test("batch defer: one producer span with the message count, every job its child")
  func batch() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let queue = TestTracing.uniqueQueue()
    let (trace, ids) = try await withSpan("test.request") { span in
      let ids = try await FetchJoke.deferBatch(
        [.init(category: "a"), .init(category: "b"), .init(category: "c")], on: app,
        overrides: DeferOverrides(queue: queue))
      return ("\(span.context.spanContext!.traceID)", ids)
    }
    let handlers = EverythingHandlers()
    try await Self.run(app, handlers)
    let producer = try #require(
      TestTracing.spans(inTrace: trace).first { $0.name == "procrastinate.defer.fetch_joke" })
    #expect(producer.int(TracingKeys.messagingBatchMessageCount) == 3)
    #expect(producer.string(TracingKeys.messagingDestinationName) == queue)
    let jobs = TestTracing.jobSpans(queue: queue)
    #expect(Set(jobs.compactMap { $0.int(TracingKeys.jobID) }) == Set(ids.map { Int($0) }))
    #expect(jobs.allSatisfy { $0.parentSpanID == producer.context.spanID })
    #expect(handlers.jokes.values.map(\.category).sorted() == ["a", "b", "c"])
  }

  @Test("arguments that do not decode fail the job, naming the task and the field, with no retry")
  func argumentMismatch() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let queue = DeferOptions(queue: TestTracing.uniqueQueue())
    try await app.defer(
      task: "fetch_joke", arguments: JobArguments(json: #"{"category": 5}"#), options: queue)
    try await app.defer(task: "linked_report", options: queue)
    try await Self.run(app, EverythingHandlers())
    let spans = TestTracing.jobSpans(queue: queue.queue)
    let messages = spans.compactMap {
      $0.events.first?.attributes[TracingKeys.exceptionMessage]?.toSpanAttribute()
    }
    #expect(
      messages.contains(.string("task 'fetch_joke': argument 'category' is not a valid String")))
    #expect(messages.contains(.string("task 'linked_report': argument 'report_id' is missing")))
    // Arguments that do not decode are not retried, whatever the task's retry strategy.
    #expect(spans.count == 2)
    #expect(try await app.jobRows("status, attempts") == ["failed|1", "failed|1"])
  }

  @Test("a malformed or missing trace_context never fails the job; the span says why")
  func badCarrier() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let queue = DeferOptions(queue: TestTracing.uniqueQueue())
    for json in [
      #"{"category": "x", "trace_context": {"traceparent": "00-zz"}}"#,
      #"{"category": "x", "trace_context": 3}"#, #"{"category": "x"}"#,
    ] {
      // Untraced: the jobs carry exactly these arguments, as a producer without tracing sends.
      try await app.deferUntraced(
        JobRequest(task: "fetch_joke", arguments: try JobArguments(json: json), options: queue))
    }
    try await Self.run(app, EverythingHandlers())
    let spans = TestTracing.jobSpans(queue: queue.queue)
    #expect(spans.count == 3)
    #expect(
      spans.allSatisfy {
        $0.parentSpanID == nil && $0.string(TracingKeys.jobOutcome) == "succeeded"
      })
    let reasons = Set(spans.compactMap { $0.string(TracingKeys.traceContextError) })
    #expect(
      reasons == [
        "'trace_context'.traceparent '00-zz' is not a valid W3C traceparent",
        "'trace_context' is a number, not an object with a traceparent",
        "no 'trace_context' in the job's arguments",
      ])
    #expect(try await app.jobRows("status") == ["succeeded", "succeeded", "succeeded"])
  }
}

/// Python written the guide's way (`Tests/Interop/traced_app.py`, procrastinate 3.10 and
/// opentelemetry-sdk) on one side, generated Swift on the other: one trace either way.
@Suite(
  "Generated tasks with Python producers and workers",
  .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct GeneratedTasksPythonTests {
  static let script = Python.repository.appendingPathComponent("Tests/Interop/traced_app.py").path

  static func python(_ arguments: [String], database: String, output: String = "/dev/null")
    async throws -> String
  {
    try await runProcess(
      Python.interpreter, [script] + arguments,
      environment: ["PROCR_DSN": database, "PROCR_OUT": output])
  }

  @Test("a Python producer's span is the parent of the Swift job span")
  func pythonProducer() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let queue = TestTracing.uniqueQueue()
    let printed = try await Self.python(
      ["defer", "fetch_joke", queue, #"{"category": "from-python", "limit": 2}"#],
      database: app.databaseURL)
    let producer = try JSONDecoder().decode([String: JSONValue].self, from: Data(printed.utf8))
    let handlers = EverythingHandlers()
    try await GeneratedTasksTests.run(app, handlers)

    let job = try #require(TestTracing.jobSpans(queue: queue).first)
    #expect("\(job.context.traceID)" == producer["trace_id"]?.stringValue)
    #expect(job.parentSpanID.map { "\($0)" } == producer["span_id"]?.stringValue)
    #expect(job.string(TracingKeys.traceContextError) == nil)
    #expect(handlers.jokes.values.map(\.category) == ["from-python"])
    #expect(handlers.jokes.values.map(\.limit) == [2])
  }

  @Test("a Swift defer's producer span is the parent of the Python task's span")
  func pythonWorker() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let when = Date(timeIntervalSince1970: 1_790_000_000)
    let (trace, id) = try await withSpan("test.request") { span in
      (
        "\(span.context.spanContext!.traceID)",
        try await PythonSendReport.defer(reportId: 12, when: when, on: app)
      )
    }
    let output = Python.temporaryFile()
    _ = try await Self.python(["worker", "python"], database: app.databaseURL, output: output)

    let producer = try #require(
      TestTracing.spans(inTrace: trace).first {
        $0.name == "procrastinate.defer.python.send_report"
      })
    let record = try #require(try Python.records(output).first)
    #expect(record["job_id"] == .int(id))
    #expect(record["trace_id"]?.stringValue == trace)
    #expect(record["parent_span_id"]?.stringValue == "\(producer.context.spanID)")
    #expect(
      record["args"]
        == .object([
          "report_id": .int(12),
          "when": .string(
            when.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))),
        ]))
    #expect(try await app.jobStatus(id: id)?.status == .succeeded)
  }
}

@Suite("Task argument coding")
struct TaskArgumentCodingUnitTests {
  @Test(
    "dates in every ISO 8601 form Python writes decode; ours keep milliseconds",
    arguments: [
      ("2026-11-25T10:00:00Z", 0.0), ("2026-11-25T10:00:00.250Z", 0.25),
      ("2026-11-25T10:00:00.250000+00:00", 0.25), ("2026-11-25T12:00:00+02:00", 0.0),
      ("2026-11-25T10:00:00", 0.0), ("2026-11-25T10:00:00.5", 0.5),
    ])
  func dates(text: String, fraction: Double) throws {
    let date = try #require(TaskArgumentCoding.parseDate(text), "\(text)")
    #expect(date.timeIntervalSince1970 == 1_795_600_800 + fraction, "\(text)")
  }

  @Test("a date that is not ISO 8601 fails the job naming the field")
  func badDate() throws {
    let arguments = try JobArguments(json: #"{"report_id": 1, "when": "yesterday"}"#)
    #expect(throws: DecodingError.self) {
      try arguments.decode(PythonSendReport.Arguments.self, decoder: TaskArgumentCoding.decoder())
    }
    let encoded = try TaskArgumentCoding.encoder().encode(
      PythonSendReport.Arguments(reportId: 1, when: Date(timeIntervalSince1970: 1_795_600_800.25)))
    #expect(
      String(decoding: encoded, as: UTF8.self).contains(#""when":"2026-11-25T10:00:00.250Z""#))
  }
}
