/// What ``QueueStateMetrics`` reads (``MetricsSQL``).
extension QueueStore {
  /// The queue's state now: stalled means a `doing` job whose worker is gone or silent for
  /// `stalledAfter`; live, a worker that beat within `liveWithin`.
  package func queueState(stalledAfter: Duration, liveWithin: Duration) async throws
    -> QueueState
  {
    var state = QueueState()
    for counts in try await counts(by: "queue_name") {
      state.jobs[counts.name] = counts.counts
    }
    for row in try await pool.execute(MetricsSQL.oldestTodo).namedRows {
      guard let queue = row.string("queue"), let age = row.double("age") else { continue }
      state.oldestTodoAge[queue] = max(0, age)
    }
    for row in try await pool.execute(MetricsSQL.stalledCounts, [String(stalledAfter.inSeconds)])
      .namedRows
    {
      guard let queue = row.string("queue"), let count = row.int("count") else { continue }
      state.stalled[queue] = count
    }
    let workers = try await pool.execute(MetricsSQL.workers, [String(liveWithin.inSeconds)])
      .namedRows.first
    state.liveWorkers = workers?.int("live") ?? 0
    state.registeredWorkers = workers?.int("registered") ?? 0
    return state
  }
}
