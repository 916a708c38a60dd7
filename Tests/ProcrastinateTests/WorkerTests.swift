import Foundation
import Procrastinate
import ProcrastinateTesting
import Synchronization
import Testing

@Suite("Worker")
struct WorkerTests {
  @Test(
    "a one-shot worker runs every job once, registers, sets worker_id, unregisters",
    arguments: [WorkerOptions.FetchStrategy.batched, .perJob])
  func oneShot(strategy: WorkerOptions.FetchStrategy) async throws {
    let app = try await TestDatabase.app()
    let ids = try await app.deferBatch(
      (0..<40).map { JobRequest(task: "record", arguments: JobArguments(["n": .int(Int64($0))])) })
    let seen = Recorder<(n: Int, context: JobContext)>()
    let workerRows = Recorder<String>()
    var tasks = TaskRegistry()
    try tasks.register("record") { arguments, context in
      struct Args: Decodable { var n: Int }
      let n = try arguments.decode(Args.self).n
      if n == 0 {
        workerRows.append(
          contentsOf: try await psql(
            app.databaseURL,
            "SELECT status, worker_id FROM procrastinate_jobs WHERE id = \(context.jobID)"))
        workerRows.append(
          contentsOf: try await psql(app.databaseURL, "SELECT id FROM procrastinate_workers"))
      }
      seen.append((n, context))
    }
    let worker = Worker(app: app, tasks: tasks, options: .test(concurrency: 4, strategy: strategy))
    try await worker.run()

    #expect(seen.values.map(\.n).sorted() == Array(0..<40))
    let contexts = seen.values.map(\.context)
    #expect(Set(contexts.map(\.jobID)) == Set(ids))
    #expect(
      contexts.allSatisfy {
        $0.taskName == "record" && $0.queueName == "default" && $0.attempts == 0
      })
    let workerID = try #require(worker.workerID)
    #expect(contexts.allSatisfy { $0.workerID == workerID })
    #expect(workerRows.values == ["doing|\(workerID)", "\(workerID)"])
    #expect(
      try await app.jobRows("status, attempts, worker_id IS NULL")
        == Array(repeating: "succeeded|1|t", count: 40))
    #expect(try await app.events(of: ids[0]) == ["deferred", "started", "succeeded"])
    #expect(try await psql(app.databaseURL, "SELECT count(*) FROM procrastinate_workers") == ["0"])
  }

  @Test(
    "jobs run concurrently up to the concurrency",
    arguments: [WorkerOptions.FetchStrategy.batched, .perJob])
  func concurrency(strategy: WorkerOptions.FetchStrategy) async throws {
    let app = try await TestDatabase.app()
    try await app.deferBatch((0..<10).map { _ in JobRequest(task: "sleep") })
    let running = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
    var tasks = TaskRegistry()
    try tasks.register("sleep") { _, _ in
      let now = running.add(1, ordering: .relaxed).newValue
      peak.max(now, ordering: .relaxed)
      // Each job waits (up to 120 s) until 5 run at once: the peak shows the concurrency
      // however slowly a loaded machine fetches. (Jobs of a fixed 500 ms used to end before
      // the fifth slot's fetch came back, under the full suite.)
      let deadline = ContinuousClock.now + .seconds(120)
      while peak.load(ordering: .relaxed) < 5 && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(10))
      }
      try await Task.sleep(for: .milliseconds(50))
      running.subtract(1, ordering: .relaxed)
    }
    try await Worker(app: app, tasks: tasks, options: .test(concurrency: 5, strategy: strategy))
      .run()
    // 5 at once, never more.
    #expect(peak.load(ordering: .relaxed) == 5, "peak \(peak.load(ordering: .relaxed))")
    #expect(try await app.jobRows("status") == Array(repeating: "succeeded", count: 10))
  }

  @Test("an unknown task fails its job; a throwing task fails; the worker goes on")
  func failures() async throws {
    let app = try await TestDatabase.app()
    let unknown = try await app.defer(task: "nobody.knows")
    let throwing = try await app.defer(task: "boom")
    let fine = try await app.defer(task: "fine")
    var tasks = TaskRegistry()
    try tasks.register("boom") { _, _ in throw TaskFailure(description: "kaboom") }
    try tasks.register("fine") { _, _ in }
    try await Worker(app: app, tasks: tasks, options: .test()).run()
    #expect(
      try await app.jobRows() == [
        "\(unknown)|failed|1", "\(throwing)|failed|1", "\(fine)|succeeded|1",
      ])
    #expect(try await app.events(of: unknown) == ["deferred", "started", "failed"])
  }

  @Test("registering a task name twice is refused")
  func duplicateRegistration() throws {
    var tasks = TaskRegistry()
    try tasks.register("a") { _, _ in }
    #expect(throws: TaskRegistryError.duplicateTask("a")) { try tasks.register("a") { _, _ in } }
  }

  @Test("retry delays follow procrastinate's formula")
  func retryDelays() {
    let strategy = RetryStrategy(maxAttempts: 3, wait: 1, linearWait: 2, exponentialWait: 3)
    let error = TaskFailure(description: "x")
    #expect(strategy.retryDelay(attempts: 0, error: error) == 4.0)
    #expect(strategy.retryDelay(attempts: 1, error: error) == 12.0)
    #expect(strategy.retryDelay(attempts: 2, error: error) == 32.0)
    #expect(strategy.retryDelay(attempts: 3, error: error) == nil)
    #expect(RetryStrategy().retryDelay(attempts: 1000, error: error) == 0)
    #expect(RetryStrategy(linearWait: 1.5).retryDelay(attempts: 2, error: error) == 3)
    struct Transient: Error {}
    let selective = RetryStrategy(retryOn: [Transient.self])
    #expect(selective.retryDelay(attempts: 0, error: Transient()) == 0)
    #expect(selective.retryDelay(attempts: 0, error: error) == nil)
  }

  @Test(
    "max_attempts 2 runs three times and ends failed with attempts 3, one-shot at concurrency 1 and 3",
    arguments: [WorkerOptions.FetchStrategy.batched, .perJob], [1, 3])
  func retries(strategy: WorkerOptions.FetchStrategy, concurrency: Int) async throws {
    let app = try await TestDatabase.app()
    let id = try await app.defer(task: "flaky")
    let attempts = Recorder<Int>()
    var tasks = TaskRegistry()
    try tasks.register("flaky", retry: .attempts(2)) { _, context in
      attempts.append(context.attempts)
      throw TaskFailure(description: "attempt \(context.attempts)")
    }
    try await Worker(
      app: app, tasks: tasks, options: .test(concurrency: concurrency, strategy: strategy)
    )
    .run()
    #expect(attempts.values == [0, 1, 2])
    #expect(try await app.jobRows() == ["\(id)|failed|3"])
    let events = try await app.events(of: id)
    #expect(events.first == "deferred" && events.last == "failed")
    #expect(events.filter { $0 == "started" }.count == 3)
    #expect(events.filter { $0 == "deferred_for_retry" }.count == 2)
    #expect(events.filter { $0 == "scheduled" }.count == 2)
  }

  @Test("a retry is scheduled after the strategy's delay; only chosen errors are retried")
  func retryScheduling() async throws {
    struct Transient: Error {}
    let app = try await TestDatabase.app()
    let delayed = try await app.defer(task: "delayed")
    let other = try await app.defer(task: "selective")
    var tasks = TaskRegistry()
    try tasks.register("delayed", retry: RetryStrategy(wait: 100)) { _, _ in throw Transient() }
    try tasks.register("selective", retry: RetryStrategy(retryOn: [Transient.self])) { _, _ in
      throw TaskFailure(description: "not transient")
    }
    let before = Date().timeIntervalSince1970
    try await Worker(app: app, tasks: tasks, options: .test()).run()
    let after = Date().timeIntervalSince1970
    let row = try await psql(
      app.databaseURL,
      "SELECT status, attempts, extract(epoch FROM scheduled_at) FROM procrastinate_jobs WHERE id = \(delayed)"
    )
    let fields = try #require(row.first).split(separator: "|")
    #expect(fields[0] == "todo" && fields[1] == "1")
    let scheduled = try #require(Double(fields[2]))
    // 100 s after the failure, which happened while the worker ran (rounding: the database
    // keeps microseconds).
    #expect(
      scheduled >= before + 100 - 0.001 && scheduled <= after + 100 + 0.001,
      "scheduled \(scheduled - before) s after the run began; the run took \(after - before) s")
    #expect(
      try await psql(
        app.databaseURL, "SELECT status, attempts FROM procrastinate_jobs WHERE id = \(other)") == [
          "failed|1"
        ])
  }

  @Test("delete_jobs successful deletes succeeded jobs only; always deletes failed ones too")
  func deleteJobs() async throws {
    for mode in [WorkerOptions.DeleteJobs.successful, .always] {
      let app = try await TestDatabase.app()
      try await app.defer(task: "ok")
      let failing = try await app.defer(task: "ko")
      var tasks = TaskRegistry()
      try tasks.register("ok") { _, _ in }
      try tasks.register("ko") { _, _ in throw TaskFailure(description: "no") }
      try await Worker(app: app, tasks: tasks, options: .test { $0.deleteJobs = mode }).run()
      #expect(try await app.jobRows() == (mode == .always ? [] : ["\(failing)|failed|1"]))
    }
  }

  @Test("higher priority runs first; jobs sharing a lock never overlap and keep their order")
  func priorityAndLocks() async throws {
    let app = try await TestDatabase.app()
    try await app.defer(
      task: "order", arguments: JobArguments(["name": .string("low")]),
      options: DeferOptions(priority: 0))
    try await app.defer(
      task: "order", arguments: JobArguments(["name": .string("high")]),
      options: DeferOptions(priority: 5))
    try await app.defer(
      task: "order", arguments: JobArguments(["name": .string("mid")]),
      options: DeferOptions(priority: 1))
    let order = Recorder<String>()
    var tasks = TaskRegistry()
    try tasks.register("order") { arguments, _ in
      order.append(try arguments.members()["name"]?.stringValue ?? "?")
    }
    try await Worker(app: app, tasks: tasks, options: .test()).run()
    #expect(order.values == ["high", "mid", "low"])

    let locked = try await TestDatabase.app()
    try await locked.deferBatch(
      (0..<6).map {
        JobRequest(
          task: "locked", arguments: JobArguments(["n": .int(Int64($0))]),
          options: DeferOptions(lock: "L"))
      })
    let inside = Atomic<Int>(0)
    let overlap = Atomic<Bool>(false)
    let runOrder = Recorder<Int>()
    var lockTasks = TaskRegistry()
    try lockTasks.register("locked") { arguments, _ in
      if inside.add(1, ordering: .relaxed).newValue > 1 { overlap.store(true, ordering: .relaxed) }
      struct Args: Decodable { var n: Int }
      runOrder.append(try arguments.decode(Args.self).n)
      try await Task.sleep(for: .milliseconds(30))
      inside.subtract(1, ordering: .relaxed)
    }
    // Not one-shot: a fetch that finds the lock held returns nothing while jobs still wait.
    let worker = Worker(
      app: locked, tasks: lockTasks, options: .test(concurrency: 4, oneShot: false))
    let run = Task { try await worker.run() }
    try await eventually("all locked jobs to finish") {
      runOrder.count == 6 && worker.runningJobCount == 0
    }
    worker.stop()
    try await run.value
    let overlapped = overlap.load(ordering: .relaxed)
    #expect(!overlapped)
    #expect(runOrder.values == Array(0..<6))
  }

  @Test("a scheduled job is not run before its time")
  func scheduledNotEarly() async throws {
    let app = try await TestDatabase.app()
    try await app.defer(task: "later", options: DeferOptions(scheduleIn: .seconds(3600)))
    let now = try await app.defer(task: "now")
    let ran = Recorder<Int64>()
    var tasks = TaskRegistry()
    try tasks.register("later") { _, context in ran.append(context.jobID) }
    try tasks.register("now") { _, context in ran.append(context.jobID) }
    try await Worker(app: app, tasks: tasks, options: .test()).run()
    #expect(ran.values == [now])
  }

  @Test("NOTIFY wakes an idle worker at once; without it, polling finds the job")
  func wakeUp() async throws {
    for listen in [true, false] {
      let app = try await TestDatabase.app()
      let ran = Recorder<Int64>()
      var tasks = TaskRegistry()
      try tasks.register("ping") { _, context in ran.append(context.jobID) }
      let worker = Worker(
        app: app, tasks: tasks,
        options: .test(queues: ["pings"], oneShot: false) {
          $0.listenNotify = listen
          $0.pollingInterval = listen ? .seconds(3600) : .milliseconds(300)
        })
      let run = Task { try await worker.run() }
      // What is measured is the wake-up once the worker listens; starting (schema check,
      // prune, register, LISTEN) is waited for, however long it takes.
      if listen {
        try await waitForListener(app)
      } else {
        try await eventually("the worker to register") { worker.workerID != nil }
      }
      let deferred = ContinuousClock.now
      let id = try await app.defer(task: "ping", options: DeferOptions(queue: "pings"))
      try await eventually("the job to run (listen: \(listen))", seen: { "\(ran.values)" }) {
        ran.values == [id]
      }
      let latency = ContinuousClock.now - deferred
      // Far below the 3600 s polling interval: the NOTIFY woke the worker.
      #expect(latency < .seconds(60), "listen \(listen): job started after \(latency)")
      worker.stop()
      try await run.value
    }
  }

  @Test("stop lets a running job finish; past the shutdown timeout jobs are aborted")
  func gracefulStop() async throws {
    let app = try await TestDatabase.app()
    let short = try await app.defer(task: "short")
    let gate = Gate()
    var tasks = TaskRegistry()
    try tasks.register("short") { _, _ in try await gate.wait() }
    try tasks.register("long") { _, _ in try await Task.sleep(for: .seconds(3600)) }
    let worker = Worker(app: app, tasks: tasks, options: .test(oneShot: false))
    let run = Task { try await worker.run() }
    try await eventually("the short job to start") { worker.runningJobCount == 1 }
    worker.stop()
    gate.open()  // the job ends only once the stop is in force
    try await run.value
    #expect(try await app.jobRows() == ["\(short)|succeeded|1"])

    let long = try await app.defer(task: "long")
    let timed = Worker(
      app: app, tasks: tasks,
      options: .test(oneShot: false) { $0.shutdownTimeout = .milliseconds(300) })
    let timedRun = Task { try await timed.run() }
    try await eventually("the long job to start") { timed.runningJobCount == 1 }
    let stopping = ContinuousClock.now
    timed.stop()
    try await timedRun.value
    // The promise: about shutdownTimeout (300 ms) after stop(), not the job's hour.
    let took = ContinuousClock.now - stopping
    #expect(took < .seconds(30), "stop took \(took) with a shutdownTimeout of 300 ms")
    #expect(try await app.jobRows() == ["\(short)|succeeded|1", "\(long)|aborted|1"])
    #expect(try await psql(app.databaseURL, "SELECT count(*) FROM procrastinate_workers") == ["0"])
  }

  @Test(
    "the worker reconnects after PostgreSQL restarts mid-way through 1,000 jobs; each succeeds once"
  )
  func reconnects() async throws {
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    let app = try ProcrastinateApp(
      databaseURL: try await server.createDatabase("restart"), logger: TestDatabase.quietLogger)
    try await app.applySchema()
    let calls = Recorder<Int64>()
    var tasks = TaskRegistry()
    try tasks.register("count") { _, context in
      calls.append(context.jobID)
      try await Task.sleep(for: .milliseconds(2))
    }
    let worker = Worker(app: app, tasks: tasks, options: .test(concurrency: 4, oneShot: false))
    let run = Task { try await worker.run() }
    let first = try await app.deferBatch((0..<700).map { _ in JobRequest(task: "count") })
    try await eventually(timeout: .seconds(120), "some jobs to run") { calls.count > 20 }
    try await server.restart()
    var second: [Int64] = []
    try await eventually(timeout: .seconds(60), "defer to work again") {
      do {
        second = try await app.deferBatch((0..<300).map { _ in JobRequest(task: "count") })
        return true
      } catch { return false }
    }
    do {
      try await eventually(timeout: .seconds(180), "all jobs to be done") {
        try await psql(
          app.databaseURL, "SELECT count(*) FROM procrastinate_jobs WHERE status <> 'succeeded'")
          == ["0"]
      }
    } catch {
      let stuck = try await psql(
        app.databaseURL,
        "SELECT id, status, attempts, worker_id FROM procrastinate_jobs WHERE status <> 'succeeded' LIMIT 5"
      )
      var histories: [String] = []
      for id in stuck.compactMap({ Int64($0.split(separator: "|")[0]) }) {
        histories.append("\(id): \(try await app.events(of: id))")
      }
      Issue.record("not all jobs ended: \(stuck) \(histories); ran: \(calls.count)")
      throw error
    }
    worker.stop()
    try await run.value
    #expect(
      try await psql(
        app.databaseURL, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'") == [
          "1000"
        ])
    // A fetch whose commit reached the server but whose answer was lost in the restart left
    // its jobs `doing`; the worker gives them back once reconnected. None may run twice,
    // and none may be lost.
    #expect(Set(calls.values) == Set(first + second))
    let twice = Dictionary(grouping: calls.values, by: { $0 }).filter { $0.value.count > 1 }.keys
    var histories: [String] = []
    for id in twice { histories.append("job \(id): \(try await app.events(of: id))") }
    #expect(twice.isEmpty, "ran twice: \(histories)")
  }

  @Test(
    "a backend terminated while the worker registers: the worker retries and starts, not throws"
  )
  func startsThroughALostConnection() async throws {
    let app = try await TestDatabase.app()
    // The first registration's backend terminates itself (a sequence is not rolled back).
    _ = try await app.query("CREATE SEQUENCE register_calls")
    _ = try await app.query(
      "ALTER FUNCTION procrastinate_register_worker_v1() RENAME TO original_register_worker")
    _ = try await app.query(
      """
      CREATE FUNCTION procrastinate_register_worker_v1() RETURNS TABLE(worker_id bigint)
      LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('register_calls') = 1 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
        RETURN QUERY SELECT * FROM original_register_worker();
      END $$
      """)
    let ran = Recorder<Int64>()
    var tasks = TaskRegistry()
    try tasks.register("once") { _, context in ran.append(context.jobID) }
    let id = try await app.deferBatchUntraced([JobRequest(task: "once")])[0]
    try await Worker(app: app, tasks: tasks, options: .test()).run()
    #expect(ran.values == [id])
    #expect(try await app.query("SELECT last_value FROM register_calls") == [["2"]])
  }
}

extension Recorder {
  func append(contentsOf values: [Value]) { for value in values { append(value) } }
}

@Suite("Worker signals", .serialized)
struct WorkerSignalTests {
  @Test("SIGTERM stops fetching, lets the running job finish, and the worker unregisters")
  func sigterm() async throws {
    let app = try await TestDatabase.app()
    let first = try await app.defer(task: "slow")
    let started = Recorder<Int64>()
    let gate = Gate()
    var tasks = TaskRegistry()
    try tasks.register("slow") { _, context in
      started.append(context.jobID)
      try await gate.wait()
    }
    var options = WorkerOptions.test(oneShot: false)
    options.installSignalHandlers = true
    let worker = Worker(app: app, tasks: tasks, options: options)
    let run = Task { try await worker.run() }
    try await eventually("the job to start") { started.values == [first] }
    // A job deferred now must not be fetched once the signal has arrived.
    kill(getpid(), SIGTERM)
    try await eventually("the worker to stop fetching") { worker.isStopRequested }
    let second = try await app.defer(task: "slow")
    gate.open()  // the running job ends only now: its slot cannot fetch `second`
    try await run.value
    #expect(try await app.jobRows() == ["\(first)|succeeded|1", "\(second)|todo|0"])
    #expect(try await psql(app.databaseURL, "SELECT count(*) FROM procrastinate_workers") == ["0"])
  }
}

@Suite("Worker aborts")
struct WorkerAbortTests {
  /// Runs a worker whose `long` task waits until cancelled; returns the job's end.
  static func abortRunningJob(
    listen: Bool, retry: RetryStrategy? = nil
  ) async throws -> (row: String, events: [String], elapsed: Duration) {
    let app = try await TestDatabase.app()
    let id = try await app.defer(task: "long")
    var tasks = TaskRegistry()
    try tasks.register("long", retry: retry) { _, _ in try await Task.sleep(for: .seconds(3600)) }
    let worker = Worker(
      app: app, tasks: tasks,
      options: .test(oneShot: false) {
        $0.listenNotify = listen
        // With LISTEN, only the NOTIFY (or the one look for aborts once LISTEN is in
        // place) can deliver the abort within the test's bound.
        $0.abortPollingInterval = listen ? .seconds(3600) : .milliseconds(200)
      })
    let run = Task { try await worker.run() }
    try await eventually("the job to start") { worker.runningJobCount == 1 }
    // With LISTEN: once it is in place, so that the NOTIFY, not the one look for aborts the
    // worker takes when LISTEN starts, is what delivers the abort.
    if listen { try await waitForListener(app) }
    let requested = ContinuousClock.now
    #expect(try await app.cancelJob(id: id, abort: true))
    var statuses: [String] = []
    try await eventually("the job to end", seen: { "\(statuses)" }) {
      statuses = try await psql(app.databaseURL, "SELECT status FROM procrastinate_jobs")
      return statuses.allSatisfy { $0 != "doing" }
    }
    let elapsed = ContinuousClock.now - requested
    worker.stop()
    try await run.value
    return (
      try await app.jobRows("status, attempts, abort_requested").first ?? "",
      try await app.events(of: id),
      elapsed
    )
  }

  @Test("an abort reaches the running job by NOTIFY; the job ends aborted")
  func notify() async throws {
    let result = try await Self.abortRunningJob(listen: true)
    #expect(result.row == "aborted|1|f")
    #expect(result.events.suffix(2) == ["abort_requested", "aborted"])
    // Far below the 3600 s abort polling: the NOTIFY delivered it.
    #expect(result.elapsed < .seconds(60), "the abort reached the job after \(result.elapsed)")
  }

  @Test("without LISTEN, polling finds the abort")
  func polling() async throws {
    let result = try await Self.abortRunningJob(listen: false)
    #expect(result.row == "aborted|1|f")
  }

  @Test("an aborted job with a retry strategy ends failed, not retried, as in Python")
  func withRetry() async throws {
    let result = try await Self.abortRunningJob(listen: true, retry: .attempts(3))
    #expect(result.row == "failed|0|t")
  }
}
