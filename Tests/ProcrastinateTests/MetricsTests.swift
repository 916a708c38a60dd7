import Foundation
import Metrics
import MetricsTestKit
import Procrastinate
import ProcrastinateTesting
import Testing

/// swift-metrics' test backend, bootstrapped once for the process; tests use their own
/// task names, so they read only their own series.
enum TestMetricsBackend {
  static let metrics: TestMetrics = {
    let metrics = TestMetrics()
    MetricsSystem.bootstrap(metrics)
    return metrics
  }()
}

@Suite("Metrics")
struct MetricsTests {
  @Test("deferred, started, finished by outcome, duration, queue wait and fetch time are recorded")
  func recorded() async throws {
    let metrics = TestMetricsBackend.metrics
    let app = try await TestDatabase.app()
    let ok = "metrics.ok.\(UUID().uuidString.prefix(8))"
    let bad = "metrics.bad.\(UUID().uuidString.prefix(8))"
    try await app.deferBatch([JobRequest(task: ok), JobRequest(task: ok)])
    try await app.defer(task: bad, options: DeferOptions(queue: "other"))
    var tasks = TaskRegistry()
    try tasks.register(ok) { _, _ in try await Task.sleep(for: .milliseconds(20)) }
    try tasks.register(bad, retry: .attempts(1)) { _, _ in throw TaskFailure(description: "no") }
    try await Worker(app: app, tasks: tasks, options: .test()).run()

    #expect(
      try metrics.expectCounter(QueueMetrics.deferred, [("task", ok), ("queue", "default")])
        .totalValue == 2)
    #expect(
      try metrics.expectCounter(QueueMetrics.deferred, [("task", bad), ("queue", "other")])
        .totalValue == 1)
    #expect(
      try metrics.expectCounter(QueueMetrics.started, [("task", ok), ("queue", "default")])
        .totalValue == 2)
    #expect(
      try metrics.expectCounter(QueueMetrics.started, [("task", bad), ("queue", "other")])
        .totalValue == 2)
    let succeeded = [("task", ok), ("queue", "default"), ("outcome", "succeeded")]
    #expect(try metrics.expectCounter(QueueMetrics.finished, succeeded).totalValue == 2)
    for outcome in ["retried", "failed"] {
      let dimensions = [("task", bad), ("queue", "other"), ("outcome", outcome)]
      #expect(try metrics.expectCounter(QueueMetrics.finished, dimensions).totalValue == 1)
    }
    let durations = try metrics.expectTimer(QueueMetrics.duration, succeeded).values
    #expect(durations.count == 2 && durations.allSatisfy { $0 >= 20_000_000 })
    let waits = try metrics.expectTimer(
      QueueMetrics.queueWait, [("task", ok), ("queue", "default")])
    #expect(waits.values.count == 2 && waits.values.allSatisfy { $0 >= 0 && $0 < 60_000_000_000 })
    #expect(
      try !metrics.expectTimer(QueueMetrics.fetchDuration, [("strategy", "batched")]).values.isEmpty
    )
  }
}
