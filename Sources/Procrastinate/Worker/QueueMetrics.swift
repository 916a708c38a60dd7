import Foundation
import Metrics

/// The queue's swift-metrics, in one place: labels, dimensions, and where they are fed.
/// With no metrics backend bootstrapped they cost next to nothing.
///
/// | label | kind | dimensions |
/// |---|---|---|
/// | `procrastinate_jobs_deferred_total` | counter | `task`, `queue` |
/// | `procrastinate_jobs_started_total` | counter | `task`, `queue` |
/// | `procrastinate_jobs_finished_total` | counter | `task`, `queue`, `outcome` (`succeeded`, `failed`, `retried`, `aborted`) |
/// | `procrastinate_job_duration_seconds` | timer | `task`, `queue`, `outcome` |
/// | `procrastinate_job_queue_wait_seconds` | timer | `task`, `queue` (defer, retry or due time → start) |
/// | `procrastinate_fetch_duration_seconds` | timer | `strategy` (`batched`, `per_job`) |
/// | `procrastinate_job_outcome_conflicts_total` | counter | `task`, `queue`, `reason` (`already_recorded`, `changed_elsewhere`, `gone`, `unknown`) |
public enum QueueMetrics {
  /// Counter of deferred jobs, by `task` and `queue`.
  public static let deferred = label("jobs_deferred_total")
  /// Counter of jobs a worker started, by `task` and `queue`.
  public static let started = label("jobs_started_total")
  /// Counter of jobs whose run ended, by `task`, `queue` and `outcome`.
  public static let finished = label("jobs_finished_total")
  /// Timer of how long runs took, by `task`, `queue` and `outcome`.
  public static let duration = label("job_duration_seconds")
  /// Timer of the wait from defer, retry or due time to start, by `task` and `queue`.
  public static let queueWait = label("job_queue_wait_seconds")
  /// Timer of how long fetching jobs took, by `strategy`.
  public static let fetchDuration = label("fetch_duration_seconds")

  /// Counter of run outcomes a worker did not write because the job was no longer `doing`
  /// at that run's attempt, by `task`, `queue` and `reason`: `already_recorded` (an earlier
  /// write committed though its answer was lost), `changed_elsewhere` (another worker's
  /// stalled-job recovery, an administrator), `gone` (deleted) or `unknown`.
  public static let outcomeConflicts = label("job_outcome_conflicts_total")

  /// Every label starts with `procrastinate_`.
  private static func label(_ name: String) -> String { "procrastinate_" + name }

  static func deferredJobs(_ jobs: [JobRequest]) {
    let grouped = Dictionary(grouping: jobs) { [$0.taskName, $0.options.queue] }
    for (key, group) in grouped {
      Counter(label: deferred, dimensions: [("task", key[0]), ("queue", key[1])])
        .increment(by: group.count)
    }
  }

  static func jobStarted(task: String, queue: String, wait: Duration?) {
    Counter(label: started, dimensions: [("task", task), ("queue", queue)]).increment()
    if let wait {
      Metrics.Timer(label: queueWait, dimensions: [("task", task), ("queue", queue)])
        .record(duration: wait)
    }
  }

  static func jobFinished(task: String, queue: String, outcome: String, duration: Duration) {
    let dimensions = [("task", task), ("queue", queue), ("outcome", outcome)]
    Counter(label: finished, dimensions: dimensions).increment()
    Metrics.Timer(label: QueueMetrics.duration, dimensions: dimensions)
      .record(duration: duration)
  }

  static func outcomeConflict(task: String, queue: String, reason: String) {
    Counter(
      label: outcomeConflicts, dimensions: [("task", task), ("queue", queue), ("reason", reason)]
    ).increment()
  }

  static func fetched(strategy: String, duration: Duration) {
    Metrics.Timer(label: fetchDuration, dimensions: [("strategy", strategy)])
      .record(duration: duration)
  }
}
