import Foundation
import Logging
import Synchronization

/// How a job's run ended, as the worker writes it back.
///
/// Every write applies to this run alone: only while the job is still `doing` with the
/// `attempts` it was fetched with. A write whose answer was lost and that is sent again, or
/// a job changed meanwhile by someone else, is then left alone (and reported, see
/// ``OutcomeConflict``) instead of ending a later run of the same job.
struct Completion: Sendable {
  enum Action: Sendable {
    /// `procrastinate_finish_job_v1(id, status, delete)`.
    case finish(status: JobStatus, delete: Bool)
    /// `procrastinate_retry_job_v2(id, at, NULL, NULL, NULL)`.
    case retry(at: Date)
  }

  var jobID: Int64
  /// The job's `attempts` when this run was fetched.
  var attempts: Int
  var task: String
  var queue: String
  var action: Action
}

extension Completion {
  /// The outcome of `job`'s run.
  init(_ job: FetchedJob, _ action: Action) {
    self.init(
      jobID: job.id, attempts: job.row.attempts, task: job.row.task, queue: job.row.queue,
      action: action)
  }
}

/// Writes job outcomes back to the database and never loses one.
///
/// In per-job mode each outcome is written at once with its own statement. In batched mode
/// outcomes wait in `pending` until the worker's fetch loop takes them and writes them in
/// the same transaction and round trip as its next fetch (``JobSQL/outcomeWrites(_:batching:)``);
/// when the worker is not fetching (stopping), ``flush()`` writes them. A job that can no
/// longer be finished (deleted meanwhile) is logged and does not hold up the others; when
/// the database cannot be reached, writes are retried until they succeed.
actor JobCompleter {
  typealias Waiting = (completion: Completion, continuation: CheckedContinuation<Void, Never>)

  private let store: QueueStore
  private let batched: Bool
  /// Paces retries while the database cannot be reached, and logs the outage.
  private let backoff: ReconnectBackoff
  /// Pause between the few tries of an outcome that fails with a statement error.
  private let statementRetryDelay: Duration
  private let logger: Logger
  private let onPending: @Sendable () -> Void
  private var pending: [Waiting] = []
  /// Set when the worker stops: a write the database keeps refusing is then given up after
  /// ``giveUpWhileStopping``, so that stopping never waits forever.
  private let stopping = Atomic<Bool>(false)
  private let giveUpWhileStopping: Duration
  /// Jobs whose outcome could not be recorded (a statement error): they ran, so orphan
  /// recovery must never run them again, even if they are still `doing`.
  private(set) var unrecorded: Set<Int64> = []

  init(
    store: QueueStore, batched: Bool, backoff: ReconnectBackoff,
    giveUpWhileStopping: Duration, logger: Logger, onPending: @escaping @Sendable () -> Void
  ) {
    self.store = store
    self.giveUpWhileStopping = giveUpWhileStopping
    self.batched = batched
    self.backoff = backoff
    self.statementRetryDelay = backoff.ceiling
    self.logger = logger
    self.onPending = onPending
  }

  /// Returns once the outcome is committed (or the job turned out to be gone).
  ///
  /// `queued` runs as soon as the outcome is known to the completer, before it is written:
  /// from then on the next fetch writes it first, so the job's slot can be given back.
  func complete(_ completion: Completion, queued: @Sendable () -> Void) async {
    guard batched else {
      queued()
      await persist([completion])
      return
    }
    await withCheckedContinuation { continuation in
      pending.append((completion, continuation))
      queued()
      onPending()
    }
  }

  /// From now on, an outcome the database keeps refusing for `giveUpWhileStopping` is
  /// given up (logged; the job stays `doing` and stalled-job recovery gives it back).
  nonisolated func workerStopping() { stopping.store(true, ordering: .relaxed) }

  /// Hands the waiting outcomes to the fetch loop, which must resume them once written.
  func takePending() -> [Waiting] {
    defer { pending = [] }
    return pending
  }

  /// Writes outcomes the fetch loop could not write with its fetch, then resumes them.
  func persistAndResume(_ waiting: [Waiting]) async {
    await persist(waiting.map(\.completion))
    for entry in waiting { entry.continuation.resume() }
  }

  /// Writes every waiting outcome now.
  func flush() async {
    while !pending.isEmpty {
      await persistAndResume(takePending())
    }
  }

  /// Writes `completions`, in a task of its own: the caller may be an aborted job's task,
  /// and a cancelled task's statements are cancelled on the server, but an aborted job's
  /// outcome must still be written.
  private func persist(_ completions: [Completion]) async {
    await Task {
      for outcome in JobSQL.outcomeWrites(completions) {
        if let notEnded = await write(outcome) { await reportNotEnded(notEnded) }
      }
    }.value
  }

  /// Says why each of `completions` was not written (its job was gone, or no longer `doing`
  /// at that run's attempt), as its job's row reads now, and counts it in
  /// ``QueueMetrics/outcomeConflicts``.
  func reportNotEnded(_ completions: [Completion]) async {
    if completions.isEmpty { return }
    let statuses = try? await store.jobStatuses(ids: completions.map(\.jobID))
    for completion in completions {
      let now = statuses?[completion.jobID]
      let conflict = statuses == nil ? .unknown : OutcomeConflict(completion, now: now)
      logger.log(level: conflict.level, "\(conflict.message(completion, now: now))")
      QueueMetrics.outcomeConflict(
        task: completion.task, queue: completion.queue, reason: conflict.rawValue)
    }
  }

  /// Runs `outcome` until it succeeds (the jobs it did not end) or fails with a statement
  /// error, or is given up while stopping (nil).
  private func write(_ outcome: JobSQL.OutcomeWrite) async -> [Completion]? {
    let jobs = outcome.jobIDs
    var attempt = 0
    var statementFailures = 0
    var failingSince: ContinuousClock.Instant?
    while true {
      do {
        let notEnded = try await store.writeOutcome(outcome)
        backoff.succeeded()
        if attempt > 0 {
          logger.info("wrote the outcome of job(s) \(jobs) after the database came back")
        }
        return notEnded
      } catch let error as DatabaseError where error.kind == .statement {
        // A statement error can follow a restart on a connection that was not yet known
        // to be gone; try a few times before giving up on this outcome.
        statementFailures += 1
        if statementFailures < 3 {
          await sleepIgnoringCancellation(statementRetryDelay)
          continue
        }
        logger.error("could not record the outcome of job(s) \(jobs): \(error)")
        unrecorded.formUnion(jobs)
        return nil
      } catch {
        attempt += 1
        let since = failingSince ?? .now
        failingSince = since
        if stopping.load(ordering: .relaxed), ContinuousClock.now - since >= giveUpWhileStopping {
          logger.error(
            "gave up recording job(s) \(jobs) while stopping: the database stayed unreachable for \(giveUpWhileStopping); they stay doing, and stalled-job recovery gives them back: \(error)"
          )
          unrecorded.formUnion(jobs)
          return nil
        }
        await sleepIgnoringCancellation(backoff.failed(error))
      }
    }
  }
}

/// Sleeps even in a cancelled task: an aborted job's outcome must still be written.
func sleepIgnoringCancellation(_ duration: Duration) async {
  await Task { try? await Task.sleep(for: duration) }.value
}
