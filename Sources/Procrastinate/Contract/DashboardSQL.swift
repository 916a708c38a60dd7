import Foundation

/// The web dashboard's reads: a keyset page of jobs (newest first), one job with its events,
/// the workers with their heartbeats, and the periodic ticks. Rows are read by column name
/// (`QueryResult.NamedRow`). The overview's counts are ``AdminSQL/countsBy(_:)``.
package enum DashboardSQL {
  /// Newest first, after the keyset cursor `$6` (an id; NULL for the first page). Every
  /// filter is optional (NULL matches everything); `$7` limits the rows, `$8` the
  /// characters of args. The primary key's backward scan serves the order and the cursor.
  static let jobsPage = Statement(
    "procrastinate_swift_dashboard_jobs",
    """
    SELECT \(AdminSQL.summaryColumns(arguments: "left(args::text, $8::int)"))
    FROM procrastinate_jobs
    WHERE \(AdminSQL.optionalEquals(
      ("queue_name", "varchar"), ("task_name", "varchar"), ("status", "procrastinate_job_status"),
      ("lock", "text"), ("worker_id", "bigint")))
      AND ($6::bigint IS NULL OR id < $6)
    ORDER BY id DESC
    LIMIT $7::bigint
    """)

  /// One job, its arguments whole.
  static let job = Statement(
    "procrastinate_swift_dashboard_job",
    """
    SELECT \(AdminSQL.summaryColumns())
    FROM procrastinate_jobs WHERE id = $1::bigint
    """)

  /// A job's events, oldest first.
  static let events = Statement(
    "procrastinate_swift_dashboard_events",
    """
    SELECT id, type::text AS type, extract(epoch FROM at)::float8 AS at
    FROM procrastinate_events WHERE job_id = $1::bigint ORDER BY at, id
    """)

  /// The workers, with their last heartbeat and how many jobs each is running.
  static let workers = Statement(
    "procrastinate_swift_dashboard_workers",
    """
    SELECT workers.id, extract(epoch FROM workers.last_heartbeat)::float8 AS last_heartbeat,
      extract(epoch FROM now() - workers.last_heartbeat)::float8 AS silent_for,
      (SELECT count(*) FROM procrastinate_jobs AS jobs
        WHERE jobs.worker_id = workers.id AND jobs.status = 'doing') AS running
    FROM procrastinate_workers AS workers ORDER BY workers.id
    """)

  /// Each periodic schedule's latest tick and the job it deferred.
  static let periodicTicks = Statement(
    "procrastinate_swift_dashboard_periodic",
    """
    SELECT DISTINCT ON (task_name, periodic_id) task_name, periodic_id,
      defer_timestamp AS last_tick, job_id
    FROM procrastinate_periodic_defers
    ORDER BY task_name, periodic_id, defer_timestamp DESC
    """)
}

/// One row of `procrastinate_events`.
package struct JobEvent: Sendable, Equatable, Codable {
  package var id: Int64
  package var type: String
  package var at: Date

  init?(_ row: QueryResult.NamedRow) {
    guard let id = row.int64("id"), let type = row.string("type"), let at = row.date("at")
    else { return nil }
    self.id = id
    self.type = type
    self.at = at
  }
}

/// A worker's row of `procrastinate_workers`, with the jobs it runs.
package struct WorkerHeartbeat: Sendable, Equatable, Codable {
  package var id: Int64
  package var lastHeartbeat: Date
  /// Seconds since the last heartbeat, by the database's clock.
  package var silentFor: Double
  package var running: Int

  init?(_ row: QueryResult.NamedRow) {
    guard let id = row.int64("id"), let last = row.date("last_heartbeat") else { return nil }
    self.id = id
    self.lastHeartbeat = last
    self.silentFor = row.double("silent_for") ?? 0
    self.running = row.int("running") ?? 0
  }
}

/// A periodic schedule's latest tick, from `procrastinate_periodic_defers`.
package struct PeriodicTick: Sendable, Equatable, Codable {
  package var task: String
  package var periodicID: String
  package var lastTick: Date?
  package var jobID: Int64?

  init?(_ row: QueryResult.NamedRow) {
    guard let task = row.string("task_name") else { return nil }
    self.task = task
    self.periodicID = row.string("periodic_id") ?? ""
    self.lastTick = row.date("last_tick")
    self.jobID = row.int64("job_id")
  }
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
