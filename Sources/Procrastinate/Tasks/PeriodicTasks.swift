import Foundation
import ProcrastinateConventions
import ProcrastinateCron
import Tracing

/// A task deferred on a cron schedule by every worker's periodic deferrer; one job per tick
/// across all workers (`procrastinate_defer_periodic_job_v2`), with a `timestamp` argument
/// (the tick, Unix seconds), as procrastinate's `@app.periodic`.
public struct PeriodicTask: Sendable {
  /// The task deferred at each tick.
  public let task: TaskDefinition
  /// The cron expression as registered: 5 fields, or 6 with seconds, in UTC.
  public let cron: String
  /// Tells apart several schedules of one task (Python's `periodic_id`).
  public let periodicID: String
  /// Arguments besides `timestamp`.
  public let arguments: [String: JSONValue]
  let schedule: Cron
}

extension TaskRegistry {
  /// Defers `task` on the cron schedule `cron` (5 fields, or 6 with seconds, UTC) from
  /// every worker built with this registry. Each tick's job starts a fresh trace.
  ///
  /// - Throws: `CronError` for a bad expression; ``TaskRegistryError`` for a schedule of
  ///   this task with this `periodicID` already registered.
  public mutating func registerPeriodic(
    _ task: TaskDefinition, cron: String, periodicID: String = "",
    arguments: [String: JSONValue] = [:]
  ) throws {
    let schedule = try Cron(cron)
    if periodic.contains(where: { $0.task.name == task.name && $0.periodicID == periodicID }) {
      throw TaskRegistryError.duplicateTask("\(task.name) (periodic id '\(periodicID)')")
    }
    periodic.append(
      PeriodicTask(
        task: task, cron: cron, periodicID: periodicID, arguments: arguments, schedule: schedule))
  }
}

extension ProcrastinateApp {
  /// Defers the job of one tick, in a fresh trace: a `procrastinate.defer.<task>` root span
  /// whose context the job carries. Nil when another worker already deferred this tick.
  @discardableResult
  public func deferPeriodic(_ periodic: PeriodicTask, tick: Date) async throws -> Int64? {
    let task = periodic.task
    let timestamp = Int64(tick.timeIntervalSince1970.rounded(.down))
    let name = TracingKeys.deferSpanName(task: task.name)
    return try await withSpan(name, context: .topLevel, ofKind: .producer) { span in
      span.updateAttributes { attributes in
        attributes[TracingKeys.messagingSystem] = TracingKeys.messagingSystemValue
        attributes[TracingKeys.messagingOperationType] = "send"
        attributes[TracingKeys.messagingOperationName] = "defer"
        attributes[TracingKeys.messagingDestinationName] = task.defaults.queue
        attributes[TracingKeys.taskName] = task.name
        attributes[TracingKeys.periodicID] = periodic.periodicID
        attributes[TracingKeys.periodicTimestamp] = Int(timestamp)
      }
      var arguments = periodic.arguments
      arguments[Conventions.periodicTimestampArgument] = .int(timestamp)
      if let key = task.trace.carrier {
        var headers: [String: String] = [:]
        InstrumentationSystem.instrument.inject(
          ServiceContext.current ?? .topLevel, into: &headers, using: DictionaryInjector())
        if !headers.isEmpty { arguments[key] = .object(headers.mapValues { .string($0) }) }
      }
      let options = task.defaults
      let id = try await store.deferPeriodicJob(
        task: task.name, options: options, periodicID: periodic.periodicID, timestamp: timestamp,
        argumentsJSON: JSONValue.object(arguments).description)
      if let id {
        span.attributes[TracingKeys.jobID] = Int(id)
        span.attributes[TracingKeys.messagingMessageID] = String(id)
        QueueMetrics.deferredJobs([JobRequest(task: task.name, options: options)])
      }
      return id
    }
  }
}
