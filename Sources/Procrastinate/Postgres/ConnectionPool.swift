/// A small pool of libpq connections, opened on demand and reused.
///
/// A connection that was lost is closed and dropped when it comes back, so the next
/// borrower opens a fresh one: this is how the queue survives a database restart. A task
/// waiting for a connection can be cancelled: it stops waiting and gets a
/// `CancellationError`.
package actor ConnectionPool {
  package let settings: DatabaseSettings
  package let maximumConnections: Int

  /// What a waiting borrower is given.
  private enum Handoff {
    /// A connection someone returned.
    case connection(PostgresConnection)
    /// A slot freed without a connection (or the pool closed): try again, maybe opening one.
    case retry
    /// The borrower's task was cancelled.
    case cancelled
  }

  private var idle: [PostgresConnection] = []
  private var openCount = 0
  /// Borrowers waiting for a connection, in order of arrival.
  private var waiters: [(id: Int, continuation: CheckedContinuation<Handoff, Never>)] = []
  private var nextWaiterID = 0
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

  /// How many borrowers wait in line for a connection.
  package var waitingBorrowers: Int { waiters.count }

  /// Closes idle connections and refuses new borrowers.
  package func close() async {
    closed = true
    let connections = idle
    idle = []
    openCount -= connections.count
    for connection in connections { await connection.close() }
    for waiter in waiters { waiter.continuation.resume(returning: .retry) }
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
        // A cancelled borrower (one handed a free slot as it was cancelled) opens nothing.
        try Task.checkCancellation()
        openCount += 1
        do {
          return try await PostgresConnection.connect(settings)
        } catch {
          openCount -= 1
          wakeOneWaiter()
          throw error
        }
      }
      switch await waitForHandoff() {
      case .connection(let connection): return connection
      case .retry: continue
      case .cancelled: throw CancellationError()
      }
    }
  }

  /// Waits in line until a connection or a slot is handed over, or the task is cancelled.
  private func waitForHandoff() async -> Handoff {
    let id = nextWaiterID
    nextWaiterID += 1
    return await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        if Task.isCancelled {
          continuation.resume(returning: .cancelled)
        } else {
          waiters.append((id, continuation))
        }
      }
    } onCancel: {
      Task { await self.cancelWaiter(id) }
    }
  }

  /// Takes a cancelled borrower out of the line; one already handed a connection keeps it.
  private func cancelWaiter(_ id: Int) {
    guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
    waiters.remove(at: index).continuation.resume(returning: .cancelled)
  }

  private func release(_ connection: PostgresConnection) async {
    if connection.isBroken || closed {
      openCount -= 1
      await connection.close()
      wakeOneWaiter()
      return
    }
    if !waiters.isEmpty {
      waiters.removeFirst().continuation.resume(returning: .connection(connection))
    } else {
      idle.append(connection)
    }
  }

  /// A slot was freed without a connection to hand over: let one waiter open its own.
  private func wakeOneWaiter() {
    if !waiters.isEmpty { waiters.removeFirst().continuation.resume(returning: .retry) }
  }
}
