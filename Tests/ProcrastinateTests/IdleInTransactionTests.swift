import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

@testable import Procrastinate

@Suite("Idle in transaction")
struct IdleInTransactionTests {
  /// Jobs that succeeded in each second since `start`.
  static func perSecond(_ finishes: [ContinuousClock.Instant], since start: ContinuousClock.Instant)
    -> [Int: Int]
  {
    Dictionary(grouping: finishes) { Int(($0 - start).components.seconds) }.mapValues(\.count)
  }

  @Test(
    "a connection idle in a transaction holds xmin for 60 s under steady load: the worker never stalls, during or after; throughput is printed"
  )
  func idleInTransaction() async throws {
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    let url = try await server.createDatabase("idle")
    let producer = try ProcrastinateApp(
      databaseURL: url, maximumConnections: 1, logger: TestDatabase.quietLogger)
    try await producer.applySchema()
    let finishes = Recorder<ContinuousClock.Instant>()
    var tasks = TaskRegistry()
    try tasks.register("steady") { _, _ in finishes.append(.now) }
    let worker = Worker(
      app: try ProcrastinateApp(databaseURL: url, logger: TestDatabase.quietLogger), tasks: tasks,
      options: .test(concurrency: 8, oneShot: false))
    let run = Task { try await worker.run() }
    // Keep a backlog, so the worker always runs flat out.
    let producing = Task {
      while !Task.isCancelled {
        let rows = try? await producer.query(
          "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        let waiting = rows?.first?.first.flatMap { $0 }.flatMap { Int($0) } ?? 0
        if waiting < 400 {
          _ = try? await producer.deferBatch((0..<200).map { _ in JobRequest(task: "steady") })
        } else {
          try? await Task.sleep(for: .milliseconds(20))
        }
      }
    }
    defer { producing.cancel() }

    let start = ContinuousClock.now
    try await Task.sleep(for: .seconds(10))
    // A snapshot held open: VACUUM cannot remove any row version deleted after it.
    let holder = try await PostgresConnection.connect(try DatabaseSettings(conninfo: url))
    try await holder.script(
      "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM procrastinate_jobs;",
      context: "hold xmin")
    let held = ContinuousClock.now
    try await Task.sleep(for: .seconds(60))
    try await holder.script("ROLLBACK", context: "release xmin")
    await holder.close()
    let released = ContinuousClock.now
    try await Task.sleep(for: .seconds(20))
    producing.cancel()
    worker.stop()
    try await run.value

    func rate(_ from: ContinuousClock.Instant, _ seconds: Int) -> Double {
      let to = from + .seconds(seconds)
      return Double(finishes.values.filter { $0 >= from && $0 < to }.count) / Double(seconds)
    }
    let before = rate(start + .seconds(2), 8)
    let duringFirst = rate(held, 10)
    let duringLast = rate(held + .seconds(50), 10)
    let after = rate(released + .seconds(10), 10)
    print(
      "idle in transaction, jobs/s: before \(Int(before)), first 10 s held \(Int(duringFirst)), last 10 s held \(Int(duringLast)), 10-20 s after release \(Int(after))"
    )
    // The reference is the better of the 10 s before and the first 10 s held: in a full test
    // run the other suites share these 2 cores at first, which the "before" window can show
    // (it has shown 0 while the heaviest suites started).
    // Rates per second depend on what else runs on the machine, so the recovery ratio is
    // printed, not asserted (it needs a quiet machine); what is asserted is that the worker
    // never stalled, while the transaction was held or after.
    let reference = max(before, duringFirst)
    print("idle in transaction: recovery ratio after/before \(after / max(reference, 1))")
    #expect(reference > 0 && duringLast > 0, "the worker stalled while the transaction was held")
    #expect(after > 0, "no job finished 10-20 s after the release")
  }
}
