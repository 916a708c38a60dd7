import Foundation

/// A dedicated thread that runs blocking work items (libpq calls) one after another.
///
/// Each connection owns one, so a query or a `poll` waiting for notifications blocks that
/// thread only: never Swift's cooperative pool, and never a libdispatch pool that may run
/// short of threads when many connections wait at once.
package final class BlockingThread: @unchecked Sendable {
  // @unchecked Sendable: `items` and `stopped` are only read or written while `condition`
  // is locked; everything else is immutable.
  private let condition = NSCondition()
  private var items: [@Sendable () -> Void] = []
  private var stopped = false

  package init(name: String) {
    let thread = Thread { [self] in self.loop() }
    thread.name = name
    thread.start()
  }

  /// Runs `item` on the thread, after the items submitted before it.
  package func submit(_ item: @escaping @Sendable () -> Void) {
    condition.lock()
    items.append(item)
    condition.signal()
    condition.unlock()
  }

  /// Lets the thread exit once the submitted items have run.
  package func stop() {
    condition.lock()
    stopped = true
    condition.signal()
    condition.unlock()
  }

  private func loop() {
    while true {
      condition.lock()
      while items.isEmpty && !stopped { condition.wait() }
      if items.isEmpty {
        condition.unlock()
        return
      }
      let batch = items
      items = []
      condition.unlock()
      for item in batch { item() }
    }
  }
}

extension BlockingThread {
  /// Runs `work` on a thread started for it alone and returns its result: the one way async
  /// code in this package hands a blocking call (waiting for a child process, stopping a
  /// server) off Swift's cooperative pool, which has only as many threads as cores.
  package static func run<Value: Sendable>(
    _ name: String, _ work: @escaping @Sendable () throws -> Value
  ) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread { continuation.resume(with: Result { try work() }) }
      thread.name = name
      thread.start()
    }
  }
}
