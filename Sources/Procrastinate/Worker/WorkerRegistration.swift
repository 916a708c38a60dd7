/// The worker's row in `procrastinate_workers`: registering, heartbeats, registering again
/// after being pruned, and unregistering.
extension Worker {
  /// Prunes workers silent for `stalledWorkerTimeout` (as Python's worker does on start),
  /// then registers this one; its id.
  func registerPruningStalledWorkers() async throws -> Int64 {
    let pruned = try await store.pruneStalledWorkers(
      silentFor: options.stalledWorkerTimeout.inSeconds)
    if !pruned.isEmpty { logger.info("pruned stalled workers \(pruned)") }
    return try await register()
  }

  private func register() async throws -> Int64 {
    let id = try await store.registerWorker()
    state.withLock { $0.workerID = id }
    return id
  }

  /// After our row was pruned (its jobs lost their `worker_id`), registers anew and takes
  /// back the jobs still running here, so nobody counts them as stalled and aborts reach them.
  func registerAgain() async {
    guard let id = try? await register() else { return }
    let running = state.withLock { Array($0.running.keys) }
    if running.isEmpty { return }
    try? await store.reclaimRunningJobs(running, workerID: id)
  }

  func heartbeatLoop() async {
    while !Task.isCancelled {
      try? await Task.sleep(for: options.heartbeatInterval)
      guard !Task.isCancelled, let workerID else { return }
      do {
        try await store.heartbeat(workerID: workerID)
        // A fetch given up on (its answer never came) may still reach the server and commit
        // later, once a stalled network forwards it: its jobs would be `doing` under our id
        // with nobody running them. So the orphan check also runs once per heartbeat, not
        // only right after a failed fetch.
        state.withLock { $0.orphanCheckPending = true }
      } catch {
        logger.warning("heartbeat failed: \(error)")
      }
    }
  }

  func unregister() async {
    guard let workerID else { return }
    do {
      try await store.unregisterWorker(id: workerID)
    } catch {
      logger.warning("could not unregister worker \(workerID): \(error)")
    }
  }
}
