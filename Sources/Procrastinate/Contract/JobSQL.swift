import Foundation

/// The named statements that defer, fetch, finish and retry jobs.
///
/// Every change to a job goes through procrastinate 3.10's own SQL functions (or, for the
/// batched fetch, an `UPDATE` that applies `procrastinate_fetch_job_v2`'s rules), so the
/// schema's triggers write the events and send the NOTIFYs exactly as for Python.
package enum JobSQL {
  /// The job columns a worker reads (``FetchedJob``), by name, from a row source named
  /// `job`: a ``JobSummary``'s, and `deferred_at`, when the job was last put in `todo` (its
  /// `deferred`, `deferred_for_retry` or `retried` event), for the queue wait; one index
  /// lookup per job.
  static let jobColumns = """
    \(AdminSQL.summaryColumns()),
    (SELECT extract(epoch FROM max(event.at))::float8 FROM procrastinate_events AS event
     WHERE event.job_id = job.id AND event.type IN ('deferred', 'deferred_for_retry', 'retried'))
      AS deferred_at
    """

  /// One job through `procrastinate_defer_jobs_v1`; `$7` is epoch seconds or NULL.
  static let deferOne = Statement(
    "procrastinate_swift_defer_one",
    """
    SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(
      $1::varchar, $2::varchar, $3::integer, $4::text, $5::text, $6::jsonb,
      to_timestamp($7::float8)
    )::procrastinate_job_to_defer_v1])
    """)

  /// Many jobs in one call: the parameters are parallel arrays, in input order; the ids
  /// come back in the same order.
  static let deferMany = Statement(
    "procrastinate_swift_defer_many",
    """
    SELECT ids.id
    FROM unnest(procrastinate_defer_jobs_v1(ARRAY(
      SELECT ROW(q, t, p, l, ql, a, to_timestamp(s))::procrastinate_job_to_defer_v1
      FROM unnest($1::varchar[], $2::varchar[], $3::integer[], $4::text[], $5::text[],
                  $6::jsonb[], $7::float8[]) WITH ORDINALITY AS j(q, t, p, l, ql, a, s, n)
      ORDER BY n
    ))) WITH ORDINALITY AS ids(id, n)
    ORDER BY ids.n
    """)

  /// One job, exactly as Python's worker fetches it. `$1` is NULL for all queues.
  static let fetchOne = Statement(
    "procrastinate_swift_fetch_one",
    """
    SELECT \(jobColumns)
    FROM procrastinate_fetch_job_v2($1::varchar[], $2::bigint) AS job
    """)

  /// Up to `$3` jobs in one statement, with `procrastinate_fetch_job_v2`'s rules: `todo`,
  /// in the queues, due; a job with a lock is skipped while another job with that lock is
  /// `doing`, or is `todo` and comes first (higher priority, or same priority and lower id),
  /// which also means at most one job per lock is taken per batch; order
  /// `priority DESC, id ASC`; `SKIP LOCKED`; each claimed job gets `status = 'doing'` and
  /// this worker's id, so the status trigger writes its `started` event.
  static let fetchMany = Statement(
    "procrastinate_swift_fetch_many",
    """
    WITH candidate AS (
      SELECT jobs.id
      FROM procrastinate_jobs AS jobs
      WHERE jobs.status = 'todo'
        AND ($1::varchar[] IS NULL OR jobs.queue_name = ANY($1::varchar[]))
        AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
        AND (jobs.lock IS NULL OR NOT EXISTS (
          SELECT 1 FROM procrastinate_jobs AS other
          WHERE other.lock = jobs.lock
            AND other.id <> jobs.id
            AND (other.status = 'doing'
              OR (other.status = 'todo'
                AND (other.priority > jobs.priority
                  OR (other.priority = jobs.priority AND other.id < jobs.id))))))
      ORDER BY jobs.priority DESC, jobs.id ASC
      LIMIT $3::integer
      FOR UPDATE OF jobs SKIP LOCKED
    ), claimed AS (
      UPDATE procrastinate_jobs AS jobs
      SET status = 'doing', worker_id = $2::bigint
      WHERE jobs.id = ANY(ARRAY(SELECT id FROM candidate))
      RETURNING jobs.*
    )
    SELECT \(jobColumns) FROM claimed AS job ORDER BY job.priority DESC, job.id ASC
    """)

  /// Ends one run of a job (`succeeded`, `failed` or `aborted`), optionally deleting it:
  /// `procrastinate_finish_job_v1`, only while job `$1` is still `doing` with the attempts
  /// `$4` it was fetched with (locked, so nothing changes it in between). Returns the id when
  /// it ended the job; no row when the job is gone or was changed meanwhile (a write whose
  /// answer was lost and is sent again, or another worker's stalled-job recovery).
  static let finishOne = Statement(
    "procrastinate_swift_finish_one",
    """
    WITH target AS MATERIALIZED (
      SELECT id FROM procrastinate_jobs
      WHERE id = $1::bigint AND status = 'doing' AND attempts = $4::integer
      FOR UPDATE
    )
    SELECT id, procrastinate_finish_job_v1(id, $2::procrastinate_job_status, $3::boolean)
    FROM target
    """)

  /// Ends many runs in one set-based statement, with exactly the row changes of
  /// `procrastinate_finish_job_v1` for each: delete the job when asked, otherwise set the
  /// end status, clear `abort_requested`, and count the attempt. As with ``finishOne``, only
  /// a job still `doing` with the attempts its run was fetched with (`$4`) is touched; the
  /// triggers write the events. Returns the ids it ended: an id missing from the result is a
  /// job gone or changed meanwhile, and does not hold up the others.
  static let finishMany = Statement(
    "procrastinate_swift_finish_many",
    """
    WITH input AS (
      SELECT * FROM unnest($1::bigint[], $2::procrastinate_job_status[], $3::boolean[],
          $4::integer[])
        AS f(id, end_status, delete_job, run_attempts)
    ), deleted AS (
      DELETE FROM procrastinate_jobs AS jobs
      USING input
      WHERE jobs.id = ANY(ARRAY(SELECT id FROM input WHERE delete_job))
        AND jobs.id = input.id AND jobs.status = 'doing' AND jobs.attempts = input.run_attempts
      RETURNING jobs.id
    ), updated AS (
      UPDATE procrastinate_jobs AS jobs
      SET status = input.end_status,
          abort_requested = false,
          attempts = jobs.attempts + 1
      FROM input
      WHERE jobs.id = ANY(ARRAY(SELECT id FROM input WHERE NOT delete_job))
        AND jobs.id = input.id AND jobs.status = 'doing' AND jobs.attempts = input.run_attempts
      RETURNING jobs.id
    )
    SELECT id FROM deleted UNION ALL SELECT id FROM updated
    """)

  /// Sends one run's job back to `todo` for another attempt at `$2` (epoch seconds):
  /// `procrastinate_retry_job_v2`, only while job `$1` is still `doing` with the attempts `$6`
  /// its run was fetched with. Returns the id when it did, as ``finishOne``.
  static let retry = Statement(
    "procrastinate_swift_retry",
    """
    WITH target AS MATERIALIZED (
      SELECT id FROM procrastinate_jobs
      WHERE id = $1::bigint AND status = 'doing' AND attempts = $6::integer
      FOR UPDATE
    )
    SELECT id, procrastinate_retry_job_v2(
      id, to_timestamp($2::float8), $3::integer, $4::varchar, $5::varchar)
    FROM target
    """)

  /// The jobs a worker holds in `doing`, to find those fetched by a transaction whose
  /// answer was lost with the connection.
  static let doingJobsOfWorker = Statement(
    "procrastinate_swift_doing_jobs_of_worker",
    "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = $1::bigint")

  /// Gives back such a job (`$1`) at `$2` (epoch seconds), only while it is still `doing`
  /// under worker `$3`: `procrastinate_retry_job_v2` alone would also revive a `failed` job.
  static let retryOrphan = Statement(
    "procrastinate_swift_retry_orphan",
    """
    WITH target AS MATERIALIZED (
      SELECT id FROM procrastinate_jobs
      WHERE id = $1::bigint AND status = 'doing' AND worker_id = $3::bigint
      FOR UPDATE
    )
    SELECT id, procrastinate_retry_job_v2(id, to_timestamp($2::float8), NULL, NULL, NULL)
    FROM target
    """)

  /// One statement that writes job outcomes, with the runs it concerns.
  struct OutcomeWrite: Sendable {
    var statement: Statement
    var parameters: [String?]
    var completions: [Completion]

    var jobIDs: [Int64] { completions.map(\.jobID) }

    /// The runs the statement did not end, read from its `result` (the ids it ended): their
    /// job was gone, or no longer `doing` at the attempt the run was fetched with.
    func notEnded(by result: QueryResult) -> [Completion] {
      let ended = Set(result.namedRows.compactMap { $0.int64("id") })
      return completions.filter { !ended.contains($0.jobID) }
    }
  }

  /// The statements that write `completions`: all finishes in one ``finishMany`` (or
  /// ``finishOne`` when there is one, or when not `batching`), and one ``retry`` per retry.
  static func outcomeWrites(_ completions: [Completion], batching: Bool = true) -> [OutcomeWrite] {
    var finishes: [(completion: Completion, status: JobStatus, delete: Bool)] = []
    var writes: [OutcomeWrite] = []
    for completion in completions {
      switch completion.action {
      case .finish(let status, let delete):
        finishes.append((completion, status, delete))
      case .retry(let at):
        writes.append(
          OutcomeWrite(
            statement: retry,
            parameters: [
              String(completion.jobID), String(at.timeIntervalSince1970), nil, nil, nil,
              String(completion.attempts),
            ],
            completions: [completion]))
      }
    }
    if finishes.count > 1 && batching {
      let parameters = [
        PostgresArray.literal(finishes.map { String($0.completion.jobID) }),
        PostgresArray.literal(finishes.map(\.status.rawValue)),
        PostgresArray.literal(finishes.map { $0.delete ? "t" : "f" }),
        PostgresArray.literal(finishes.map { String($0.completion.attempts) }),
      ]
      writes.insert(
        OutcomeWrite(
          statement: finishMany, parameters: parameters, completions: finishes.map(\.completion)),
        at: 0)
    } else {
      let singles = finishes.map {
        OutcomeWrite(
          statement: finishOne,
          parameters: [
            String($0.completion.jobID), $0.status.rawValue, $0.delete ? "t" : "f",
            String($0.completion.attempts),
          ],
          completions: [$0.completion])
      }
      writes.insert(contentsOf: singles, at: 0)
    }
    return writes
  }

  /// The status and attempts of jobs `$1`, to say why an outcome could not be written.
  static let jobStatuses = Statement(
    "procrastinate_swift_job_statuses",
    """
    SELECT id, status::text AS status, attempts FROM procrastinate_jobs
    WHERE id = ANY($1::bigint[])
    """)

  /// The status of one job, for callers that wait on a job.
  static let jobStatus = Statement(
    "procrastinate_swift_job_status",
    "SELECT status::text AS status, attempts FROM procrastinate_jobs WHERE id = $1::bigint")
}

extension JobSQL {
  /// One tick of a periodic task: `procrastinate_defer_periodic_job_v2(queue, lock,
  /// queueing_lock, task_name, priority, periodic_id, defer_timestamp, args)`; the job id,
  /// or NULL when another worker already deferred this tick.
  static let deferPeriodic = Statement(
    "procrastinate_swift_defer_periodic",
    """
    SELECT procrastinate_defer_periodic_job_v2(
      $1::varchar, $2::varchar, $3::varchar, $4::varchar, $5::integer, $6::varchar, $7::bigint,
      $8::jsonb)
    """)
}

/// A job as a worker fetches it (``JobSQL/jobColumns``), read by column name.
struct FetchedJob: Sendable {
  /// Its row, as the admin listings read it.
  var row: JobSummary
  /// When the job was last put in `todo`: deferred, or sent back for a retry.
  var deferredAt: Date?

  var id: Int64 { row.id }

  /// Nil for the NULL row of an empty fetch.
  init?(_ row: QueryResult.NamedRow) {
    guard let job = JobSummary(row) else { return nil }
    self.row = job
    self.deferredAt = row.date("deferred_at")
  }
}
