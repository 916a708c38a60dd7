import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

/// Faults against a real worker process (`Tests/FaultWorker`), on loopback, bounded in time.
@Suite("Fault tests", .serialized)
struct FaultTests {
  static let binary = Python.repository.appendingPathComponent(
    ".build/debug/ProcrastinateFaultWorker"
  ).path

  static func executions(_ app: ProcrastinateApp) async throws -> [Int64: Int] {
    let rows = try await app.query("SELECT job_id, count(*) FROM fault_executions GROUP BY job_id")
    return Dictionary(
      uniqueKeysWithValues: rows.compactMap { row in
        guard let id = row[0].flatMap({ Int64($0) }), let count = row[1].flatMap({ Int($0) })
        else { return nil }
        return (id, count)
      })
  }

  @Test(
    "a worker killed with SIGKILL mid-jobs: its jobs show as stalled, a retry brings them to succeeded, none lost, none run twice after succeeding",
    arguments: [false, true])
  func sigkill(retryInWorker: Bool) async throws {
    let app = try await TestDatabase.app()
    try await app.query(
      "CREATE TABLE fault_executions (job_id bigint NOT NULL, pid int NOT NULL, at timestamptz DEFAULT now())"
    )
    let ids = try await app.deferBatch(
      (0..<24).map { _ in JobRequest(task: "slow", arguments: JobArguments(["ms": 300])) })
    let log = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fault-\(UUID().uuidString).log"
    ).path
    let victim = try ChildProcess.spawn(Self.binary, [app.databaseURL], logPath: log)
    // Kill it while some jobs are done and others run.
    try await eventually("some jobs to succeed") {
      try await Self.executions(app).count >= 4
    }
    victim.terminate()
    let doing = try await app.jobs(JobFilter(status: .doing))
    #expect(!doing.isEmpty, "the kill should leave running jobs behind")
    let succeededBefore = Set(try await app.jobs(JobFilter(status: .succeeded)).map(\.id))

    // The dead worker stops heart-beating: after the 1 s timeout its jobs are stalled.
    try await Task.sleep(for: .milliseconds(1_500))
    let stalled = try await app.stalledJobs(heartbeatTimeout: .seconds(1))
    #expect(Set(stalled.map(\.id)) == Set(doing.map(\.id)))

    if retryInWorker {
      // A second worker process gives them back on its own timer and runs them.
      let rescuer = try ChildProcess.spawn(
        Self.binary, [app.databaseURL, "--retry-stalled-every", "0.3"], logPath: log + ".2")
      defer { rescuer.terminate() }
      try await eventually(timeout: .seconds(30), "every job to succeed") {
        try await app.jobs(JobFilter(status: .succeeded)).count == ids.count
      }
    } else {
      #expect(
        Set(try await app.retryStalledJobs(heartbeatTimeout: .seconds(1))) == Set(doing.map(\.id)))
      var tasks = TaskRegistry()
      try tasks.register("slow") { _, context in
        try await context.app.query(
          "INSERT INTO fault_executions (job_id, pid) VALUES ($1, 0)", [String(context.jobID)])
      }
      try await Worker(app: app, tasks: tasks, options: .test(concurrency: 4)).run()
    }
    #expect(try app.jobRows("status").allSatisfy { $0 == "succeeded" })
    let runs = try await Self.executions(app)
    #expect(Set(runs.keys) == Set(ids), "no job lost")
    #expect(runs.values.allSatisfy { $0 == 1 }, "each job recorded one finished run: \(runs)")
    #expect(succeededBefore.allSatisfy { runs[$0] == 1 })
    for job in doing {
      #expect(try app.events(of: job.id).contains("deferred_for_retry"))
    }
  }
}
