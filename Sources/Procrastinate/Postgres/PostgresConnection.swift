import CLibPQ
import Foundation
import ProcrastinateConcurrency
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One libpq connection.
///
/// libpq is synchronous, so every call on the connection, connecting included, runs on the
/// connection's own thread (``BlockingThread``), never on Swift's cooperative pool nor on a
/// global dispatch queue: a slow query or a `poll` waiting for notifications ties up that
/// thread only. The `PGconn` pointer lives in a `Mutex`, and is only touched from that thread
/// (and from `deinit`).
///
/// Its concerns, one file each: opening, closing and handing work to the thread (here);
/// statements and their results (`+Statements`), transactions in one round trip
/// (`+Pipeline`), LISTEN/NOTIFY (`+Notifications`) and cancelling a statement on the server
/// when the task awaiting it is cancelled (`+Cancellation`).
package final class PostgresConnection: Sendable {
  struct State {
    var conn: OpaquePointer?
    var prepared: Set<String> = []
    var broken = false
    /// The operation running on the thread now, whether a cancel request was sent for it,
    /// and until when its statement may still run after that request.
    var operation: UInt64 = 0
    var cancelSent = false
    var cancelDeadline: ContinuousClock.Instant?
  }

  let thread: BlockingThread
  let state: Mutex<State>
  /// Which operations their awaiting task cancelled; outside `state`, which the thread holds
  /// for the whole of an operation.
  let cancellations = Mutex(Cancellations())
  /// A pipe whose read end is polled with the socket: writing to it (``wake()``) ends a
  /// wait on the server early, when the awaiting task is cancelled. Plain descriptors,
  /// outside the mutex the waiting thread holds.
  let wakeRead: Int32
  let wakeWrite: Int32
  /// The redacted connection description used in errors and logs.
  package let target: String
  /// How long a statement waits without a byte from the server
  /// (``DatabaseSettings/responseTimeout``); nil waits forever, as libpq does.
  let responseTimeout: Duration?

  private init(
    conn: sending OpaquePointer, thread: BlockingThread, target: String,
    responseTimeout: Duration?, wake: (read: Int32, write: Int32)
  ) {
    self.thread = thread
    self.state = Mutex(State(conn: conn))
    self.target = target
    self.responseTimeout = responseTimeout
    self.wakeRead = wake.read
    self.wakeWrite = wake.write
  }

  /// Opens a connection. The blocking `PQconnectdbParams` runs on the thread the connection
  /// will own, for at most `connect_timeout` (10 s unless the settings say otherwise).
  package static func connect(_ settings: DatabaseSettings) async throws -> PostgresConnection {
    let parameters = settings.connectParameters()
    let target = settings.redacted
    let responseTimeout = settings.responseTimeout
    let thread = BlockingThread(name: "procrastinate.postgres")
    return try await withCheckedThrowingContinuation { continuation in
      thread.submit {
        /// Ends the attempt: the connection (if any) closed, the thread stopped.
        func fail(_ message: String, closing conn: OpaquePointer?) {
          if let conn { PQfinish(conn) }
          thread.stop()
          continuation.resume(
            throwing: DatabaseError(
              kind: .connect, message: message, context: "connect to \(target)"))
        }
        guard let conn = Self.connectdb(parameters) else {
          return fail("libpq could not allocate a connection", closing: nil)
        }
        if PQstatus(conn) != CONNECTION_OK {
          return fail(Self.trimmed(PQerrorMessage(conn)), closing: conn)
        }
        // The wake pipe, without which a cancelled statement could not be woken.
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
          return fail(
            "cannot create the connection's wake pipe: \(String(cString: strerror(errno)))",
            closing: conn)
        }
        for fd in fds {
          // Not inherited by child processes, and never blocking a read or a write.
          _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
          _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        // Server notices (e.g. "relation already exists, skipping") are not errors: drop them
        // rather than letting libpq print them on stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        continuation.resume(
          returning: PostgresConnection(
            conn: conn, thread: thread, target: target, responseTimeout: responseTimeout,
            wake: (fds[0], fds[1])))
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
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      thread.submit {
        self.state.withLock { Self.finish(&$0) }
        continuation.resume()
      }
    }
    thread.stop()
  }

  deinit {
    state.withLock { Self.finish(&$0) }
    thread.stop()
    if wakeRead >= 0 { Glibc.close(wakeRead) }
    if wakeWrite >= 0 { Glibc.close(wakeWrite) }
  }

  private static func finish(_ state: inout State) {
    if let conn = state.conn { PQfinish(conn) }
    state.conn = nil
  }

  /// Runs `body` on the connection's thread, as one operation: cancelling the awaiting task
  /// cancels its statement on the server (see `PostgresConnection+Cancellation.swift`).
  func runThrowing<T: Sendable>(_ body: @escaping @Sendable (inout State) throws -> T)
    async throws -> T
  {
    let operation = cancellations.withLock { $0.begin() }
    defer { cancellations.withLock { $0.end(operation) } }
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { continuation in
        thread.submit {
          continuation.resume(
            with: Result {
              try self.state.withLock { state in
                try self.perform(operation, &state, body)
              }
            })
        }
      }
    } onCancel: {
      self.requestCancel(operation)
    }
  }

  static func trimmed(_ pointer: UnsafePointer<CChar>?) -> String {
    guard let pointer else { return "unknown libpq error" }
    return String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
