import Foundation
import ProcrastinateTesting
import Testing

@testable import Procrastinate

/// A transaction sent as one pipeline (BEGIN, statements, COMMIT, sync) whose backend is
/// terminated part-way: what committed is reported as committed, and what did not as an error.
@Suite("Pipeline faults")
struct PipelineFaultTests {
  static let claim = Statement(
    "test_claim",
    "UPDATE procrastinate_jobs SET status = 'doing' WHERE id = $1::bigint RETURNING id")
  static let terminate = "SELECT pg_terminate_backend(pg_backend_pid())"

  /// A job in `todo`, and a connection of its own to its database.
  static func setUp() async throws -> (ProcrastinateApp, Int64, PostgresConnection) {
    let app = try await TestDatabase.app()
    let id = try await app.defer(task: "t")
    let connection = try await PostgresConnection.connect(
      try DatabaseSettings(conninfo: app.databaseURL))
    return (app, id, connection)
  }

  @Test(
    "a backend terminated after the COMMIT answered: the results come back, and the connection is not reused"
  )
  func terminatedAfterCommit() async throws {
    let (app, id, connection) = try await Self.setUp()
    // The server answers COMMIT, then dies before the pipeline's end: the transaction is
    // committed, and its results (here the claimed job) must reach the caller. (They used to
    // be thrown away with "cannot exit pipeline mode while busy", and a worker then gave
    // back the jobs it had claimed, as orphans, counting an attempt.)
    let results = try await connection.transaction(
      [(Self.claim, [String(id)])], afterCommit: Self.terminate)
    #expect(results.map { $0.rows.map { $0.string(0) } } == [[String(id)]])
    #expect(connection.isBroken, "a connection whose backend is gone must not go back to a pool")
    #expect(try await app.jobRows("id, status") == ["\(id)|doing"])
    await connection.close()
  }

  @Test("a backend terminated before the COMMIT: an error, and nothing committed")
  func terminatedBeforeCommit() async throws {
    let (app, id, connection) = try await Self.setUp()
    let terminate = Statement("test_terminate", Self.terminate)
    await #expect {
      try await connection.transaction([(Self.claim, [String(id)]), (terminate, [])])
    } throws: { error in
      (error as? DatabaseError)?.kind == .connectionLost
    }
    #expect(connection.isBroken)
    #expect(try await app.jobRows("id, status") == ["\(id)|todo"])
    await connection.close()
  }
}
