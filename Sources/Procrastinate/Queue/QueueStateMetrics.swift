import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The queue's state as swift-metrics gauges, taken on a timer: what an operator alerts on
/// (a growing backlog, an old job waiting, stalled jobs, no live worker).
///
/// Opt-in and bounded: nothing takes these unless this service runs, and it runs four
/// queries per interval (never per job), however many workers there are: run it in one
/// process, beside the dashboard or one worker.
///
/// ```swift
/// let queueMetrics = try QueueStateMetrics(app: app, interval: .seconds(15))
/// let group = ServiceGroup(services: [queueMetrics, worker], logger: logger)
/// ```
///
/// | label | kind | dimensions |
/// |---|---|---|
/// | `procrastinate_jobs` | gauge | `queue`, `status` (`todo`, `doing`, `succeeded`, `failed`, `cancelled`, `aborting`, `aborted`) |
/// | `procrastinate_queue_oldest_todo_age_seconds` | gauge | `queue` (0 when nothing is due) |
/// | `procrastinate_jobs_stalled` | gauge | `queue` (`doing`, worker gone or silent) |
/// | `procrastinate_workers_live` | gauge | — (heartbeat within `liveWithin`) |
/// | `procrastinate_workers_registered` | gauge | — |
/// | `procrastinate_queue_metrics_failures_total` | counter | — (a sample the database refused) |
///
/// Counting jobs by status reads every row of `procrastinate_jobs`: with a long history of
/// finished jobs, delete them (`WorkerOptions.deleteJobs`) or take a longer interval.
public final class QueueStateMetrics: Service, Sendable {
  /// Gauge of jobs, by `queue` and `status`.
  public static let jobs = "procrastinate_jobs"
  /// Gauge of the seconds the oldest due `todo` job of a `queue` has waited.
  public static let oldestTodoAge = "procrastinate_queue_oldest_todo_age_seconds"
  /// Gauge of stalled jobs, by `queue`.
  public static let stalledJobs = "procrastinate_jobs_stalled"
  /// Gauge of workers that beat within `liveWithin`.
  public static let liveWorkers = "procrastinate_workers_live"
  /// Gauge of the rows of `procrastinate_workers`.
  public static let registeredWorkers = "procrastinate_workers_registered"
  /// Counter of samples that failed (the database could not be read).
  public static let failures = "procrastinate_queue_metrics_failures_total"

  /// The shortest and longest intervals allowed.
  public static let intervals: ClosedRange<Duration> = .seconds(1)...(.seconds(3600))

  private let app: ProcrastinateApp
  private let interval: Duration
  private let stalledAfter: Duration
  private let liveWithin: Duration
  private let logger: Logger
  /// The series published last, so that one that disappears (a queue emptied) reads 0.
  private let published = Mutex<Set<[String]>>([])

  /// Takes the state every `interval` (1 s to 1 h). A `doing` job is stalled when its
  /// worker is gone or silent for `stalledAfter` (30 s, as the worker's
  /// `stalledWorkerTimeout`); a worker is live when it beat within `liveWithin` (30 s).
  ///
  /// - Throws: ``ConfigurationError`` when a duration is out of range.
  public init(
    app: ProcrastinateApp, interval: Duration = .seconds(15),
    stalledAfter: Duration = .seconds(30), liveWithin: Duration = .seconds(30)
  ) throws {
    guard Self.intervals.contains(interval) else {
      throw ConfigurationError(
        "QueueStateMetrics: interval \(interval) is out of range; use 1 s to 1 h")
    }
    guard stalledAfter > .zero, liveWithin > .zero else {
      throw ConfigurationError(
        "QueueStateMetrics: stalledAfter and liveWithin must be positive durations")
    }
    self.app = app
    self.interval = interval
    self.stalledAfter = stalledAfter
    self.liveWithin = liveWithin
    var logger = app.logger
    logger[metadataKey: "component"] = "queue-metrics"
    self.logger = logger
  }

  /// Samples at once, then every interval, until graceful shutdown or cancellation. A
  /// failed sample is logged (once until one succeeds) and counted; the gauges keep their
  /// last values until the next sample.
  public func run() async throws {
    var failing = false
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      do {
        try await sample()
        if failing { logger.info("queue metrics: the database answers again") }
        failing = false
      } catch {
        if Task.isCancelled || Task.isShuttingDownGracefully { break }
        Counter(label: Self.failures).increment()
        if !failing { logger.warning("queue metrics: could not read the queue's state: \(error)") }
        failing = true
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
    }
  }

  /// Reads the queue's state once and publishes it.
  package func sample() async throws {
    let state = try await app.store.queueState(stalledAfter: stalledAfter, liveWithin: liveWithin)
    var series: [([String], Double)] = []
    for (queue, counts) in state.jobs {
      for (status, count) in counts { series.append(([Self.jobs, queue, status], Double(count))) }
    }
    for (queue, age) in state.oldestTodoAge { series.append(([Self.oldestTodoAge, queue], age)) }
    for (queue, count) in state.stalled {
      series.append(([Self.stalledJobs, queue], Double(count)))
    }
    series.append(([Self.liveWorkers], Double(state.liveWorkers)))
    series.append(([Self.registeredWorkers], Double(state.registeredWorkers)))
    let now = Set(series.map(\.0))
    let gone = published.withLock { published in
      defer { published = now }
      return published.subtracting(now)
    }
    for (key, value) in series { gauge(key).record(value) }
    for key in gone { gauge(key).record(0) }
  }

  /// `[label, queue, status]`, `[label, queue]` or `[label]` as a gauge.
  private func gauge(_ key: [String]) -> Gauge {
    let names = ["queue", "status"]
    return Gauge(
      label: key[0], dimensions: key.dropFirst().enumerated().map { (names[$0.offset], $0.element) }
    )
  }
}
