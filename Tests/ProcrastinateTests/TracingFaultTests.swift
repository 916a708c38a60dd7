import Foundation
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import Testing
import Tracing

@Suite("Tracing faults")
struct TracingFaultTests {
  @Test(
    "an unwritable traces file: jobs are unaffected, the spans are counted as failed, and one clear error is logged",
    arguments: ["/nonexistent-folder/spans.jsonl", "/dev/full"])
  func unwritableTracesFile(path: String) async throws {
    let logs = LogRecorder()
    var environment = ["PROCRASTINATE_TRACES_FILE": path, "OTEL_BSP_SCHEDULE_DELAY": "50"]
    environment["OTEL_SERVICE_NAME"] = "tracing-faults"
    let tracing = try setupTracing(
      serviceName: "tracing-faults", bootstrap: false, environment: environment,
      logger: logs.logger())
    let app = try await TestDatabase.app()
    let task = TaskDefinition(name: "traced")
    var tasks = TaskRegistry()
    try tasks.register(task, arguments: NoArguments.self) { _, _ in
      withSpan("traced.work") { _ in }
    }
    try await withTracer(tracing.tracer) {
      for _ in 0..<5 { try await app.defer(task, arguments: NoArguments()) }
      // Several export rounds fail while the jobs run.
      try await Worker(app: app, tasks: tasks, options: .test(concurrency: 2)).run()
      try await Task.sleep(for: .milliseconds(200))
      for _ in 0..<3 { try await app.defer(task, arguments: NoArguments()) }
      try await Worker(app: app, tasks: tasks, options: .test(concurrency: 2)).run()
    }
    await tracing.shutdown()

    #expect(try await app.jobRows("status").allSatisfy { $0 == "succeeded" })
    #expect(try await app.jobRows().count == 8)
    let statistics = tracing.statistics
    #expect(statistics.exported == 0)
    #expect(statistics.failed == 24, "8 defer, 8 job and 8 nested spans: \(statistics)")
    let errors = logs.messages(atLeast: .error)
    #expect(errors.count == 1, "\(errors)")
    #expect(errors.first?.contains(path) == true, "\(errors)")
  }
}

/// A task without arguments (its job's args hold only the trace context).
private struct NoArguments: Codable, Sendable {}
