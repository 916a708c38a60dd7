import Foundation

/// The one caller of the connection pool for queue work: every statement of the database
/// contract goes through a method here, with its parameters encoded and its rows decoded
/// by column name into the typed structs defined next to the statements (`*SQL.swift` in
/// this folder). procrastinate's `manager.py` over `sql/queries.sql` is the model.
///
/// The app, the worker, its job completer, the periodic deferrer, the admin commands and
/// the dashboard call these methods; none of them builds SQL. Each method is one round
/// trip on a pooled connection, off Swift's cooperative thread pool (see
/// ``PostgresConnection``), except where it says otherwise.
package struct QueueStore: Sendable {
  package let pool: ConnectionPool

  package init(pool: ConnectionPool) { self.pool = pool }

  /// The settings connections are opened with.
  package var settings: DatabaseSettings { pool.settings }

  /// Closes the idle connections and refuses new borrowers.
  package func close() async { await pool.close() }

  // MARK: - Deferring

  /// Defers one job (`procrastinate_defer_jobs_v1`) and returns its id.
  ///
  /// - Throws: ``AlreadyEnqueuedError`` when its queueing lock is taken.
  func deferJob(_ job: JobRequest, now: Date) async throws -> Int64 {
    let options = job.options
    let parameters: [String?] = [
      options.queue, job.taskName, String(options.priority), options.lock, options.queueingLock,
      job.arguments.json, options.scheduledEpoch(now: now).map { String($0) },
    ]
    let result = try await deferring(locks: [options.queueingLock]) {
      try await pool.execute(JobSQL.deferOne, parameters)
    }
    guard let text = result.rows.first?.string(0), let id = Self.firstID(in: text) else {
      throw DatabaseError(
        kind: .statement, message: "procrastinate_defer_jobs_v1 returned no id", context: "defer")
    }
    return id
  }

  /// Defers many jobs in one statement and returns their ids in the same order. All or
  /// nothing: a taken queueing lock defers none of them.
  func deferJobs(_ jobs: [JobRequest], now: Date) async throws -> [Int64] {
    let locks = jobs.map(\.options.queueingLock)
    let parameters: [String?] = [
      PostgresArray.literal(jobs.map(\.options.queue)),
      PostgresArray.literal(jobs.map(\.taskName)),
      PostgresArray.literal(jobs.map { String($0.options.priority) }),
      PostgresArray.literal(jobs.map(\.options.lock)),
      PostgresArray.literal(locks),
      PostgresArray.literal(jobs.map(\.arguments.json)),
      PostgresArray.literal(jobs.map { $0.options.scheduledEpoch(now: now).map { String($0) } }),
    ]
    let result = try await deferring(locks: locks) {
      try await pool.execute(JobSQL.deferMany, parameters)
    }
    let ids = result.rows.compactMap { $0.int64(0) }
    guard ids.count == jobs.count else {
      throw DatabaseError(
        kind: .statement,
        message: "procrastinate_defer_jobs_v1 returned \(ids.count) ids for \(jobs.count) jobs",
        context: "defer_jobs")
    }
    return ids
  }

  /// Defers the job of one periodic tick (`procrastinate_defer_periodic_job_v2`); nil when
  /// another worker already deferred this tick.
  func deferPeriodicJob(
    task: String, options: DeferOptions, periodicID: String, timestamp: Int64,
    argumentsJSON: String
  ) async throws -> Int64? {
    try await pool.execute(
      JobSQL.deferPeriodic,
      [
        options.queue, options.lock, options.queueingLock, task, String(options.priority),
        periodicID, String(timestamp), argumentsJSON,
      ]
    ).rows.first?.int64(0)
  }

  /// Turns the unique violation of a queueing lock into ``AlreadyEnqueuedError``.
  private func deferring(
    locks: [String?], _ body: () async throws -> QueryResult
  ) async throws -> QueryResult {
    do {
      return try await body()
    } catch let error as DatabaseError {
      if let enqueued = AlreadyEnqueuedError.from(error, requested: locks) { throw enqueued }
      throw error
    }
  }

  /// Reads the first element of a `bigint[]` in text form, e.g. `{42}`.
  private static func firstID(in array: String) -> Int64? {
    let digits = array.trimmingCharacters(in: CharacterSet(charactersIn: "{}")).split(
      separator: ","
    ).first
    return digits.flatMap { Int64($0) }
  }

  // MARK: - Fetching and finishing

  /// One job, as Python's worker fetches it (`procrastinate_fetch_job_v2`); nil when none
  /// is due.
  func fetchJob(queues: [String]?, workerID: Int64) async throws -> FetchedJob? {
    try await pool.execute(JobSQL.fetchOne, [Self.queuesParameter(queues), String(workerID)])
      .namedRows.first.flatMap(FetchedJob.init)
  }

  /// Writes `outcomes`, then fetches up to `limit` jobs (none when 0), in one transaction
  /// and one round trip. Also returns the jobs the outcomes should have ended and did not
  /// (deleted, cancelled or finished elsewhere meanwhile).
  func writeOutcomesAndFetch(
    _ outcomes: [JobSQL.OutcomeWrite], limit: Int, queues: [String]?, workerID: Int64
  ) async throws -> (notEnded: [Completion], jobs: [FetchedJob]) {
    var steps = outcomes.map { ($0.statement, $0.parameters) }
    if limit > 0 {
      steps.append(
        (JobSQL.fetchMany, [Self.queuesParameter(queues), String(workerID), String(limit)]))
    }
    let statements = steps
    let results = try await pool.withConnection { try await $0.transaction(statements) }
    let notEnded = zip(outcomes, results).flatMap { $0.notEnded(by: $1) }
    let jobs = limit > 0 ? (results.last?.namedRows ?? []).compactMap(FetchedJob.init) : []
    return (notEnded, jobs)
  }

  /// Writes one outcome statement; the runs it should have ended and did not.
  func writeOutcome(_ outcome: JobSQL.OutcomeWrite) async throws -> [Completion] {
    outcome.notEnded(by: try await pool.execute(outcome.statement, outcome.parameters))
  }

  /// The status and attempts of a job; nil when there is none with that id.
  func jobStatus(id: Int64) async throws -> (status: JobStatus, attempts: Int)? {
    guard let row = try await pool.execute(JobSQL.jobStatus, [String(id)]).namedRows.first,
      let status = row.string("status").flatMap(JobStatus.init(rawValue:))
    else { return nil }
    return (status, row.int("attempts") ?? 0)
  }

  /// The status and attempts of jobs `ids`, by id; a job that does not exist is left out.
  func jobStatuses(ids: [Int64]) async throws -> [Int64: (status: JobStatus, attempts: Int)] {
    let rows = try await pool.execute(
      JobSQL.jobStatuses, [PostgresArray.literal(ids.map { String($0) })]
    ).namedRows
    var statuses: [Int64: (status: JobStatus, attempts: Int)] = [:]
    for row in rows {
      guard let id = row.int64("id"), let status = row.string("status").flatMap(JobStatus.init)
      else { continue }
      statuses[id] = (status, row.int("attempts") ?? 0)
    }
    return statuses
  }

  /// The jobs worker `workerID` holds in `doing`.
  func doingJobs(workerID: Int64) async throws -> [Int64] {
    try await pool.execute(JobSQL.doingJobsOfWorker, [String(workerID)]).namedRows
      .compactMap { $0.int64("id") }
  }

  /// Gives job `id` back to `todo` now, only while it is still `doing` under `workerID`;
  /// whether it did.
  func retryOrphan(id: Int64, workerID: Int64) async throws -> Bool {
    let now = String(Date().timeIntervalSince1970)
    return
      !(try await pool.execute(JobSQL.retryOrphan, [String(id), now, String(workerID)])
      .rows.isEmpty)
  }

  /// A worker's queues as a `varchar[]` parameter; NULL for all queues.
  static func queuesParameter(_ queues: [String]?) -> String? {
    queues.map { PostgresArray.literal($0) }
  }

  // MARK: - Your own statements

  /// Runs `sql` with text parameters on a pooled connection; its rows as text.
  func run(_ sql: String, _ parameters: [String?]) async throws -> [[String?]] {
    try await pool.withConnection { connection in
      try await connection.query(sql, parameters, context: "query").rows.map(\.values)
    }
  }
}
