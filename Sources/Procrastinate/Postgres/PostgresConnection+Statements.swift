import CLibPQ
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Statements and their results: one string of statements, a parameterized statement, a
/// named (prepared) one; each waits for the server for at most the response timeout between
/// bytes, and copies its rows out of libpq in text format.
extension PostgresConnection {
  /// Runs one or more statements given as one string, with no parameters (`PQexec`).
  @discardableResult
  package func script(_ sql: String, context: String) async throws -> QueryResult {
    try await runThrowing { state in
      let conn = try Self.live(&state, context: context)
      let result = try self.roundTrip(conn, &state, context: context) { PQsendQuery(conn, sql) }
      return try Self.consume(result, conn: conn, state: &state, context: context)
    }
  }

  /// Runs a parameterized statement once, without preparing it (`PQexecParams`).
  @discardableResult
  package func query(_ sql: String, _ parameters: [String?] = [], context: String) async throws
    -> QueryResult
  {
    try await runThrowing { state in
      let conn = try Self.live(&state, context: context)
      try Self.checkNoNUL(parameters, context: context)
      let result = try self.roundTrip(conn, &state, context: context) {
        Self.withCStrings(parameters) { values in
          PQsendQueryParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
      }
      return try Self.consume(result, conn: conn, state: &state, context: context)
    }
  }

  /// Runs a named statement, preparing it on this connection the first time it is used.
  @discardableResult
  package func execute(_ statement: Statement, _ parameters: [String?] = []) async throws
    -> QueryResult
  {
    try await runThrowing { state in
      let conn = try Self.live(&state, context: statement.name)
      try Self.checkNoNUL(parameters, context: statement.name)
      try self.prepare(statement, parameterCount: parameters.count, conn, &state)
      let result = try self.roundTrip(conn, &state, context: statement.name) {
        Self.withCStrings(parameters) { values in
          PQsendQueryPrepared(conn, statement.name, Int32(parameters.count), values, nil, nil, 0)
        }
      }
      return try Self.consume(result, conn: conn, state: &state, context: statement.name)
    }
  }

  /// Prepares `statement` on this connection the first time it is used.
  func prepare(
    _ statement: Statement, parameterCount: Int, _ conn: OpaquePointer, _ state: inout State
  ) throws {
    if state.prepared.contains(statement.name) { return }
    let prepared = try roundTrip(conn, &state, context: statement.name) {
      PQsendPrepare(conn, statement.name, statement.sql, Int32(parameterCount), nil)
    }
    _ = try Self.consume(prepared, conn: conn, state: &state, context: statement.name)
    state.prepared.insert(statement.name)
  }

  /// When a wait for the server gives up, if nothing arrives before: now plus
  /// ``responseTimeout``, or never.
  func deadline() -> ContinuousClock.Instant? {
    responseTimeout.map { ContinuousClock.now + $0 }
  }

  /// Sends a statement with `send` and reads its results, as `PQexec` would (the last result,
  /// or nil when sending failed), but waits for the server for at most ``responseTimeout``
  /// between bytes. COPY is refused: nothing here feeds or drains it.
  func roundTrip(
    _ conn: OpaquePointer, _ state: inout State, context: String, send: () -> Int32
  ) throws -> OpaquePointer? {
    // A cancelled operation sends nothing more (a prepare's answer may have come first).
    try checkNotCancelled(state)
    guard send() == 1 else { return nil }
    var deadline = self.deadline()
    var last: OpaquePointer?
    do {
      while let result = try nextResult(conn, &state, until: &deadline, context: context) {
        if let last { PQclear(last) }
        last = result
        let status = PQresultStatus(result)
        if status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH {
          state.broken = true
          state.prepared = []
          throw DatabaseError(
            kind: .statement, message: "COPY is not supported on this connection",
            context: context)
        }
      }
    } catch {
      if let last { PQclear(last) }
      throw error
    }
    return last
  }

  /// `PQgetResult`, once it can answer without blocking. Each byte from the server moves
  /// `deadline` on by ``responseTimeout``; past it the connection is marked broken (the pool
  /// replaces it) and the wait ends with a lost-connection error.
  func nextResult(
    _ conn: OpaquePointer, _ state: inout State, until deadline: inout ContinuousClock.Instant?,
    context: String
  ) throws -> OpaquePointer? {
    while PQisBusy(conn) == 1 {
      cancelIfRequested(conn, &state)
      var wait: Int32 = -1
      // The response timeout, and the grace after a cancel request: whichever ends first.
      if let limit = [deadline, state.cancelDeadline].compactMap({ $0 }).min() {
        let remaining = limit - ContinuousClock.now
        guard remaining > .zero else {
          state.broken = true
          state.prepared = []
          throw DatabaseError(
            kind: .connectionLost,
            message: state.cancelSent
              ? "the statement did not end within \(Self.cancelGrace) of its cancel request; the connection is discarded"
              : "no answer from the server for \(responseTimeout ?? .zero) (responseTimeout); the statement may still run there",
            context: context)
        }
        let slice = min(remaining, .seconds(1))
        wait = Int32(
          clamping: slice.components.seconds * 1000 + slice.components.attoseconds
            / 1_000_000_000_000_000 + 1)
      }
      var descriptors = [
        pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0),
        pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
      ]
      let ready = poll(&descriptors, 2, wait)
      if ready < 0 && errno != EINTR {
        state.broken = true
        throw DatabaseError(
          kind: .connectionLost, message: String(cString: strerror(errno)), context: context)
      }
      if descriptors[1].revents & Int16(POLLIN) != 0 { drainWakes() }
      // Bytes from the server move the response deadline on (not the cancel's grace).
      if descriptors[0].revents != 0 { deadline = self.deadline() }
      if PQconsumeInput(conn) == 0 {
        state.broken = true
        throw DatabaseError(
          kind: .connectionLost, message: Self.trimmed(PQerrorMessage(conn)), context: context)
      }
    }
    return PQgetResult(conn)
  }

  static func live(_ state: inout State, context: String) throws -> OpaquePointer {
    guard let conn = state.conn, !state.broken else {
      throw DatabaseError(
        kind: .connectionLost, message: "the connection is closed", context: context)
    }
    return conn
  }

  /// libpq passes parameters as C strings, which end at a NUL: a value holding one would be
  /// cut short without a word. PostgreSQL's text cannot hold NUL either, so it is refused.
  static func checkNoNUL(_ parameters: [String?], context: String) throws {
    for (index, parameter) in parameters.enumerated() where parameter?.utf8.contains(0) == true {
      throw DatabaseError(
        kind: .statement,
        message:
          "parameter \(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
        context: context)
    }
  }

  static func withCStrings<R>(
    _ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
  ) -> R {
    let duplicates: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { duplicates.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = duplicates.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
  }

  static func consume(
    _ result: OpaquePointer?, conn: OpaquePointer, state: inout State, context: String
  ) throws -> QueryResult {
    guard let result else {
      if PQstatus(conn) != CONNECTION_OK { state.broken = true }
      throw DatabaseError(
        kind: state.broken ? .connectionLost : .statement,
        message: trimmed(PQerrorMessage(conn)), context: context)
    }
    defer { PQclear(result) }
    switch PQresultStatus(result) {
    case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
      let columnCount = PQnfields(result)
      let rowCount = PQntuples(result)
      var columns: [String] = []
      columns.reserveCapacity(Int(columnCount))
      for column in 0..<columnCount {
        columns.append(String(cString: PQfname(result, column)))
      }
      var rows: [QueryResult.Row] = []
      rows.reserveCapacity(Int(rowCount))
      for row in 0..<rowCount {
        var values: [String?] = []
        values.reserveCapacity(Int(columnCount))
        for column in 0..<columnCount {
          if PQgetisnull(result, row, column) == 1 {
            values.append(nil)
          } else {
            values.append(String(cString: PQgetvalue(result, row, column)))
          }
        }
        rows.append(QueryResult.Row(values))
      }
      return QueryResult(columns: columns, rows: rows)
    default:
      func field(_ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
      }
      // A server shutting down (class 57P: admin or crash shutdown, cannot connect now) or a
      // connection exception (class 08) ends the session even while libpq still reports
      // the connection as OK: treat it as lost, so callers retry instead of giving up.
      let code = field(Int32(UInt8(ascii: "C"))) ?? ""
      if PQstatus(conn) != CONNECTION_OK || code.hasPrefix("57P") || code.hasPrefix("08") {
        state.broken = true
        state.prepared = []
      }
      let message = field(Int32(UInt8(ascii: "M"))) ?? trimmed(PQresultErrorMessage(result))
      throw DatabaseError(
        kind: state.broken ? .connectionLost : .statement,
        message: message.isEmpty ? trimmed(PQerrorMessage(conn)) : message,
        sqlState: field(Int32(UInt8(ascii: "C"))),
        constraint: field(Int32(UInt8(ascii: "n"))),
        detail: field(Int32(UInt8(ascii: "D"))),
        context: context)
    }
  }
}
