import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

/// The operator commands of `procrastinate-swift`: listings, retry, cancel, stalled jobs.
@Suite("Admin commands")
struct AdminTests {
  static func cli(_ arguments: [String], _ app: ProcrastinateApp, allowFailure: Bool = false)
    async throws -> ProcessOutput
  {
    try await runProcessCapturing(
      TracesPingTests.binary, arguments + ["--database-url", app.databaseURL],
      allowFailure: allowFailure)
  }

  @Test("jobs lists with filters as a table or JSON; queues, tasks and locks count by status")
  func listings() async throws {
    let app = try await TestDatabase.app()
    try await app.deferBatch([
      JobRequest(task: "a", options: DeferOptions(queue: "q1", lock: "L")),
      JobRequest(task: "b", options: DeferOptions(queue: "q1")),
      JobRequest(task: "a", options: DeferOptions(queue: "q2", lock: "L")),
    ])
    try await app.query("UPDATE procrastinate_jobs SET status = 'failed' WHERE task_name = 'b'")

    let table = try await Self.cli(["jobs", "--queue", "q1"], app).stdout.split(separator: "\n")
    #expect(table.count == 4)  // header, rule, two jobs
    #expect(table[0].hasPrefix("id  queue  task  status"))
    let json = try await Self.cli(["jobs", "--status", "failed", "--json"], app).stdout
    let failed = try JSONDecoder.iso.decode([JobSummary].self, from: Data(json.utf8))
    #expect(failed.map(\.task) == ["b"] && failed.map(\.queue) == ["q1"])

    let queues = try await JSONDecoder.iso.decode(
      [JobCounts].self, from: Data(try Self.cli(["queues", "--json"], app).stdout.utf8))
    #expect(
      queues == [
        JobCounts(name: "q1", counts: ["todo": 1, "failed": 1]),
        JobCounts(name: "q2", counts: ["todo": 1]),
      ])
    #expect(try await app.taskCounts().map(\.name) == ["a", "b"])
    #expect(try await app.lockCounts() == [JobCounts(name: "L", counts: ["todo": 2])])
    let locks = try await Self.cli(["locks"], app).stdout
    #expect(locks.contains("L     2") || locks.split(separator: "\n").last?.hasPrefix("L") == true)
  }

  @Test("retry sends a failed job back with a retried event; other statuses are refused")
  func retry() async throws {
    let app = try await TestDatabase.app()
    let failed = try await app.defer(task: "boom")
    var tasks = TaskRegistry()
    try tasks.register("boom") { _, _ in throw TaskFailure(description: "boom") }
    try await Worker(app: app, tasks: tasks, options: .test()).run()
    #expect(try await app.jobStatus(id: failed)?.status == .failed)

    #expect(try await Self.cli(["retry", String(failed)], app).stdout.contains("back in todo"))
    #expect(try await app.jobStatus(id: failed)?.status == .todo)
    #expect(try await app.events(of: failed).last == "retried")
    let again = try await Self.cli(["retry", String(failed)], app, allowFailure: true)
    #expect(again.status == 1 && again.stderr.contains("is todo, not failed"))
    let missing = try await Self.cli(["retry", "999999"], app, allowFailure: true)
    #expect(missing.status == 1 && missing.stderr.contains("does not exist"))
  }

  @Test("cancel: todo becomes cancelled or is deleted; a running job needs --abort")
  func cancel() async throws {
    let app = try await TestDatabase.app()
    let ids = try await app.deferBatch((0..<3).map { _ in JobRequest(task: "t") })
    #expect(try await Self.cli(["cancel", String(ids[0])], app).stdout.contains("is cancelled"))
    #expect(
      try await Self.cli(["cancel", String(ids[1]), "--delete"], app).stdout.contains("deleted"))
    #expect(try await app.jobStatus(id: ids[1]) == nil)
    try await app.query(
      "UPDATE procrastinate_jobs SET status = 'doing' WHERE id = $1", [String(ids[2])])
    let refused = try await Self.cli(["cancel", String(ids[2])], app, allowFailure: true)
    #expect(refused.status == 1 && refused.stderr.contains("a running job needs --abort"))
    #expect(
      try await Self.cli(["cancel", String(ids[2]), "--abort"], app).stdout.contains(
        "abort requested"))
    #expect(try await app.jobRows("id, abort_requested").last == "\(ids[2])|t")
    #expect(try await app.events(of: ids[2]).contains("abort_requested"))
  }

  @Test("stalled lists doing jobs of silent workers; --retry gives back only those")
  func stalled() async throws {
    let app = try await TestDatabase.app()
    let ids = try await app.deferBatch((0..<2).map { _ in JobRequest(task: "t") })
    let workers = try await app.query(
      "SELECT worker_id FROM procrastinate_register_worker_v1() UNION ALL SELECT worker_id FROM procrastinate_register_worker_v1()"
    ).compactMap { $0[0] }
    try await app.query(
      "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = $1",
      [workers[0]])
    for (id, worker) in zip(ids, workers) {
      try await app.query(
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = $2 WHERE id = $1",
        [String(id), worker])
    }
    let listed = try await JSONDecoder.iso.decode(
      [JobSummary].self, from: Data(try Self.cli(["stalled", "--json"], app).stdout.utf8))
    #expect(listed.map(\.id) == [ids[0]])
    #expect(
      try await Self.cli(["stalled", "--retry"], app).stdout.contains("back in todo: \(ids[0])"))
    #expect(
      try await app.jobRows("id, status, attempts") == ["\(ids[0])|todo|1", "\(ids[1])|doing|0"])
    #expect(try await Self.cli(["stalled", "--retry"], app).stdout.contains("no stalled job"))
  }
}

extension JSONDecoder {
  static var iso: JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .iso8601
    return decoder
  }
}
