import Foundation
import Procrastinate
import Testing

@Suite("Hostile names")
struct HostileNamesTests {
  static let names = [
    "it's", #"back\slash"#, #"say "hi""#, "'; DROP TABLE procrastinate_jobs; --",
    "$1 $$ %s {}", "émoji 🎉", "semi;colon\nnew line",
  ]

  @Test(
    "task, queue, lock and queueing-lock names with quotes, backslashes and SQL round-trip unchanged; the schema is intact",
    arguments: names)
  func roundTrip(name: String) async throws {
    let app = try await TestDatabase.app()
    let queue = name  // every name here fits the 40-byte queue limit
    let options = DeferOptions(queue: queue, lock: name, queueingLock: name)
    let single = try await app.defer(
      JobRequest(task: name, arguments: JobArguments(["name": .string(name)]), options: options))
    let batch = try await app.deferBatch([
      JobRequest(task: name, arguments: JobArguments(["n": 1]), options: DeferOptions(queue: queue))
    ])
    for id in [single] + batch {
      let job = try #require(try await app.jobs(JobFilter(id: id)).first)
      #expect(job.task == name)
      #expect(job.queue == queue)
    }
    let job = try #require(try await app.jobs(JobFilter(id: single)).first)
    #expect(job.lock == name && job.queueingLock == name)
    #expect(try await app.jobs(JobFilter(task: name, lock: name)).map(\.id) == [single])
    // The worker runs it under the same name.
    let seen = Recorder<String>()
    var tasks = TaskRegistry()
    try tasks.register(name) { arguments, context in seen.append(context.taskName) }
    try await Worker(app: app, tasks: tasks, options: .test(queues: [queue])).run()
    #expect(seen.values == [name, name])
    #expect(try await app.checkSchema().isComplete)
    #expect(try await app.jobRows("status") == ["succeeded", "succeeded"])
  }

  @Test("a NUL in a name is refused with a clear error, never cut short; nothing is deferred")
  func nul() async throws {
    let app = try await TestDatabase.app()
    for request in [
      JobRequest(task: "task\u{0}hidden"),
      JobRequest(task: "t", options: DeferOptions(lock: "lock\u{0}hidden")),
      JobRequest(task: "t", options: DeferOptions(queueingLock: "q\u{0}hidden")),
    ] {
      let error = await #expect(throws: (any Error).self) { try await app.defer(request) }
      #expect("\(error.map { "\($0)" } ?? "")".contains("NUL"), "\(String(describing: error))")
    }
    #expect(try await app.jobRows().isEmpty)
  }
}
