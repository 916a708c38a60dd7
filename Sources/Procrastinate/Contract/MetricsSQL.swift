/// What the queue's state metrics read (``QueueStateMetrics``) besides the jobs by queue and
/// status (``AdminSQL/countsBy(_:)`` on `queue_name`): the oldest due `todo` job per queue,
/// stalled jobs per queue, and workers by heartbeat.
package enum MetricsSQL {
  /// Per queue, the seconds since its oldest due `todo` job became runnable: the latest of
  /// its last `deferred`, `deferred_for_retry` or `retried` event and its `scheduled_at` (as
  /// the worker's queue wait counts). Jobs scheduled in the future are not waiting yet.
  static let oldestTodo = Statement(
    "procrastinate_swift_metrics_oldest_todo",
    """
    SELECT job.queue_name AS queue,
      extract(epoch FROM now() - min(greatest(job.scheduled_at,
        (SELECT max(event.at) FROM procrastinate_events AS event
          WHERE event.job_id = job.id
            AND event.type IN ('deferred', 'deferred_for_retry', 'retried')))))::float8 AS age
    FROM procrastinate_jobs AS job
    WHERE job.status = 'todo' AND (job.scheduled_at IS NULL OR job.scheduled_at <= now())
    GROUP BY job.queue_name
    """)

  /// Per queue, the `doing` jobs whose worker is gone or has not beaten for `$1` seconds
  /// (``AdminSQL/stalledJobs``, counted).
  static let stalledCounts = Statement(
    "procrastinate_swift_metrics_stalled",
    """
    SELECT queue_name AS queue, count(*) AS count
    FROM procrastinate_jobs
    WHERE status = 'doing'
      AND (worker_id IS NULL OR worker_id IN (
        SELECT id FROM procrastinate_workers
        WHERE last_heartbeat < now() - make_interval(secs => $1::float8)))
    GROUP BY queue_name
    """)

  /// Workers whose last heartbeat is at most `$1` seconds old, and all registered workers.
  static let workers = Statement(
    "procrastinate_swift_metrics_workers",
    """
    SELECT count(*) FILTER (
        WHERE last_heartbeat >= now() - make_interval(secs => $1::float8)) AS live,
      count(*) AS registered
    FROM procrastinate_workers
    """)
}

/// The queue's state at one moment, as ``QueueStateMetrics`` publishes it.
package struct QueueState: Sendable, Equatable {
  /// Jobs by queue, then status.
  package var jobs: [String: [String: Int]] = [:]
  /// Per queue with due `todo` jobs, the seconds its oldest one has waited.
  package var oldestTodoAge: [String: Double] = [:]
  /// Stalled jobs per queue that has any.
  package var stalled: [String: Int] = [:]
  /// Workers with a recent heartbeat, and all registered workers.
  package var liveWorkers = 0
  package var registeredWorkers = 0
}
