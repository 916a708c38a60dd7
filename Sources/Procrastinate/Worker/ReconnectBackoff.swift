import Logging
import Synchronization

/// Paces the retries of one kind of the worker's database work (fetching jobs, listening,
/// recording outcomes) while the database cannot be reached, and says so in few lines.
///
/// The first failure of an outage logs one error naming the work, the reason and the
/// pacing; later attempts log at debug level, with a reminder at warning level once a
/// minute; the first success afterwards logs how long it lasted and how many attempts failed.
/// Waits start at 50 ms (or ``ceiling`` if lower) and double up to ``ceiling``, each shortened
/// by up to a quarter at random so that the slots and workers of a fleet do not retry in step.
final class ReconnectBackoff: Sendable {
  private struct Outage {
    var failures = 0
    var since: ContinuousClock.Instant
    var lastReminder: ContinuousClock.Instant
  }

  /// What is retried, as a log line names it ("fetching jobs").
  let work: String
  let first: Duration
  let ceiling: Duration
  private let logger: Logger
  private let outage = Mutex<Outage?>(nil)
  /// Whether an outage is under way: lets ``succeeded()`` skip the lock on the hot path.
  /// Written only under the lock of `outage`, so the two never disagree there.
  private let failing = Atomic<Bool>(false)
  private static let reminderInterval: Duration = .seconds(60)

  init(_ work: String, ceiling: Duration, logger: Logger) {
    self.work = work
    self.ceiling = ceiling
    self.first = min(.milliseconds(50), ceiling)
    self.logger = logger
  }

  /// Records a failed attempt and returns how long to wait before the next one.
  func failed(_ error: any Error) -> Duration {
    let now = ContinuousClock.now
    let (failures, remind) = outage.withLock { outage -> (Int, Bool) in
      var current = outage ?? Outage(since: now, lastReminder: now)
      current.failures += 1
      let remind = now - current.lastReminder >= Self.reminderInterval
      if remind { current.lastReminder = now }
      outage = current
      failing.store(true, ordering: .releasing)
      return (current.failures, remind)
    }
    let wait = Self.wait(afterFailures: failures, first: first, ceiling: ceiling)
    if failures == 1 {
      logger.error(
        "\(work) failed: \(error); retrying every \(first) doubling up to \(ceiling) until it works (logged when it does)"
      )
    } else if remind {
      logger.warning("\(work) still failing after \(failures) attempts: \(error)")
    } else {
      logger.debug("\(work) failed again (attempt \(failures)), retrying in \(wait): \(error)")
    }
    return wait
  }

  /// Records a successful attempt: ends the outage, if there was one, with a log line.
  func succeeded() {
    guard failing.load(ordering: .acquiring) else { return }
    let ended = outage.withLock { outage in
      defer { outage = nil }
      failing.store(false, ordering: .releasing)
      return outage
    }
    guard let ended else { return }
    logger.info(
      "\(work) works again, after \(ended.failures) failed attempt(s) over \(ContinuousClock.now - ended.since)"
    )
  }

  /// The wait after `failures` consecutive failures, before jitter: `first` doubled
  /// `failures - 1` times, at most `ceiling`.
  static func nominalWait(afterFailures failures: Int, first: Duration, ceiling: Duration)
    -> Duration
  {
    var wait = first
    for _ in 1..<max(failures, 1) where wait < ceiling { wait *= 2 }
    return min(wait, ceiling)
  }

  /// ``nominalWait(afterFailures:first:ceiling:)`` shortened by up to a quarter at random.
  static func wait(afterFailures failures: Int, first: Duration, ceiling: Duration) -> Duration {
    nominalWait(afterFailures: failures, first: first, ceiling: ceiling)
      * Double.random(in: 0.75...1.0)
  }
}
