import Synchronization

/// A broadcast wake-up with memory: `signal()` wakes every current waiter, or the next one
/// if nobody waits, so a NOTIFY arriving just before the fetch loop sleeps is never lost.
package final class Wakeup: Sendable {
  private struct State {
    var pending = false
    var nextID = 0
    var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    var cancelled: Set<Int> = []
  }

  private let state = Mutex(State())

  package init() {}

  package func signal() {
    let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
      if state.waiters.isEmpty {
        state.pending = true
        return []
      }
      defer { state.waiters = [:] }
      return Array(state.waiters.values)
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Returns on a signal, after `timeout`, or when the task is cancelled.
  package func wait(timeout: Duration) async {
    let alreadySignalled = state.withLock { state -> Bool in
      defer { state.pending = false }
      return state.pending
    }
    if alreadySignalled || Task.isCancelled { return }
    await withTaskGroup(of: Void.self) { group in
      group.addTask { try? await Task.sleep(for: timeout) }
      group.addTask { await self.waitForSignal() }
      await group.next()
      group.cancelAll()
    }
  }

  private func waitForSignal() async {
    let id = state.withLock { state -> Int in
      state.nextID += 1
      return state.nextID
    }
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let resumeNow = state.withLock { state -> Bool in
          if state.pending || state.cancelled.remove(id) != nil {
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
