import Foundation

/// The loops beside fetching: listening for NOTIFYs, polling for aborts, and giving back
/// stalled jobs. (The heartbeat is in `WorkerRegistration.swift`, the periodic deferrer in
/// `PeriodicDeferrer.swift`.)
extension Worker {
  /// LISTENs on procrastinate's channels on its own connection and wakes the fetch loop.
  /// Each time LISTEN is in place (at start, and after a lost connection) it wakes the loop
  /// once and looks for aborts once, since notifications sent before it listened are lost: a
  /// job may start, and have its abort requested, before the first LISTEN.
  func listenLoop() async {
    while !Task.isCancelled {
      var connection: PostgresConnection?
      do {
        let listener = try await store.openListener(queues: options.queues)
        connection = listener
        listening.succeeded()
        jobAvailable.signal()
        await pollAborts()
        var quiet = Duration.zero
        while !Task.isCancelled {
          // Cancelling this task (the worker stopping) ends the wait at once.
          let received = try await listener.notifications(timeout: .milliseconds(500))
          if received.isEmpty {
            quiet += .milliseconds(500)
            if quiet >= .seconds(30) {
              try await store.keepAlive(listener)
              quiet = .zero
            }
            continue
          }
          quiet = .zero
          if received.contains(where: { $0.payload.contains("job_inserted") }) {
            jobAvailable.signal()
          }
          let aborts = received.compactMap(Self.abortRequest(in:))
          if !aborts.isEmpty { abort(aborts, how: "NOTIFY") }
        }
      } catch {
        if Task.isCancelled {
          await connection?.close()
          break
        }
        let wait = listening.failed(error)
        jobAvailable.signal()
        try? await Task.sleep(for: wait)
      }
      await connection?.close()
    }
  }

  /// The job id of an `{"type": "abort_job_requested", "job_id": 123}` notification.
  static func abortRequest(in notification: PostgresNotification) -> Int64? {
    guard notification.payload.contains("abort_job_requested"),
      let object = try? JSONDecoder().decode(
        [String: JSONValue].self, from: Data(notification.payload.utf8)),
      object["type"] == .string("abort_job_requested"), case .int(let id) = object["job_id"]
    else { return nil }
    return id
  }

  /// Cancels the Swift tasks running `jobIDs` (those this worker runs): the handler sees
  /// cancellation, and the job ends `aborted`, or `failed` if its retry strategy asks to
  /// retry (procrastinate_retry_job_v2 refuses to retry an abort), as with Python.
  private func abort(_ jobIDs: [Int64], how: String) {
    let tasks = state.withLock { state in
      jobIDs.compactMap { id in state.running[id].map { (id, $0.task) } }
    }
    for (id, task) in tasks where !task.isCancelled {
      logger.warning("abort requested for job \(id) (\(how)): cancelling it")
      task.cancel()
    }
  }

  /// While jobs run, looks for aborts requested on them every `abortPollingInterval`, in
  /// case a NOTIFY was missed (or LISTEN is off).
  func abortPollingLoop() async {
    while !Task.isCancelled {
      try? await Task.sleep(for: options.abortPollingInterval)
      guard !Task.isCancelled else { continue }
      await pollAborts()
    }
  }

  /// Looks once for aborts requested on the jobs this worker runs, and cancels them.
  private func pollAborts() async {
    guard let workerID, runningJobCount > 0 else { return }
    do {
      let ids = try await store.jobsToAbort(workerID: workerID)
      if !ids.isEmpty { abort(ids, how: "polling") }
    } catch {
      logger.debug("looking for aborts failed: \(error)")
    }
  }

  /// Gives back jobs stalled under dead or silent workers, every `every`, never one held
  /// here (``heldJobs()``): a job of ours that lost its worker id (our row was pruned while
  /// our heartbeats failed) is taken back instead.
  func stalledJobsLoop(every: Duration) async {
    let seconds = options.stalledWorkerTimeout.inSeconds
    while !Task.isCancelled {
      try? await Task.sleep(for: every)
      guard !Task.isCancelled else { return }
      do {
        let stalled = try await app.store.stalledJobs(silentFor: seconds, excluding: workerID)
        if stalled.isEmpty { continue }
        let held = await heldJobs()
        var retried: [Int64] = []
        for job in stalled where !held.contains(job.id) {
          if try await app.store.retryStalledJob(
            id: job.id, silentFor: seconds, excluding: workerID)
          {
            retried.append(job.id)
          }
        }
        if !retried.isEmpty {
          logger.warning("gave back \(retried.count) stalled job(s): \(retried)")
        }
        let ours = stalled.map(\.id).filter(held.contains)
        if !ours.isEmpty, let workerID {
          logger.warning("jobs \(ours) held here had lost their worker id; taking them back")
          try await store.reclaimRunningJobs(ours, workerID: workerID)
        }
      } catch is CancellationError {
        return  // the worker is stopping
      } catch {
        logger.warning("looking for stalled jobs failed: \(error)")
      }
    }
  }
}
