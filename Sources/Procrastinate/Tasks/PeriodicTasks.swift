import Foundation
import ProcrastinateConventions
import ProcrastinateCron
import Tracing

/// A task deferred on a cron schedule by every worker's periodic deferrer; one job per tick
/// across all workers (`procrastinate_defer_periodic_job_v2`), with a `timestamp` argument
/// (the tick, Unix seconds), as procrastinate's `@app.periodic`.
public struct PeriodicTask: Sendable {
  public let task: TaskDefinition
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
  /// - Throws: ``CronError`` for a bad expression; ``TaskRegistryError`` for a schedule of
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
      let row = try await pool.execute(
        JobSQL.deferPeriodic,
        [
          options.queue, options.lock, options.queueingLock, task.name, String(options.priority),
          periodic.periodicID, String(timestamp), JSONValue.object(arguments).description,
        ]
      ).rows.first
      let id = row?.int64(0)
      if let id {
        span.attributes[TracingKeys.jobID] = Int(id)
        span.attributes[TracingKeys.messagingMessageID] = String(id)
        QueueMetrics.deferredJobs([JobRequest(task: task.name, options: options)])
      }
      return id
    }
  }
}

extension Worker {
  /// Every worker defers the ticks of the registry's periodic tasks, as Python does: each
  /// time it wakes, only the latest past tick of each task, if it is newer than the last
  /// one handled and at most `periodicMaxDelay` old (missed ticks are not caught up: an
  /// older tick would slip past the deduplication, which keeps only the newest row); it
  /// then sleeps until the next tick plus 0.5 s. A tick that failed is tried again.
  func periodicDeferrerLoop(_ periodic: [PeriodicTask]) async {
    var last = [Date?](repeating: nil, count: periodic.count)
    let maxDelay = Self.seconds(options.periodicMaxDelay)
    func deferLatest(_ index: Int, now: Date) async {
      guard let tick = periodic[index].schedule.previous(atOrBefore: now),
        last[index].map({ tick > $0 }) ?? true
      else { return }
      guard now.timeIntervalSince(tick) <= maxDelay else {
        last[index] = tick
        return
      }
      do {
        if let id = try await app.deferPeriodic(periodic[index], tick: tick) {
          app.logger.info(
            "periodic \(periodic[index].task.name) (\(periodic[index].cron)): deferred job \(id) for \(tick.ISO8601Format())"
          )
        }
        last[index] = tick  // deferred here, or already by another worker
      } catch {
        app.logger.warning(
          "periodic \(periodic[index].task.name): could not defer the tick \(tick.ISO8601Format()): \(error)"
        )
      }
    }
    while !Task.isCancelled {
      let now = Date()
      for index in periodic.indices { await deferLatest(index, now: now) }
      let upcoming = periodic.indices.compactMap { periodic[$0].schedule.next(after: now) }
      guard let wake = upcoming.min() else { return }
      // At least 0.5 s, at most a minute between looks (a failed tick is retried then).
      let delay = min(60, max(0, wake.timeIntervalSince(Date())) + 0.5)
      do {
        try await Task.sleep(for: .milliseconds(Int(delay * 1000)))
      } catch {
        return
      }
    }
  }
}
