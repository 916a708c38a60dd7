import Foundation
import MetricsTestKit
import Procrastinate
import ServiceLifecycle
import Testing

// Serialized: the worker gauges have no queue label, and the metrics backend is the
// process's, so the two tests must not sample at the same time.
@Suite("Queue state metrics", .serialized)
struct QueueStateMetricsTests {
  @Test(
    "jobs by queue and status, the oldest due todo job, stalled jobs and live workers; a queue emptied reads 0"
  )
  func sample() async throws {
    let metrics = TestMetricsBackend.metrics
    let app = try await TestDatabase.app()
    // Queue names of this test only: the metrics backend is shared by the process.
    let (mail, reports) = (
      "qsm.mail.\(UUID().uuidString.prefix(6))", "qsm.rep.\(UUID().uuidString.prefix(6))"
    )
    let waiting = try await app.defer(task: "send", options: DeferOptions(queue: mail))
    try await app.defer(task: "send", options: DeferOptions(queue: mail))
    try await app.defer(
      task: "later", options: DeferOptions(queue: mail, schedule: .in(.seconds(3600))))
    let running = try await app.defer(task: "report", options: DeferOptions(queue: reports))
    // The first mail job has waited 120 s; the report job runs on a worker silent for 10 min.
    _ = try await psql(
      app.databaseURL,
      """
      UPDATE procrastinate_events SET at = now() - interval '120 seconds' WHERE job_id = \(waiting);
      INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '600 seconds');
      INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now());
      UPDATE procrastinate_jobs SET status = 'doing',
        worker_id = (SELECT min(id) FROM procrastinate_workers) WHERE id = \(running);
      """)

    let queueMetrics = try QueueStateMetrics(app: app, interval: .seconds(60))
    try await queueMetrics.sample()

    func gauge(_ label: String, _ dimensions: [(String, String)] = []) throws -> Double? {
      try metrics.expectGauge(label, dimensions).lastValue
    }
    #expect(try gauge(QueueStateMetrics.jobs, [("queue", mail), ("status", "todo")]) == 3)
    #expect(try gauge(QueueStateMetrics.jobs, [("queue", reports), ("status", "doing")]) == 1)
    let age = try #require(try gauge(QueueStateMetrics.oldestTodoAge, [("queue", mail)]))
    #expect(age >= 120 && age < 120 + 600, "oldest todo age \(age)")
    #expect(try gauge(QueueStateMetrics.stalledJobs, [("queue", reports)]) == 1)
    #expect(try gauge(QueueStateMetrics.liveWorkers) == 1)
    #expect(try gauge(QueueStateMetrics.registeredWorkers) == 2)

    // The mail queue empties and the stalled job ends: their series read 0, not their last
    // value.
    _ = try await psql(
      app.databaseURL,
      "DELETE FROM procrastinate_jobs WHERE queue_name = '\(mail)'; UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = \(running)"
    )
    try await queueMetrics.sample()
    #expect(try gauge(QueueStateMetrics.jobs, [("queue", mail), ("status", "todo")]) == 0)
    #expect(try gauge(QueueStateMetrics.oldestTodoAge, [("queue", mail)]) == 0)
    #expect(try gauge(QueueStateMetrics.stalledJobs, [("queue", reports)]) == 0)
    #expect(try gauge(QueueStateMetrics.jobs, [("queue", reports), ("status", "succeeded")]) == 1)
    await app.close()
  }

  @Test("as a service it samples at once and stops on graceful shutdown; bad durations are refused")
  func service() async throws {
    let metrics = TestMetricsBackend.metrics
    let app = try await TestDatabase.app()
    let queue = "qsm.svc.\(UUID().uuidString.prefix(6))"
    try await app.defer(task: "t", options: DeferOptions(queue: queue))
    let queueMetrics = try QueueStateMetrics(app: app, interval: .seconds(3600))
    let group = ServiceGroup(services: [queueMetrics], logger: TestDatabase.quietLogger)
    let run = Task { try await group.run() }
    try await eventually("the first sample") {
      (try? metrics.expectGauge(QueueStateMetrics.jobs, [("queue", queue), ("status", "todo")]))?
        .lastValue == 1
    }
    // An hour-long interval: only graceful shutdown can end the wait.
    await group.triggerGracefulShutdown()
    try await run.value

    for (interval, stalled) in [
      (Duration.milliseconds(500), Duration.seconds(30)), (.seconds(7200), .seconds(30)),
      (.seconds(15), .zero),
    ] {
      #expect(throws: ConfigurationError.self) {
        _ = try QueueStateMetrics(app: app, interval: interval, stalledAfter: stalled)
      }
    }
    await app.close()
  }
}
