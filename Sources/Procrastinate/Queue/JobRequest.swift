import Foundation
import ProcrastinateConventions

/// Where and how a job should run: the options of procrastinate's `configure`/`defer`.
public struct DeferOptions: Sendable {
  /// When the job may start.
  public enum Schedule: Sendable, Equatable {
    /// At a point in time (judged by the database clock when fetching).
    case at(Date)
    /// After a delay from now, computed on this machine as Python does.
    case `in`(Duration)
  }

  /// The queue; at most 40 bytes, because the queue's NOTIFY channel name must fit in 63.
  public var queue: String
  /// Higher runs first; default 0.
  public var priority: Int32
  /// At most one job with this lock runs at a time, in priority then id order.
  public var lock: String?
  /// At most one job with this queueing lock waits in `todo` at a time.
  public var queueingLock: String?
  /// When the job may start; `nil` for as soon as possible.
  public var schedule: Schedule?

  /// Options on `queue`, run as soon as possible unless `schedule` says when.
  public init(
    queue: String = Conventions.defaultQueue, priority: Int32 = 0, lock: String? = nil,
    queueingLock: String? = nil, schedule: Schedule? = nil
  ) {
    self.queue = queue
    self.priority = priority
    self.lock = lock
    self.queueingLock = queueingLock
    self.schedule = schedule
  }

  /// Schedules the job at `date`.
  public init(
    queue: String = Conventions.defaultQueue, priority: Int32 = 0, lock: String? = nil,
    queueingLock: String? = nil, scheduledAt date: Date
  ) {
    self.init(
      queue: queue, priority: priority, lock: lock, queueingLock: queueingLock, schedule: .at(date))
  }

  /// Schedules the job after `delay`.
  public init(
    queue: String = Conventions.defaultQueue, priority: Int32 = 0, lock: String? = nil,
    queueingLock: String? = nil, scheduleIn delay: Duration
  ) {
    self.init(
      queue: queue, priority: priority, lock: lock, queueingLock: queueingLock, schedule: .in(delay)
    )
  }

  /// The longest queue name procrastinate 3.10 can notify about, in UTF-8 bytes.
  public static let maximumQueueNameBytes = Conventions.maximumQueueNameBytes

  /// Checks the queue name before anything is sent.
  ///
  /// - Throws: ``DeferError/invalidQueueName(_:reason:)``.
  public static func validateQueueName(_ queue: String) throws {
    if let reason = queueNameProblem(queue) {
      throw DeferError.invalidQueueName(queue, reason: reason)
    }
  }

  /// Why `queue` cannot be a queue name, or nil when it can.
  static func queueNameProblem(_ queue: String) -> String? {
    if queue.isEmpty { return "it is empty" }
    let bytes = queue.utf8.count
    if bytes > maximumQueueNameBytes {
      return
        "it is \(bytes) bytes long; procrastinate's NOTIFY channel 'procrastinate_queue_v1#<queue>' limits queue names to \(maximumQueueNameBytes) bytes"
    }
    return nil
  }

  /// `scheduled_at` as epoch seconds, or nil.
  func scheduledEpoch(now: Date) -> Double? {
    switch schedule {
    case .none: nil
    case .at(let date): date.timeIntervalSince1970
    case .in(let delay):
      now.timeIntervalSince1970 + delay.inSeconds
    }
  }
}

/// One job to defer: a task name, its arguments, its options and how it is traced.
public struct JobRequest: Sendable {
  /// The task name stored in `procrastinate_jobs.task_name` (at most 128 characters).
  public var taskName: String
  /// The arguments, stored in `procrastinate_jobs.args`.
  public var arguments: JobArguments
  /// The queue, priority, locks and schedule.
  public var options: DeferOptions
  /// What ``ProcrastinateApp/defer(_:)`` and ``ProcrastinateApp/deferBatch(_:)`` do about
  /// tracing: the args key that carries the trace context (``TracingKeys/defaultCarrier``
  /// by default; `nil` carries none, for a task that takes no such argument) and the
  /// arguments recorded on the span. The ``TaskTraceOptions/relation`` is the running
  /// side's and is not used here.
  public var trace: TaskTraceOptions

  /// A job of `taskName`; by default it carries the trace context under `trace_context`.
  public init(
    task taskName: String, arguments: JobArguments = JobArguments(),
    options: DeferOptions = DeferOptions(), trace: TaskTraceOptions = TaskTraceOptions()
  ) {
    self.taskName = taskName
    self.arguments = arguments
    self.options = options
    self.trace = trace
  }

  func validate() throws {
    try DeferOptions.validateQueueName(options.queue)
    if taskName.isEmpty { throw DeferError.invalidTaskName(taskName, reason: "it is empty") }
    if taskName.count > Conventions.maximumTaskNameCharacters {
      throw DeferError.invalidTaskName(
        taskName,
        reason:
          "it is longer than \(Conventions.maximumTaskNameCharacters) characters (varchar(\(Conventions.maximumTaskNameCharacters)))"
      )
    }
  }
}

/// Why a defer was refused.
public enum DeferError: ProcrastinateError, Sendable, Equatable, CustomStringConvertible {
  /// The queue name is empty or longer than ``DeferOptions/maximumQueueNameBytes``.
  case invalidQueueName(String, reason: String)
  /// The task name is empty or longer than 128 characters.
  case invalidTaskName(String, reason: String)

  /// The message: which name was refused and why.
  public var description: String {
    switch self {
    case .invalidQueueName(let name, let reason): "invalid queue name '\(name)': \(reason)"
    case .invalidTaskName(let name, let reason): "invalid task name '\(name)': \(reason)"
    }
  }
}

/// A job with this queueing lock is already waiting (`todo`), so no job was deferred.
///
/// Python raises `AlreadyEnqueued` in the same case.
public struct AlreadyEnqueuedError: ProcrastinateError, Sendable, Equatable, CustomStringConvertible
{
  /// The queueing lock that is taken.
  public let queueingLock: String

  /// The error for the taken `queueingLock`.
  public init(queueingLock: String) { self.queueingLock = queueingLock }

  /// The message: which queueing lock is taken, and that nothing was deferred.
  public var description: String {
    "a job with queueing lock '\(queueingLock)' is already waiting; nothing was deferred"
  }

  /// Recognises the unique violation of `procrastinate_jobs_queueing_lock_idx_v1` and reads
  /// the lock from the detail `Key (queueing_lock)=(X) already exists.`
  static func from(_ error: DatabaseError, requested: [String?]) -> AlreadyEnqueuedError? {
    guard error.isUniqueViolation, error.constraint == "procrastinate_jobs_queueing_lock_idx_v1"
    else { return nil }
    if let detail = error.detail, let open = detail.range(of: "=("),
      let close = detail.range(of: ") already exists", options: .backwards),
      open.upperBound <= close.lowerBound
    {
      return AlreadyEnqueuedError(queueingLock: String(detail[open.upperBound..<close.lowerBound]))
    }
    return AlreadyEnqueuedError(queueingLock: requested.compactMap { $0 }.first ?? "?")
  }
}
