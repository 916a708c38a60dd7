import Foundation
import Logging
import Procrastinate
import ServiceLifecycle

/// Every `SAMPLE_EVERY_S`, on the wall clock's multiples of it, prints one line per metric.
struct Sampler: Service {
  let settings: AdapterSettings
  let counters: Counters
  let telemetry: Telemetry

  func run() async throws {
    let every = Double(settings.sampleEvery)
    var lastTime = Date().timeIntervalSince1970
    var lastEnqueued = counters.enqueued.load(ordering: .relaxed)
    var lastCompleted = counters.completed.load(ordering: .relaxed)
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      let next = ((Date().timeIntervalSince1970 / every).rounded(.down) + 1) * every
      // Sleeps can end a little early: wait until the boundary has passed.
      while case let now = Date().timeIntervalSince1970, now < next {
        try? await Task.sleep(for: .milliseconds(max(1, Int(((next - now) * 1000).rounded(.up)))))
        if Task.isShuttingDownGracefully || Task.isCancelled { return }
      }
      let time = next
      let enqueued = counters.enqueued.load(ordering: .relaxed)
      let completed = counters.completed.load(ordering: .relaxed)
      let elapsed = max(time - lastTime, 0.001)
      emit(
        at: time, enqueueRate: Double(enqueued - lastEnqueued) / elapsed,
        completionRate: Double(completed - lastCompleted) / elapsed)
      (lastTime, lastEnqueued, lastCompleted) = (time, enqueued, completed)
    }
  }

  func emit(at time: Double, enqueueRate: Double, completionRate: Double) {
    let date = Date(timeIntervalSince1970: (time * 1000).rounded(.down) / 1000)
    let window = LatencyWindow.seconds
    // Latencies only when there were jobs in the last 30 s: no data is not 0 ms.
    if let claim = counters.claim.percentiles([50, 95, 99], now: time) {
      telemetry.metric("claim_p50_ms", claim[0], window: window, at: date)
      telemetry.metric("claim_p95_ms", claim[1], window: window, at: date)
      telemetry.metric("claim_p99_ms", claim[2], window: window, at: date)
    }
    if let endToEnd = counters.endToEnd.percentiles([50, 95, 99], now: time) {
      telemetry.metric("end_to_end_p50_ms", endToEnd[0], window: window, at: date)
      telemetry.metric("end_to_end_p95_ms", endToEnd[1], window: window, at: date)
      telemetry.metric("end_to_end_p99_ms", endToEnd[2], window: window, at: date)
    }
    let interval = Double(settings.sampleEvery)
    telemetry.metric("enqueue_rate", enqueueRate, window: interval, at: date)
    telemetry.metric("completion_rate", completionRate, window: interval, at: date)
    // The observer's metrics: one replica reports them for all.
    if settings.instanceID == 0 {
      let depth = counters.queueDepth.load(ordering: .relaxed)
      if depth >= 0 { telemetry.metric("queue_depth", Double(depth), window: 0, at: date) }
      telemetry.metric(
        "producer_target_rate", Double(counters.targetRate.load(ordering: .relaxed)), window: 0,
        at: date)
    }
  }
}

/// Reads the queue's `todo` count about every 200 ms (instance 0, which reports it, and any
/// replica in depth-target mode, which produces by it).
struct DepthPoller: Service {
  let app: ProcrastinateApp
  let counters: Counters

  func run() async throws {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      if let rows = try? await app.query(
        "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = $1 AND status = 'todo'",
        [AdapterSettings.queue]),
        let depth = rows.first?.first.flatMap({ $0 }).flatMap({ Int($0) })
      {
        counters.queueDepth.store(depth, ordering: .relaxed)
      }
      try? await Task.sleep(for: .milliseconds(200))
    }
  }
}
