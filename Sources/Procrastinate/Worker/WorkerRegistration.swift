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
  /// back the jobs held here (``heldJobs()``), so that no stalled-job recovery gives them away
  /// and aborts reach them. Retries until both are done (or the task is cancelled); when
  /// several loops find the row gone, one registers and the others return at once.
  func registerAgain(replacing old: Int64) async {
    let mine = state.withLock { state -> Bool in
      guard state.workerID == old, !state.registeringAgain else { return false }
      state.registeringAgain = true
      return true
    }
    guard mine else { return }
    defer { state.withLock { $0.registeringAgain = false } }
    var pause = Duration.milliseconds(50)
    func failed(_ what: String, _ error: any Error) async {
      logger.warning("\(what) failed, retrying in \(pause): \(error)")
      try? await Task.sleep(for: pause)
      pause = min(pause * 2, max(options.reconnectDelay, .milliseconds(50)))
    }
    var id: Int64?
    while id == nil, !Task.isCancelled {
      do { id = try await register() } catch { await failed("registering again", error) }
    }
    guard let id else { return }
    logger.info("worker \(old) registered again as worker \(id)")
    while !Task.isCancelled {
      let held = await heldJobs()
      if held.isEmpty { return }
      do {
        try await store.reclaimRunningJobs(held.sorted(), workerID: id)
        return
      } catch {
        await failed("taking back the jobs held here", error)
      }
    }
  }

  /// Beats every `heartbeatInterval`. A failed beat is tried again at once, with backoff: a
  /// pooled connection whose backend was terminated fails once and the next try opens a new
  /// one. A heartbeat left stale for `stalledWorkerTimeout` would make other workers take
  /// this one for dead and give back its running jobs, which would then run twice. A beat
  /// that finds our row gone (pruned meanwhile) registers again.
  func heartbeatLoop() async {
    var wait = options.heartbeatInterval
    while !Task.isCancelled {
      try? await Task.sleep(for: wait)
      guard !Task.isCancelled, let workerID else { return }
      do {
        let registered = try await store.heartbeat(workerID: workerID)
        heartbeating.succeeded()
        wait = options.heartbeatInterval
        if !registered {
          logger.warning(
            "worker \(workerID) was unregistered by someone else (its heartbeat looked stale); registering again"
          )
          await registerAgain(replacing: workerID)
        }
        // A fetch given up on (its answer never came) may still reach the server and commit
        // later, once a stalled network forwards it: its jobs would be `doing` under our id
        // with nobody running them. So the orphan check also runs once per heartbeat, not
        // only right after a failed fetch.
        state.withLock { $0.orphanCheckPending = true }
      } catch is CancellationError {
        return  // the worker is stopping
      } catch {
        wait = min(heartbeating.failed(error), options.heartbeatInterval)
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
