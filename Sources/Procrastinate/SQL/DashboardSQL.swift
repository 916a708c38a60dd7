/// The web dashboard's reads: a keyset page of jobs (newest first), one job with its events,
/// the workers with their heartbeats, and the periodic ticks. Rows are read by column name
/// (`QueryResult.NamedRow`). The overview's counts are ``AdminSQL/countsBy(_:)``.
package enum DashboardSQL {
  /// The job columns every dashboard listing reads, `args` cut to `$1` characters.
  private static func jobColumns(argumentsLimit: String) -> String {
    """
    id, queue_name, task_name, priority, lock, queueing_lock,
      left(args::text, \(argumentsLimit)) AS args, status,
      extract(epoch FROM scheduled_at)::float8 AS scheduled_at, attempts, abort_requested,
      worker_id
    """
  }

  /// Newest first, after the keyset cursor `$6` (an id; NULL for the first page). Every
  /// filter is optional (NULL matches everything); `$7` limits the rows, `$8` the
  /// characters of args. The primary key's backward scan serves the order and the cursor.
  static let jobsPage = Statement(
    "procrastinate_swift_dashboard_jobs",
    """
    SELECT \(jobColumns(argumentsLimit: "$8::int"))
    FROM procrastinate_jobs
    WHERE ($1::varchar IS NULL OR queue_name = $1)
      AND ($2::varchar IS NULL OR task_name = $2)
      AND ($3::procrastinate_job_status IS NULL OR status = $3)
      AND ($4::text IS NULL OR lock = $4)
      AND ($5::bigint IS NULL OR worker_id = $5)
      AND ($6::bigint IS NULL OR id < $6)
    ORDER BY id DESC
    LIMIT $7::bigint
    """)

  /// One job, its arguments whole.
  static let job = Statement(
    "procrastinate_swift_dashboard_job",
    """
    SELECT \(jobColumns(argumentsLimit: "1000000000"))
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
