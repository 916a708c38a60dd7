import Dispatch
import Foundation
import Logging
import Synchronization

/// A job as fetched from `procrastinate_jobs`.
struct FetchedJob: Sendable {
  var id: Int64
  var taskName: String
  var queueName: String
  var priority: Int32
  var lock: String?
  var queueingLock: String?
  var arguments: String
  var scheduledAt: Date?
  var attempts: Int
  var workerID: Int64?
  /// When the job was last put in `todo`: deferred, or sent back for a retry.
  var deferredAt: Date?

  /// Reads a row in ``JobSQL/jobColumns`` order; nil for the NULL row of an empty fetch.
  init?(row: QueryResult.Row) {
    guard let id = row.int64(0), let taskName = row.string(1), let queueName = row.string(2) else {
      return nil
    }
    self.id = id
    self.taskName = taskName
    self.queueName = queueName
    self.priority = Int32(row.int(3) ?? 0)
    self.lock = row.string(4)
    self.queueingLock = row.string(5)
    self.arguments = row.string(6) ?? "{}"
    self.scheduledAt = row.date(7)
    self.attempts = row.int(8) ?? 0
    self.workerID = row.int64(9)
    self.deferredAt = row.date(10)
  }
}

/// Fetches jobs from procrastinate's tables and runs the registered task for each.
///
/// A worker registers itself in `procrastinate_workers`, heartbeats, sets `worker_id` on
/// the jobs it takes, wakes on the NOTIFY channels Python uses (with polling as a fallback)
/// and unregisters when it stops, as a Python worker does, so both can share a database.
///
/// ```swift
/// let worker = Worker(app: app, tasks: tasks, options: WorkerOptions(queues: ["default"], concurrency: 10))
/// try await worker.run()   // until SIGINT/SIGTERM, `stop()`, or (one-shot) an empty queue
/// ```
public final class Worker: Sendable {
  private struct State {
    var stopping = false
    var workerID: Int64?
    /// Jobs fetched and not yet written back, with the task running each.
    var running: [Int64: Task<Void, Never>] = [:]
    /// Jobs whose handler is still executing: these hold the concurrency slots. A job whose
    /// handler returned frees its slot while its outcome is being written.
    var executing = 0
    /// Slots reserved by fetches in flight.
    var reserved = 0
    /// Counts fetches started, so an orphan check knows no fetch overlapped it.
    var fetchGeneration = 0
    /// A fetch failed on the connection: it may have committed without us seeing its jobs.
    var orphanCheckPending = false
    /// One loop is giving orphans back; the others do not start the same check.
    var orphanCheckRunning = false
    /// Counts jobs written back, so a one-shot fetch that found nothing knows whether a
    /// job ended (and may have gone back to `todo`) while it was in flight.
    var endedGeneration = 0
    /// Running jobs are to be cancelled now, not after `shutdownTimeout`.
    var abortRunning = false
  }

  public let app: ProcrastinateApp
  public let tasks: TaskRegistry
  public let options: WorkerOptions
  let logger: Logger
  /// The app's database settings, with the worker's response timeout.
  private let database: DatabaseSettings
  private let pool: ConnectionPool
  private let completer: JobCompleter
  private let state = Mutex(State())
  /// A job may be available, an outcome waits to be written, or the worker is stopping.
  private let jobAvailable: Wakeup
  /// A running job ended, or its outcome waits to be written.
  private let jobEnded: Wakeup
  /// Paces fetching, and listening, while the database cannot be reached.
  private let fetching: ReconnectBackoff
  private let listening: ReconnectBackoff

  public init(app: ProcrastinateApp, tasks: TaskRegistry, options: WorkerOptions = WorkerOptions())
  {
    self.app = app
    self.tasks = tasks
    self.options = options
    var logger = app.logger
    logger[metadataKey: "worker"] = "\(options.name)"
    self.logger = logger
    // per-job: one connection per slot plus one for heartbeats; batched: fetch, finish, heartbeat.
    let connections = options.fetchStrategy == .perJob ? max(options.concurrency, 1) + 1 : 3
    var database = app.database
    if database.responseTimeout == nil { database.responseTimeout = options.responseTimeout }
    self.database = database
    self.pool = ConnectionPool(settings: database, maximumConnections: connections)
    let jobAvailable = Wakeup()
    let jobEnded = Wakeup()
    self.jobAvailable = jobAvailable
    self.jobEnded = jobEnded
    self.fetching = ReconnectBackoff(
      "fetching jobs", ceiling: options.reconnectDelay, logger: logger)
    self.listening = ReconnectBackoff(
      "listening for new jobs", ceiling: options.reconnectDelay, logger: logger)
    self.completer = JobCompleter(
      pool: pool, batched: options.fetchStrategy == .batched,
      backoff: ReconnectBackoff(
        "recording job outcomes", ceiling: options.reconnectDelay, logger: logger),
      giveUpWhileStopping: database.responseTimeout ?? options.responseTimeout, logger: logger,
      onPending: {
        jobAvailable.signal()
        jobEnded.signal()
      })
  }

  /// The id of this worker in `procrastinate_workers`, once registered.
  public var workerID: Int64? { state.withLock { $0.workerID } }

  /// The number of jobs fetched by this worker and not yet written back.
  public var runningJobCount: Int { state.withLock { $0.running.count } }

  /// Reserves up to `limit` free slots for a batched fetch: concurrency minus executing
  /// handlers and fetches in flight, and never so many that more than twice the concurrency
  /// waits on outcome writes (back-pressure when the database is slow).
  private func reserveSlots(limit: Int) -> Int {
    state.withLock { state in
      let free = min(
        options.concurrency - state.executing - state.reserved,
        2 * options.concurrency - state.running.count - state.reserved)
      let granted = max(0, min(free, limit))
      state.reserved += granted
      if granted > 0 { state.fetchGeneration += 1 }
      return granted
    }
  }

  /// Stops fetching; running jobs finish (up to `shutdownTimeout`), then `run()` returns.
  public func stop() {
    let first = state.withLock { state -> Bool in
      defer { state.stopping = true }
      return !state.stopping
    }
    if first { logger.info("stopping: no new jobs will be fetched") }
    completer.workerStopping()
    jobAvailable.close()
    jobEnded.signal()
  }

  /// Stops fetching and cancels the running jobs without waiting for `shutdownTimeout`
  /// (they end `aborted`, or are retried if their strategy says so): what cancelling
  /// ``run()`` does.
  func stopNow() {
    state.withLock { $0.abortRunning = true }
    stop()
  }

  /// Whether `stop()` was called or a stop signal arrived.
  public var isStopRequested: Bool { isStopping }

  private var isStopping: Bool { state.withLock { $0.stopping } }

  /// The worker's whole life, from the schema check to unregistering; ``run()`` adds how it
  /// is told to stop (signals, graceful shutdown, cancellation).
  func runUntilStopped() async throws {
    // A database without procrastinate's schema gets one clear error, not a missing function.
    let schema = try await app.checkSchema()
    guard schema.isComplete else {
      throw IncompleteSchemaError(missing: schema.missing, isAbsent: schema.isAbsent)
    }
    let pruned = try await pool.execute(
      WorkerSQL.pruneStalledWorkers, [String(Self.seconds(options.stalledWorkerTimeout))])
    if !pruned.rows.isEmpty {
      logger.info("pruned stalled workers \(pruned.rows.compactMap { $0.int64(0) })")
    }
    let workerID = try await register()
    logger.info(
      "worker \(workerID) started: queues \(options.queues.map { $0.joined(separator: ", ") } ?? "all"), concurrency \(options.concurrency), tasks \(tasks.taskNames.joined(separator: ", "))"
    )

    await withTaskGroup(of: Void.self) { side in
      side.addTask { await self.heartbeatLoop() }
      side.addTask { await self.abortPollingLoop() }
      let periodic = tasks.periodic
      if options.deferPeriodicTasks && !periodic.isEmpty {
        side.addTask { await self.periodicDeferrerLoop(periodic) }
      }
      if let every = options.retryStalledJobsEvery {
        side.addTask { await self.stalledJobsLoop(every: every) }
      }
      if options.listenNotify { side.addTask { await self.listenLoop() } }

      switch options.fetchStrategy {
      case .batched:
        await batchedFetchLoops()
      case .perJob:
        await withTaskGroup(of: Void.self) { slots in
          for _ in 0..<options.concurrency { slots.addTask { await self.perJobSlotLoop() } }
        }
      }
      await drainRunningJobs()
      side.cancelAll()
    }

    if let workerID = self.workerID {
      do {
        try await pool.execute(WorkerSQL.unregister, [String(workerID)])
      } catch {
        logger.warning("could not unregister worker \(workerID): \(error)")
      }
    }
    await pool.close()
    logger.info("worker \(workerID) stopped")
  }

  private func register() async throws -> Int64 {
    let result = try await pool.execute(WorkerSQL.register)
    guard let id = result.rows.first?.int64(0) else {
      throw DatabaseError(
        kind: .statement, message: "procrastinate_register_worker_v1 returned no id",
        context: "register_worker")
    }
    state.withLock { $0.workerID = id }
    return id
  }

  /// After our row was pruned (its jobs lost their `worker_id`), registers anew and takes
  /// back the jobs still running here, so nobody counts them as stalled and aborts reach them.
  private func registerAgain() async {
    guard let id = try? await register() else { return }
    let running = state.withLock { Array($0.running.keys) }
    if running.isEmpty { return }
    _ = try? await pool.execute(
      WorkerSQL.reclaimRunning, [String(id), PostgresArray.literal(running.map { String($0) })])
  }

  // MARK: - Fetching

  private var queuesParameter: String? { options.queues.map { PostgresArray.literal($0) } }

  /// Batched fetching: `fetchers` loops (two when concurrency allows, so that the database
  /// works on two transactions at once), each fetching up to its share of the free slots
  /// and writing the outcomes that wait, in one transaction per round trip.
  private func batchedFetchLoops() async {
    let fetchers = min(2, options.concurrency)
    let share = options.concurrency
    await withTaskGroup(of: Void.self) { group in
      for _ in 0..<fetchers { group.addTask { await self.batchedFetchLoop(share: share) } }
    }
    await completer.flush()
  }

  private func batchedFetchLoop(share: Int) async {
    while !isStopping {
      // Jobs that end together are fetched for together: let handlers that are ready to
      // return do so before counting free slots, rather than fetching one job per wake-up.
      await Task.yield()
      await recoverOrphansIfNeeded()
      let reserved = reserveSlots(limit: share)
      let outcomes = await completer.takePending()
      if reserved == 0 && outcomes.isEmpty {
        await jobEnded.wait(timeout: options.pollingInterval)
        continue
      }
      let ended = state.withLock { $0.endedGeneration }
      let ticket = jobAvailable.ticket()
      let jobs = await fetchAndFinish(limit: reserved, outcomes: outcomes)
      logger.debug(
        "wrote \(outcomes.count) outcome(s), fetched \(jobs.map { String($0.count) } ?? "no") job(s) for \(reserved) free slot(s)"
      )
      start(jobs ?? [], releasing: reserved)
      if reserved > 0 && jobs?.isEmpty == true {
        if options.oneShot && nothingInFlight(since: ended) {
          if !isStopping { logger.info("no job left to fetch; stopping (one-shot)") }
          stop()
          break
        }
        await jobAvailable.wait(after: ticket, timeout: options.pollingInterval)
      }
    }
  }

  /// Writes `outcomes` and fetches up to `limit` jobs in one transaction and one round trip.
  /// Nil after an error (logged; the outcomes are then written on their own, never lost).
  private func fetchAndFinish(limit: Int, outcomes: [JobCompleter.Waiting]) async -> [FetchedJob]? {
    guard let workerID = self.workerID else { return nil }
    let writes = JobSQL.outcomeWrites(outcomes.map(\.completion))
    var steps = writes.map { ($0.statement, $0.parameters) }
    if limit > 0 {
      steps.append((JobSQL.fetchMany, [queuesParameter, String(workerID), String(limit)]))
    }
    do {
      let statements = steps
      let fetchStarted = ContinuousClock.now
      let results = try await pool.withConnection { try await $0.transaction(statements) }
      fetching.succeeded()
      if limit > 0 {
        QueueMetrics.fetched(strategy: "batched", duration: ContinuousClock.now - fetchStarted)
      }
      for (write, result) in zip(writes, results) { completer.reportUnfinished(write, result) }
      for outcome in outcomes { outcome.continuation.resume() }
      return limit > 0 ? (results.last?.rows ?? []).compactMap(FetchedJob.init(row:)) : []
    } catch {
      if !outcomes.isEmpty { await completer.persistAndResume(outcomes) }
      if let error = error as? DatabaseError, error.sqlState == "23503" {
        logger.warning("worker \(workerID) was unregistered by someone else; registering again")
        await registerAgain()
      } else if !outcomes.isEmpty, let error = error as? DatabaseError, error.kind == .statement {
        // An outcome could not be written with the fetch; it was written on its own above.
      } else {
        let wait = fetching.failed(error)
        state.withLock { $0.orphanCheckPending = true }
        // Outcomes written on their own above waited out the outage with their own
        // backoff: waiting again would stack the two (up to twice `reconnectDelay`).
        if outcomes.isEmpty { await jobAvailable.wait(timeout: wait) }
      }
      return nil
    }
  }

  private func perJobSlotLoop() async {
    while !isStopping {
      // The slot is reserved while its fetch is in flight, so a one-shot sibling that
      // finds nothing meanwhile does not take this job for "nothing left".
      await recoverOrphansIfNeeded()
      let ended = state.withLock { state -> Int in
        state.reserved += 1
        state.fetchGeneration += 1
        return state.endedGeneration
      }
      let ticket = jobAvailable.ticket()
      let jobs = await fetch(JobSQL.fetchOne, extra: [])
      guard let job = jobs?.first else {
        state.withLock { $0.reserved -= 1 }
        guard jobs != nil else { continue }
        if options.oneShot && nothingInFlight(since: ended) {
          if !isStopping { logger.info("no job left to fetch; stopping (one-shot)") }
          stop()
          break
        }
        // A job that ended, or a NOTIFY, while this slot was fetching wakes it at once.
        await jobAvailable.wait(after: ticket, timeout: options.pollingInterval)
        continue
      }
      for task in start([job], releasing: 1) { await task.value }
    }
  }

  /// Fetches jobs; nil after an error (already logged and waited out).
  private func fetch(_ statement: Statement, extra: [String?]) async -> [FetchedJob]? {
    guard let workerID = self.workerID else { return nil }
    do {
      let fetchStarted = ContinuousClock.now
      let result = try await pool.execute(statement, [queuesParameter, String(workerID)] + extra)
      fetching.succeeded()
      QueueMetrics.fetched(strategy: "per_job", duration: ContinuousClock.now - fetchStarted)
      return result.rows.compactMap(FetchedJob.init(row:))
    } catch let error as DatabaseError where error.sqlState == "23503" {
      // Our worker row is gone (pruned by another worker that saw no heartbeat): register again.
      logger.warning("worker \(workerID) was unregistered by someone else; registering again")
      await registerAgain()
      return nil
    } catch {
      let wait = fetching.failed(error)
      state.withLock { $0.orphanCheckPending = true }
      await jobAvailable.wait(timeout: wait)
      return nil
    }
  }

  /// After a fetch failed on the connection, its transaction may still have committed: its
  /// jobs are `doing` with our worker id, and nobody would ever run them. Once no other
  /// fetch is in flight, one loop lists the jobs `doing` under our id; if no fetch started
  /// meanwhile (the fetch generation is unchanged), those we do not hold are orphans and go
  /// back to `todo` (`procrastinate_retry_job_v2`, as stalled-job recovery does), each only
  /// while it is still `doing` under our id. A job that finished meanwhile is left alone.
  private func recoverOrphansIfNeeded() async {
    guard let workerID,
      let generation = state.withLock({ state -> Int? in
        guard state.orphanCheckPending, !state.orphanCheckRunning, state.reserved == 0 else {
          return nil
        }
        state.orphanCheckRunning = true
        return state.fetchGeneration
      })
    else { return }
    defer { state.withLock { $0.orphanCheckRunning = false } }
    let doing: [Int64]
    do {
      doing = try await pool.execute(JobSQL.doingJobsOfWorker, [String(workerID)]).rows
        .compactMap { $0.int64(0) }
    } catch {
      return  // still unreachable: try again on the next round
    }
    let unrecorded = await completer.unrecorded
    let orphans = state.withLock { state -> [Int64]? in
      guard state.reserved == 0, state.fetchGeneration == generation else { return nil }
      state.orphanCheckPending = false
      return doing.filter { state.running[$0] == nil && !unrecorded.contains($0) }
    }
    for id in orphans ?? [] {
      // Its outcome may have failed to record since the list was made: it ran, leave it.
      if await completer.unrecorded.contains(id) { continue }
      do {
        let result = try await pool.execute(
          JobSQL.retryOrphan, [String(id), String(Date().timeIntervalSince1970), String(workerID)])
        if !result.rows.isEmpty {
          logger.warning(
            "job \(id) was fetched by a transaction whose answer was lost with the connection; it is back in todo"
          )
        }
      } catch {
        state.withLock { $0.orphanCheckPending = true }
        return
      }
    }
  }

  // MARK: - Running

  /// Starts fetched jobs and gives back the slots reserved for the fetch, in one step.
  @discardableResult
  private func start(_ jobs: [FetchedJob], releasing reserved: Int) -> [Task<Void, Never>] {
    state.withLock { state in
      state.reserved -= reserved
      return jobs.map { job in
        let task = Task { await self.process(job) }
        state.running[job.id] = task
        state.executing += 1
        return task
      }
    }
  }

  private func process(_ job: FetchedJob) async {
    let completion = await execute(job)
    await completer.complete(completion) {
      self.state.withLock { $0.executing -= 1 }
      self.jobEnded.signal()
    }
    state.withLock { state in
      _ = state.running.removeValue(forKey: job.id)
      state.endedGeneration += 1
    }
    jobEnded.signal()
    // A one-shot worker decides to stop only when nothing of its own is in flight.
    if options.oneShot { jobAvailable.signal() }
  }

  /// One-shot: a fetch found nothing. Stop when no job of this worker is running, waiting
  /// to be written, or being fetched by the other loop, and none ended since that fetch
  /// started: a job retried now can be fetched again, and a fetch whose snapshot predates
  /// the retry would not have seen it, so "nothing left" means nothing left at all.
  private func nothingInFlight(since ended: Int) -> Bool {
    state.withLock { $0.running.isEmpty && $0.reserved == 0 && $0.endedGeneration == ended }
  }

  /// Runs the job's task and decides its outcome.
  private func execute(_ job: FetchedJob) async -> Completion {
    var logger = self.logger
    logger[metadataKey: "job_id"] = "\(job.id)"
    logger[metadataKey: "task"] = "\(job.taskName)"
    let deleteFinal = options.deleteJobs == .always
    guard let task = tasks[job.taskName] else {
      logger.error(
        "job \(job.id) failed: unknown task '\(job.taskName)': no handler is registered under this name in this worker (registered: \(tasks.taskNames.joined(separator: ", ")))"
      )
      return .finish(jobID: job.id, status: .failed, delete: deleteFinal)
    }
    let context = JobContext(
      jobID: job.id, taskName: job.taskName, queueName: job.queueName, attempts: job.attempts,
      workerID: job.workerID ?? workerID ?? 0, scheduledAt: job.scheduledAt, priority: job.priority,
      lock: job.lock, queueingLock: job.queueingLock, deferredAt: job.deferredAt, logger: logger,
      app: app)
    QueueMetrics.jobStarted(task: job.taskName, queue: job.queueName, wait: context.queueWait())
    let started = ContinuousClock.now
    func finished(_ outcome: String) {
      QueueMetrics.jobFinished(
        task: job.taskName, queue: job.queueName, outcome: outcome,
        duration: ContinuousClock.now - started)
    }
    do {
      try await task.handler(JobArguments(trustedJSON: job.arguments), context)
      logger.debug("job \(job.id) succeeded in \(ContinuousClock.now - started)")
      finished("succeeded")
      return .finish(jobID: job.id, status: .succeeded, delete: options.deleteJobs != .never)
    } catch {
      let aborted = error is CancellationError || Task.isCancelled
      let what = aborted ? "was aborted" : "failed"
      if let delay = task.retry?.retryDelay(attempts: job.attempts, error: error) {
        logger.warning(
          "job \(job.id) \(what) (attempt \(job.attempts + 1)): \(error); retrying in \(delay)s")
        finished("retried")
        return .retry(jobID: job.id, at: Date().addingTimeInterval(delay))
      }
      logger.error("job \(job.id) \(what) (attempt \(job.attempts + 1)): \(error)")
      finished(aborted ? "aborted" : "failed")
      return .finish(jobID: job.id, status: aborted ? .aborted : .failed, delete: deleteFinal)
    }
  }

  /// Waits for running jobs; past `shutdownTimeout` cancels them (they end aborted).
  private func drainRunningJobs() async {
    let deadline = options.shutdownTimeout.map { ContinuousClock.now + $0 }
    var cancelled = false
    while runningJobCount > 0 {
      await completer.flush()
      let timedOut = deadline.map { ContinuousClock.now >= $0 } ?? false
      if !cancelled, timedOut || state.withLock({ $0.abortRunning }) {
        let tasks = state.withLock { Array($0.running.values) }
        logger.warning(
          "\(timedOut ? "shutdown timeout reached" : "worker cancelled"): aborting \(tasks.count) running job(s)"
        )
        for task in tasks { task.cancel() }
        cancelled = true
      }
      let wait =
        deadline.map { max(.milliseconds(10), min($0 - ContinuousClock.now, .seconds(1))) }
        ?? .seconds(1)
      await jobEnded.wait(timeout: cancelled ? .seconds(1) : wait)
    }
  }

  // MARK: - Side loops

  /// The job id of an `{"type": "abort_job_requested", "job_id": 123}` notification.
  static func abortRequest(in notification: PostgresNotification) -> Int64? {
    guard notification.payload.contains("abort_job_requested"),
      let object = try? JSONDecoder().decode(
        [String: JSONValue].self, from: Data(notification.payload.utf8)),
      object["type"] == .string("abort_job_requested"), case .int(let id) = object["job_id"]
    else { return nil }
    return id
  }

  /// Cancels the Swift tasks running `jobIDs` (those this worker runs): the handler sees
  /// cancellation, and the job ends `aborted`, or `failed` if its retry strategy asks to
  /// retry (procrastinate_retry_job_v2 refuses to retry an abort), as with Python.
  private func abort(_ jobIDs: [Int64], how: String) {
    let tasks = state.withLock { state in
      jobIDs.compactMap { id in state.running[id].map { (id, $0) } }
    }
    for (id, task) in tasks where !task.isCancelled {
      logger.warning("abort requested for job \(id) (\(how)): cancelling it")
      task.cancel()
    }
  }

  /// While jobs run, looks for aborts requested on them every `abortPollingInterval`, in
  /// case a NOTIFY was missed (or LISTEN is off).
  private func abortPollingLoop() async {
    while !Task.isCancelled {
      try? await Task.sleep(for: options.abortPollingInterval)
      guard !Task.isCancelled, let workerID, runningJobCount > 0 else { continue }
      do {
        let ids = try await pool.execute(WorkerSQL.jobsToAbort, [String(workerID)]).rows
          .compactMap { $0.int64(0) }
        if !ids.isEmpty { abort(ids, how: "polling") }
      } catch {
        logger.debug("looking for aborts failed: \(error)")
      }
    }
  }

  /// Gives back jobs stalled under dead or silent workers, every `every`.
  private func stalledJobsLoop(every: Duration) async {
    while !Task.isCancelled {
      try? await Task.sleep(for: every)
      guard !Task.isCancelled else { return }
      do {
        let retried = try await app.retryStalledJobs(
          heartbeatTimeout: options.stalledWorkerTimeout, excludingWorker: workerID)
        if !retried.isEmpty {
          logger.warning("gave back \(retried.count) stalled job(s): \(retried)")
        }
      } catch {
        logger.warning("looking for stalled jobs failed: \(error)")
      }
    }
  }

  private func heartbeatLoop() async {
    while !Task.isCancelled {
      try? await Task.sleep(for: options.heartbeatInterval)
      guard !Task.isCancelled, let workerID else { return }
      do {
        try await pool.execute(WorkerSQL.heartbeat, [String(workerID)])
        // A fetch given up on (its answer never came) may still reach the server and commit
        // later, once a stalled network forwards it: its jobs would be `doing` under our id
        // with nobody running them. So the orphan check also runs once per heartbeat, not
        // only right after a failed fetch.
        state.withLock { $0.orphanCheckPending = true }
      } catch {
        logger.warning("heartbeat failed: \(error)")
      }
    }
  }

  /// LISTENs on procrastinate's channels on its own connection and wakes the fetch loop.
  /// When the connection is lost it reconnects and wakes the loop once, since
  /// notifications may have been missed meanwhile.
  private func listenLoop() async {
    let channels =
      options.queues.map { $0.map(WorkerSQL.queueChannel) } ?? [WorkerSQL.anyQueueChannel]
    while !Task.isCancelled {
      var connection: PostgresConnection?
      do {
        let listener = try await PostgresConnection.connect(database)
        connection = listener
        for channel in channels {
          try await listener.query(
            "LISTEN \(PostgresConnection.quoteIdentifier(channel))", context: "listen")
        }
        listening.succeeded()
        jobAvailable.signal()
        var quiet = Duration.zero
        while !Task.isCancelled {
          let received = try await withTaskCancellationHandler {
            try await listener.notifications(timeout: .milliseconds(500))
          } onCancel: {
            listener.interruptWait()
          }
          if received.isEmpty {
            quiet += .milliseconds(500)
            if quiet >= .seconds(30) {
              try await listener.query("SELECT 1", context: "listen keepalive")
              quiet = .zero
            }
            continue
          }
          quiet = .zero
          if received.contains(where: { $0.payload.contains("job_inserted") }) {
            jobAvailable.signal()
          }
          let aborts = received.compactMap(Self.abortRequest(in:))
          if !aborts.isEmpty { abort(aborts, how: "NOTIFY") }
        }
      } catch {
        if Task.isCancelled { break }
        let wait = listening.failed(error)
        jobAvailable.signal()
        try? await Task.sleep(for: wait)
      }
      await connection?.close()
    }
  }

  static func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
  }
}
