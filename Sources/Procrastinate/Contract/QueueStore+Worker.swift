/// What a worker says about itself: registration, heartbeats, aborts, and the connection
/// it listens on (``WorkerSQL``).
extension QueueStore {
  /// Registers a worker (`procrastinate_register_worker_v1`); its id.
  func registerWorker() async throws -> Int64 {
    guard let id = try await pool.execute(WorkerSQL.register).namedRows.first?.int64("worker_id")
    else {
      throw DatabaseError(
        kind: .statement, message: "procrastinate_register_worker_v1 returned no id",
        context: "register_worker")
    }
    return id
  }

  func unregisterWorker(id: Int64) async throws {
    try await pool.execute(WorkerSQL.unregister, [String(id)])
  }

  /// Beats worker `workerID`'s heartbeat; whether its row is still there.
  func heartbeat(workerID: Int64) async throws -> Bool {
    try await pool.execute(WorkerSQL.heartbeat, [String(workerID)]).namedRows.first?
      .string("registered") == "t"
  }

  /// Removes the workers silent for `seconds` (their jobs lose their worker id); their ids.
  func pruneStalledWorkers(silentFor seconds: Double) async throws -> [Int64] {
    try await pool.execute(WorkerSQL.pruneStalledWorkers, [String(seconds)]).namedRows
      .compactMap { $0.int64("worker_id") }
  }

  /// Sets `workerID` on the `doing` jobs `jobIDs` that lost their worker id.
  func reclaimRunningJobs(_ jobIDs: [Int64], workerID: Int64) async throws {
    try await pool.execute(
      WorkerSQL.reclaimRunning,
      [String(workerID), PostgresArray.literal(jobIDs.map { String($0) })])
  }

  /// The running jobs of `workerID` whose abort was requested.
  func jobsToAbort(workerID: Int64) async throws -> [Int64] {
    try await pool.execute(WorkerSQL.jobsToAbort, [String(workerID)]).namedRows
      .compactMap { $0.int64("id") }
  }

  /// Opens a connection of its own (not pooled) that LISTENs on the NOTIFY channels of
  /// `queues` (all queues when nil). The caller reads and closes it.
  func openListener(queues: [String]?) async throws -> PostgresConnection {
    let channels =
      queues.map { $0.map(WorkerSQL.queueChannel) } ?? [WorkerSQL.anyQueueChannel]
    let listener = try await PostgresConnection.connect(settings)
    do {
      for channel in channels {
        try await listener.query(WorkerSQL.listen(channel), context: "listen")
      }
    } catch {
      await listener.close()
      throw error
    }
    return listener
  }

  /// Keeps a quiet listening connection alive (and finds out when it is gone).
  func keepAlive(_ listener: PostgresConnection) async throws {
    try await listener.query(WorkerSQL.keepAlive, context: "listen keepalive")
  }
}
