import Foundation
import Logging
import Tracing

/// What a task handler knows about the job it runs.
public struct JobContext: Sendable {
  /// `procrastinate_jobs.id`.
  public let jobID: Int64
  /// The task name the job was deferred with.
  public let taskName: String
  /// The queue the job was fetched from.
  public let queueName: String
  /// Previous attempts: 0 on the first run, 1 on the first retry, …
  public let attempts: Int
  /// The id of the worker running the job (`procrastinate_workers.id`).
  public let workerID: Int64
  /// When the job was scheduled to run, if it was scheduled.
  public let scheduledAt: Date?
  /// The job's priority; higher runs first.
  public let priority: Int32
  /// The job's lock, if it has one.
  public let lock: String?
  /// The job's queueing lock, if it has one.
  public let queueingLock: String?
  /// When the job was last put in `todo` (deferred, or sent back for a retry), from its
  /// events; with ``scheduledAt``, the start of its wait in the queue.
  public let deferredAt: Date?
  /// A logger with `job_id` and `task` metadata.
  public let logger: Logger
  /// The app the worker runs for: defer follow-up jobs or query the database with it, as
  /// Python's `context.app`.
  public let app: ProcrastinateApp
  /// The job's `procrastinate.job.<task>` span when the task is traced (generated and
  /// ``TaskRegistry/register(_:arguments:handler:)`` tasks); it is also the current span,
  /// so `withSpan` inside the handler nests under it.
  public internal(set) var span: (any Span)? = nil

  /// A job's context as a worker builds it when it starts the job; build one yourself to run
  /// a handler through ``TaskRegistry/run(_:context:)`` in a unit test, without a database.
  ///
  /// `app` is what the handler gets as ``app``; it connects only if the handler uses it, so
  /// a test whose handler does not may pass an app whose database does not exist. Without a
  /// `logger`, the context logs under `procrastinate.job` with `job_id` and `task` metadata,
  /// as a worker's does.
  public init(
    jobID: Int64 = 1, taskName: String, queueName: String = "default", attempts: Int = 0,
    workerID: Int64 = 1, scheduledAt: Date? = nil, priority: Int32 = 0, lock: String? = nil,
    queueingLock: String? = nil, deferredAt: Date? = nil, logger: Logger? = nil,
    app: ProcrastinateApp
  ) {
    self.jobID = jobID
    self.taskName = taskName
    self.queueName = queueName
    self.attempts = attempts
    self.workerID = workerID
    self.scheduledAt = scheduledAt
    self.priority = priority
    self.lock = lock
    self.queueingLock = queueingLock
    self.deferredAt = deferredAt
    // A worker passes its own, which already has the job's metadata.
    self.logger =
      logger
      ?? {
        var logger = Logger(label: "procrastinate.job")
        logger[metadataKey: "job_id"] = "\(jobID)"
        logger[metadataKey: "task"] = "\(taskName)"
        return logger
      }()
    self.app = app
  }

  /// The tracer for nested spans: the bootstrapped one (`ProcrastinateTracing`'s
  /// `setupTracing`, swift-otel, or any other swift-distributed-tracing backend).
  public var tracer: any Tracer { CurrentTracer.tracer }

  /// How long the job waited to start: from when it was deferred (or became due, if it was
  /// scheduled later) to now.
  public func queueWait(now: Date = Date()) -> Duration? {
    // The later of the two, without building an array on every job.
    let ready =
      deferredAt.map { deferred in scheduledAt.map { max(deferred, $0) } ?? deferred }
      ?? scheduledAt
    return ready.map { .milliseconds(max(0, Int(now.timeIntervalSince($0) * 1000))) }
  }
}

/// The tasks a worker can run, by name.
///
/// Generated code registers one entry per spec task; you can also register by hand:
///
/// ```swift
/// var tasks = TaskRegistry()
/// try tasks.register("send_email", retry: .attempts(3)) { arguments, context in
///   let email = try arguments.decode(Email.self)
///   …
/// }
/// ```
public struct TaskRegistry: Sendable {
  /// Runs one job. Throwing fails the job (or retries it, per the task's strategy).
  public typealias Handler =
    @Sendable (_ arguments: JobArguments, _ context: JobContext) async throws -> Void

  struct Entry: Sendable {
    var retry: RetryStrategy?
    var handler: Handler
  }

  private(set) var entries: [String: Entry] = [:]
  /// Schedules registered with ``registerPeriodic(_:cron:periodicID:arguments:)``.
  public internal(set) var periodic: [PeriodicTask] = []

  /// An empty registry.
  public init() {}

  /// Registers `handler` for jobs whose `task_name` is `name`.
  ///
  /// - Throws: ``TaskRegistryError/duplicateTask(_:)`` when `name` is already registered.
  public mutating func register(
    _ name: String, retry: RetryStrategy? = nil, handler: @escaping Handler
  ) throws {
    guard entries[name] == nil else { throw TaskRegistryError.duplicateTask(name) }
    entries[name] = Entry(retry: retry, handler: handler)
  }

  /// The registered task names, sorted.
  public var taskNames: [String] { entries.keys.sorted() }

  /// Runs the handler registered for `context.taskName` on `arguments` as a worker runs a
  /// job, but without a database: nothing is fetched, retried or marked. For unit tests of a
  /// task.
  ///
  /// A task registered with ``register(_:arguments:handler:)``, as generated code registers
  /// them, runs traced as in a worker: the carrier in `arguments` is read, and the job's
  /// span is started and ended (handed to the tracer's processors, which export it as
  /// usual). Its parent comes from that carrier only, as in a worker, not from the span
  /// current where `run` is called; without a carrier the job starts a trace of its own. A
  /// handler registered with ``register(_:retry:handler:)`` is simply called.
  ///
  /// - Throws: ``TaskRegistryError/unknownTask(_:registered:)`` when no handler has that
  ///   name, or what the handler (or the decoding of its arguments) threw.
  public func run(_ arguments: JobArguments, context: JobContext) async throws {
    guard let entry = entries[context.taskName] else {
      throw TaskRegistryError.unknownTask(context.taskName, registered: taskNames)
    }
    try await entry.handler(arguments, context)
  }

  subscript(name: String) -> Entry? { entries[name] }
}

/// A task registration, or a run through ``TaskRegistry/run(_:context:)``, was refused.
public enum TaskRegistryError: ProcrastinateError, Sendable, Equatable, CustomStringConvertible {
  /// The task name, or the task's periodic schedule with this id, is already registered.
  case duplicateTask(String)
  /// No handler is registered under this task name, with the names that are: thrown by
  /// ``TaskRegistry/run(_:context:)``, and the reason a worker logs for such a job.
  case unknownTask(String, registered: [String])

  /// The message: which task was registered twice, or which one is missing.
  public var description: String {
    switch self {
    case .duplicateTask(let name):
      "task '\(name)' is already registered; each task name can have one handler"
    case .unknownTask(let name, let registered):
      "no handler is registered for task '\(name)' (registered: \(registered.isEmpty ? "none" : registered.joined(separator: ", ")))"
    }
  }
}
