import Synchronization

/// A broadcast wake-up with memory: `signal()` wakes every current waiter, or the next one
/// if nobody waits, so a NOTIFY arriving just before the fetch loop sleeps is never lost.
package final class Wakeup: Sendable {
  private struct State {
    var pending = false
    /// Set by `close()`: every wait returns at once from then on.
    var closed = false
    /// Counts signals, for waits that must not miss one given after a ``ticket()``.
    var generation = 0
    var nextID = 0
    var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    var cancelled: Set<Int> = []
  }

  private let state = Mutex(State())

  package init() {}

  package func signal() {
    let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.generation += 1
      if state.waiters.isEmpty {
        state.pending = true
        return []
      }
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Wakes every waiter and makes every later wait return at once: for "stopping", which
  /// every waiter must see. A signal's memory is one flag that the first later waiter
  /// takes, so a signal alone can leave waiters that were about to wait asleep for their
  /// whole timeout (one-shot workers with many slots ended up to a polling interval late).
  package func close() {
    let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.closed = true
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Where the signals stand: a wait given this ticket returns at once if any signal came
  /// after it. Take it before looking for work, so a signal given while looking is seen
  /// by every waiter, not only by the first that waits afterwards.
  package func ticket() -> Int {
    state.withLock { $0.generation }
  }

  /// Returns on a signal, after `timeout`, when the task is cancelled, or at once once
  /// closed or when a signal came after `ticket`.
  package func wait(after ticket: Int? = nil, timeout: Duration) async {
    let alreadySignalled = state.withLock { state -> Bool in
      if let ticket, state.generation != ticket { return true }
      defer { state.pending = false }
      return state.pending || state.closed
    }
    if alreadySignalled || Task.isCancelled { return }
    await withTaskGroup(of: Void.self) { group in
      group.addTask { try? await Task.sleep(for: timeout) }
      group.addTask { await self.waitForSignal(after: ticket) }
      await group.next()
      group.cancelAll()
    }
  }

  private func waitForSignal(after ticket: Int?) async {
    let id = state.withLock { state -> Int in
      state.nextID += 1
      return state.nextID
    }
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let resumeNow = state.withLock { state -> Bool in
          let missed = ticket.map { state.generation != $0 } ?? false
          if state.pending || state.closed || missed || state.cancelled.remove(id) != nil {
            state.pending = false
            return true
          }
          state.waiters[id] = continuation
          return false
        }
        if resumeNow { continuation.resume() }
      }
    } onCancel: {
      let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
        if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
        state.cancelled.insert(id)
        return nil
      }
      waiter?.resume()
    }
  }
}
