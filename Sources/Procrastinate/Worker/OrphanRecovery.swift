import Foundation

extension Worker {
  /// After a fetch failed on the connection, its transaction may still have committed: its
  /// jobs are `doing` with our worker id, and nobody would ever run them. Once no other
  /// fetch is in flight, one loop lists the jobs `doing` under our id; if no fetch started
  /// meanwhile (the fetch generation is unchanged), those we do not hold are orphans and go
  /// back to `todo` (`procrastinate_retry_job_v2`, as stalled-job recovery does), each only
  /// while it is still `doing` under our id. A job that finished meanwhile is left alone.
  ///
  /// `always` makes the check due now (a one-shot worker about to stop).
  @discardableResult
  func recoverOrphansIfNeeded(always: Bool = false) async -> OrphanCheck {
    guard let workerID,
      let generation = state.withLock({ state -> Int? in
        if always { state.orphanCheckPending = true }
        return state.beginOrphanCheck()
      })
    else { return .notStarted }
    defer { state.withLock { $0.orphanCheckRunning = false } }
    let doing: [Int64]
    do {
      doing = try await store.doingJobs(workerID: workerID)
    } catch {
      return .interrupted  // still unreachable: try again on the next round
    }
    let unrecorded = await completer.unrecorded
    let orphans = state.withLock {
      $0.orphans(among: doing, unrecorded: unrecorded, generation: generation)
    }
    guard let orphans else { return .interrupted }
    var givenBack = 0
    for id in orphans {
      // Its outcome may have failed to record since the list was made: it ran, leave it.
      if await completer.unrecorded.contains(id) { continue }
      do {
        if try await store.retryOrphan(id: id, workerID: workerID) {
          givenBack += 1
          logger.warning(
            "job \(id) was fetched by a transaction whose answer was lost with the connection; it is back in todo"
          )
        }
      } catch {
        state.withLock { $0.orphanCheckPending = true }
        return .interrupted
      }
    }
    return .done(givenBack: givenBack)
  }
}

/// How an orphan check went.
enum OrphanCheck: Equatable {
  /// None was due, another loop is checking, or a fetch was in flight: nothing was read.
  case notStarted
  /// A fetch started while it ran, or the database did not answer: it is still due.
  case interrupted
  /// It ran to its end, with no fetch beside it, and gave back this many jobs.
  case done(givenBack: Int)
}
