import Foundation

/// The operator's statements: the admin listings, manual retry, cancel and abort, and
/// stalled jobs, following procrastinate 3.10's `queries.sql`. Every filter is optional:
/// a NULL parameter matches everything.
package enum AdminSQL {
  /// The columns of a ``JobSummary``, by the names it reads them with; `args` is
  /// `arguments`, an SQL expression (the dashboard cuts it short).
  static func summaryColumns(arguments: String = "args::text") -> String {
    """
    id, queue_name, task_name, priority, lock, queueing_lock, \(arguments) AS args, status,
      extract(epoch FROM scheduled_at)::float8 AS scheduled_at, attempts, abort_requested,
      worker_id
    """
  }

  /// `($n::type IS NULL OR column = $n) AND …` for `filters`, numbered from `$1`: each
  /// filter is optional, a NULL parameter matching every row.
  static func optionalEquals(_ filters: (column: String, type: String)...) -> String {
    filters.enumerated().map { index, filter in
      "($\(index + 1)::\(filter.type) IS NULL OR \(filter.column) = $\(index + 1))"
    }.joined(separator: "\n  AND ")
  }

  /// Whether the database answers at all (`procrastinate-swift healthchecks`).
  static let ping = Statement("procrastinate_swift_ping", "SELECT 1")

  /// Python's `list_jobs`, with `scheduled_at` as epoch seconds; `$8` limits the rows.
  static let listJobs = Statement(
    "procrastinate_swift_list_jobs",
    """
    SELECT \(summaryColumns())
    FROM procrastinate_jobs
    WHERE \(optionalEquals(
      ("id", "bigint"), ("queue_name", "varchar"), ("task_name", "varchar"),
      ("status", "procrastinate_job_status"), ("lock", "varchar"), ("queueing_lock", "varchar"),
      ("worker_id", "bigint")))
    ORDER BY id
    LIMIT $8::bigint
    """)

  /// Counts per queue, task or lock and status (Python's `list_queues`, `list_tasks`,
  /// `list_locks`); `$1` is the column, one of ``groupColumns``.
  static func countsBy(_ column: String) -> Statement {
    precondition(groupColumns.contains(column))
    return Statement(
      "procrastinate_swift_counts_by_\(column)",
      """
      SELECT \(column) AS name, status, count(*) AS count
      FROM procrastinate_jobs
      WHERE \(column) IS NOT NULL
      GROUP BY \(column), status
      ORDER BY \(column), status
      """)
  }

  static let groupColumns = ["queue_name", "task_name", "lock"]

  /// A manual retry of a `failed` job, now: `procrastinate_retry_job_v2`, which records the
  /// `retried` event. The row is locked in a materialised CTE: with `FOR UPDATE` in the same
  /// SELECT as the function, the row the function changed is skipped and no row returns.
  static let retryFailed = Statement(
    "procrastinate_swift_retry_failed",
    """
    WITH target AS MATERIALIZED (
      SELECT id FROM procrastinate_jobs WHERE id = $1::bigint AND status = 'failed' FOR UPDATE
    )
    SELECT id, procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL) FROM target
    """)

  /// Gives a stalled job back, now, only if it is still stalled: `doing`, and its worker
  /// gone or silent for `$2` seconds (a worker that came back keeps its job).
  static let retryStalled = Statement(
    "procrastinate_swift_retry_stalled",
    """
    WITH target AS MATERIALIZED (
      SELECT jobs.id FROM procrastinate_jobs AS jobs
      WHERE jobs.id = $1::bigint AND jobs.status = 'doing'
        AND ($3::bigint IS NULL OR jobs.worker_id IS DISTINCT FROM $3::bigint)
        AND (jobs.worker_id IS NULL OR jobs.worker_id IN (
          SELECT id FROM procrastinate_workers
          WHERE last_heartbeat < now() - make_interval(secs => $2::float8)))
      FOR UPDATE OF jobs
    )
    SELECT id, procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL) FROM target
    """)

  /// `procrastinate_cancel_job_v1(id, abort, delete)`: the id when it acted, else NULL.
  static let cancel = Statement(
    "procrastinate_swift_cancel",
    "SELECT procrastinate_cancel_job_v1($1::bigint, $2::boolean, $3::boolean) AS id")

  /// Python's `select_stalled_jobs_by_heartbeat`: `doing` jobs whose worker is gone or has
  /// not beaten for `$1` seconds, never those of worker `$2` (the one asking: a worker's own
  /// jobs are not stalled, even when its heartbeats run late).
  static let stalledJobs = Statement(
    "procrastinate_swift_stalled_jobs",
    """
    WITH stalled_workers AS (
      SELECT id FROM procrastinate_workers
      WHERE last_heartbeat < now() - make_interval(secs => $1::float8)
    )
    SELECT \(summaryColumns())
    FROM procrastinate_jobs
    WHERE status = 'doing'
      AND (worker_id IS NULL OR worker_id IN (SELECT id FROM stalled_workers))
      AND ($2::bigint IS NULL OR worker_id IS DISTINCT FROM $2::bigint)
    ORDER BY id
    """)
}

extension JobSummary {
  /// Reads a row of ``AdminSQL/summaryColumns(arguments:)`` by column name.
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
