import Foundation
import Procrastinate
import Testing

@Suite("Defer")
struct DeferTests {
  @Test("a single defer stores every option as procrastinate does")
  func singleDefer() async throws {
    let app = try await TestDatabase.app()
    let id = try await app.defer(
      task: "emails.send", arguments: JobArguments(["to": .string("a@b.c"), "n": .int(3)]),
      options: DeferOptions(queue: "mail", priority: 5, lock: "user-1", queueingLock: "q-1"))
    let rows = try await psql(
      app.databaseURL,
      "SELECT id, queue_name, task_name, priority, lock, queueing_lock, args->>'to', args->>'n', status, attempts, scheduled_at IS NULL FROM procrastinate_jobs"
    )
    #expect(rows == ["\(id)|mail|emails.send|5|user-1|q-1|a@b.c|3|todo|0|t"])
    #expect(try await app.events(of: id) == ["deferred"])
  }

  @Test("a batch defer returns ids in input order and sends one statement")
  func batchDefer() async throws {
    let app = try await TestDatabase.app()
    let jobs = (0..<250).map { (index: Int) -> JobRequest in
      let arguments: [String: JSONValue] = ["i": .int(Int64(index)), "quote": "a\"b\\c{},"]
      let options = DeferOptions(
        queue: index % 2 == 0 ? "even" : "odd", priority: Int32(index % 3),
        lock: index == 3 ? "L" : nil)
      return JobRequest(task: "t\(index % 7)", arguments: JobArguments(arguments), options: options)
    }
    let ids = try await app.deferBatch(jobs)
    #expect(ids.count == 250)
    let rows = try await psql(
      app.databaseURL,
      "SELECT id, args->>'i', queue_name, task_name, args->>'quote', priority, coalesce(lock, '-') FROM procrastinate_jobs ORDER BY id"
    )
    for (index, row) in rows.enumerated() {
      let expectedLock = index == 3 ? "L" : "-"
      #expect(
        row
          == "\(ids[index])|\(index)|\(index % 2 == 0 ? "even" : "odd")|t\(index % 7)|a\"b\\c{},|\(index % 3)|\(expectedLock)"
      )
    }
  }

  @Test(
    "a taken queueing lock throws AlreadyEnqueuedError naming the lock; the batch defers nothing")
  func queueingLock() async throws {
    let app = try await TestDatabase.app()
    try await app.defer(task: "t", options: DeferOptions(queueingLock: "only-one"))
    await #expect(throws: AlreadyEnqueuedError(queueingLock: "only-one")) {
      try await app.defer(task: "t", options: DeferOptions(queueingLock: "only-one"))
    }
    await #expect(throws: AlreadyEnqueuedError(queueingLock: "only-one")) {
      try await app.deferBatch([
        JobRequest(task: "t", options: DeferOptions(queueingLock: "other")),
        JobRequest(task: "t", options: DeferOptions(queueingLock: "only-one")),
      ])
    }
    #expect(try await psql(app.databaseURL, "SELECT count(*) FROM procrastinate_jobs") == ["1"])
  }

  @Test("queue names over 40 bytes are refused before anything is sent")
  func longQueueName() async throws {
    // A database URL that cannot be reached: the error must come before any connection.
    let app = try ProcrastinateApp(databaseURL: "postgresql://nobody@127.0.0.1:1/none")
    let name = String(repeating: "é", count: 21)  // 42 bytes, 21 characters
    await #expect(throws: DeferError.self) {
      try await app.defer(task: "t", options: DeferOptions(queue: name))
    }
    do {
      try await app.defer(task: "t", options: DeferOptions(queue: name))
    } catch let error as DeferError {
      #expect(error.description.contains("42 bytes"))
      #expect(error.description.contains("40 bytes"))
    }
    // 40 bytes exactly is accepted by the database.
    let real = try await TestDatabase.app()
    try await real.defer(task: "t", options: DeferOptions(queue: String(repeating: "q", count: 40)))
  }

  @Test("a worker's bad queue name is a configuration error of the worker, not a defer error")
  func workerQueueName() async throws {
    let app = try ProcrastinateApp(databaseURL: "postgresql://nobody@127.0.0.1:1/none")
    let worker = Worker(
      app: app, tasks: TaskRegistry(),
      options: WorkerOptions(queues: ["ok", String(repeating: "q", count: 41)]))
    do {
      try await worker.run()
      Issue.record("the worker started with a 41-byte queue name")
    } catch let error as ConfigurationError {
      #expect(
        error.description.hasPrefix(
          "worker queue name '\(String(repeating: "q", count: 41))' is invalid: it is 41 bytes long"
        ))
    }
  }

  @Test("every error the package throws has the one root, and keeps its specific message")
  func oneErrorRoot() async throws {
    let app = try ProcrastinateApp(databaseURL: "postgresql://nobody@127.0.0.1:1/none")
    var caught: [any ProcrastinateError] = []
    func record(_ body: () async throws -> Void) async {
      do {
        try await body()
        Issue.record("no error")
      } catch let error as any ProcrastinateError {
        caught.append(error)
      } catch {
        Issue.record("\(type(of: error)) is not a ProcrastinateError: \(error)")
      }
    }
    await record { try await app.defer(task: "") }
    await record { try await app.defer(task: "t") }
    await record { _ = try JobArguments(json: "[]") }
    await record { _ = try DatabaseSettings(conninfo: "host=a port") }
    await record {
      var registry = TaskRegistry()
      try registry.register("t") { _, _ in }
      try registry.register("t") { _, _ in }
    }
    await record {
      var registry = TaskRegistry()
      try registry.registerPeriodic(TaskDefinition(name: "t"), cron: "* *")
    }
    #expect(
      caught.map { "\(type(of: $0))" } == [
        "DeferError", "DatabaseError", "JobArgumentsError", "ConfigurationError",
        "TaskRegistryError", "CronError",
      ])
    #expect(caught[0].description == "invalid task name '': it is empty")
  }

  @Test("scheduleIn and scheduledAt set scheduled_at and the scheduled event")
  func scheduling() async throws {
    let app = try await TestDatabase.app()
    let at = Date(timeIntervalSince1970: 2_000_000_000.25)
    let first = try await app.defer(task: "t", options: DeferOptions(scheduledAt: at))
    let before = Date().timeIntervalSince1970
    let second = try await app.defer(task: "t", options: DeferOptions(scheduleIn: .seconds(3600)))
    let after = Date().timeIntervalSince1970
    let epochs = try await psql(
      app.databaseURL, "SELECT extract(epoch FROM scheduled_at) FROM procrastinate_jobs ORDER BY id"
    )
    .compactMap(Double.init)
    #expect(epochs.count == 2)
    #expect(abs(epochs[0] - 2_000_000_000.25) < 0.001)
    #expect(
      epochs[1] >= before + 3600 - 0.001 && epochs[1] <= after + 3600 + 0.001,
      "scheduled \(epochs[1] - before) s after the defer began; it took \(after - before) s")
    #expect(try await app.events(of: first).sorted() == ["deferred", "scheduled"])
    #expect(try await app.events(of: second).sorted() == ["deferred", "scheduled"])
  }

  @Test("unreachable host and wrong database give specific errors")
  func connectionErrors() async throws {
    let unreachable = try ProcrastinateApp(
      databaseURL: "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")
    do {
      try await unreachable.defer(task: "t")
      Issue.record("defer to an unreachable server succeeded")
    } catch let error as DatabaseError {
      #expect(error.kind == .connect)
      #expect(error.description.contains("127.0.0.1"))
    }
    let server = try await TestDatabase.server.value
    let missing = try ProcrastinateApp(databaseURL: server.url(database: "does_not_exist"))
    do {
      try await missing.defer(task: "t")
      Issue.record("defer to a missing database succeeded")
    } catch let error as DatabaseError {
      #expect(error.message.contains("does_not_exist"))
    }
  }
}

@Suite("Defer arguments and database URLs")
struct DeferUnitTests {
  @Test("arguments that are not a JSON object are refused with the reason")
  func nonObjectArguments() throws {
    #expect(throws: JobArgumentsError.notAnObject(found: "an array")) {
      try JobArguments(json: "[1, 2]")
    }
    #expect(throws: JobArgumentsError.notAnObject(found: "a number")) {
      try JobArguments(json: "42")
    }
    #expect(throws: JobArgumentsError.self) { try JobArguments(json: "{not json") }
    #expect(throws: JobArgumentsError.notAnObject(found: "an array")) {
      try JobArguments(encoding: [1, 2, 3])
    }
    struct Payload: Codable, Equatable {
      var user_id: Int
      var tags: [String]
    }
    let arguments = try JobArguments(encoding: Payload(user_id: 7, tags: ["a"]))
    #expect(try arguments.decode(Payload.self) == Payload(user_id: 7, tags: ["a"]))
  }

  @Test("a malformed database URL is a clear configuration error")
  func malformedURL() throws {
    #expect(throws: ConfigurationError.self) { try DatabaseSettings(conninfo: "postgresql://[::1") }
    #expect(throws: ConfigurationError.self) { try DatabaseSettings(conninfo: "host=a port") }
  }

  @Test("the database URL comes from the flag, then PROCRASTINATE_DATABASE_URL, DATABASE_URL, PG*")
  func resolution() throws {
    let env = [
      "PROCRASTINATE_DATABASE_URL": "postgresql://a@h1/d1", "DATABASE_URL": "postgresql://b@h2/d2",
    ]
    #expect(
      try DatabaseSettings.resolve(explicit: "postgresql://c@h3/d3", environment: env).source
        == .explicit)
    #expect(try DatabaseSettings.resolve(environment: env).conninfo == "postgresql://a@h1/d1")
    #expect(
      try DatabaseSettings.resolve(environment: ["DATABASE_URL": "postgresql://b@h2/d2"]).source
        == .databaseURL)
    let fallback = try DatabaseSettings.resolve(environment: [:])
    #expect(fallback.source == .libpqEnvironment && fallback.conninfo.isEmpty)
    let secret = try DatabaseSettings(conninfo: "postgresql://user:s3cret@db.example:6543/app")
    #expect(!secret.redacted.contains("s3cret"))
    #expect(secret.redacted == "host=db.example port=6543 dbname=app user=user")
  }
}
