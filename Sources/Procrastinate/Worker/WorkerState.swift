/// What a worker's loops share, behind the worker's lock: its registration, the jobs it
/// holds, the concurrency slots, and the bookkeeping of orphan checks and one-shot stops.
struct WorkerState {
  var stopping = false
  var workerID: Int64?
  /// Jobs fetched and not yet written back, with the run of each.
  var running: [Int64: Run] = [:]
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
  /// One loop is registering the worker again (its row was pruned); the others leave it be.
  var registeringAgain = false

  /// One run of a job: the `attempts` it was fetched with, and the task running it.
  struct Run {
    var attempts: Int
    var task: Task<Void, Never>
  }

  /// A fetched job's run started; its handler holds a slot until it returns.
  mutating func started(jobID: Int64, attempts: Int, task: Task<Void, Never>) {
    running[jobID] = Run(attempts: attempts, task: task)
    executing += 1
  }

  /// A run's outcome was written. The job may be running again already: a retry written in
  /// the same transaction as a fetch can be fetched by it, and that next run (fetched with
  /// more attempts) may start before this one's bookkeeping. It stays: forgetting it would
  /// let an orphan check give back a job that is running, and a shutdown not wait for it.
  mutating func ended(jobID: Int64, attempts: Int) {
    if running[jobID]?.attempts == attempts { running.removeValue(forKey: jobID) }
    endedGeneration += 1
  }

  /// Reserves up to `limit` free slots for a batched fetch: concurrency minus executing
  /// handlers and fetches in flight, and never so many that more than twice the concurrency
  /// waits on outcome writes (back-pressure when the database is slow).
  mutating func reserveSlots(limit: Int, concurrency: Int) -> Int {
    let free = min(concurrency - executing - reserved, 2 * concurrency - running.count - reserved)
    let granted = max(0, min(free, limit))
    reserved += granted
    if granted > 0 { fetchGeneration += 1 }
    return granted
  }

  /// One-shot: a fetch found nothing. Stop when no job of this worker is running, waiting
  /// to be written, or being fetched by another loop, and none ended since that fetch
  /// started (`ended`): a job retried now can be fetched again, and a fetch whose snapshot
  /// predates the retry would not have seen it, so "nothing left" means nothing left at all.
  func nothingInFlight(since ended: Int) -> Bool {
    running.isEmpty && reserved == 0 && endedGeneration == ended
  }

  /// Starts an orphan check if one is due and no fetch is in flight: the fetch generation
  /// it must still see unchanged at the end.
  mutating func beginOrphanCheck() -> Int? {
    guard orphanCheckPending, !orphanCheckRunning, reserved == 0 else { return nil }
    orphanCheckRunning = true
    return fetchGeneration
  }

  /// Of the jobs `doing` under our id, those nobody here holds or has run; nil when a fetch
  /// started since the check began (its jobs may be among them), to try again later.
  mutating func orphans(among doing: [Int64], unrecorded: Set<Int64>, generation: Int) -> [Int64]? {
    guard reserved == 0, fetchGeneration == generation else { return nil }
    orphanCheckPending = false
    return doing.filter { running[$0] == nil && !unrecorded.contains($0) }
  }
}
