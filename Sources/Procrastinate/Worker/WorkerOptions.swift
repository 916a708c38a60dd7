/// How a worker fetches and runs jobs; the defaults are procrastinate's.
public struct WorkerOptions: Sendable {
  /// How jobs are fetched and finished.
  public enum FetchStrategy: Sendable, Equatable {
    /// One statement fetches as many jobs as there are free slots, and finished jobs are
    /// written together as they complete, with the same lock, priority, event and
    /// `worker_id` rules as `procrastinate_fetch_job_v2`. Fewer transactions per job.
    case batched
    /// Each slot calls `procrastinate_fetch_job_v2` and `procrastinate_finish_job_v1` for
    /// one job at a time, exactly as Python's worker does.
    case perJob
  }

  /// What to do with finished jobs (`procrastinate_finish_job_v1`'s `delete_job`).
  public enum DeleteJobs: String, Sendable, CaseIterable {
    /// `never` keeps every finished job (the default), `successful` deletes the jobs that
    /// succeeded, `always` every job that ends (succeeded, failed or aborted).
    case never, successful, always
  }

  /// The worker's name, in logs.
  public var name: String = "worker"
  /// The queues to consume; `nil` for all queues.
  public var queues: [String]? = nil
  /// How many jobs run at once.
  public var concurrency: Int = 1
  /// How jobs are fetched and finished: ``FetchStrategy/batched`` by default.
  public var fetchStrategy: FetchStrategy = .batched
  /// How often to look for jobs when no NOTIFY arrives (retries and scheduled jobs send none).
  public var pollingInterval: Duration = .seconds(5)
  /// Wake on procrastinate's NOTIFY channels.
  public var listenNotify: Bool = true
  /// Which finished jobs are deleted instead of kept with their final status.
  public var deleteJobs: DeleteJobs = .never
  /// How often the worker updates its heartbeat in `procrastinate_workers`.
  public var heartbeatInterval: Duration = .seconds(10)
  /// Workers whose heartbeat is older than this are pruned when this worker starts.
  public var stalledWorkerTimeout: Duration = .seconds(30)
  /// How long running jobs may go on after a stop; `nil` waits for them forever. After it,
  /// they are cancelled and end `aborted` (or are retried, if their strategy says so).
  public var shutdownTimeout: Duration? = nil
  /// Stop once a fetch finds nothing and the running jobs are done (`--one-shot`).
  public var oneShot: Bool = false
  /// Whether ``Worker/run()`` handles SIGINT and SIGTERM itself: the first one stops the
  /// worker gracefully, a second one ends the process; the previous handlers are back when
  /// `run()` returns. Off by default, as for any `Service`: in a `ServiceGroup` the group owns
  /// the signals (give it `gracefulShutdownSignals`). Turn it on for a worker that runs on its
  /// own in its process, as the `worker` command does. Never turn it on inside a group.
  public var installSignalHandlers: Bool = false
  /// How long a statement of the worker's own connections may go without a byte from the
  /// server before the connection counts as lost and is replaced (unless the app's
  /// ``DatabaseSettings/responseTimeout`` sets one): a silent network is noticed. The worker's
  /// statements are safe to give up on: fetches it lost are given back, outcomes retried.
  public var responseTimeout: Duration = .seconds(30)
  /// The longest pause between attempts while the database cannot be reached: pauses start
  /// at 50 ms and double up to this. An outage is logged once when it starts (then a
  /// reminder a minute) and once when it ends.
  public var reconnectDelay: Duration = .seconds(1)
  /// Run the periodic deferrer for the registry's periodic tasks (every worker does, by
  /// default, as in Python; ticks are deduplicated across workers).
  public var deferPeriodicTasks: Bool = true
  /// A periodic tick older than this is not deferred (Python's `max_delay`, 600 s).
  public var periodicMaxDelay: Duration = .seconds(600)
  /// Beyond Python: every this often, give back jobs stalled in `doing` (their worker gone
  /// or silent for `stalledWorkerTimeout`), as `procrastinate-swift stalled --retry` does;
  /// `nil` (the default) leaves that to an operator or a periodic job.
  public var retryStalledJobsEvery: Duration? = nil
  /// While jobs run, how often to look for aborts requested on them, besides the
  /// `abort_job_requested` NOTIFY (Python's `abort_job_polling_interval`).
  public var abortPollingInterval: Duration = .seconds(5)

  /// procrastinate's defaults.
  public init() {}

  /// The options most often set; the others keep their defaults.
  public init(
    queues: [String]? = nil, concurrency: Int = 1, oneShot: Bool = false,
    fetchStrategy: FetchStrategy = .batched, deleteJobs: DeleteJobs = .never
  ) {
    self.queues = queues
    self.concurrency = concurrency
    self.oneShot = oneShot
    self.fetchStrategy = fetchStrategy
    self.deleteJobs = deleteJobs
  }

  func validate() throws {
    if concurrency < 1 {
      throw ConfigurationError("worker concurrency must be at least 1, got \(concurrency)")
    }
    for queue in queues ?? [] {
      if let reason = DeferOptions.queueNameProblem(queue) {
        throw ConfigurationError("worker queue name '\(queue)' is invalid: \(reason)")
      }
    }
    let intervals: [(String, Duration?)] = [
      ("pollingInterval", pollingInterval), ("heartbeatInterval", heartbeatInterval),
      ("abortPollingInterval", abortPollingInterval),
      ("retryStalledJobsEvery", retryStalledJobsEvery), ("reconnectDelay", reconnectDelay),
    ]
    for (name, interval) in intervals {
      if let interval, interval <= .zero {
        throw ConfigurationError("worker \(name) must be positive, got \(interval)")
      }
    }
  }
}
