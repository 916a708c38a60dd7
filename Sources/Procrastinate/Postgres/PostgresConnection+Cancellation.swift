import CLibPQ
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
/// sends libpq's cancel request (`PQcancel`, a short connection of its own, made from the
/// connection's thread: never the cooperative pool) and reads on until the server answers,
/// for at most ``cancelGrace``. The awaiting task then gets a `CancellationError`, and the
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
    if isCancelRequested(state) { throw CancellationError() }
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

  private func discardAfterCancel(_ state: inout State) {
    state.broken = true
    state.prepared = []
  }

  /// Sends the cancel request for the running statement, once per operation, when its task
  /// was cancelled; the new deadline of the wait for the server's answer.
  func cancelIfRequested(
    _ state: inout State, deadline: ContinuousClock.Instant?, context: String
  ) -> ContinuousClock.Instant? {
    guard !state.cancelSent, isCancelRequested(state) else { return deadline }
    state.cancelSent = true
    if let handle = state.cancelHandle {
      var message = [CChar](repeating: 0, count: 256)
      if PQcancel(handle, &message, Int32(message.count)) == 0 {
        // The request could not be sent: stop waiting at once; the connection is discarded.
        return .now
      }
    }
    let grace = ContinuousClock.now + Self.cancelGrace
    return deadline.map { min($0, grace) } ?? grace
  }
}
