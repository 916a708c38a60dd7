import Foundation

/// What the web dashboard (`ProcrastinateDashboard`) reads, through ``DashboardSQL``.
/// Package API: the dashboard is its only user.

/// One row of `procrastinate_events`.
package struct JobEvent: Sendable, Equatable, Codable {
  package var id: Int64
  package var type: String
  package var at: Date
}

/// A worker's row of `procrastinate_workers`, with the jobs it runs.
package struct WorkerHeartbeat: Sendable, Equatable, Codable {
  package var id: Int64
  package var lastHeartbeat: Date
  /// Seconds since the last heartbeat, by the database's clock.
  package var silentFor: Double
  package var running: Int
}

/// A periodic schedule's latest tick, from `procrastinate_periodic_defers`.
package struct PeriodicTick: Sendable, Equatable, Codable {
  package var task: String
  package var periodicID: String
  package var lastTick: Date?
  package var jobID: Int64?
}

/// A page of jobs, newest first, and the cursor of the next page.
package struct JobPage: Sendable {
  package var jobs: [JobSummary]
  /// The id to pass as `before` for the next page; nil on the last page.
  package var nextCursor: Int64?

  package init(jobs: [JobSummary], nextCursor: Int64?) {
    self.jobs = jobs
    self.nextCursor = nextCursor
  }
}

extension JobSummary {
  init?(_ row: QueryResult.NamedRow) {
    guard let id = row.int64("id"), let queue = row.string("queue_name"),
      let task = row.string("task_name"), let status = row.string("status")
    else { return nil }
    self.id = id
    self.queue = queue
    self.task = task
    self.priority = Int32(row.int("priority") ?? 0)
    self.lock = row.string("lock")
    self.queueingLock = row.string("queueing_lock")
    self.arguments = row.string("args") ?? "{}"
    self.status = status
    self.scheduledAt = row.date("scheduled_at")
    self.attempts = row.int("attempts") ?? 0
    self.abortRequested = row.bool("abort_requested") ?? false
    self.workerID = row.int64("worker_id")
  }
}

extension ProcrastinateApp {
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
    try await pool.execute(DashboardSQL.events, [String(jobID)]).namedRows.compactMap { row in
      guard let id = row.int64("id"), let type = row.string("type"), let at = row.date("at")
      else { return nil }
      return JobEvent(id: id, type: type, at: at)
    }
  }

  /// The registered workers, by id.
  package func workerHeartbeats() async throws -> [WorkerHeartbeat] {
    try await pool.execute(DashboardSQL.workers).namedRows.compactMap { row in
      guard let id = row.int64("id"), let last = row.date("last_heartbeat") else { return nil }
      return WorkerHeartbeat(
        id: id, lastHeartbeat: last, silentFor: row.double("silent_for") ?? 0,
        running: row.int("running") ?? 0)
    }
  }

  /// Each periodic schedule's latest tick.
  package func periodicTicks() async throws -> [PeriodicTick] {
    try await pool.execute(DashboardSQL.periodicTicks).namedRows.compactMap { row in
      guard let task = row.string("task_name") else { return nil }
      return PeriodicTick(
        task: task, periodicID: row.string("periodic_id") ?? "",
        lastTick: row.double("last_tick").map { Date(timeIntervalSince1970: $0) },
        jobID: row.int64("job_id"))
    }
  }
}
