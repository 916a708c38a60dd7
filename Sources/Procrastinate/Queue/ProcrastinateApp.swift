import Foundation
import Logging

/// The entry point: a connection pool to a database that carries procrastinate 3.10's
/// schema, with which you defer jobs and build workers.
///
/// ```swift
/// let app = try ProcrastinateApp(databaseURL: "postgresql://localhost/app")
/// let id = try await app.defer(task: "send_email", arguments: JobArguments(["to": "a@b.c"]))
/// ```
///
/// Python procrastinate 3.10 can share the database: jobs deferred here run on Python
/// workers and the other way round, as long as each fleet consumes its own queues.
public final class ProcrastinateApp: Sendable {
  /// The resolved database.
  public let database: DatabaseSettings
  /// The logger used for the queue's own messages.
  public let logger: Logger
  /// The database contract: every statement the app sends goes through it.
  package let store: QueueStore

  /// Creates an app for `database`. No connection is opened until first use.
  ///
  /// - Parameter maximumConnections: the most connections deferring may use at once
  ///   (workers open their own).
  public init(
    database: DatabaseSettings, maximumConnections: Int = 10,
    logger: Logger = Logger(label: "procrastinate")
  ) {
    self.database = database
    self.logger = logger
    self.store = QueueStore(
      pool: ConnectionPool(settings: database, maximumConnections: maximumConnections))
  }

  /// Creates an app, resolving the database from `databaseURL` or the environment
  /// (see ``DatabaseSettings/resolve(explicit:environment:)``).
  public convenience init(
    databaseURL: String? = nil, maximumConnections: Int = 10,
    logger: Logger = Logger(label: "procrastinate")
  ) throws {
    self.init(
      database: try DatabaseSettings.resolve(explicit: databaseURL),
      maximumConnections: maximumConnections, logger: logger)
  }

  /// Closes the app's idle connections.
  public func close() async {
    await store.close()
  }

  // MARK: - Defer without tracing

  /// Defers one job and returns its id, with no span and no trace context: the named
  /// exception to ``defer(_:)``, for jobs that must carry exactly their
  /// arguments.
  ///
  /// - Throws: ``DeferError`` for a bad queue or task name (nothing is sent),
  ///   ``AlreadyEnqueuedError`` when the queueing lock is taken, ``DatabaseError`` otherwise.
  @discardableResult
  public func deferUntraced(_ job: JobRequest) async throws -> Int64 {
    try job.validate()
    let id = try await store.deferJob(job, now: Date())
    QueueMetrics.deferredJobs([job])
    return id
  }

  /// Defers many jobs in one statement (`procrastinate_defer_jobs_v1`), with no span and
  /// no trace context, and returns their ids in the same order. All or nothing: a taken
  /// queueing lock defers none of them.
  @discardableResult
  public func deferBatchUntraced(_ jobs: [JobRequest]) async throws -> [Int64] {
    if jobs.isEmpty { return [] }
    for job in jobs { try job.validate() }
    let ids = try await store.deferJobs(jobs, now: Date())
    QueueMetrics.deferredJobs(jobs)
    return ids
  }

  /// Runs one SQL statement of your own on the app's pool (off the cooperative thread
  /// pool, like every libpq call here) and returns its rows as text, `nil` for NULL.
  /// Parameters are `$1`, `$2`… as text. For tasks that store what they computed in the
  /// same database, as the demo's `db.store_joke` does.
  @discardableResult
  public func query(_ sql: String, _ parameters: [String?] = []) async throws -> [[String?]] {
    try await store.run(sql, parameters)
  }

  /// The status and attempts of a job, or nil when it does not exist (or was deleted).
  public func jobStatus(id: Int64) async throws -> (status: JobStatus, attempts: Int)? {
    try await store.jobStatus(id: id)
  }
}

/// `procrastinate_job_status`.
public enum JobStatus: String, Sendable, CaseIterable {
  /// `todo` waits, `doing` runs; `succeeded`, `failed` and `aborted` ended a run; `cancelled`
  /// never ran; `aborting` stays in the type, though 3.10 asks for an abort with `abort_requested`.
  case todo, doing, succeeded, failed, cancelled, aborting, aborted
}
