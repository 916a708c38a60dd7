import Foundation

/// How a job's run ended, decided in one place for the worker (what it writes back and
/// counts) and the traced run wrapper (what its span says).
struct JobOutcome: Sendable, Equatable {
  /// The handler was cancelled (an abort, or the worker stopping past its timeout).
  var aborted: Bool
  /// Seconds before the next attempt, when the task's retry strategy asks for one.
  var retryDelay: Double?

  /// The outcome of a run that threw `error`, on a job with `attempts` earlier attempts.
  init(error: any Error, retry: RetryStrategy?, attempts: Int) {
    aborted = error is CancellationError || Task.isCancelled
    retryDelay = retry?.retryDelay(attempts: attempts, error: error)
  }

  /// `procrastinate.job.outcome`, and the `outcome` label of the job metrics: `aborted`,
  /// `retried` or `failed` (a run that returned is `succeeded`).
  var name: String { aborted ? "aborted" : retryDelay != nil ? "retried" : "failed" }
}

/// Running a job: its task's handler, then the outcome the worker writes back.
extension Worker {
  /// Starts fetched jobs and gives back the slots reserved for the fetch, in one step.
  @discardableResult
  func start(_ jobs: [FetchedJob], releasing reserved: Int) -> [Task<Void, Never>] {
    state.withLock { state in
      state.reserved -= reserved
      return jobs.map { job in
        let task = Task { await self.process(job) }
        state.started(jobID: job.id, attempts: job.row.attempts, task: task)
        return task
      }
    }
  }

  private func process(_ job: FetchedJob) async {
    let completion = await execute(job)
    await completer.complete(completion) {
      self.state.withLock { $0.executing -= 1 }
      self.jobEnded.signal()
    }
    state.withLock { $0.ended(jobID: job.id, attempts: job.row.attempts) }
    jobEnded.signal()
    // A one-shot worker decides to stop only when nothing of its own is in flight.
    if options.oneShot { jobAvailable.signal() }
  }

  /// Runs the job's task and decides its outcome.
  private func execute(_ job: FetchedJob) async -> Completion {
    var logger = self.logger
    logger[metadataKey: "job_id"] = "\(job.id)"
    logger[metadataKey: "task"] = "\(job.row.task)"
    let deleteFinal = options.deleteJobs == .always
    guard let task = tasks[job.row.task] else {
      logger.error(
        "job \(job.id) failed: \(TaskRegistryError.unknownTask(job.row.task, registered: tasks.taskNames)) in this worker"
      )
      return Completion(job, .finish(status: .failed, delete: deleteFinal))
    }
    let context = JobContext(
      jobID: job.id, taskName: job.row.task, queueName: job.row.queue, attempts: job.row.attempts,
      workerID: job.row.workerID ?? workerID ?? 0, scheduledAt: job.row.scheduledAt,
      priority: job.row.priority,
      lock: job.row.lock, queueingLock: job.row.queueingLock, deferredAt: job.deferredAt,
      logger: logger,
      app: app)
    QueueMetrics.jobStarted(task: job.row.task, queue: job.row.queue, wait: context.queueWait())
    let started = ContinuousClock.now
    func finished(_ outcome: String) {
      QueueMetrics.jobFinished(
        task: job.row.task, queue: job.row.queue, outcome: outcome,
        duration: ContinuousClock.now - started)
    }
    do {
      try await task.handler(JobArguments(trustedJSON: job.row.arguments), context)
      logger.debug("job \(job.id) succeeded in \(ContinuousClock.now - started)")
      finished("succeeded")
      return Completion(job, .finish(status: .succeeded, delete: options.deleteJobs != .never))
    } catch {
      let outcome = JobOutcome(error: error, retry: task.retry, attempts: job.row.attempts)
      let what = outcome.aborted ? "was aborted" : "failed"
      finished(outcome.name)
      if let delay = outcome.retryDelay {
        logger.warning(
          "job \(job.id) \(what) (attempt \(job.row.attempts + 1)): \(error); retrying in \(delay)s"
        )
        return Completion(job, .retry(at: Date().addingTimeInterval(delay)))
      }
      logger.error("job \(job.id) \(what) (attempt \(job.row.attempts + 1)): \(error)")
      return Completion(
        job, .finish(status: outcome.aborted ? .aborted : .failed, delete: deleteFinal))
    }
  }
}
