/// The schema: checking it object by object, and creating it (``SchemaSQL``).
extension QueueStore {
  /// Which objects of the procrastinate 3.10 contract the database has.
  func checkSchema() async throws -> SchemaReport {
    try await pool.withConnection { try await Self.schemaReport(on: $0) }
  }

  /// Creates the schema on a database that has none, in one transaction serialised across
  /// callers; leaves a complete one alone, and refuses a partial one.
  func applySchema() async throws -> SchemaApplyOutcome {
    try await pool.withConnection { connection in
      try await connection.script(SchemaSQL.beginApply, context: "schema")
      do {
        let report = try await Self.schemaReport(on: connection)
        let outcome: SchemaApplyOutcome
        if report.isComplete {
          outcome = .alreadyPresent
        } else if report.isAbsent {
          try await connection.script(SchemaSQL.create, context: "schema --apply")
          outcome = .created
        } else {
          throw IncompleteSchemaError(missing: report.missing)
        }
        try await connection.script(SchemaSQL.commit, context: "schema")
        return outcome
      } catch {
        _ = try? await connection.script(SchemaSQL.rollback, context: "schema")
        throw error
      }
    }
  }

  private static func schemaReport(on connection: PostgresConnection) async throws
    -> SchemaReport
  {
    let result = try await connection.query(SchemaSQL.presenceCheck, context: "schema --check")
    var present: [String] = []
    var missing: [String] = []
    for row in result.namedRows {
      guard let name = row.string("object") else { continue }
      if row.bool("present") == true { present.append(name) } else { missing.append(name) }
    }
    return SchemaReport(present: present, missing: missing)
  }
}
