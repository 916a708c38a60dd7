import Foundation
import Logging
import ProcrastinateTesting
import Testing

@testable import Procrastinate

/// An outcome applies to the run it belongs to, and nothing gives back a job that a living
/// worker holds: a job whose handler ran never runs again because a connection died.
@Suite("Held jobs and guarded outcomes")
struct HeldJobsTests {
  /// One job, fetched by a registered worker: the store, the worker id and the fetched run.
  private static func fetchedJob(_ app: ProcrastinateApp) async throws -> (Int64, FetchedJob) {
    _ = try await app.deferBatchUntraced([JobRequest(task: "guarded")])
    let workerID = try await app.store.registerWorker()
    let job = try #require(try await app.store.fetchJob(queues: nil, workerID: workerID))
    return (workerID, job)
  }

  private static func write(_ app: ProcrastinateApp, _ completions: [Completion]) async throws
    -> [Int64]
  {
    var notEnded: [Int64] = []
    for write in JobSQL.outcomeWrites(completions) {
      notEnded += try await app.store.writeOutcome(write).map(\.jobID)
    }
    return notEnded
  }

  @Test(
    "an outcome sent again, or sent after its job moved on to another run, changes nothing and says which"
  )
  func guardedOutcomes() async throws {
    let app = try await TestDatabase.app()
    let (workerID, firstRun) = try await Self.fetchedJob(app)
    let retry = Completion(firstRun, .retry(at: Date()))
    #expect(try await Self.write(app, [retry]).isEmpty)
    #expect(try await app.jobRows() == ["\(firstRun.id)|todo|1"])
    // Sent again (its answer was lost): the job is left as the first write left it.
    #expect(try await Self.write(app, [retry]) == [firstRun.id])
    let afterRetry = try await app.store.jobStatuses(ids: [firstRun.id])[firstRun.id]
    #expect(OutcomeConflict(retry, now: afterRetry) == .alreadyRecorded)

    // The next run is under way: the first run's outcome, sent once more, must not end it.
    let secondRun = try #require(try await app.store.fetchJob(queues: nil, workerID: workerID))
    #expect(secondRun.row.attempts == 1)
    #expect(try await Self.write(app, [retry]) == [firstRun.id])
    #expect(try await app.jobRows() == ["\(firstRun.id)|doing|1"])
    let running = try await app.store.jobStatuses(ids: [firstRun.id])[firstRun.id]
    #expect(OutcomeConflict(retry, now: running) == .changedElsewhere)

    // Two finishes in one set-based write: the stale one is refused, the other applies.
    let _ = try await app.deferBatchUntraced([JobRequest(task: "guarded")])
    let other = try #require(try await app.store.fetchJob(queues: nil, workerID: workerID))
    let stale = Completion(firstRun, .finish(status: .failed, delete: false))
    let fresh = Completion(other, .finish(status: .succeeded, delete: false))
    #expect(
      JobSQL.outcomeWrites([stale, fresh]).map(\.statement.name) == [
        "procrastinate_swift_finish_many"
      ])
    #expect(try await Self.write(app, [stale, fresh]) == [firstRun.id])
    #expect(try await app.jobRows() == ["\(firstRun.id)|doing|1", "\(other.id)|succeeded|1"])

    // The second run's own outcome ends it; sent again, it is already recorded.
    let done = Completion(secondRun, .finish(status: .succeeded, delete: false))
    #expect(try await Self.write(app, [done]).isEmpty)
    #expect(try await Self.write(app, [done]) == [firstRun.id])
    let finished = try await app.store.jobStatuses(ids: [firstRun.id])[firstRun.id]
    #expect(OutcomeConflict(done, now: finished) == .alreadyRecorded)
    #expect(try await app.jobRows() == ["\(firstRun.id)|succeeded|2", "\(other.id)|succeeded|1"])
  }

  @Test("a refused outcome is logged with what happened to its job")
  func refusedOutcomeIsExplained() async throws {
    let app = try await TestDatabase.app()
    let (_, run) = try await Self.fetchedJob(app)
    let logs = LogRecorder()
    let completer = JobCompleter(
      store: app.store, batched: false,
      backoff: ReconnectBackoff(
        "recording job outcomes", ceiling: .milliseconds(100), logger: logs.logger()),
      giveUpWhileStopping: .seconds(1), logger: logs.logger(), onPending: {})
    // Someone else (an administrator, another worker's recovery) failed the job meanwhile.
    _ = try await app.query(
      "SELECT procrastinate_finish_job_v1($1, 'failed', false)", [String(run.id)])
    await completer.complete(Completion(run, .finish(status: .succeeded, delete: false))) {}
    let warnings = logs.messages(atLeast: .warning)
    #expect(warnings.count == 1, "\(logs.all.map(\.message))")
    #expect(
      warnings.first?.contains(
        "could not record the outcome of job \(run.id) (attempt 1) (succeeded): it is failed after 1 attempt(s)"
      )
        == true, "\(warnings)")
    #expect(await completer.unrecorded.isEmpty, "a refused outcome is not retried as unrecorded")
  }

  @Test(
    "a worker whose row was deleted while it runs a job registers again and takes the job back; its stalled-job recovery never gives the job back"
  )
  func heldJobSurvivesLostRegistration() async throws {
    let app = try await TestDatabase.app()
    let gate = Gate()
    let runs = Recorder<Int64>()
    var tasks = TaskRegistry()
    try tasks.register("held") { _, context in
      runs.append(context.jobID)
      try await gate.wait()
    }
    let worker = Worker(
      app: app, tasks: tasks,
      options: .test(oneShot: false) {
        $0.heartbeatInterval = .milliseconds(100)
        $0.stalledWorkerTimeout = .milliseconds(200)
        $0.retryStalledJobsEvery = .milliseconds(100)
      })
    let id = try await app.deferBatchUntraced([JobRequest(task: "held")])[0]
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await worker.run() }
      try await eventually("the job to start", seen: { "\(runs.values)" }) { runs.count == 1 }
      let first = try #require(worker.workerID)
      // As a prune by another worker would: the row goes, the job loses its worker id.
      _ = try await app.query("DELETE FROM procrastinate_workers WHERE id = $1", [String(first)])
      var rows: [[String?]] = []
      try await eventually(
        "the worker to register again and take its job back", seen: { "\(rows)" }
      ) {
        rows = try await app.query(
          "SELECT status::text, worker_id::text FROM procrastinate_jobs WHERE id = $1", [String(id)]
        )
        guard let now = worker.workerID, now != first else { return false }
        return rows == [["doing", String(now)]]
      }
      // Stalled-job recovery runs every 100 ms: let a few rounds pass while the job runs, up
      // to a heartbeat half a second after the job was taken back.
      let reclaimed = try await app.query("SELECT now()::text")
      try await eventually("a heartbeat 500 ms after the job was taken back") {
        try await app.query(
          "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > $1::timestamptz + interval '500 milliseconds'",
          [reclaimed.first?[0] ?? ""]) == [["1"]]
      }
      #expect(try await app.events(of: id) == ["deferred", "started"], "never given back")
      gate.open()
      try await eventually("the job to succeed") {
        try await app.jobRows("status, attempts") == ["succeeded|1"]
      }
      worker.stop()
      try await group.waitForAll()
    }
    #expect(runs.values == [id], "it ran once")
    #expect(try await app.events(of: id) == ["deferred", "started", "succeeded"])
  }

  @Test(
    "a retry written by the fetch that takes the job back is a new run: orphan checks after every heartbeat never give back the job while it runs",
    arguments: [1, 3])
  func retriedAndFetchedTogether(concurrency: Int) async throws {
    let app = try await TestDatabase.app()
    let retries = 60
    let id = try await app.defer(task: "flaky")
    let attempts = Recorder<Int>()
    var tasks = TaskRegistry()
    try tasks.register("flaky", retry: .attempts(retries)) { _, context in
      attempts.append(context.attempts)
      // Long enough for a few heartbeats, each of which makes an orphan check due.
      try await Task.sleep(for: .milliseconds(10))
      throw TaskFailure(description: "attempt \(context.attempts)")
    }
    try await Worker(
      app: app, tasks: tasks,
      options: .test(concurrency: concurrency) { $0.heartbeatInterval = .milliseconds(2) }
    )
    .run()
    #expect(attempts.values == Array(0...retries), "each attempt ran once, in order")
    #expect(try await app.jobRows() == ["\(id)|failed|\(retries + 1)"])
    let events = try await app.events(of: id)
    #expect(events.filter { $0 == "deferred_for_retry" }.count == retries)
    #expect(events.filter { $0 == "started" }.count == retries + 1)
  }
}

extension HeldJobsTests {
  @Test(
    "a one-shot worker gives back a job left doing under its id by a fetch whose answer was lost, and runs it before it stops",
    arguments: [WorkerOptions.FetchStrategy.batched, .perJob])
  func oneShotGivesBackLostFetch(strategy: WorkerOptions.FetchStrategy) async throws {
    let app = try await TestDatabase.app()
    let gate = Gate()
    let runs = Recorder<String>()
    var tasks = TaskRegistry()
    try tasks.register("blocker") { _, _ in
      runs.append("blocker")
      try await gate.wait()
    }
    try tasks.register("lost") { _, _ in runs.append("lost") }
    let blocker = try await app.defer(task: "blocker")
    let worker = Worker(app: app, tasks: tasks, options: .test(strategy: strategy))
    var lost: Int64 = 0
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await worker.run() }
      try await eventually("the blocker to start", seen: { "\(runs.values)" }) { runs.count == 1 }
      let workerID = try #require(worker.workerID)
      // Its only slot is busy: it fetches nothing until the blocker ends. What a fetch whose
      // answer was lost leaves behind: a job `doing` under this worker, which never saw it.
      lost = try await app.defer(task: "lost")
      _ = try await app.query(
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = $1::bigint WHERE id = $2::bigint",
        [String(workerID), String(lost)])
      gate.open()
      try await group.waitForAll()
    }
    #expect(runs.values == ["blocker", "lost"], "the lost job ran, once")
    #expect(try await app.jobRows() == ["\(blocker)|succeeded|1", "\(lost)|succeeded|2"])
    let events = try await app.events(of: lost)
    #expect(
      events == ["deferred", "started", "scheduled", "deferred_for_retry", "started", "succeeded"])
  }
}

@Suite("Worker bookkeeping")
struct WorkerStateUnitTests {
  @Test("a run that ends after its job was fetched again leaves the new run held")
  func endedRunKeepsNewerRun() {
    var state = WorkerState()
    let first = Task<Void, Never> {}
    let second = Task<Void, Never> {}
    state.started(jobID: 7, attempts: 0, task: first)
    state.started(jobID: 7, attempts: 1, task: second)
    state.ended(jobID: 7, attempts: 0)
    #expect(state.running[7]?.attempts == 1, "the run fetched again is still held")
    #expect(state.orphans(among: [7], unrecorded: [], generation: state.fetchGeneration) == [])
    state.ended(jobID: 7, attempts: 1)
    #expect(state.running.isEmpty && state.endedGeneration == 2)
  }
}

@Suite("Outcome conflicts")
struct OutcomeConflictUnitTests {
  private static func completion(attempts: Int, _ action: Completion.Action) -> Completion {
    Completion(jobID: 7, attempts: attempts, task: "guarded", queue: "default", action: action)
  }

  @Test("what the job's row says of a refused outcome")
  func classification() {
    let succeeded = Self.completion(attempts: 2, .finish(status: .succeeded, delete: false))
    #expect(OutcomeConflict(succeeded, now: (.succeeded, 3)) == .alreadyRecorded)
    #expect(OutcomeConflict(succeeded, now: (.succeeded, 4)) == .changedElsewhere)
    #expect(OutcomeConflict(succeeded, now: (.failed, 3)) == .changedElsewhere)
    #expect(OutcomeConflict(succeeded, now: (.todo, 3)) == .changedElsewhere)
    #expect(OutcomeConflict(succeeded, now: nil) == .gone)
    let deleted = Self.completion(attempts: 0, .finish(status: .succeeded, delete: true))
    #expect(OutcomeConflict(deleted, now: nil) == .alreadyRecorded)
    #expect(OutcomeConflict(deleted, now: (.doing, 1)) == .changedElsewhere)
    let retry = Self.completion(attempts: 0, .retry(at: Date()))
    #expect(OutcomeConflict(retry, now: (.todo, 1)) == .alreadyRecorded)
    #expect(OutcomeConflict(retry, now: (.doing, 1)) == .changedElsewhere)
    #expect(OutcomeConflict(retry, now: nil) == .gone)
    #expect(OutcomeConflict.alreadyRecorded.level == .info)
    #expect(OutcomeConflict.changedElsewhere.level == .warning)
    #expect(
      OutcomeConflict.changedElsewhere.message(succeeded, now: (.failed, 3)).hasPrefix(
        "could not record the outcome of job 7 (attempt 3) (succeeded): it is failed after 3 attempt(s)"
      ))
  }
}
