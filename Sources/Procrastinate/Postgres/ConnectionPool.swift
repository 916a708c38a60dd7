/// A small pool of libpq connections, opened on demand and reused.
///
/// A connection that was lost is closed and dropped when it comes back, so the next
/// borrower opens a fresh one: this is how the queue survives a database restart.
package actor ConnectionPool {
  package let settings: DatabaseSettings
  package let maximumConnections: Int

  private var idle: [PostgresConnection] = []
  private var openCount = 0
  /// Borrowers waiting for a connection. A waiter resumed with `nil` may open a new one.
  private var waiters: [CheckedContinuation<PostgresConnection?, Never>] = []
  private var closed = false

  package init(settings: DatabaseSettings, maximumConnections: Int) {
    precondition(maximumConnections > 0, "a pool needs at least one connection")
    self.settings = settings
    self.maximumConnections = maximumConnections
  }

  /// Borrows a connection for the duration of `body`.
  package func withConnection<T: Sendable>(
    _ body: @Sendable (PostgresConnection) async throws -> T
  ) async throws -> T {
    let connection = try await acquire()
    do {
      let value = try await body(connection)
      await release(connection)
      return value
    } catch {
      await release(connection)
      throw error
    }
  }

  /// Runs a named statement on a pooled connection.
  @discardableResult
  package func execute(_ statement: Statement, _ parameters: [String?] = []) async throws
    -> QueryResult
  {
    try await withConnection { try await $0.execute(statement, parameters) }
  }

  /// Closes idle connections and refuses new borrowers.
  package func close() async {
    closed = true
    let connections = idle
    idle = []
    openCount -= connections.count
    for connection in connections { await connection.close() }
    for waiter in waiters { waiter.resume(returning: nil) }
    waiters = []
  }

  private func acquire() async throws -> PostgresConnection {
    while true {
      if closed {
        throw DatabaseError(
          kind: .connect, message: "the connection pool is closed", context: "pool")
      }
      if let connection = idle.popLast() {
        if !connection.isBroken { return connection }
        openCount -= 1
        continue
      }
      if openCount < maximumConnections {
        openCount += 1
        do {
          return try await PostgresConnection.connect(settings)
        } catch {
          openCount -= 1
          wakeOneWaiter()
          throw error
        }
      }
      if let connection = await withCheckedContinuation({ waiters.append($0) }) {
        return connection
      }
    }
  }

  private func release(_ connection: PostgresConnection) async {
    if connection.isBroken || closed {
      openCount -= 1
      await connection.close()
      wakeOneWaiter()
      return
    }
    if !waiters.isEmpty {
      waiters.removeFirst().resume(returning: connection)
    } else {
      idle.append(connection)
    }
  }

  /// A slot was freed without a connection to hand over: let one waiter open its own.
  private func wakeOneWaiter() {
    if !waiters.isEmpty { waiters.removeFirst().resume(returning: nil) }
  }
}
