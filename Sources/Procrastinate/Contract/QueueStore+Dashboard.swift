/// What the web dashboard (`ProcrastinateDashboard`) reads (``DashboardSQL``); its counts
/// are ``counts(by:)`` and its actions the admin ones.
extension QueueStore {
  /// Jobs matching `filter` (its `id`, `queueingLock` and `limit` aside), newest first,
  /// older than the job `before`; at most `limit`, their args cut to `argumentsLimit`
  /// characters.
  package func jobPage(
    _ filter: JobFilter, before: Int64?, limit: Int, argumentsLimit: Int = 200
  ) async throws -> JobPage {
    let limit = max(1, limit)
    let parameters: [String?] = [
      filter.queue, filter.task, filter.status?.rawValue, filter.lock,
      filter.workerID.map(String.init), before.map(String.init), String(limit + 1),
      String(argumentsLimit),
    ]
    let jobs = try await pool.execute(DashboardSQL.jobsPage, parameters).namedRows
      .compactMap(JobSummary.init)
    let page = Array(jobs.prefix(limit))
    return JobPage(jobs: page, nextCursor: jobs.count > limit ? page.last?.id : nil)
  }

  /// One job, its arguments whole; nil when there is none with that id.
  package func job(id: Int64) async throws -> JobSummary? {
    try await pool.execute(DashboardSQL.job, [String(id)]).namedRows.first.flatMap(
      JobSummary.init)
  }

  /// A job's events, oldest first.
  package func events(jobID: Int64) async throws -> [JobEvent] {
    try await pool.execute(DashboardSQL.events, [String(jobID)]).namedRows.compactMap(
      JobEvent.init)
  }

  /// The registered workers, by id.
  package func workerHeartbeats() async throws -> [WorkerHeartbeat] {
    try await pool.execute(DashboardSQL.workers).namedRows.compactMap(WorkerHeartbeat.init)
  }

  /// Each periodic schedule's latest tick.
  package func periodicTicks() async throws -> [PeriodicTick] {
    try await pool.execute(DashboardSQL.periodicTicks).namedRows.compactMap(PeriodicTick.init)
  }
}
