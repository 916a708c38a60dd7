import CLibPQ
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A transaction of named statements sent in one round trip (libpq pipeline mode).
extension PostgresConnection {
  /// Runs named statements in one transaction and one round trip (libpq pipeline mode):
  /// `BEGIN`, each statement, `COMMIT`. All or nothing: on any error the transaction is
  /// rolled back and the first error is thrown. Once the server has answered the `COMMIT`,
  /// the results are returned even if the connection dies before the pipeline's end (a
  /// terminated backend): the transaction is committed, and throwing its results away would
  /// leave the caller to redo, or undo, what was done. The connection is then marked broken,
  /// so the pool replaces it.
  ///
  /// `afterCommit`, for fault tests only, is SQL sent after the `COMMIT`, before the
  /// pipeline's end, whose result is not returned: the tests terminate the backend there.
  package func transaction(
    _ steps: [(Statement, [String?])], afterCommit: String? = nil
  ) async throws -> [QueryResult] {
    try await runThrowing { state in
      let conn = try Self.live(&state, context: "transaction")
      for (statement, parameters) in steps {
        try Self.checkNoNUL(parameters, context: statement.name)
        try self.prepare(statement, parameterCount: parameters.count, conn, &state)
      }
      // A cancelled operation sends nothing more (a prepare's answer may have come first).
      try self.checkNotCancelled(state)
      var deadline = self.deadline()
      guard PQenterPipelineMode(conn) == 1 else {
        throw DatabaseError(
          kind: .statement, message: Self.trimmed(PQerrorMessage(conn)), context: "pipeline")
      }
      var sent = PQsendQueryParams(conn, "BEGIN", 0, nil, nil, nil, nil, 0) == 1
      for (statement, parameters) in steps where sent {
        sent = Self.withCStrings(parameters) { values in
          PQsendQueryPrepared(conn, statement.name, Int32(parameters.count), values, nil, nil, 0)
            == 1
        }
      }
      sent = sent && PQsendQueryParams(conn, "COMMIT", 0, nil, nil, nil, nil, 0) == 1
      if let afterCommit {
        sent = sent && PQsendQueryParams(conn, afterCommit, 0, nil, nil, nil, nil, 0) == 1
      }
      sent = sent && PQpipelineSync(conn) == 1
      guard sent else {
        state.broken = true
        throw DatabaseError(
          kind: .connectionLost, message: Self.trimmed(PQerrorMessage(conn)), context: "pipeline")
      }
      var results: [QueryResult] = []
      var firstError: (any Error)?
      var committed = false
      let names =
        ["BEGIN"] + steps.map(\.0.name) + ["COMMIT"] + (afterCommit == nil ? [] : ["after COMMIT"])
      do {
        for (index, name) in names.enumerated() {
          guard let result = try self.nextResult(conn, &state, until: &deadline, context: name)
          else {
            state.broken = state.broken || PQstatus(conn) != CONNECTION_OK
            firstError =
              firstError
              ?? DatabaseError(
                kind: state.broken ? .connectionLost : .statement,
                message: Self.trimmed(PQerrorMessage(conn)),
                context: name)
            break
          }
          if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
            PQclear(result)
          } else {
            let isCommit = index == steps.count + 1
            // A COMMIT of a transaction that failed answers OK too, with the tag ROLLBACK.
            let tag = isCommit ? String(cString: PQcmdStatus(result)) : ""
            do {
              let value = try Self.consume(result, conn: conn, state: &state, context: name)
              if index >= 1 && index <= steps.count { results.append(value) }
              if isCommit {
                committed = tag == "COMMIT" && firstError == nil
                if tag != "COMMIT" {
                  firstError =
                    firstError
                    ?? DatabaseError(
                      kind: .statement,
                      message: "COMMIT answered \(tag): the transaction was rolled back",
                      context: name)
                }
              }
            } catch {
              firstError = firstError ?? error
            }
          }
          // Each query's results end with a NULL.
          while let extra = try self.nextResult(conn, &state, until: &deadline, context: name) {
            PQclear(extra)
          }
        }
        // The pipeline ends with its sync marker. An error here (the backend terminated
        // after the COMMIT's answer) is what the pipeline failed with, if it did.
        while let result = try self.nextResult(conn, &state, until: &deadline, context: "pipeline")
        {
          let status = PQresultStatus(result)
          if status == PGRES_PIPELINE_SYNC {
            PQclear(result)
            break
          }
          if status == PGRES_FATAL_ERROR {
            do {
              _ = try Self.consume(result, conn: conn, state: &state, context: "pipeline")
            } catch {
              firstError = firstError ?? error
            }
          } else {
            PQclear(result)
          }
        }
      } catch {
        // The connection was lost while reading (nextResult marked it broken).
        firstError = firstError ?? error
      }
      if committed {
        if PQexitPipelineMode(conn) != 1 || firstError != nil {
          state.broken = true
          state.prepared = []
        }
        return results
      }
      if PQexitPipelineMode(conn) != 1 {
        // Results are still pending (the loop above stopped early): this connection cannot
        // be brought back to a clean state, so the pool must not hand it out again.
        state.broken = true
        state.prepared = []
        firstError =
          firstError
          ?? DatabaseError(
            kind: .connectionLost,
            message:
              "the connection was lost before the pipeline's results were all read; the connection is discarded (\(Self.trimmed(PQerrorMessage(conn))))",
            context: "pipeline")
      }
      if let firstError {
        // After a cancel request the connection is discarded anyway: no ROLLBACK.
        if !state.broken, !state.cancelSent, PQstatus(conn) == CONNECTION_OK,
          PQtransactionStatus(conn) != PQTRANS_IDLE
        {
          let rollback = try? self.roundTrip(conn, &state, context: "ROLLBACK") {
            PQsendQuery(conn, "ROLLBACK")
          }
          if let rollback { PQclear(rollback) }
        }
        throw firstError
      }
      return results
    }
  }
}
