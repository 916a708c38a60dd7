import Foundation
import Procrastinate
import ProcrastinateCron
import ProcrastinateTesting
import Testing

@Suite("Cron")
struct CronUnitTests {
  static func date(_ text: String) -> Date { try! Date.ISO8601FormatStyle().parse(text) }

  @Test(
    "next and previous ticks, with steps, ranges, lists, names, seconds and the day rule",
    arguments: [
      ("*/5 * * * *", "2026-11-25T10:03:10Z", "2026-11-25T10:05:00Z", "2026-11-25T10:00:00Z"),
      (
        "0 9-17/4 * * mon-fri", "2026-11-25T10:00:00Z", "2026-11-25T13:00:00Z",
        "2026-11-25T09:00:00Z"
      ),
      ("30 2 1,15 * *", "2026-11-25T10:00:00Z", "2026-12-01T02:30:00Z", "2026-11-15T02:30:00Z"),
      ("0 0 * jan sun", "2026-11-25T10:00:00Z", "2027-01-03T00:00:00Z", "2026-01-25T00:00:00Z"),
      ("* * * * * */20", "2026-11-25T10:00:05Z", "2026-11-25T10:00:20Z", "2026-11-25T10:00:00Z"),
      ("0 12 13 * 5", "2026-11-25T10:00:00Z", "2026-11-27T12:00:00Z", "2026-11-20T12:00:00Z"),
      ("0 0 1 * 0-6", "2026-11-25T10:00:00Z", "2026-12-01T00:00:00Z", "2026-11-01T00:00:00Z"),
      ("0 0 * * 7", "2026-11-25T10:00:00Z", "2026-11-29T00:00:00Z", "2026-11-22T00:00:00Z"),
      ("5/20 * * * *", "2026-11-25T10:03:10Z", "2026-11-25T10:05:00Z", "2026-11-25T09:45:00Z"),
    ])
  func ticks(expression: String, at: String, next: String, previous: String) throws {
    let cron = try Cron(expression)
    #expect(cron.next(after: Self.date(at)) == Self.date(next))
    #expect(cron.previous(atOrBefore: Self.date(at)) == Self.date(previous))
  }

  @Test(
    "bad expressions say which field is wrong",
    arguments: [
      ("* * * *", "it has 4 field(s)"), ("61 * * * *", "minute '61' is not in 0-59"),
      ("* * * foo *", "month 'foo' is not in 1-12"), ("*/0 * * * *", "minute step '0' must be"),
      ("5-1 * * * *", "minute range '5-1' goes backwards"),
    ])
  func errors(expression: String, expected: String) {
    #expect {
      try Cron(expression)
    } throws: { "\($0)".contains("invalid cron '\(expression)': \(expected)") }
  }
}

@Suite("Periodic tasks")
struct PeriodicTests {
  @Test("two workers defer exactly one job per tick, each with its timestamp and a fresh trace")
  func onePerTick() async throws {
    _ = TestTracing.exporter
    let app = try await TestDatabase.app()
    let task = TaskDefinition(
      name: "periodic.tick", defaults: DeferOptions(queue: "ticks"))
    var tasks = TaskRegistry()
    try tasks.register("periodic.tick") { _, _ in }
    try tasks.registerPeriodic(
      task, cron: "* * * * * *", periodicID: "every-second",
      arguments: ["source": "test"])
    let options = WorkerOptions.test(queues: ["nothing"], oneShot: false)
    let workers = [
      Worker(app: app, tasks: tasks, options: options),
      Worker(app: app, tasks: tasks, options: options),
    ]
    let runs = workers.map { worker in Task { try await worker.run() } }
    // Two workers start, then ticks come once a second: waited for, however slowly.
    var count = 0
    try await eventually(timeout: .seconds(120), "three ticks", seen: { "\(count) jobs" }) {
      count =
        try await psql(app.databaseURL, "SELECT count(*) FROM procrastinate_jobs").first.flatMap {
          Int($0)
        } ?? 0
      return count >= 3
    }
    for worker in workers { worker.stop() }
    for run in runs { try await run.value }

    let rows = try await psql(
      app.databaseURL,
      """
      SELECT args->>'timestamp', args->>'source', args->'trace_context'->>'traceparent', queue_name
      FROM procrastinate_jobs ORDER BY id
      """)
    let timestamps = rows.map { $0.split(separator: "|")[0] }
    #expect(rows.count >= 3, "\(rows)")
    #expect(Set(timestamps).count == timestamps.count, "one job per tick: \(timestamps)")
    #expect(rows.allSatisfy { $0.split(separator: "|")[1] == "test" && $0.hasSuffix("|ticks") })
    let traces = rows.map { $0.split(separator: "|")[2].split(separator: "-")[1] }
    #expect(Set(traces).count == traces.count, "a fresh trace per tick")
    #expect(
      try await psql(app.databaseURL, "SELECT count(*) FROM procrastinate_periodic_defers") == [
        "1"
      ],
      "only the latest tick's row is kept")
  }

  @Test("at start only the latest past tick is deferred, and only if it is recent enough")
  func startRule() async throws {
    let app = try await TestDatabase.app()
    var tasks = TaskRegistry()
    // Midnight on 1 January (or on 1 July, on New Year's Day): its last tick is months old,
    // beyond the 600 s max delay.
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = TimeZone(identifier: "UTC")!
    let today = utc.dateComponents([.month, .day], from: Date())
    let yearly = today.month == 1 && today.day == 1 ? "0 0 1 7 *" : "0 0 1 1 *"
    try tasks.registerPeriodic(TaskDefinition(name: "yearly"), cron: yearly)
    // Every minute: the last tick is at most 60 s old.
    try tasks.registerPeriodic(TaskDefinition(name: "minutely"), cron: "* * * * *")
    let worker = Worker(app: app, tasks: tasks, options: .test(queues: ["nothing"], oneShot: false))
    let run = Task { try await worker.run() }
    try await eventually("the minutely tick") {
      try await psql(app.databaseURL, "SELECT task_name FROM procrastinate_jobs").contains(
        "minutely")
    }
    worker.stop()
    try await run.value
    #expect(
      try await psql(app.databaseURL, "SELECT DISTINCT task_name FROM procrastinate_jobs") == [
        "minutely"
      ]
    )
    #expect(throws: CronError.self) {
      try tasks.registerPeriodic(TaskDefinition(name: "x"), cron: "* *")
    }
  }
}

@Suite("Periodic registration")
struct PeriodicRegistrationUnitTests {
  @Test("a spec's periodic task is registered by the generated register(_:)")
  func generated() throws {
    var tasks = TaskRegistry()
    try tasks.register(EverythingHandlers())
    #expect(tasks.periodic.map(\.task.name) == ["cleanup_every_five_minutes"])
    #expect(tasks.periodic.map(\.cron) == ["*/5 * * * *"])
    #expect(tasks.periodic.map(\.periodicID) == ["nightly"])
  }
}
