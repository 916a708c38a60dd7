import Foundation
import Logging
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import ServiceLifecycle
import Synchronization
import Testing
import Tracing

/// The host application's own SIGTERM handler in these tests: only its address matters.
private func hostSIGTERMHandler(_: Int32) {}

/// The handler currently installed for `number`, as its address (0 for SIG_DFL, 1 for SIG_IGN).
private func installedHandler(_ number: Int32) -> Int {
  var current = sigaction()
  sigaction(number, nil, &current)
  return Int(
    bitPattern: unsafeBitCast(current.__sigaction_handler.sa_handler, to: UnsafeRawPointer?.self))
}

/// Runs `body` with the host application's SIGTERM handler installed, passing its address;
/// puts the process's handler back afterwards.
private func withHostSIGTERMHandler(_ body: (Int) async throws -> Void) async throws {
  var host = sigaction()
  host.__sigaction_handler.sa_handler = hostSIGTERMHandler
  var original = sigaction()
  sigaction(SIGTERM, &host, &original)
  defer { sigaction(SIGTERM, &original, nil) }
  let expected = installedHandler(SIGTERM)
  try #require(expected > 1, "the host handler was not installed")
  try await body(expected)
}

// The signal tests share the process's signal handlers with the SIGTERM test of
// `WorkerSignalTests`, so they are part of that serialized suite.
extension WorkerSignalTests {
  @Test("a host application's own SIGTERM handler is in place again after a standalone worker ran")
  func hostHandlerSurvives() async throws {
    try await withHostSIGTERMHandler { expected in try await hostHandlerSurvives(expected) }
  }

  private func hostHandlerSurvives(_ expected: Int) async throws {

    let app = try await TestDatabase.app()
    try await app.defer(task: "noop")
    var tasks = TaskRegistry()
    try tasks.register("noop") { _, _ in
      // While the standalone worker runs, its own observer holds SIGTERM.
      #expect(installedHandler(SIGTERM) != expected)
    }
    var options = WorkerOptions.test()
    options.installSignalHandlers = true
    try await Worker(app: app, tasks: tasks, options: options).run()
    #expect(try await app.jobRows() == ["1|succeeded|1"])

    #expect(installedHandler(SIGTERM) == expected, "the worker left another SIGTERM handler")
  }

  @Test("in a ServiceGroup the worker installs no signal handler: the group owns signals")
  func noHandlerInServiceGroup() async throws {
    try await withHostSIGTERMHandler { expected in try await noHandlerInServiceGroup(expected) }
  }

  private func noHandlerInServiceGroup(_ expected: Int) async throws {

    let app = try await TestDatabase.app()
    try await app.defer(task: "check")
    let seen = Recorder<Bool>()
    var tasks = TaskRegistry()
    try tasks.register("check") { _, _ in seen.append(installedHandler(SIGTERM) == expected) }
    // The options' default: a worker in a group leaves signals to the group.
    let worker = Worker(app: app, tasks: tasks, options: WorkerOptions(concurrency: 1))
    let group = ServiceGroup(services: [worker], logger: TestDatabase.quietLogger)
    let run = Task { try await group.run() }
    try await eventually("the job to run") { seen.count == 1 }
    await group.triggerGracefulShutdown()
    try await run.value
    #expect(seen.values == [true])
    #expect(installedHandler(SIGTERM) == expected)
  }
}

@Suite("Worker and tracing as swift-service-lifecycle services")
struct LifecycleTests {
  @Test(
    "graceful shutdown of a ServiceGroup: fetching stops, the running job finishes, the worker unregisters, queued spans are exported"
  )
  func gracefulShutdown() async throws {
    let app = try await TestDatabase.app()
    let first = try await app.defer(task: "slow")
    let exporter = InMemorySpanExporter()
    var batch = BatchSpanProcessor.Configuration()
    batch.scheduledDelay = .seconds(3600)  // only the shutdown flush can export
    let processor = BatchSpanProcessor(exporter: exporter, configuration: batch)
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOn, processor: processor)
    let started = Recorder<Int64>()
    let gate = Gate()
    var tasks = TaskRegistry()
    try tasks.register("slow") { _, context in
      started.append(context.jobID)
      try await gate.wait()
      withSpan("slow.work") { _ in }
    }
    let worker = Worker(app: app, tasks: tasks, options: .test(oneShot: false))
    // Groups stop services in reverse order: the worker first, then the span pipeline.
    let group = ServiceGroup(services: [processor, worker], logger: TestDatabase.quietLogger)
    let run = Task { try await withTracer(tracer) { try await group.run() } }
    try await eventually("the job to start") { started.values == [first] }

    let shutdownStart = ContinuousClock.now
    await group.triggerGracefulShutdown()
    try await eventually("the worker to stop fetching") { worker.isStopRequested }
    let second = try await app.defer(task: "slow")
    gate.open()  // the running job ends only now: its slot cannot fetch `second`
    try await run.value
    let shutdownTime = ContinuousClock.now - shutdownStart

    #expect(try await app.jobRows() == ["\(first)|succeeded|1", "\(second)|todo|0"])
    #expect(try await psql(app.databaseURL, "SELECT count(*) FROM procrastinate_workers") == ["0"])
    #expect(exporter.finishedSpans.map(\.name) == ["slow.work"])
    #expect(processor.statistics == SpanExportStatistics(exported: 1))
    // Not held by the span pipeline's hour-long delay, nor hung.
    #expect(shutdownTime < .seconds(60), "shutdown took \(shutdownTime)")
  }

  @Test("past shutdownTimeout a graceful shutdown aborts the running job")
  func shutdownTimeout() async throws {
    let app = try await TestDatabase.app()
    let id = try await app.defer(task: "stuck")
    var tasks = TaskRegistry()
    try tasks.register("stuck") { _, _ in try await Task.sleep(for: .seconds(3600)) }
    let worker = Worker(
      app: app, tasks: tasks,
      options: .test(oneShot: false) { $0.shutdownTimeout = .milliseconds(200) })
    let group = ServiceGroup(services: [worker], logger: TestDatabase.quietLogger)
    let run = Task { try await group.run() }
    try await eventually("the job to start") { worker.runningJobCount == 1 }
    await group.triggerGracefulShutdown()
    try await run.value
    #expect(try await app.jobRows() == ["\(id)|aborted|1"])
  }

  @Test("cancelling run() aborts the running job at once, writes its outcome and unregisters")
  func cancellation() async throws {
    let app = try await TestDatabase.app()
    let id = try await app.defer(task: "stuck")
    var tasks = TaskRegistry()
    try tasks.register("stuck") { _, _ in try await Task.sleep(for: .seconds(3600)) }
    let worker = Worker(app: app, tasks: tasks, options: .test(oneShot: false))
    let run = Task { try await worker.run() }
    try await eventually("the job to start") { worker.runningJobCount == 1 }
    let cancelled = ContinuousClock.now
    run.cancel()
    try await run.value
    let took = ContinuousClock.now - cancelled
    #expect(took < .seconds(30), "run() returned \(took) after the cancel; the job sleeps an hour")
    #expect(try await app.jobRows() == ["\(id)|aborted|1"])
    #expect(try await psql(app.databaseURL, "SELECT count(*) FROM procrastinate_workers") == ["0"])
  }

  @Test("TracingSetup is a Service: on graceful shutdown it exports what is queued")
  func tracingSetupFlushes() async throws {
    let directory = TestScratch.url.appendingPathComponent(
      "lifecycle-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent("spans.jsonl").path
    let tracing = try setupTracing(
      serviceName: "lifecycle-test", bootstrap: false,
      environment: ["PROCRASTINATE_TRACES_FILE": file, "OTEL_BSP_SCHEDULE_DELAY": "3600000"],
      logger: TestDatabase.quietLogger)
    let group = ServiceGroup(services: [tracing], logger: TestDatabase.quietLogger)
    let run = Task { try await group.run() }
    withTracer(tracing.tracer) {
      for index in 0..<3 { withSpan("unit.\(index)") { _ in } }
    }
    #expect(tracing.statistics.exported == 0)
    await group.triggerGracefulShutdown()
    try await run.value
    #expect(tracing.statistics == SpanExportStatistics(exported: 3))
    let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
    #expect(lines.count >= 1)
    #expect(lines.joined().contains("unit.2"))
  }
}
