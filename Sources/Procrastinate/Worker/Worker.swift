import Logging
import ProcrastinateConcurrency
import Synchronization

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
///
/// Its parts, one file each: fetching (`JobFetching.swift`, both strategies), running a job
/// and deciding its outcome (`JobExecution.swift`), writing outcomes (`JobCompleter.swift`),
/// registration and heartbeat (`WorkerRegistration.swift`), jobs lost with a connection
/// (`OrphanRecovery.swift`), the background loops (`WorkerLoops.swift`,
/// `PeriodicDeferrer.swift`), stopping (`WorkerShutdown.swift`) and how `run()` is told to
/// stop (`WorkerLifecycle.swift`). Every statement goes through `QueueStore`.
public final class Worker: Sendable {
  /// The app the worker runs for; handlers get it as ``JobContext/app``.
  public let app: ProcrastinateApp
  /// The tasks the worker runs, and the periodic schedules it defers.
  public let tasks: TaskRegistry
  /// How the worker fetches and runs jobs.
  public let options: WorkerOptions
  let logger: Logger
  /// The worker's own pool (the app's settings, with the worker's response timeout).
  let store: QueueStore
  let completer: JobCompleter
  let state = Mutex(WorkerState())
  /// A job may be available, an outcome waits to be written, or the worker is stopping.
  let jobAvailable: Wakeup
  /// A running job ended, or its outcome waits to be written.
  let jobEnded: Wakeup
  /// Paces fetching, and listening, while the database cannot be reached.
  let fetching: ReconnectBackoff
  let listening: ReconnectBackoff
  let heartbeating: ReconnectBackoff

  /// A worker on `app`'s database, with a pool of its own; it starts with ``run()``.
  public init(app: ProcrastinateApp, tasks: TaskRegistry, options: WorkerOptions = WorkerOptions())
  {
    self.app = app
    self.tasks = tasks
    self.options = options
    var logger = app.logger
    logger[metadataKey: "worker"] = "\(options.name)"
    self.logger = logger
    var database = app.database
    if database.responseTimeout == nil { database.responseTimeout = options.responseTimeout }
    self.store = QueueStore(
      pool: ConnectionPool(settings: database, maximumConnections: Self.connections(for: options)))
    let jobAvailable = Wakeup()
    let jobEnded = Wakeup()
    self.jobAvailable = jobAvailable
    self.jobEnded = jobEnded
    self.fetching = ReconnectBackoff(
      "fetching jobs", ceiling: options.reconnectDelay, logger: logger)
    self.listening = ReconnectBackoff(
      "listening for new jobs", ceiling: options.reconnectDelay, logger: logger)
    self.heartbeating = ReconnectBackoff(
      "sending heartbeats", ceiling: options.reconnectDelay, logger: logger)
    self.completer = JobCompleter(
      store: store, batched: options.fetchStrategy == .batched,
      backoff: ReconnectBackoff(
        "recording job outcomes", ceiling: options.reconnectDelay, logger: logger),
      giveUpWhileStopping: database.responseTimeout ?? options.responseTimeout, logger: logger,
      onPending: {
        jobAvailable.signal()
        jobEnded.signal()
      })
  }

  /// The pool's size. Per job: one connection per slot, plus one shared by the heartbeat,
  /// abort polling and orphan checks. Batched: three, shared by the (at most two) fetch
  /// loops, outcomes written on their own, the heartbeat, abort polling and orphan checks;
  /// each holds one for a round trip only. The listener opens a connection of its own;
  /// stalled-job recovery and periodic defers use the app's pool.
  private static func connections(for options: WorkerOptions) -> Int {
    options.fetchStrategy == .perJob ? max(options.concurrency, 1) + 1 : 3
  }

  /// The id of this worker in `procrastinate_workers`, once registered.
  public var workerID: Int64? { state.withLock { $0.workerID } }

  /// The jobs this worker holds: running or waiting for their outcome to be written, or run
  /// with an outcome it could not record. Nothing here gives these back while it lives:
  /// their handler runs or ran, and a lost connection is not a dead worker.
  func heldJobs() async -> Set<Int64> {
    let running = state.withLock { Set($0.running.keys) }
    return running.union(await completer.unrecorded)
  }

  /// The number of jobs fetched by this worker and not yet written back.
  public var runningJobCount: Int { state.withLock { $0.running.count } }

  /// Whether `stop()` was called or a stop signal arrived.
  public var isStopRequested: Bool { isStopping }

  var isStopping: Bool { state.withLock { $0.stopping } }

  /// The worker's whole life, from the schema check to unregistering; ``run()`` adds how it
  /// is told to stop (signals, graceful shutdown, cancellation).
  func runUntilStopped() async throws {
    guard let workerID = try await startingThroughLostConnections() else {
      await store.close()
      logger.info("stopped before it could register")
      return
    }
    logger.info(
      "worker \(workerID) started: queues \(options.queues.map { $0.joined(separator: ", ") } ?? "all"), concurrency \(options.concurrency), tasks \(tasks.taskNames.joined(separator: ", "))"
    )
    await withTaskGroup(of: Void.self) { side in
      side.addTask { await self.heartbeatLoop() }
      side.addTask { await self.abortPollingLoop() }
      if options.deferPeriodicTasks && !tasks.periodic.isEmpty {
        side.addTask { await self.periodicDeferrerLoop(self.tasks.periodic) }
      }
      if let every = options.retryStalledJobsEvery {
        side.addTask { await self.stalledJobsLoop(every: every) }
      }
      if options.listenNotify { side.addTask { await self.listenLoop() } }
      await fetchAndRunUntilStopped()
      await drainRunningJobs()
      side.cancelAll()
    }
    // Nothing runs or fetches any more: a job a lost fetch left `doing` under our id goes
    // back to `todo` now, rather than waiting for another worker's stalled-job recovery.
    await recoverOrphansIfNeeded()
    await unregister()
    await store.close()
    logger.info("worker \(workerID) stopped")
  }

  /// Checks the schema and registers; the worker's id, or nil when it was stopped first. A
  /// connection lost on the way (a terminated backend, a restart) or a connect that failed
  /// for a passing reason (``DatabaseError/isTransientConnectFailure``: a timeout, a server
  /// starting up or full) is retried with the fetch backoff, as it would be once started: a
  /// worker that starts during a database fault must not stop for good. Anything else (no
  /// schema, a refused connect, a wrong password) is thrown at once.
  private func startingThroughLostConnections() async throws -> Int64? {
    while !isStopping {
      do {
        try await checkSchema()
        let id = try await registerPruningStalledWorkers()
        fetching.succeeded()
        return id
      } catch let error as DatabaseError
        where error.kind == .connectionLost || error.isTransientConnectFailure
      {
        await jobAvailable.wait(timeout: fetching.failed(error))
      }
    }
    return nil
  }

  /// A database without procrastinate's schema gets one clear error, not a missing function.
  private func checkSchema() async throws {
    let schema = try await app.checkSchema()
    guard schema.isComplete else {
      throw IncompleteSchemaError(missing: schema.missing, isAbsent: schema.isAbsent)
    }
  }
}
