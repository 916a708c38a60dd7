import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

/// `Tests/Interop/blackhole_proxy.py`: a TCP proxy the test can silence without closing.
final class BlackholeProxy {
  let port: Int
  let log: String
  private let control: String
  private let child: RunningChild

  init(targetPort: Int) async throws {
    let base = TestScratch.url.appendingPathComponent(
      "blackhole-\(UUID().uuidString)"
    ).path
    control = base + ".control"
    log = base + ".log"
    let portFile = base + ".port"
    child = try ChildProcess.spawn(
      Python.interpreter,
      [
        Python.repository.appendingPathComponent("Tests/Interop/blackhole_proxy.py").path,
        "--target", "127.0.0.1:\(targetPort)", "--port-file", portFile, "--control-file", control,
      ],
      logPath: log)
    var found: Int?
    try await eventually("the proxy to listen") {
      found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
      return found != nil
    }
    port = found ?? 0
  }

  /// Stops (or resumes) forwarding on every connection, without closing any.
  func blackhole(_ silent: Bool) throws {
    try (silent ? "blackhole" : "forward").write(toFile: control, atomically: true, encoding: .utf8)
  }

  deinit { child.terminate() }
}

@Suite(
  "Network faults", .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct NetworkFaultTests {
  @Test(
    "a worker that starts while the network is silent keeps trying past its connect timeout, and runs the jobs once the network answers"
  )
  func startsThroughASilentNetwork() async throws {
    let server = try await TestDatabase.server.value
    let name = "silentstart_\(UUID().uuidString.prefix(8).lowercased())"
    let direct = try ProcrastinateApp(
      databaseURL: try await server.createDatabase(name), logger: TestDatabase.quietLogger)
    try await direct.applySchema()
    let ids = try await direct.deferBatch(
      (0..<5).map { _ in JobRequest(task: "work", arguments: JobArguments([:])) })
    let proxy = try await BlackholeProxy(targetPort: server.port)
    try proxy.blackhole(true)
    let settings = try DatabaseSettings(
      conninfo: "postgresql://postgres@127.0.0.1:\(proxy.port)/\(name)?connect_timeout=1")
    let logs = LogRecorder()
    let app = ProcrastinateApp(database: settings, logger: logs.logger())
    let runs = Recorder<Int64>()
    var tasks = TaskRegistry()
    try tasks.register("work") { _, context in runs.append(context.jobID) }
    let worker = Worker(
      app: app, tasks: tasks,
      options: .test(concurrency: 2, oneShot: true) { $0.reconnectDelay = .milliseconds(200) })
    let run = Task { try await worker.run() }
    // Its first connects time out (logged); it must still be trying, not gone.
    try await eventually(timeout: .seconds(60), "a connect to time out") {
      logs.all.contains { $0.message.contains("timeout expired") }
    }
    try proxy.blackhole(false)
    try await run.value
    #expect(Set(runs.values) == Set(ids), "every job ran once the network answered")
    #expect(runs.count == ids.count)
  }

  @Test(
    "a network that goes silent: the worker notices within responseTimeout, reconnects when it answers again, finishes every job once, and still stops in bounded time while silent"
  )
  func blackholedNetwork() async throws {
    let server = try await TestDatabase.server.value
    let name = "blackhole_\(UUID().uuidString.prefix(8).lowercased())"
    let direct = try ProcrastinateApp(
      databaseURL: try await server.createDatabase(name), logger: TestDatabase.quietLogger)
    try await direct.applySchema()
    let ids = try await direct.deferBatch(
      (0..<120).map { _ in JobRequest(task: "work", arguments: JobArguments([:])) })

    let proxy = try await BlackholeProxy(targetPort: server.port)
    var settings = try DatabaseSettings(
      conninfo: "postgresql://postgres@127.0.0.1:\(proxy.port)/\(name)?connect_timeout=2")
    settings.responseTimeout = .seconds(2)
    let logs = LogRecorder()
    let app = ProcrastinateApp(database: settings, logger: logs.logger())
    let runs = Recorder<Int64>()
    var tasks = TaskRegistry()
    try tasks.register("work") { _, context in
      try await Task.sleep(for: .milliseconds(40))
      runs.append(context.jobID)
    }
    let worker = Worker(
      app: app, tasks: tasks,
      options: .test(concurrency: 4, oneShot: false) {
        $0.reconnectDelay = .milliseconds(200)
        $0.heartbeatInterval = .milliseconds(500)
      })
    // How the worker's run ended, if it did: a worker that could not start (a refused
    // connection, say) fails the wait below at once, with its error, not after its timeout.
    let ended = Recorder<String>()
    let run = Task {
      do {
        try await worker.run()
        ended.append("returned")
      } catch {
        ended.append("threw: \(error)")
        throw error
      }
    }
    func running(_ condition: () async throws -> Bool) async throws -> Bool {
      if let end = ended.values.first {
        throw TaskFailure(description: "the worker's run ended early: \(end)")
      }
      return try await condition()
    }

    try await withLogs([
      ("the proxy's output", { tail(of: proxy.log) }),
      (
        "the worker's log",
        {
          logs.all.filter { $0.level >= .info }.suffix(40).map { "\($0.level) \($0.message)" }
            .joined(separator: "\n")
        }
      ),
      (
        "the jobs by status",
        {
          ((try? await psql(
            direct.databaseURL,
            "SELECT status, worker_id, count(*) FROM procrastinate_jobs GROUP BY 1, 2"))
            ?? []).joined(separator: ", ")
        }
      ),
    ]) {
      try await eventually(timeout: .seconds(120), "some jobs to run") {
        try await running { runs.count >= 20 }
      }
      // Silence: jobs in flight finish their work, but nothing reaches the database.
      try proxy.blackhole(true)
      try await Task.sleep(for: .seconds(5))
      let duringSilence = runs.count
      try await Task.sleep(for: .seconds(1))
      #expect(runs.count <= duringSilence + 4, "jobs kept starting while the network was silent")
      try proxy.blackhole(false)
      try await eventually(timeout: .seconds(120), "every job to succeed after the silence") {
        try await running { try await direct.jobRows("status").allSatisfy { $0 == "succeeded" } }
      }
      #expect(Set(runs.values) == Set(ids), "no job lost")
      let twice = Dictionary(grouping: runs.values, by: { $0 }).filter { $0.value.count > 1 }
      #expect(twice.isEmpty, "ran more than once: \(twice.keys.sorted())")

      // Silent again while jobs run, and the worker is asked to stop: it must not wait
      // forever for the outcomes it cannot write. Those jobs stay doing (nothing lost):
      // stalled-job recovery gives them back.
      let more = try await direct.deferBatch(
        (0..<40).map { _ in JobRequest(task: "work", arguments: JobArguments([:])) })
      let before = runs.count
      try await eventually(timeout: .seconds(60), "more jobs to run") {
        try await running { runs.count >= before + 4 }
      }
      try proxy.blackhole(true)
      let stopping = ContinuousClock.now
      worker.stop()
      _ = try? await run.value
      let stopTime = ContinuousClock.now - stopping
      // The promise: stop is bounded by wall-clock timeouts (2 s per statement, per connect,
      // for giving up on outcomes, and for unregistering), not by the silence.
      #expect(stopTime < .seconds(40), "stopping took \(stopTime) while the network was silent")
      try proxy.blackhole(false)
      let statuses = try await psql(
        direct.databaseURL,
        "SELECT status FROM procrastinate_jobs WHERE id IN (\(more.map(String.init).joined(separator: ",")))"
      )
      #expect(statuses.count == more.count)
      #expect(statuses.allSatisfy { ["succeeded", "doing", "todo"].contains($0) }, "\(statuses)")
      print("silent network: stopped in \(stopTime) with outcomes pending")
    }
  }
}
