import Foundation
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import Testing
import Tracing

/// `Tests/Interop/slow_collector.py`: an OTLP/HTTP endpoint that answers after 30 s.
final class SlowCollector {
  let port: Int
  private let child: RunningChild

  init() async throws {
    let base = TestScratch.url.appendingPathComponent(
      "slow-collector-\(UUID().uuidString)"
    ).path
    child = try ChildProcess.spawn(
      Python.interpreter,
      [
        Python.repository.appendingPathComponent("Tests/Interop/slow_collector.py").path,
        "--port-file", base + ".port", "--delay", "30",
      ],
      logPath: base + ".log")
    var found: Int?
    try await eventually("the slow collector to listen") {
      found = (try? String(contentsOfFile: base + ".port", encoding: .utf8)).flatMap { Int($0) }
      return found != nil
    }
    port = found ?? 0
  }

  deinit { child.terminate() }
}

/// The process's resident memory and its peak, in MiB (`VmRSS`, `VmHWM`).
func residentMemory() -> (current: Int, peak: Int) {
  let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
  func field(_ name: String) -> Int {
    let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
  }
  return (field("VmRSS"), field("VmHWM"))
}

@Suite(
  "Collector faults", .serialized,
  .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct CollectorFaultTests {
  private struct NoArguments: Codable, Sendable {}
  static let jobs = 10_000

  /// Runs `jobs` traced jobs (a job span and a nested span each) with `tracer`; jobs/s.
  static func drain(tracer: (any Tracer)?) async throws -> (rate: Double, app: ProcrastinateApp) {
    let app = try await TestDatabase.app()
    let task = TaskDefinition(name: "collector.work")
    try await app.deferBatch(
      (0..<jobs).map { _ in JobRequest(task: task.name, arguments: JobArguments([:])) })
    var tasks = TaskRegistry()
    try tasks.register(task, arguments: NoArguments.self) { _, _ in
      withSpan("collector.nested") { _ in }
    }
    let worker = Worker(app: app, tasks: tasks, options: .test(concurrency: 10))
    let start = ContinuousClock.now
    if let tracer {
      try await withTracer(tracer) { try await worker.run() }
    } else {
      try await worker.run()
    }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return (Double(jobs) / seconds, app)
  }

  @Test(
    "10,000 jobs with the collector down, or answering after 30 s: every job succeeds, every lost span is counted, the failure is logged once",
    arguments: ["down", "slow"])
  func collectorFault(kind: String) async throws {
    let slow = kind == "slow" ? try await SlowCollector() : nil
    // A reserved port nobody listens on, held for the whole test: connections are refused.
    let refusing = try SilentListener(listening: false)
    let port = slow?.port ?? refusing.port
    let logs = LogRecorder()
    let tracing = try setupTracing(
      serviceName: "collector-faults", bootstrap: false,
      environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(port)",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1000", "OTEL_BSP_EXPORT_TIMEOUT": "2000",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
      ], logger: logs.logger())
    let untraced = try await Self.drain(tracer: nil)
    let memoryBefore = residentMemory()
    let traced = try await Self.drain(tracer: tracing.tracer)
    let memoryAfter = residentMemory()
    await tracing.shutdown()

    #expect(try await untraced.app.jobRows("status").allSatisfy { $0 == "succeeded" })
    #expect(try await traced.app.jobRows("status").allSatisfy { $0 == "succeeded" })
    let statistics = tracing.statistics
    // Every span is accounted for: none exported, each dropped or failed.
    #expect(statistics.exported == 0)
    #expect(statistics.dropped + statistics.failed == 2 * Self.jobs, "\(statistics)")
    let errors = logs.messages(atLeast: .error)
    #expect(errors.count == 1, "\(errors)")
    let dropWarnings = logs.messages(atLeast: .warning).filter { $0.contains("span queue full") }
    #expect(dropWarnings.count <= 1, "\(dropWarnings)")
    // Resident memory is reported, not asserted: it is the whole test process's, shared
    // with the suites running meanwhile. What bounds it is the span queue (2,048).
    print(
      "collector \(kind): traced/untraced throughput \(String(format: "%.2f", traced.rate / untraced.rate)) (\(Int(traced.rate)) vs \(Int(untraced.rate)) jobs/s), \(statistics.dropped) dropped, \(statistics.failed) failed, RSS \(memoryBefore.current)→\(memoryAfter.current) MiB, peak \(memoryAfter.peak) MiB"
    )
  }
}
