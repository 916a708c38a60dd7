import Foundation
import Procrastinate
import Testing

@Suite("Schema")
struct SchemaTests {
  @Test("apply creates the schema once; a second apply changes nothing")
  func applyTwice() async throws {
    let app = try await TestDatabase.app(schema: false)
    let empty = try await app.checkSchema()
    #expect(empty.isAbsent && !empty.isComplete)
    #expect(empty.missing.contains { $0.contains("procrastinate_fetch_job_v2") })
    #expect(try await app.applySchema() == .created)
    let report = try await app.checkSchema()
    #expect(report.isComplete, "missing after apply: \(report.missing)")
    let before = try await psql(app.databaseURL, "SELECT count(*) FROM pg_class")
    #expect(try await app.applySchema() == .alreadyPresent)
    #expect(try await psql(app.databaseURL, "SELECT count(*) FROM pg_class") == before)
  }

  @Test("a partial schema is reported object by object and left alone")
  func partialSchema() async throws {
    let app = try await TestDatabase.app()
    try await psql(
      app.databaseURL,
      "DROP FUNCTION procrastinate_retry_job_v2(bigint, timestamp with time zone, integer, character varying, character varying)"
    )
    let report = try await app.checkSchema()
    #expect(report.missing.count == 1)
    #expect(report.missing.first?.contains("procrastinate_retry_job_v2") == true)
    await #expect(throws: IncompleteSchemaError.self) { try await app.applySchema() }
  }

  @Test("procrastinate-swift schema --apply / --check exit codes and messages")
  func cli() async throws {
    let binary = Python.repository.appendingPathComponent(".build/debug/procrastinate-swift").path
    try #require(
      FileManager.default.isExecutableFile(atPath: binary), "build the CLI first (swift build)")
    let url = try await TestDatabase.emptyDatabaseURL()
    let missing = try await runProcessCapturing(
      binary, ["schema", "--check", "--database-url", url], allowFailure: true)
    #expect(missing.status == 1)
    #expect(missing.stdout.contains("has no procrastinate schema"))
    let created = try await runProcessCapturing(
      binary, ["schema", "--apply"], environment: ["PROCRASTINATE_DATABASE_URL": url])
    #expect(created.stdout.contains("Created"))
    let again = try await runProcessCapturing(
      binary, ["schema", "--apply"], environment: ["DATABASE_URL": url])
    #expect(again.status == 0 && again.stdout.contains("already there"))
    let check = try await runProcessCapturing(binary, ["schema", "--check", "--database-url", url])
    #expect(check.status == 0 && check.stdout.contains("OK"))
    try await psql(url, "DROP INDEX procrastinate_jobs_lock_idx_v1")
    let partial = try await runProcessCapturing(
      binary, ["schema", "--check", "--database-url", url], allowFailure: true)
    #expect(partial.status == 1 && partial.stdout.contains("procrastinate_jobs_lock_idx_v1"))
    let bad = try await runProcessCapturing(
      binary, ["schema", "--check", "--database-url", "postgresql://[::1"], allowFailure: true)
    #expect(bad.status != 0 && bad.stderr.contains("malformed database URL"))
  }
}
