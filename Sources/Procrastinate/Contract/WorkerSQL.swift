/// The statements a worker runs about itself.
package enum WorkerSQL {
  /// Sets worker `$1` on the `doing` jobs `$2` that lost their worker id when the worker's
  /// row was pruned.
  static let reclaimRunning = Statement(
    "procrastinate_swift_reclaim_running",
    """
    UPDATE procrastinate_jobs SET worker_id = $1::bigint
    WHERE id = ANY($2::bigint[]) AND status = 'doing' AND worker_id IS NULL
    """)

  /// Python's `list_jobs_to_abort`, for the jobs of worker `$1`.
  static let jobsToAbort = Statement(
    "procrastinate_swift_jobs_to_abort",
    """
    SELECT id FROM procrastinate_jobs
    WHERE status = 'doing' AND abort_requested AND worker_id = $1::bigint
    """)

  static let register = Statement(
    "procrastinate_swift_register_worker",
    "SELECT worker_id FROM procrastinate_register_worker_v1()")

  static let unregister = Statement(
    "procrastinate_swift_unregister_worker",
    "SELECT procrastinate_unregister_worker_v1($1::bigint)")

  /// `procrastinate_update_heartbeat_v1`, and whether worker `$1` is still registered (its
  /// row may have been pruned by another worker that saw no heartbeat for too long).
  static let heartbeat = Statement(
    "procrastinate_swift_heartbeat",
    """
    SELECT procrastinate_update_heartbeat_v1($1::bigint),
      EXISTS (SELECT 1 FROM procrastinate_workers WHERE id = $1::bigint) AS registered
    """)

  static let pruneStalledWorkers = Statement(
    "procrastinate_swift_prune_stalled_workers",
    "SELECT worker_id FROM procrastinate_prune_stalled_workers_v1($1::float8)")

  /// `LISTEN` on one of the NOTIFY channels, its name quoted as an identifier.
  static func listen(_ channel: String) -> String {
    "LISTEN \(PostgresConnection.quoteIdentifier(channel))"
  }

  /// Sent on a listening connection that heard nothing for a while: it keeps the connection
  /// alive through idle timeouts and finds out when it is gone.
  static let keepAlive = "SELECT 1"

  /// The NOTIFY channels, as in procrastinate 3.10.
  static let anyQueueChannel = "procrastinate_any_queue_v1"
  static func queueChannel(_ queue: String) -> String { "procrastinate_queue_v1#\(queue)" }
}
