/// Fetching, with either strategy: batched (up to the free slots per round trip, with the
/// outcomes that wait written in the same transaction) or per job (one slot loop per unit
/// of concurrency, as Python's worker does).
extension Worker {
  /// Runs the fetch loops of the worker's strategy until it stops.
  func fetchAndRunUntilStopped() async {
    switch options.fetchStrategy {
    case .batched:
      // Two loops when concurrency allows, so that the database works on two transactions
      // at once, each fetching up to its share of the free slots.
      let fetchers = min(2, options.concurrency)
      await withTaskGroup(of: Void.self) { group in
        for _ in 0..<fetchers { group.addTask { await self.batchedFetchLoop() } }
      }
      await completer.flush()
    case .perJob:
      await withTaskGroup(of: Void.self) { slots in
        for _ in 0..<options.concurrency { slots.addTask { await self.perJobSlotLoop() } }
      }
    }
  }

  private func batchedFetchLoop() async {
    while !isStopping {
      // Jobs that end together are fetched for together: let handlers that are ready to
      // return do so before counting free slots, rather than fetching one job per wake-up.
      await Task.yield()
      await recoverOrphansIfNeeded()
      let reserved = state.withLock {
        $0.reserveSlots(limit: options.concurrency, concurrency: options.concurrency)
      }
      let outcomes = await completer.takePending()
      if reserved == 0 && outcomes.isEmpty {
        await jobEnded.wait(timeout: options.pollingInterval)
        continue
      }
      let ended = state.withLock { $0.endedGeneration }
      let ticket = jobAvailable.ticket()
      let jobs = await fetchAndFinish(limit: reserved, outcomes: outcomes)
      logger.debug(
        "wrote \(outcomes.count) outcome(s), fetched \(jobs.map { String($0.count) } ?? "no") job(s) for \(reserved) free slot(s)"
      )
      start(jobs ?? [], releasing: reserved)
      if reserved > 0 && jobs?.isEmpty == true {
        if await stopIfOneShotIsDone(since: ended) { break }
        await jobAvailable.wait(after: ticket, timeout: options.pollingInterval)
      }
    }
  }

  /// Writes `outcomes` and fetches up to `limit` jobs in one transaction and one round trip.
  /// Nil after an error (logged; the outcomes are then written on their own, never lost).
  private func fetchAndFinish(limit: Int, outcomes: [JobCompleter.Waiting]) async -> [FetchedJob]? {
    guard let workerID = self.workerID else { return nil }
    let writes = JobSQL.outcomeWrites(outcomes.map(\.completion))
    do {
      let fetchStarted = ContinuousClock.now
      let (notEnded, jobs) = try await store.writeOutcomesAndFetch(
        writes, limit: limit, queues: options.queues, workerID: workerID)
      fetching.succeeded()
      if limit > 0 {
        QueueMetrics.fetched(strategy: "batched", duration: ContinuousClock.now - fetchStarted)
      }
      for outcome in outcomes { outcome.continuation.resume() }
      await completer.reportNotEnded(notEnded)
      return jobs
    } catch {
      if !outcomes.isEmpty { await completer.persistAndResume(outcomes) }
      if !outcomes.isEmpty, let error = error as? DatabaseError, error.kind == .statement,
        error.sqlState != DatabaseError.foreignKeyViolation
      {
        // An outcome could not be written with the fetch; it was written on its own above.
        return nil
      }
      // Outcomes written on their own above waited out the outage with their own
      // backoff: waiting again would stack the two (up to twice `reconnectDelay`).
      await fetchFailed(error, workerID: workerID, wait: outcomes.isEmpty)
      return nil
    }
  }

  private func perJobSlotLoop() async {
    while !isStopping {
      // The slot is reserved while its fetch is in flight, so a one-shot sibling that
      // finds nothing meanwhile does not take this job for "nothing left".
      await recoverOrphansIfNeeded()
      let ended = state.withLock { state -> Int in
        state.reserved += 1
        state.fetchGeneration += 1
        return state.endedGeneration
      }
      let ticket = jobAvailable.ticket()
      let fetched = await fetchOne()
      guard case .some(.some(let job)) = fetched else {
        state.withLock { $0.reserved -= 1 }
        guard fetched != nil else { continue }
        if await stopIfOneShotIsDone(since: ended) { break }
        // A job that ended, or a NOTIFY, while this slot was fetching wakes it at once.
        await jobAvailable.wait(after: ticket, timeout: options.pollingInterval)
        continue
      }
      for task in start([job], releasing: 1) { await task.value }
    }
  }

  /// Fetches one job: nil after an error (already logged and waited out), `.some(nil)`
  /// when none is due.
  private func fetchOne() async -> FetchedJob?? {
    guard let workerID = self.workerID else { return nil }
    do {
      let fetchStarted = ContinuousClock.now
      let job = try await store.fetchJob(queues: options.queues, workerID: workerID)
      fetching.succeeded()
      QueueMetrics.fetched(strategy: "per_job", duration: ContinuousClock.now - fetchStarted)
      return .some(job)
    } catch {
      await fetchFailed(error, workerID: workerID, wait: true)
      return nil
    }
  }

  /// What a failed fetch means. Our worker row is gone (pruned by another worker that saw
  /// no heartbeat: the fetch's foreign key fails), so register again. Otherwise the
  /// database is out of reach: log it with backoff, and since the fetch may have committed
  /// without our seeing its jobs, check for orphans; wait out the backoff when `wait`.
  private func fetchFailed(_ error: any Error, workerID: Int64, wait: Bool) async {
    if let error = error as? DatabaseError, error.sqlState == DatabaseError.foreignKeyViolation {
      logger.warning("worker \(workerID) was unregistered by someone else; registering again")
      await registerAgain(replacing: workerID)
      return
    }
    let delay = fetching.failed(error)
    state.withLock { $0.orphanCheckPending = true }
    if wait { await jobAvailable.wait(timeout: delay) }
  }

  /// One-shot: a fetch found nothing; stops the worker when nothing is in flight either.
  /// A fetch whose answer was lost may still have committed: its jobs are `doing` under our
  /// id and nobody would run them. So the last check before stopping gives them back to
  /// `todo`, and the worker goes on to run them; it stops only after a check that ran to
  /// its end with no fetch beside it and found none.
  ///
  /// Some loop must always be left to decide: a check that another loop's fetch or check
  /// kept from starting leaves the decision to that loop (which is in flight and decides
  /// when it ends); a check interrupted by a fetch, or by the database, wakes every loop to
  /// fetch and decide again, rather than leave them waiting out the polling interval.
  private func stopIfOneShotIsDone(since ended: Int) async -> Bool {
    guard options.oneShot, state.withLock({ $0.nothingInFlight(since: ended) }) else {
      return false
    }
    switch await recoverOrphansIfNeeded(always: true) {
    case .done(givenBack: 0):
      guard state.withLock({ $0.nothingInFlight(since: ended) }) else { return false }
    case .done, .interrupted:
      jobAvailable.signal()  // jobs went back to todo, or the check is still due
      return false
    case .notStarted:
      return false
    }
    if !isStopping { logger.info("no job left to fetch; stopping (one-shot)") }
    stop()
    return true
  }
}
