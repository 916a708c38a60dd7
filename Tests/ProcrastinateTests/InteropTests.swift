import Foundation
import Procrastinate
import Testing

/// The Python procrastinate 3.10 side, from the virtualenv `scripts/test` creates.
enum Python {
  static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  static let venv =
    ProcessInfo.processInfo.environment["PROCRASTINATE_TEST_VENV"]
    ?? repository.appendingPathComponent(".venv").path
  static let interpreter = venv + "/bin/python"
  static let app = repository.appendingPathComponent("Tests/Interop/interop_app.py").path
  static var available: Bool { FileManager.default.isExecutableFile(atPath: interpreter) }

  @discardableResult
  static func run(_ arguments: [String], database: String, output: String = "/dev/null")
    async throws -> String
  {
    try await runProcess(
      interpreter, [app] + arguments, environment: ["PROCR_DSN": database, "PROCR_OUT": output])
  }

  static func records(_ path: String) throws -> [[String: JSONValue]] {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return try text.split(separator: "\n").map {
      try JSONDecoder().decode([String: JSONValue].self, from: Data($0.utf8))
    }
  }

  static func temporaryFile() -> String {
    TestScratch.url.appendingPathComponent(
      "interop-\(UUID().uuidString).jsonl"
    ).path
  }
}

@Suite(
  "Interop with Python procrastinate 3.10",
  .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct InteropTests {
  static let traceContext: JSONValue = .object([
    "traceparent": .string("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    "tracestate": .string("vendor=abc"),
  ])

  @Test(
    "Python defers with trace_context on a schema Python applied; a Swift worker runs it intact")
  func pythonDefersSwiftRuns() async throws {
    let url = try await TestDatabase.emptyDatabaseURL()
    try await Python.run(["schema-apply"], database: url)
    let app = try ProcrastinateApp(databaseURL: url, logger: TestDatabase.quietLogger)
    #expect(try await app.applySchema() == .alreadyPresent)
    #expect(try await app.checkSchema().isComplete)

    let args: JSONValue = .object([
      "order_id": .int(42), "note": .string("é\"\\"), "trace_context": Self.traceContext,
    ])
    let id = try await #require(
      Int64(
        try Python.run(["defer", "swift.echo", "swift", args.description], database: url)
          .trimmingCharacters(in: .whitespacesAndNewlines)))
    let received = Recorder<[String: JSONValue]>()
    var tasks = TaskRegistry()
    try tasks.register("swift.echo") { arguments, _ in received.append(try arguments.members()) }
    try await Worker(app: app, tasks: tasks, options: .test(queues: ["swift"])).run()
    #expect(received.values == [args.objectValue!])
    #expect(try await app.jobRows() == ["\(id)|succeeded|1"])
  }

  @Test("Swift defers on a schema Swift applied; procrastinate worker --one-shot runs it")
  func swiftDefersPythonRuns() async throws {
    let app = try await TestDatabase.app()
    let args: [String: JSONValue] = ["order_id": .int(7), "trace_context": Self.traceContext]
    let id = try await app.defer(
      task: "interop.record", arguments: JobArguments(args), options: DeferOptions(queue: "interop")
    )
    let batch = try await app.deferBatch([
      JobRequest(
        task: "interop.record", arguments: JobArguments(["n": .int(1)]),
        options: DeferOptions(queue: "interop")),
      JobRequest(
        task: "interop.record", arguments: JobArguments(["n": .int(2)]),
        options: DeferOptions(queue: "interop", lock: "k")),
    ])
    let output = Python.temporaryFile()
    try await Python.run(["worker", "interop"], database: app.databaseURL, output: output)
    let records = try Python.records(output)
    #expect(records.count == 3)
    #expect(records.first?["args"] == .object(args))
    #expect(records.first?["job_id"] == .int(id))
    #expect(
      try await app.jobRows() == [
        "\(id)|succeeded|1", "\(batch[0])|succeeded|1", "\(batch[1])|succeeded|1",
      ])
    #expect(try await app.events(of: id) == ["deferred", "started", "succeeded"])
  }

  @Test("a failing job with a retry strategy ends the same in both implementations")
  func retryParity() async throws {
    // Python: max_attempts=2 on a Python worker.
    let python = try await TestDatabase.app()
    let pythonJob = try await python.defer(
      task: "interop.flaky", options: DeferOptions(queue: "interop"))
    let output = Python.temporaryFile()
    try await Python.run(["worker", "interop"], database: python.databaseURL, output: output)
    #expect(try Python.records(output).count == 3)

    // Swift: the same strategy on a Swift worker.
    let swift = try await TestDatabase.app()
    let swiftJob = try await swift.defer(
      task: "interop.flaky", options: DeferOptions(queue: "interop"))
    var tasks = TaskRegistry()
    try tasks.register("interop.flaky", retry: RetryStrategy(maxAttempts: 2)) { _, context in
      throw TaskFailure(description: "attempt \(context.attempts) fails on purpose")
    }
    try await Worker(app: swift, tasks: tasks, options: .test(queues: ["interop"])).run()

    let pythonRow = try await python.jobRows("status, attempts")
    let swiftRow = try await swift.jobRows("status, attempts")
    #expect(pythonRow == ["failed|3"])
    #expect(swiftRow == pythonRow)
    let pythonEvents = try await python.events(of: pythonJob)
    let swiftEvents = try await swift.events(of: swiftJob)
    #expect(pythonEvents.count == 9)
    #expect(swiftEvents == pythonEvents)
  }

  @Test("the schema we create is identical, object by object, to procrastinate schema --apply's")
  func catalogIdentical() async throws {
    let ours = try await TestDatabase.app()
    let theirs = try await TestDatabase.emptyDatabaseURL()
    try await Python.run(["schema-apply"], database: theirs)
    let ourCatalog = try await psql(ours.databaseURL, CatalogDump.query)
    let theirCatalog = try await psql(theirs, CatalogDump.query)
    #expect(ourCatalog.count > 50)
    let missing = Set(theirCatalog).subtracting(ourCatalog).sorted()
    let extra = Set(ourCatalog).subtracting(theirCatalog).sorted()
    #expect(missing == [], "objects procrastinate creates and we do not")
    #expect(extra == [], "objects we create and procrastinate does not")
    #expect(ourCatalog == theirCatalog)
  }
}
