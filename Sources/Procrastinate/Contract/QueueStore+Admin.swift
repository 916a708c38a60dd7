/// The operator's statements (``AdminSQL``): listings, counts, manual retry, cancel, and
/// stalled jobs.
extension QueueStore {
  func listJobs(_ filter: JobFilter) async throws -> [JobSummary] {
    let parameters: [String?] = [
      filter.id.map(String.init), filter.queue, filter.task, filter.status?.rawValue, filter.lock,
      filter.queueingLock, filter.workerID.map(String.init), String(max(0, filter.limit)),
    ]
    return try await pool.execute(AdminSQL.listJobs, parameters).namedRows.compactMap(
      JobSummary.init)
  }

  /// Job counts by `column`, one of ``AdminSQL/groupColumns``, ordered by name.
  func counts(by column: String) async throws -> [JobCounts] {
    var result: [JobCounts] = []
    for row in try await pool.execute(AdminSQL.countsBy(column)).namedRows {
      guard let name = row.string("name"), let status = row.string("status"),
        let count = row.int("count")
      else { continue }
      if result.last?.name != name { result.append(JobCounts(name: name, counts: [:])) }
      result[result.count - 1].counts[status] = count
    }
    return result
  }

  /// Sends a `failed` job back to `todo` now; whether it was `failed`.
  func retryFailedJob(id: Int64) async throws -> Bool {
    !(try await pool.execute(AdminSQL.retryFailed, [String(id)]).rows.isEmpty)
  }

  /// `procrastinate_cancel_job_v1`; whether it acted.
  func cancelJob(id: Int64, abort: Bool, delete: Bool) async throws -> Bool {
    let rows = try await pool.execute(
      AdminSQL.cancel, [String(id), abort ? "t" : "f", delete ? "t" : "f"]
    ).namedRows
    return rows.first?.int64("id") != nil
  }

  /// `doing` jobs whose worker is gone or silent for `seconds`, never those of `excluded`.
  func stalledJobs(silentFor seconds: Double, excluding excluded: Int64?) async throws
    -> [JobSummary]
  {
    try await pool.execute(AdminSQL.stalledJobs, [String(seconds), excluded.map(String.init)])
      .namedRows.compactMap(JobSummary.init)
  }

  /// Gives a stalled job back now, only if it is still stalled; whether it did.
  func retryStalledJob(id: Int64, silentFor seconds: Double, excluding excluded: Int64?)
    async throws -> Bool
  {
    !(try await pool.execute(
      AdminSQL.retryStalled, [String(id), String(seconds), excluded.map(String.init)]
    ).rows.isEmpty)
  }

  /// Whether the database answers (one `SELECT 1`).
  package func ping() async throws {
    try await pool.execute(AdminSQL.ping)
  }
}
