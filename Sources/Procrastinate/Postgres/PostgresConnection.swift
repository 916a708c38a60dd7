import CLibPQ
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A notification received on a `LISTEN`ed channel.
package struct PostgresNotification: Sendable {
  package var channel: String
  package var payload: String
}

/// One libpq connection.
///
/// libpq is synchronous, so every call on the connection runs on the connection's own
/// thread (``BlockingThread``), never on Swift's cooperative thread pool: a slow query or a
/// `poll` waiting for notifications ties up that thread only. The `PGconn` pointer lives in
/// a `Mutex`, and is only touched from that thread (and from `deinit`).
package final class PostgresConnection: Sendable {
  private struct State {
    var conn: OpaquePointer?
    var prepared: Set<String> = []
    var broken = false
  }

  private let thread: BlockingThread
  private let state: Mutex<State>
  /// A pipe that ends a `notifications(timeout:)` wait early: its read end is polled with
  /// the socket, ``interruptWait()`` writes to it. Plain descriptors, outside the mutex
  /// the waiting thread holds.
  private let wakeRead: Int32
  private let wakeWrite: Int32
  /// The redacted connection description used in errors and logs.
  package let target: String
  /// How long a statement waits without a byte from the server
  /// (``DatabaseSettings/responseTimeout``); nil waits forever, as libpq does.
  private let responseTimeout: Duration?

  private init(conn: sending OpaquePointer, target: String, responseTimeout: Duration?) {
    self.thread = BlockingThread(name: "procrastinate.postgres")
    self.state = Mutex(State(conn: conn))
    self.target = target
    self.responseTimeout = responseTimeout
    var fds: [Int32] = [-1, -1]
    if pipe(&fds) == 0 {
      for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }
    self.wakeRead = fds[0]
    self.wakeWrite = fds[1]
  }

  /// Ends the current (or next) `notifications(timeout:)` wait at once, e.g. when the
  /// listening task is cancelled, so a stopping worker does not wait out the poll.
  package func interruptWait() {
    var byte: UInt8 = 1
    _ = write(wakeWrite, &byte, 1)
  }

  /// Opens a connection. The blocking `PQconnectdbParams` runs on a dispatch queue, off the
  /// cooperative pool, for at most `connect_timeout` (10 s unless the settings say otherwise).
  package static func connect(_ settings: DatabaseSettings) async throws -> PostgresConnection {
    let parameters = settings.connectParameters()
    let target = settings.redacted
    let responseTimeout = settings.responseTimeout
    return try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        guard let conn = Self.connectdb(parameters) else {
          continuation.resume(
            throwing: DatabaseError(
              kind: .connect, message: "libpq could not allocate a connection",
              context: "connect to \(target)"))
          return
        }
        if PQstatus(conn) != CONNECTION_OK {
          let message = Self.trimmed(PQerrorMessage(conn))
          PQfinish(conn)
          continuation.resume(
            throwing: DatabaseError(
              kind: .connect, message: message, context: "connect to \(target)")
          )
          return
        }
        // Server notices (e.g. "relation already exists, skipping") are not errors: drop them
        // rather than letting libpq print them on stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        continuation.resume(
          returning: PostgresConnection(
            conn: conn, target: target, responseTimeout: responseTimeout))
      }
    }
  }

  /// `PQconnectdbParams` with `expand_dbname`, from keyword/value pairs.
  private static func connectdb(_ parameters: [(String, String)]) -> OpaquePointer? {
    let keywords = parameters.map { strdup($0.0) } + [nil]
    let values = parameters.map { strdup($0.1) } + [nil]
    defer {
      keywords.forEach { free($0) }
      values.forEach { free($0) }
    }
    return keywords.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer {
      keywordPointers in
      values.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { valuePointers in
        PQconnectdbParams(keywordPointers.baseAddress, valuePointers.baseAddress, 1)
      }
    }
  }

  /// Whether the connection was lost; a lost connection is discarded, never reused.
  package var isBroken: Bool { state.withLock { $0.broken || $0.conn == nil } }

  /// Closes the connection and ends its thread.
  package func close() async {
    await run { state in
      if let conn = state.conn { PQfinish(conn) }
      state.conn = nil
    }
    thread.stop()
  }

  deinit {
    state.withLock { state in
      if let conn = state.conn { PQfinish(conn) }
      state.conn = nil
    }
    thread.stop()
    if wakeRead >= 0 { Glibc.close(wakeRead) }
    if wakeWrite >= 0 { Glibc.close(wakeWrite) }
  }

  // MARK: - Statements

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
        if !state.broken, PQstatus(conn) == CONNECTION_OK,
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

  // MARK: - LISTEN / NOTIFY

  /// Quotes an identifier such as `procrastinate_queue_v1#default` for `LISTEN`.
  package static func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  /// Waits up to `timeout` for notifications on the channels this connection listens to.
  ///
  /// Blocks this connection's thread in `poll(2)`, not the caller's.
  package func notifications(timeout: Duration) async throws -> [PostgresNotification] {
    let milliseconds =
      Int32(clamping: timeout.components.seconds * 1000)
      + Int32(clamping: timeout.components.attoseconds / 1_000_000_000_000_000)
    return try await runThrowing { state in
      let conn = try Self.live(&state, context: "listen")
      var received = try Self.drainNotifications(conn, state: &state)
      if !received.isEmpty { return received }
      var descriptors = [
        pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0),
        pollfd(fd: self.wakeRead, events: Int16(POLLIN), revents: 0),
      ]
      let ready = poll(&descriptors, 2, milliseconds)
      if descriptors[1].revents & Int16(POLLIN) != 0 {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(self.wakeRead, &buffer, buffer.count) > 0 {}
      }
      if ready < 0 && errno != EINTR {
        state.broken = true
        throw DatabaseError(
          kind: .connectionLost, message: String(cString: strerror(errno)), context: "listen")
      }
      received = try Self.drainNotifications(conn, state: &state)
      return received
    }
  }

  private static func drainNotifications(_ conn: OpaquePointer, state: inout State) throws
    -> [PostgresNotification]
  {
    if PQconsumeInput(conn) == 0 {
      state.broken = true
      throw DatabaseError(
        kind: .connectionLost, message: trimmed(PQerrorMessage(conn)), context: "listen")
    }
    var received: [PostgresNotification] = []
    while let notify = PQnotifies(conn) {
      received.append(
        PostgresNotification(
          channel: String(cString: notify.pointee.relname),
          payload: String(cString: notify.pointee.extra)))
      PQfreemem(notify)
    }
    return received
  }

  // MARK: - Plumbing

  private func run<T: Sendable>(_ body: @escaping @Sendable (inout State) -> T) async -> T {
    await withCheckedContinuation { continuation in
      thread.submit {
        continuation.resume(returning: self.state.withLock { body(&$0) })
      }
    }
  }

  private func runThrowing<T: Sendable>(_ body: @escaping @Sendable (inout State) throws -> T)
    async throws -> T
  {
    try await withCheckedThrowingContinuation { continuation in
      thread.submit {
        continuation.resume(with: Result { try self.state.withLock { try body(&$0) } })
      }
    }
  }

  /// Prepares `statement` on this connection the first time it is used.
  private func prepare(
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
  private func deadline() -> ContinuousClock.Instant? {
    responseTimeout.map { ContinuousClock.now + $0 }
  }

  /// Sends a statement with `send` and reads its results, as `PQexec` would (the last result,
  /// or nil when sending failed), but waits for the server for at most ``responseTimeout``
  /// between bytes. COPY is refused: nothing here feeds or drains it.
  private func roundTrip(
    _ conn: OpaquePointer, _ state: inout State, context: String, send: () -> Int32
  ) throws -> OpaquePointer? {
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
  private func nextResult(
    _ conn: OpaquePointer, _ state: inout State, until deadline: inout ContinuousClock.Instant?,
    context: String
  ) throws -> OpaquePointer? {
    while PQisBusy(conn) == 1 {
      var wait: Int32 = -1
      if let limit = deadline {
        let remaining = limit - ContinuousClock.now
        guard remaining > .zero else {
          state.broken = true
          state.prepared = []
          throw DatabaseError(
            kind: .connectionLost,
            message:
              "no answer from the server for \(responseTimeout ?? .zero) (responseTimeout); the statement may still run there",
            context: context)
        }
        let slice = min(remaining, .seconds(1))
        wait = Int32(
          clamping: slice.components.seconds * 1000 + slice.components.attoseconds
            / 1_000_000_000_000_000 + 1)
      }
      var descriptor = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
      let ready = poll(&descriptor, 1, wait)
      if ready < 0 && errno != EINTR {
        state.broken = true
        throw DatabaseError(
          kind: .connectionLost, message: String(cString: strerror(errno)), context: context)
      }
      if ready > 0 { deadline = self.deadline() }
      if PQconsumeInput(conn) == 0 {
        state.broken = true
        throw DatabaseError(
          kind: .connectionLost, message: Self.trimmed(PQerrorMessage(conn)), context: context)
      }
    }
    return PQgetResult(conn)
  }

  private static func live(_ state: inout State, context: String) throws -> OpaquePointer {
    guard let conn = state.conn, !state.broken else {
      throw DatabaseError(
        kind: .connectionLost, message: "the connection is closed", context: context)
    }
    return conn
  }

  /// libpq passes parameters as C strings, which end at a NUL: a value holding one would be
  /// cut short without a word. PostgreSQL's text cannot hold NUL either, so it is refused.
  private static func checkNoNUL(_ parameters: [String?], context: String) throws {
    for (index, parameter) in parameters.enumerated() where parameter?.utf8.contains(0) == true {
      throw DatabaseError(
        kind: .statement,
        message:
          "parameter \(index + 1) contains a NUL character, which PostgreSQL text cannot hold",
        context: context)
    }
  }

  private static func withCStrings<R>(
    _ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
  ) -> R {
    let duplicates: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { duplicates.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = duplicates.map { $0.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
  }

  private static func consume(
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

  private static func trimmed(_ pointer: UnsafePointer<CChar>?) -> String {
    guard let pointer else { return "unknown libpq error" }
    return String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
