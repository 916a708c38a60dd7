import Foundation
import Logging
import Procrastinate
import ProcrastinateTesting
import Synchronization
import Testing

/// A steady stream of 1 ms jobs through two in-process workers (16 slots each, 32 in all)
/// whose database connections suffer a fault, with every handler run counted: a job whose
/// handler ran must never run again because a connection died (a backend kill is not a
/// worker death), no job may be lost, and every outcome must end up recorded.
@Suite("Backend faults under load, with executions counted", .serialized)
struct ExecutionCountTests {
  @Test(
    "backends terminated every 500 ms for 60 s at 300 jobs/s, concurrency 32: no job lost, none run twice, every outcome recorded"
  )
  func terminatedBackends() async throws {
    try await ExecutionCountRig.run(database: "terminated") { rig in
      let stormStarted = ContinuousClock.now
      var terminated = 0
      var rounds = 0
      // On a fixed schedule, so a slow round does not stretch the storm's rate.
      var next = stormStarted
      while ContinuousClock.now - stormStarted < .seconds(60) {
        next += .milliseconds(500)
        try await Task.sleep(until: next, clock: .continuous)
        terminated += try await rig.terminateWorkerBackends()
        rounds += 1
      }
      return "\(terminated) worker backends terminated in \(rounds) rounds over 60 s"
    }
  }

  @Test(
    "PostgreSQL restarted under the same load: no job lost, none run twice, every outcome recorded"
  )
  func restart() async throws {
    try await ExecutionCountRig.run(database: "restarted") { rig in
      try await eventually("1,000 jobs to run before the restart", seen: { "\(rig.runCount)" }) {
        rig.runCount >= 1_000
      }
      try await rig.server.restart()
      let back = ContinuousClock.now
      let before = rig.runCount
      try await eventually(timeout: .seconds(120), "jobs to run again after the restart") {
        rig.runCount > before
      }
      let firstRun = ContinuousClock.now - back
      try await eventually(
        timeout: .seconds(120), "2,000 more jobs to run after the restart",
        seen: { "\(rig.runCount - before)" }
      ) { rig.runCount - before >= 2_000 }
      return "restarted once; the first job ran \(firstRun) after the server was back"
    }
  }
}

/// The load, the two workers and the counting for one fault.
final class ExecutionCountRig: Sendable {
  /// Jobs offered per second.
  static let rate = 300
  /// The application name of the workers' connections: the fault targets these alone, so
  /// the producer and the checks keep working.
  static let workerApplication = "victim"

  let server: EmbeddedPostgres
  let checker: ProcrastinateApp
  private let runs = Mutex<[Int64: Int]>([:])
  private let deferred = Mutex<[Int64]>([])
  private let producing = Atomic<Bool>(true)
  /// Set when `produce()` has returned: no batch is in flight any more (one sent just before
  /// the load stopped may commit seconds later, after a terminated backend).
  private let produced = Atomic<Bool>(false)

  private init(server: EmbeddedPostgres, checker: ProcrastinateApp) {
    self.server = server
    self.checker = checker
  }

  /// Handler runs so far.
  var runCount: Int { runs.withLock { $0.values.reduce(0, +) } }

  /// Terminates every backend of the workers now; how many.
  func terminateWorkerBackends() async throws -> Int {
    let rows = try await checker.query(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
      [Self.workerApplication])
    return Int(rows.first?[0] ?? "") ?? 0
  }

  /// Offers `rate` jobs per second until told to stop, catching up (in batches of at most a
  /// second's worth) after the database was out of reach.
  private func produce() async {
    let started = ContinuousClock.now
    var sent = 0
    defer { produced.store(true, ordering: .releasing) }
    while producing.load(ordering: .relaxed) {
      let elapsed = ContinuousClock.now - started
      let seconds =
        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
      let due = min(Self.rate, Int(Double(Self.rate) * seconds) - sent)
      if due > 0 {
        do {
          let ids = try await checker.deferBatchUntraced(
            Array(repeating: JobRequest(task: "counted"), count: due))
          deferred.withLock { $0 += ids }
          sent += due
        } catch {
          // Out of reach (a restart): offered again on the next tick. A batch whose answer
          // was lost may have committed: its jobs are counted from the table, not from ids.
        }
      }
      try? await Task.sleep(for: .milliseconds(50))
    }
  }

  /// Runs the load through two workers, applies `fault` (which returns what it did), stops
  /// the load, waits for every job to end, then counts.
  static func run(
    database: String, _ fault: @Sendable (ExecutionCountRig) async throws -> String
  ) async throws {
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    let url = try await server.createDatabase(database)
    let checker = try ProcrastinateApp(
      databaseURL: url, maximumConnections: 4, logger: TestDatabase.quietLogger)
    try await checker.applySchema()
    let rig = ExecutionCountRig(server: server, checker: checker)
    let logs = LogRecorder()
    var tasks = TaskRegistry()
    try tasks.register("counted") { _, context in
      rig.runs.withLock { $0[context.jobID, default: 0] += 1 }
      try await Task.sleep(for: .milliseconds(1))
    }
    let workers = try (0..<2).map { index in
      var options = WorkerOptions(concurrency: 16)
      options.name = "counted-\(index)"
      options.installSignalHandlers = false
      options.pollingInterval = .milliseconds(100)
      options.reconnectDelay = .milliseconds(100)
      options.heartbeatInterval = .seconds(1)
      // Each worker gives back the other's jobs if it looks dead for 10 s: a worker whose
      // connections die must keep its heartbeat fresh, or its jobs would run twice.
      options.stalledWorkerTimeout = .seconds(10)
      options.retryStalledJobsEvery = .seconds(1)
      let app = try ProcrastinateApp(
        databaseURL: url + "?application_name=\(workerApplication)",
        logger: logs.logger("worker-\(index)"))
      return Worker(app: app, tasks: tasks, options: options)
    }
    try await withLogs([
      (
        "the workers' warnings and errors",
        { logs.messages(atLeast: .warning).suffix(40).joined(separator: "\n") }
      ),
      ("the server's log", { server.logTail() }),
    ]) {
      try await withThrowingTaskGroup(of: Void.self) { group in
        // A worker that stops before it is told to fails the test at once, with its error.
        let stopped = Recorder<String>()
        for (index, worker) in workers.enumerated() {
          group.addTask {
            do {
              try await worker.run()
              if !worker.isStopRequested { stopped.append("worker \(index) returned") }
            } catch {
              stopped.append("worker \(index) threw: \(error)")
              throw error
            }
          }
        }
        group.addTask { await rig.produce() }
        let started = ContinuousClock.now
        let what = try await fault(rig)
        rig.producing.store(false, ordering: .relaxed)
        let faultEnded = ContinuousClock.now
        let runsDuringFault = rig.runCount
        var open: [[String?]] = []
        try await eventually(
          timeout: .seconds(300), "every job to end", seen: { "\(open) (status, count)" }
        ) {
          if let early = stopped.values.first {
            throw GiveUp(reason: "a worker stopped during the fault: \(early)")
          }
          // The last batch may still be on its way: jobs end only once it has landed.
          guard rig.produced.load(ordering: .acquiring) else { return false }
          open = try await checker.query(
            "SELECT status::text, count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') GROUP BY 1"
          )
          return open.isEmpty
        }
        let drained = ContinuousClock.now - faultEnded
        for worker in workers { worker.stop() }
        try await group.waitForAll()

        let rows = try await checker.query(
          "SELECT id, status::text, attempts FROM procrastinate_jobs ORDER BY id")
        let runs = rig.runs.withLock { $0 }
        let offered = rig.deferred.withLock { $0 }
        let inTable = Set(rows.compactMap { $0[0].flatMap { Int64($0) } })
        let missing = offered.filter { !inTable.contains($0) }
        let notSucceeded = rows.filter { $0[1] != "succeeded" }
        let neverRan = inTable.filter { runs[$0] == nil }
        let twice = runs.filter { $0.value > 1 }
        let givenBack = rows.filter { Int($0[2] ?? "") ?? 0 > 1 }.count
        let seconds = Double((faultEnded - started).components.seconds)
        print(
          "\(database): \(what); \(rows.count) jobs (\(offered.count) offered), \(runsDuringFault) runs during the fault (\(Int(Double(runsDuringFault) / max(seconds, 1)))/s), the rest drained \(drained) after it; \(givenBack) given back unrun (attempts > 1); lost \(missing.count + neverRan.count), run twice \(twice.count), not succeeded \(notSucceeded.count)"
        )
        #expect(missing.isEmpty, "jobs deferred and gone: \(missing.prefix(20))")
        #expect(neverRan.isEmpty, "jobs that never ran: \(neverRan.prefix(20))")
        #expect(twice.isEmpty, "jobs run twice (id: runs): \(twice.prefix(20))")
        #expect(
          notSucceeded.isEmpty, "jobs whose outcome is not succeeded: \(notSucceeded.prefix(20))")
        #expect(rows.count >= 1_000, "too little load to say anything: \(rows.count) jobs")
      }
    }
    await checker.close()
  }
}
