import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

/// Faults against a real worker process (`Tests/FaultWorker`), on loopback, bounded in time.
@Suite("Fault tests", .serialized)
struct FaultTests {
  static let binary = Python.repository.appendingPathComponent(
    ".build/debug/ProcrastinateFaultWorker"
  ).path

  static func executions(_ app: ProcrastinateApp) async throws -> [Int64: Int] {
    let rows = try await app.query("SELECT job_id, count(*) FROM fault_executions GROUP BY job_id")
    return Dictionary(
      uniqueKeysWithValues: rows.compactMap { row in
        guard let id = row[0].flatMap({ Int64($0) }), let count = row[1].flatMap({ Int($0) })
        else { return nil }
        return (id, count)
      })
  }

  @Test(
    "a worker killed with SIGKILL mid-jobs: its jobs show as stalled, a retry brings them to succeeded, none lost, none run again after succeeding",
    arguments: [false, true])
  func sigkill(retryInWorker: Bool) async throws {
    // A server of its own: worker processes are killed here, and the shared server's load
    // must not decide the timing.
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    let log = TestScratch.url.appendingPathComponent(
      "fault-\(UUID().uuidString).log"
    ).path
    try await withLogs([
      ("the killed worker's output", { tail(of: log) }),
      ("the rescuing worker's output", { tail(of: log + ".2") }),
      ("the server's log", { server.logTail() }),
      (
        "the jobs by status, and the executions",
        {
          let url = server.url(database: "sigkill")
          return
            ((try? await psql(url, "SELECT status, count(*) FROM procrastinate_jobs GROUP BY 1"))
            ?? []).joined(separator: ", ") + "; executions: "
            + ((try? await psql(url, "SELECT count(*) FROM fault_executions")) ?? []).joined()
        }
      ),
    ]) {
      let app = try ProcrastinateApp(
        databaseURL: try await server.createDatabase("sigkill"), logger: TestDatabase.quietLogger)
      try await app.applySchema()
      try await app.query(
        "CREATE TABLE fault_executions (job_id bigint NOT NULL, pid int NOT NULL, at timestamptz DEFAULT now())"
      )
      try await app.query("CREATE TABLE fault_gate (opened_at timestamptz DEFAULT now())")
      // 8 jobs finish; the 16 gated ones run until the gate opens, after the kill. (With
      // only timed jobs, this test's polling, slowed by the rest of the suite, sometimes saw
      // its moment only after every job had finished, or never.)
      let ids = try await app.deferBatch(
        (0..<24).map {
          JobRequest(
            task: "slow", arguments: JobArguments(["ms": 100, "gated": .bool($0 >= 8)]))
        })
      let victim = try ChildProcess.spawn(
        Self.binary, [app.databaseURL],
        environment: ["PROCRASTINATE_LOG_LEVEL": "debug", "PGAPPNAME": "fault-victim"],
        logPath: log)
      // Killed below; and on any failure before that, never left running.
      defer { victim.terminate() }
      // Kill it while some jobs are done and others run.
      try await eventually(timeout: .seconds(120), "some jobs to succeed while others run") {
        let finished = try await Self.executions(app).count
        let running = try await app.jobs(JobFilter(status: .doing)).count
        return finished >= 4 && running > 0
      }
      victim.terminate()
      // A transaction it sent just before dying may still complete on the server: once its
      // sessions are gone, nothing it sent can change a row or refresh its heartbeat.
      var sessions: [String] = []
      try await eventually("the killed worker's sessions to end", seen: { "\(sessions)" }) {
        sessions = try await psql(
          app.databaseURL,
          "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fault-victim'")
        return sessions == ["0"]
      }
      // The dead worker stopped heart-beating: after the 1 s timeout its jobs are stalled.
      try await Task.sleep(for: .milliseconds(1_500))
      let doing = try await app.jobs(JobFilter(status: .doing))
      #expect(!doing.isEmpty, "the kill should leave running jobs behind")
      let succeededBefore = Set(try await app.jobs(JobFilter(status: .succeeded)).map(\.id))
      try await app.query("INSERT INTO fault_gate DEFAULT VALUES")
      let stalled = try await app.stalledJobs(heartbeatTimeout: .seconds(1))
      #expect(Set(stalled.map(\.id)) == Set(doing.map(\.id)))

      if retryInWorker {
        // A second worker process gives them back on its own timer and runs them.
        let rescuer = try ChildProcess.spawn(
          Self.binary, [app.databaseURL, "--retry-stalled-every", "0.3"], logPath: log + ".2")
        defer { rescuer.terminate() }
        try await eventually(timeout: .seconds(120), "every job to succeed") {
          try await app.jobs(JobFilter(status: .succeeded)).count == ids.count
        }
      } else {
        #expect(
          Set(try await app.retryStalledJobs(heartbeatTimeout: .seconds(1))) == Set(doing.map(\.id))
        )
        var tasks = TaskRegistry()
        try tasks.register("slow") { _, context in
          try await context.app.query(
            "INSERT INTO fault_executions (job_id, pid) VALUES ($1, 0)", [String(context.jobID)])
        }
        try await Worker(app: app, tasks: tasks, options: .test(concurrency: 4)).run()
      }
      #expect(try await app.jobRows("status").allSatisfy { $0 == "succeeded" })
      let runs = try await Self.executions(app)
      #expect(Set(runs.keys) == Set(ids), "no job lost")
      // Jobs that succeeded never run again. A job killed in flight may have done its work
      // without its finish being committed: it runs again (at least once, as in Python).
      #expect(succeededBefore.allSatisfy { runs[$0] == 1 }, "\(runs)")
      let inFlight = Set(doing.map(\.id))
      #expect(
        runs.allSatisfy { $0.value == 1 || (inFlight.contains($0.key) && $0.value == 2) }, "\(runs)"
      )
      for job in doing {
        #expect(try await app.events(of: job.id).contains("deferred_for_retry"))
      }
    }
  }
}

extension FaultTests {
  @Test(
    "one of two worker processes SIGKILLed every 2 s for 20 s while jobs arrive; the other gives stalled jobs back: every job succeeds, none lost, re-runs only after a kill"
  )
  func repeatedSIGKILL() async throws {
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    let url = try await server.createDatabase("repeated")
    let app = try ProcrastinateApp(databaseURL: url, logger: TestDatabase.quietLogger)
    try await app.applySchema()
    try await app.query(
      "CREATE TABLE fault_executions (job_id bigint NOT NULL, pid int NOT NULL, at timestamptz DEFAULT now())"
    )
    try await app.query("CREATE TABLE fault_gate (opened_at timestamptz DEFAULT now())")
    let logs = TestScratch.url.appendingPathComponent(
      "repeated-\(UUID().uuidString)"
    ).path
    let rescuer = try ChildProcess.spawn(
      Self.binary, [url, "--retry-stalled-every", "0.3"], logPath: logs + ".rescuer.log")
    defer { rescuer.terminate() }
    let deferred = Recorder<Int64>()
    var kills = 0
    try await withLogs([
      ("the rescuing worker's output", { tail(of: logs + ".rescuer.log") }),
      ("the last killed worker's output", { tail(of: logs + ".victim.log") }),
      ("the server's log", { server.logTail() }),
    ]) {
      let producing = Task {
        while !Task.isCancelled {
          if let id = try? await app.defer(
            JobRequest(task: "slow", arguments: JobArguments(["ms": 150])))
          {
            deferred.append(id)
          }
          try? await Task.sleep(for: .milliseconds(25))
        }
      }
      let until = ContinuousClock.now + .seconds(20)
      while ContinuousClock.now < until {
        let victim = try ChildProcess.spawn(Self.binary, [url], logPath: logs + ".victim.log")
        try await Task.sleep(for: .seconds(2))
        victim.terminate()
        kills += 1
      }
      producing.cancel()
      _ = await producing.result
      try await eventually(timeout: .seconds(300), "every job to succeed") {
        let statuses = try await psql(
          url,
          "SELECT count(*) FILTER (WHERE status <> 'succeeded'), count(*) FROM procrastinate_jobs")
        return statuses == ["0|\(deferred.count)"]
      }
    }
    let runs = try await Self.executions(app)
    #expect(Set(runs.keys) == Set(deferred.values), "no job lost")
    // A job runs again only after it was given back as stalled (its worker was killed).
    let givenBack = try await psql(
      url,
      "SELECT job_id, count(*) FROM procrastinate_events WHERE type = 'deferred_for_retry' GROUP BY job_id"
    ).reduce(into: [Int64: Int]()) { result, row in
      let parts = row.split(separator: "|")
      result[Int64(parts[0])!] = Int(parts[1])!
    }
    let rerun = runs.filter { $0.value > 1 }
    #expect(rerun.allSatisfy { $0.value <= 1 + (givenBack[$0.key] ?? 0) }, "\(rerun)")
    print(
      "repeated SIGKILL: \(kills) kills, \(deferred.count) jobs, all succeeded; \(givenBack.count) given back as stalled, \(rerun.count) ran twice"
    )
  }
}

extension FaultTests {
  @Test(
    "a standalone worker process: the first SIGTERM stops it gracefully, a second ends the process, and one after the worker returned ends it too"
  )
  func signalsInAProcess() async throws {
    let server = try await TestDatabase.server.value
    let url = try await server.createDatabase("signals_\(UUID().uuidString.prefix(8).lowercased())")
    let app = try ProcrastinateApp(databaseURL: url, logger: TestDatabase.quietLogger)
    try await app.applySchema()
    try await app.query(
      "CREATE TABLE fault_executions (job_id bigint NOT NULL, pid int NOT NULL, at timestamptz DEFAULT now())"
    )
    try await app.query("CREATE TABLE fault_gate (opened_at timestamptz DEFAULT now())")
    let log = TestScratch.url.appendingPathComponent(
      "signals-\(UUID().uuidString).log"
    ).path

    // A gated job keeps the worker draining after the first SIGTERM; the second ends it.
    try await app.defer(
      JobRequest(task: "slow", arguments: JobArguments(["ms": 1, "gated": true])))
    let draining = try ChildProcess.spawn(Self.binary, [url], logPath: log)
    defer { draining.terminate() }
    try await withLogs([("the worker's output", { tail(of: log) })]) {
      try await eventually(timeout: .seconds(120), "the job to run") {
        try await app.jobs(JobFilter(status: .doing)).count == 1
      }
      draining.signal(SIGTERM)
      try await eventually("the worker to start stopping") {
        tail(of: log).contains("received SIGTERM")
      }
      #expect(await draining.waitForExit(timeout: .milliseconds(500)) == nil, "it did not drain")
      draining.signal(SIGTERM)
      #expect(await draining.waitForExit(timeout: .seconds(30)) == 128 + SIGTERM)
    }

    // After a standalone worker returned, a SIGTERM gets the process's own disposition
    // again: here the default, which ends it.
    try await app.defer(JobRequest(task: "slow", arguments: JobArguments(["ms": 1])))
    let returned = try ChildProcess.spawn(
      Self.binary, [url, "--one-shot-then-wait"], logPath: log)
    defer { returned.terminate() }
    try await withLogs([("the worker's output", { tail(of: log) })]) {
      try await eventually(timeout: .seconds(120), "the worker to return") {
        tail(of: log).contains("worker returned")
      }
      returned.signal(SIGTERM)
      #expect(await returned.waitForExit(timeout: .seconds(30)) == 128 + SIGTERM)
    }
  }
}

@Suite(
  "Lock rules across Swift and Python workers",
  .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct MixedWorkerLockTests {
  @Test("two Swift workers and a Python worker: jobs sharing a lock never run at once")
  func locks() async throws {
    let app = try await TestDatabase.app()
    // 3 locks × 12 jobs, half on each side's queue, alternating, so that each side surely
    // runs its own jobs however fast the other starts, and a lock's jobs (run in id order)
    // pass from one implementation to the other. A queueing lock refuses a second waiting job.
    let ids = try await app.deferBatch(
      (0..<36).map { index in
        JobRequest(
          task: "interop.locked", arguments: JobArguments(["sleep": 0.15]),
          options: DeferOptions(
            queue: index % 2 == 0 ? "locked_py" : "locked_swift", lock: "L\(index % 3)"))
      })
    try await app.defer(
      task: "interop.locked", options: DeferOptions(queue: "locked_swift", queueingLock: "only-one")
    )
    await #expect(throws: AlreadyEnqueuedError.self) {
      try await app.defer(
        task: "interop.locked",
        options: DeferOptions(queue: "locked_swift", queueingLock: "only-one"))
    }

    struct Run: Sendable { var id: Int64, lock: String?, start: Double, end: Double }
    let swiftRuns = Recorder<Run>()
    var tasks = TaskRegistry()
    try tasks.register("interop.locked") { _, context in
      let start = Date().timeIntervalSince1970
      try await Task.sleep(for: .milliseconds(150))
      swiftRuns.append(
        Run(id: context.jobID, lock: context.lock, start: start, end: Date().timeIntervalSince1970))
    }
    let output = Python.temporaryFile()
    let workers = (0..<2).map { _ in
      Worker(
        app: app, tasks: tasks,
        options: .test(queues: ["locked_swift"], concurrency: 3, oneShot: false))
    }
    let swift = Task {
      try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in workers { group.addTask { try await worker.run() } }
        try await group.waitForAll()
      }
    }
    // Python's worker is one-shot: it ends when every job left on its queue waits for a lock
    // a Swift job holds, so it runs again until its queue is done.
    func pythonTodo() async throws -> Int {
      Int(
        try await psql(
          app.databaseURL,
          "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'locked_py' AND status <> 'succeeded'"
        ).first ?? "") ?? -1
    }
    var pythonRounds = 0
    while try await pythonTodo() > 0 && pythonRounds < 60 {
      pythonRounds += 1
      try await Python.run(["worker", "locked_py"], database: app.databaseURL, output: output)
    }
    var statuses: [String] = []
    try await eventually(timeout: .seconds(120), "every job to succeed", seen: { "\(statuses)" }) {
      statuses = try await app.jobRows("queue_name, status")
      return statuses.allSatisfy { $0.hasSuffix("|succeeded") }
    }
    for worker in workers { worker.stop() }
    try await swift.value

    let pythonRuns = try Python.records(output).map { record -> Run in
      guard case .int(let id) = record["job_id"], let start = record["start"]?.number,
        let end = record["end"]?.number
      else { throw TaskFailure(description: "bad record \(record)") }
      return Run(id: id, lock: record["lock"]?.stringValue, start: start, end: end)
    }
    let runs = swiftRuns.values + pythonRuns
    #expect(
      pythonRuns.count == 18 && swiftRuns.count == 19,
      "Python \(pythonRuns.count), Swift \(swiftRuns.count)")
    #expect(runs.count == ids.count + 1, "every job ran once")
    #expect(Set(runs.map(\.id)).count == runs.count)
    for (lock, group) in Dictionary(grouping: runs.filter { $0.lock != nil }, by: { $0.lock! }) {
      let ordered = group.sorted { $0.start < $1.start }
      for (previous, next) in zip(ordered, ordered.dropFirst()) {
        #expect(
          next.start >= previous.end,
          "lock \(lock): job \(next.id) started before \(previous.id) ended")
      }
    }
    #expect(try await app.jobRows("status").allSatisfy { $0 == "succeeded" })
  }
}

extension JSONValue {
  var number: Double? {
    switch self {
    case .int(let value): Double(value)
    case .double(let value): value
    default: nil
    }
  }
}

@Suite("Bad input to a worker")
struct WorkerBadInputTests {
  @Test("a database without the schema: the worker refuses to start, saying what is missing")
  func missingSchema() async throws {
    let app = try ProcrastinateApp(
      databaseURL: try await TestDatabase.emptyDatabaseURL(), logger: TestDatabase.quietLogger)
    let worker = Worker(app: app, tasks: TaskRegistry(), options: .test())
    await #expect {
      try await worker.run()
    } throws: { error in
      "\(error)".contains("procrastinate_jobs") && "\(error)".contains("schema --apply")
    }
  }
}

extension WorkerBadInputTests {
  @Test("a wrong password: a specific connect error, the password never printed")
  func wrongPassword() async throws {
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    try await server.createPasswordRole("app_user", password: "right-secret")

    let url = "postgresql://app_user:wrong-secret@127.0.0.1:\(server.port)/postgres"
    let app = try ProcrastinateApp(databaseURL: url, logger: TestDatabase.quietLogger)
    do {
      try await app.defer(task: "t")
      Issue.record("a wrong password was accepted")
    } catch let error as DatabaseError {
      #expect(error.kind == .connect)
      #expect(error.description.contains("password authentication failed for user \"app_user\""))
      #expect(!error.description.contains("wrong-secret"))
    }
    let health = try await runProcessCapturing(
      TracesPingTests.binary, ["healthchecks", "--database-url", url], allowFailure: true)
    #expect(health.status == 1 && health.stdout.contains("DB connection: FAILED"))
    #expect(!(health.stdout + health.stderr).contains("wrong-secret"))
  }
}
