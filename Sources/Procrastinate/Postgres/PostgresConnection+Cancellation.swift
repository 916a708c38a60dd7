import CLibPQ
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The operations of one connection whose awaiting task was cancelled.
struct Cancellations: Sendable {
  private var last: UInt64 = 0
  private var requested: Set<UInt64> = []

  /// A number for the next operation.
  mutating func begin() -> UInt64 {
    last &+= 1
    return last
  }

  mutating func end(_ operation: UInt64) { requested.remove(operation) }

  mutating func request(_ operation: UInt64) { requested.insert(operation) }

  func isRequested(_ operation: UInt64) -> Bool { requested.contains(operation) }
}

/// Cancelling the task that awaits a statement cancels the statement on the server.
///
/// The task's cancellation handler marks its operation and wakes the connection's thread,
/// which polls the wake pipe with the socket. If the statement is still running, the thread
/// has libpq's cancel request (`PQcancel`, a short connection of its own) sent from a thread
/// of its own (never the cooperative pool) and reads on until the server answers, for at
/// most ``cancelGrace``. Nothing more of the operation is sent once it is cancelled. The awaiting task then gets a `CancellationError`, and the
/// connection is discarded: a cancel request that reached the server late must not cancel
/// a later statement. An operation whose task was cancelled before it started is not sent.
extension PostgresConnection {
  /// How long a statement may go on after its cancel request was sent before the
  /// connection is given up (marked broken; the statement may then still run on the server).
  static let cancelGrace: Duration = .seconds(5)

  /// Called by the cancellation handler of the task awaiting `operation`.
  func requestCancel(_ operation: UInt64) {
    cancellations.withLock { $0.request(operation) }
    wake()
  }

  /// Ends a wait of the connection's thread on the server early.
  func wake() {
    var byte: UInt8 = 1
    _ = write(wakeWrite, &byte, 1)
  }

  /// Empties the wake pipe after a wait it ended.
  func drainWakes() {
    var buffer = [UInt8](repeating: 0, count: 64)
    while read(wakeRead, &buffer, buffer.count) > 0 {}
  }

  /// Whether the task awaiting the running operation was cancelled.
  func isCancelRequested(_ state: State) -> Bool {
    cancellations.withLock { $0.isRequested(state.operation) }
  }

  /// Runs one operation on the connection's thread. Refuses one whose task is already
  /// cancelled; after a cancel request was sent for it, discards the connection and reports
  /// a `CancellationError` in place of the server's `57014 canceling statement` (a statement
  /// that finished first still returns its result).
  func perform<T>(
    _ operation: UInt64, _ state: inout State, _ body: (inout State) throws -> T
  ) throws -> T {
    state.operation = operation
    state.cancelSent = false
    state.cancelDeadline = nil
    try checkNotCancelled(state)
    do {
      let value = try body(&state)
      if state.cancelSent { discardAfterCancel(&state) }
      return value
    } catch {
      guard state.cancelSent else { throw error }
      discardAfterCancel(&state)
      throw CancellationError()
    }
  }

  /// Throws `CancellationError` when the running operation's task was cancelled: called
  /// before anything is sent.
  func checkNotCancelled(_ state: State) throws {
    if state.cancelSent || isCancelRequested(state) { throw CancellationError() }
  }

  private func discardAfterCancel(_ state: inout State) {
    state.broken = true
    state.prepared = []
  }

  /// When the running operation's task was cancelled, sends the cancel request for its
  /// statement, once: from a short-lived thread of its own, since `PQcancel` opens a
  /// connection and may block (an unreachable server) far longer than ``cancelGrace``, which
  /// starts now and bounds the wait for the statement's end.
  func cancelIfRequested(_ conn: OpaquePointer, _ state: inout State) {
    guard !state.cancelSent, isCancelRequested(state) else { return }
    state.cancelSent = true
    state.cancelDeadline = ContinuousClock.now + Self.cancelGrace
    // A PGcancel of its own, freed by the thread that sends it: it outlives the connection.
    guard let handle = PQgetCancel(conn) else { return }
    let address = UInt(bitPattern: handle)
    Thread.detachNewThread {
      guard let handle = OpaquePointer(bitPattern: address) else { return }
      var message = [CChar](repeating: 0, count: 256)
      _ = PQcancel(handle, &message, Int32(message.count))
      PQfreeCancel(handle)
    }
  }
}
