import CLibPQ
import Foundation

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

/// LISTEN/NOTIFY: waiting for notifications on the channels the connection listens to.
extension PostgresConnection {
  /// Quotes an identifier such as `procrastinate_queue_v1#default` for `LISTEN`.
  package static func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  /// Waits up to `timeout` for notifications on the channels this connection listens to.
  ///
  /// Blocks this connection's thread in `poll(2)`, not the caller's; cancelling the awaiting
  /// task ends the wait at once.
  package func notifications(timeout: Duration) async throws -> [PostgresNotification] {
    let milliseconds =
      Int32(clamping: timeout.components.seconds * 1000)
      + Int32(clamping: timeout.components.attoseconds / 1_000_000_000_000_000)
    return try await runThrowing { state in
      let conn = try Self.live(&state, context: "listen")
      var received = try Self.drainNotifications(conn, state: &state)
      if !received.isEmpty { return received }
      // Wake-ups left by earlier operations would end this wait at once; drained first, a
      // cancel of this one is still seen through its flag.
      self.drainWakes()
      try self.checkNotCancelled(state)
      var descriptors = [
        pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0),
        pollfd(fd: self.wakeRead, events: Int16(POLLIN), revents: 0),
      ]
      let ready = poll(&descriptors, 2, milliseconds)
      if descriptors[1].revents & Int16(POLLIN) != 0 { self.drainWakes() }
      if ready < 0 && errno != EINTR {
        state.broken = true
        throw DatabaseError(
          kind: .connectionLost, message: String(cString: strerror(errno)), context: "listen")
      }
      received = try Self.drainNotifications(conn, state: &state)
      return received
    }
  }

  static func drainNotifications(_ conn: OpaquePointer, state: inout State) throws
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
}
