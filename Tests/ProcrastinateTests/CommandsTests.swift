import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

/// The embeddable commands, through `procrastinate-swift`, which embeds them.
@Suite("Commands: defer and healthchecks")
struct CommandsTests {
  static var binary: String { TracesPingTests.binary }

  @Test("defer TASK JSON stores the job with its options and a trace context; bad JSON is refused")
  func deferCommand() async throws {
    let app = try await TestDatabase.app()
    let before = Date().timeIntervalSince1970
    let id = try await runProcess(
      Self.binary,
      [
        "defer", "reports.send", #"{"report_id": 7}"#, "--queue", "reports", "--priority", "3",
        "--queueing-lock", "r7", "--in", "60", "--database-url", app.databaseURL,
      ]
    ).trimmingCharacters(in: .whitespacesAndNewlines)
    let after = Date().timeIntervalSince1970
    // 60 s after the command ran, however long it took (the database keeps microseconds).
    let row = try await psql(
      app.databaseURL,
      """
      SELECT id, task_name, queue_name, priority, queueing_lock, args->>'report_id',
        args->'trace_context'->>'traceparent' ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-01$',
        extract(epoch FROM scheduled_at) BETWEEN \(before + 60 - 0.001) AND \(after + 60 + 0.001)
      FROM procrastinate_jobs
      """)
    #expect(row == ["\(id)|reports.send|reports|3|r7|7|t|t"])

    let taken = try await runProcessCapturing(
      Self.binary,
      ["defer", "reports.send", "{}", "--queueing-lock", "r7", "--database-url", app.databaseURL],
      allowFailure: true)
    #expect(taken.status == 1 && taken.stderr.contains("r7"))
    let bad = try await runProcessCapturing(
      Self.binary, ["defer", "reports.send", "[1]", "--database-url", app.databaseURL],
      allowFailure: true)
    #expect(bad.status != 0 && bad.stderr.contains("must be a JSON object"))
  }

  @Test("healthchecks: connection, schema and workers; a database without the schema fails")
  func healthchecks() async throws {
    let app = try await TestDatabase.app()
    let ok = try await runProcess(Self.binary, ["healthchecks", "--database-url", app.databaseURL])
    #expect(
      ok.contains("DB connection: OK") && ok.contains("Schema: OK") && ok.contains("Workers: 0"))
    #expect(!ok.contains("password"))
    let empty = try await TestDatabase.emptyDatabaseURL()
    let missing = try await runProcessCapturing(
      Self.binary, ["healthchecks", "--database-url", empty], allowFailure: true)
    #expect(missing.status == 1 && missing.stdout.contains("Schema: MISSING"))
  }
}
