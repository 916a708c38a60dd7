import Foundation
import Logging

/// Why the outcome of a run was not written: its job was no longer `doing` at the attempt
/// the run was fetched with. Logged with what happened, and counted in
/// ``QueueMetrics/outcomeConflicts`` by `reason` (the raw value).
enum OutcomeConflict: String, Sendable, Equatable {
  /// The job already holds this outcome: an earlier write of it committed though its answer
  /// was lost with the connection, and this one was sent again.
  case alreadyRecorded = "already_recorded"
  /// The job was changed by someone else meanwhile (another worker's stalled-job recovery,
  /// an administrator, a cancel): this run's outcome is dropped.
  case changedElsewhere = "changed_elsewhere"
  /// The job no longer exists.
  case gone = "gone"
  /// The job's state could not be read to say which.
  case unknown = "unknown"

  /// What the job's row, as read now (nil when there is none), says of `completion`.
  init(_ completion: Completion, now: (status: JobStatus, attempts: Int)?) {
    let counted = completion.attempts + 1
    switch (completion.action, now) {
    case (.finish(_, let delete), nil):
      self = delete ? .alreadyRecorded : .gone
    case (.retry, nil):
      self = .gone
    case (.finish(let status, false), let now?) where now.status == status:
      self = now.attempts == counted ? .alreadyRecorded : .changedElsewhere
    case (.retry, let now?) where now.status == .todo && now.attempts == counted:
      self = .alreadyRecorded
    default:
      self = .changedElsewhere
    }
  }

  /// How a worker logs it: an outcome already recorded is no problem, the rest are.
  var level: Logger.Level { self == .alreadyRecorded ? .info : .warning }

  /// The log message for `completion`, with the job's row as read now.
  func message(_ completion: Completion, now: (status: JobStatus, attempts: Int)?) -> String {
    let run = "job \(completion.jobID) (attempt \(completion.attempts + 1))"
    let outcome: String
    switch completion.action {
    case .finish(let status, let delete): outcome = status.rawValue + (delete ? ", deleted" : "")
    case .retry: outcome = "retry"
    }
    let state = now.map { "it is \($0.status.rawValue) after \($0.attempts) attempt(s)" }
    switch self {
    case .alreadyRecorded:
      return
        "the outcome of \(run) (\(outcome)) was already recorded: an earlier write of it committed though its answer was lost with the connection"
    case .changedElsewhere:
      return
        "could not record the outcome of \(run) (\(outcome)): \(state ?? "it changed") — changed by someone else while it ran (another worker's stalled-job recovery, an administrator, a cancel); this run's outcome is dropped"
    case .gone:
      return
        "could not record the outcome of \(run) (\(outcome)): the job no longer exists (deleted while it ran)"
    case .unknown:
      return
        "could not record the outcome of \(run) (\(outcome)): the job was no longer doing at this attempt, and reading its state failed"
    }
  }
}
