/// Stopping: no new fetches, then running jobs finish (or are cancelled past
/// `shutdownTimeout`) and their outcomes are written.
extension Worker {
  /// Stops fetching; running jobs finish (up to `shutdownTimeout`), then `run()` returns.
  public func stop() {
    let first = state.withLock { state -> Bool in
      defer { state.stopping = true }
      return !state.stopping
    }
    if first { logger.info("stopping: no new jobs will be fetched") }
    completer.workerStopping()
    jobAvailable.close()
    jobEnded.signal()
  }

  /// Stops fetching and cancels the running jobs without waiting for `shutdownTimeout`
  /// (they end `aborted`, or are retried if their strategy says so): what cancelling
  /// ``run()`` does.
  func stopNow() {
    state.withLock { $0.abortRunning = true }
    stop()
  }

  /// Waits for running jobs; past `shutdownTimeout` cancels them (they end aborted).
  func drainRunningJobs() async {
    let deadline = options.shutdownTimeout.map { ContinuousClock.now + $0 }
    var cancelled = false
    while runningJobCount > 0 {
      await completer.flush()
      let timedOut = deadline.map { ContinuousClock.now >= $0 } ?? false
      if !cancelled, timedOut || state.withLock({ $0.abortRunning }) {
        let tasks = state.withLock { $0.running.values.map(\.task) }
        logger.warning(
          "\(timedOut ? "shutdown timeout reached" : "worker cancelled"): aborting \(tasks.count) running job(s)"
        )
        for task in tasks { task.cancel() }
        cancelled = true
      }
      let wait =
        deadline.map { max(.milliseconds(10), min($0 - ContinuousClock.now, .seconds(1))) }
        ?? .seconds(1)
      await jobEnded.wait(timeout: cancelled ? .seconds(1) : wait)
    }
  }
}
