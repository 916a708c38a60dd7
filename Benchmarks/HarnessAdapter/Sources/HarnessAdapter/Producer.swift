import Foundation
import Logging
import Procrastinate
import ServiceLifecycle

/// Defers `long_horizon_job` jobs inside the process, at a fixed rate (credit from wall
/// time, re-reading the control file each tick) or keeping the queue near a target depth.
/// A database error is logged (the first of a run of them) and the tick retried: the
/// producer never stops before shutdown.
struct Producer: Service {
  let app: ProcrastinateApp
  let settings: AdapterSettings
  let counters: Counters
  let logger: Logger

  func run() async throws {
    var sequence = 0
    var credit = 0.0
    var last = ContinuousClock.now
    var failing = false
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let count: Int
      switch settings.producerMode {
      case .fixed:
        let rate = settings.currentRate()
        counters.targetRate.store(Int(rate.rounded()), ordering: .relaxed)
        let now = ContinuousClock.now
        guard rate > 0 else {
          credit = 0
          last = now
          try? await Task.sleep(for: .milliseconds(100))
          continue
        }
        credit += rate * seconds(now - last)
        last = now
        count = min(settings.batchMax, Int(credit.rounded(.down)))
      case .depthTarget:
        counters.targetRate.store(0, ordering: .relaxed)
        let depth = counters.queueDepth.load(ordering: .relaxed)
        count = depth < 0 ? 0 : min(settings.batchMax, settings.targetDepth - depth)
      }
      guard count > 0 else {
        try? await Task.sleep(
          for: settings.producerMode == .fixed ? settings.batchInterval : .milliseconds(50))
        continue
      }
      let jobs = (0..<count).map { offset in
        JobRequest(
          task: AdapterSettings.task, arguments: payload(sequence: sequence + offset),
          options: DeferOptions(queue: AdapterSettings.queue))
      }
      do {
        if count == 1 { try await app.defer(jobs[0]) } else { try await app.deferBatch(jobs) }
        sequence += count
        credit -= Double(count)
        counters.enqueued.add(count, ordering: .relaxed)
        if settings.producerMode == .depthTarget {
          // Counted until the poller's next reading, so one reading is not spent twice.
          counters.queueDepth.add(count, ordering: .relaxed)
        }
        if failing { logger.info("producer: deferring works again") }
        failing = false
      } catch {
        if !failing { logger.error("producer: deferring failed, retrying: \(error)") }
        failing = true
        try? await Task.sleep(for: .milliseconds(100))
        continue
      }
      if settings.producerMode == .fixed && credit < Double(settings.batchMax) {
        try? await Task.sleep(for: settings.batchInterval)
      }
    }
  }

  /// `{"seq": n, "created_at": "…", "padding": "xxx…"}`, padded to `JOB_PAYLOAD_BYTES`.
  func payload(sequence: Int) -> JobArguments {
    let createdAt = Timestamp.iso(Date())
    var members: [String: JSONValue] = [
      "seq": .int(Int64(sequence)), "created_at": .string(createdAt), "padding": .string(""),
    ]
    let unpadded = JobArguments(members).json.utf8.count
    guard settings.payloadBytes > unpadded else { return JobArguments(members) }
    members["padding"] = .string(String(repeating: "x", count: settings.payloadBytes - unpadded))
    return JobArguments(members)
  }
}

func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
