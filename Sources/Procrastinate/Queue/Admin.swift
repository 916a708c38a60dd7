import Foundation

/// A job as the admin listings show it (Python's `list_jobs` columns).
public struct JobSummary: Sendable, Equatable, Codable {
  /// The job's id (`procrastinate_jobs.id`).
  public var id: Int64
  /// The queue it waits in or was fetched from (`queue_name`).
  public var queue: String
  /// The task name (`task_name`).
  public var task: String
  /// The priority (`priority`); higher runs first.
  public var priority: Int32
  /// The lock (`lock`), if the job has one.
  public var lock: String?
  /// The queueing lock (`queueing_lock`), if the job has one.
  public var queueingLock: String?
  /// The arguments as JSON text.
  public var arguments: String
  /// The status (`status`): the raw value of a ``JobStatus``.
  public var status: String
  /// When the job may start (`scheduled_at`), if it was scheduled.
  public var scheduledAt: Date?
  /// The runs that have ended so far (`attempts`): 0 until the first one ends.
  public var attempts: Int
  /// Whether an abort was asked for while it runs (`abort_requested`).
  public var abortRequested: Bool
  /// The worker that took it (`worker_id`); `nil` before any did, or once that worker is
  /// gone (unregistered or pruned).
  public var workerID: Int64?
}

/// Which jobs to list; `nil` matches everything.
public struct JobFilter: Sendable {
  /// Only the job with this id.
  public var id: Int64?
  /// Only jobs of this queue.
  public var queue: String?
  /// Only jobs of this task name.
  public var task: String?
  /// Only jobs in this status.
  public var status: JobStatus?
  /// Only jobs with this lock.
  public var lock: String?
  /// Only jobs with this queueing lock.
  public var queueingLock: String?
  /// Only jobs taken by this worker (`procrastinate_workers.id`).
  public var workerID: Int64?
  /// At most this many rows, oldest id first.
  public var limit: Int

  /// A filter; what is left `nil` matches every job, and at most `limit` rows are listed.
  public init(
    id: Int64? = nil, queue: String? = nil, task: String? = nil, status: JobStatus? = nil,
    lock: String? = nil, queueingLock: String? = nil, workerID: Int64? = nil, limit: Int = 1000
  ) {
    (self.id, self.queue, self.task, self.status) = (id, queue, task, status)
    (self.lock, self.queueingLock, self.workerID, self.limit) = (
      lock, queueingLock, workerID, limit
    )
  }
}

/// Jobs of one queue, task or lock, counted by status.
public struct JobCounts: Sendable, Equatable, Codable {
  /// The queue, task or lock counted.
  public var name: String
  /// Status → number of jobs, only the statuses that occur.
  public var counts: [String: Int]
  /// Jobs of every status.
  public var total: Int { counts.values.reduce(0, +) }

  /// Counts of `name`, by status.
  public init(name: String, counts: [String: Int]) {
    self.name = name
    self.counts = counts
  }
}

extension ProcrastinateApp {
  /// The jobs matching `filter`, by id (Python's `list_jobs`).
  public func jobs(_ filter: JobFilter = JobFilter()) async throws -> [JobSummary] {
    try await store.listJobs(filter)
  }

  /// Job counts per queue (Python's `list_queues`).
  public func queueCounts() async throws -> [JobCounts] { try await store.counts(by: "queue_name") }
  /// Job counts per task (Python's `list_tasks`).
  public func taskCounts() async throws -> [JobCounts] { try await store.counts(by: "task_name") }
  /// Job counts per lock, for jobs that have one (Python's `list_locks`).
  public func lockCounts() async throws -> [JobCounts] { try await store.counts(by: "lock") }

  /// Sends a `failed` job back to `todo` to run now, with one more attempt counted, as
  /// procrastinate's manual retry does (a `retried` event).
  ///
  /// - Returns: false when the job does not exist or is not `failed`.
  @discardableResult
  public func retryJob(id: Int64) async throws -> Bool {
    try await store.retryFailedJob(id: id)
  }

  /// Cancels a job (`procrastinate_cancel_job_v1`): a `todo` job becomes `cancelled`, or is
  /// deleted with `delete`; with `abort`, a running job is asked to stop (its worker learns
  /// by NOTIFY).
  ///
  /// - Returns: false when nothing was done (the job is not `todo`, or not `doing` for an abort).
  @discardableResult
  public func cancelJob(id: Int64, abort: Bool = false, delete: Bool = false) async throws -> Bool {
    try await store.cancelJob(id: id, abort: abort, delete: delete)
  }

  /// Jobs in `doing` whose worker is gone or has not sent a heartbeat for
  /// `heartbeatTimeout` (Python's `get_stalled_jobs`, default 30 s).
  ///
  /// - Parameter excludingWorker: a worker whose jobs never count (the worker asking).
  public func stalledJobs(
    heartbeatTimeout: Duration = .seconds(30), excludingWorker: Int64? = nil
  ) async throws -> [JobSummary] {
    try await store.stalledJobs(silentFor: heartbeatTimeout.inSeconds, excluding: excludingWorker)
  }

  /// Retries every stalled job now; returns the ids given back.
  @discardableResult
  public func retryStalledJobs(
    heartbeatTimeout: Duration = .seconds(30), excludingWorker: Int64? = nil
  ) async throws -> [Int64] {
    let seconds = heartbeatTimeout.inSeconds
    var retried: [Int64] = []
    for job in try await store.stalledJobs(silentFor: seconds, excluding: excludingWorker) {
      if try await store.retryStalledJob(id: job.id, silentFor: seconds, excluding: excludingWorker)
      {
        retried.append(job.id)
      }
    }
    return retried
  }
}
