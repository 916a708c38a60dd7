import Dispatch
import Logging
// `TaskLocals.gracefulShutdownManager` is the only way to tell that `run()` was started by a
// `ServiceGroup`; that group then owns the signals, so the worker must not touch them.
@_spi(TestKit) import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

extension Worker: Service {
  /// Runs until stopped. Throws only when the worker cannot start (bad configuration, no
  /// database, no schema); once started, database outages are waited out.
  ///
  /// How it stops:
  /// - **In a `ServiceGroup`** (swift-service-lifecycle): on graceful shutdown it stops
  ///   fetching, lets running jobs finish within ``WorkerOptions/shutdownTimeout``,
  ///   unregisters and returns. It installs no signal handler: the group owns signals.
  /// - **On its own**: the first SIGINT or SIGTERM does the same (unless
  ///   ``WorkerOptions/installSignalHandlers`` is off); a second one ends the process at
  ///   once. The process's previous handlers are back in place when `run()` returns.
  /// - ``stop()`` from anywhere, or (one-shot) an empty queue.
  /// - **Cancelling the task** that runs it stops fetching and aborts the running jobs at
  ///   once; `run()` still writes their outcomes and unregisters before it returns.
  public func run() async throws {
    try options.validate()
    let inServiceGroup = TaskLocals.gracefulShutdownManager != nil
    let signals =
      options.installSignalHandlers && !inServiceGroup
      ? await StopSignalObserver.start(for: self) : nil
    defer { signals?.restore() }
    // The worker's loops run in a task of their own, so that cancelling the caller turns
    // into `stopNow()` and an orderly end (outcomes written, worker unregistered) instead
    // of cancelled database calls.
    let body = Task { try await self.runUntilStopped() }
    try await withTaskCancellationHandler {
      try await withGracefulShutdownHandler {
        try await body.value
      } onGracefulShutdown: {
        self.stop()
      }
    } onCancel: {
      self.stopNow()
    }
  }
}

/// Turns the first SIGINT or SIGTERM into a graceful `stop()` of every standalone worker
/// running, then sets the default handlers so a second signal ends the process at once.
/// When the last of those workers returns, the handlers the process had before are back.
///
/// libdispatch on Linux installs its own `sigaction` handler shortly after the first signal
/// source for a signal starts (asynchronously), and a source created after an earlier one was
/// cancelled never fires. So each signal has one source for the life of the process;
/// observing puts libdispatch's handler in place, and ``restore()`` puts back the previous one.
final class StopSignalObserver: Sendable {
  private static let signals: [(number: Int32, name: String)] = [
    (SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"),
  ]

  private struct State {
    var workers: [Int: Worker] = [:]
    var nextID = 0
    /// The handlers libdispatch installed for its sources, once they are known.
    var dispatchHandlers: [Int32: sigaction]?
    /// The process's handlers before the first observer, restored after the last.
    var previous: [Int32: sigaction] = [:]
    /// Created once, never cancelled (see above).
    var sources: [any DispatchSourceSignal] = []
  }

  private static let state = Mutex(State())

  private let id: Int

  /// Starts observing for `worker`.
  static func start(for worker: Worker) async -> StopSignalObserver {
    let created = state.withLock { state -> Bool in
      guard state.sources.isEmpty else { return false }
      let queue = DispatchQueue(label: "procrastinate.signals")
      for (number, name) in signals {
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler { received(name) }
        state.sources.append(source)
      }
      return true
    }
    if created { await startSources() }
    // Until the sources' handlers are known, another worker's first start is under way.
    while state.withLock({ $0.dispatchHandlers == nil }) {
      try? await Task.sleep(for: .milliseconds(1))
    }
    return StopSignalObserver(id: register(worker))
  }

  private init(id: Int) { self.id = id }

  /// Starts the sources and waits (up to 2 s) for libdispatch to install its handlers.
  private static func startSources() async {
    let previous = signals.map { (number, _) in
      var old = sigaction()
      sigaction(number, nil, &old)
      return (number, old)
    }
    for (number, _) in signals { signal(number, SIG_IGN) }
    state.withLock { state in for source in state.sources { source.resume() } }
    let deadline = ContinuousClock.now + .seconds(2)
    var handlers: [Int32: sigaction] = [:]
    while handlers.count < signals.count && ContinuousClock.now < deadline {
      for (number, _) in signals where handlers[number] == nil {
        var installed = sigaction()
        sigaction(number, nil, &installed)
        if !isIgnored(installed) { handlers[number] = installed }
      }
      if handlers.count < signals.count { try? await Task.sleep(for: .milliseconds(1)) }
    }
    for (number, old) in previous {
      var old = old
      sigaction(number, &old, nil)
    }
    state.withLock { $0.dispatchHandlers = handlers }
  }

  private static func isIgnored(_ action: sigaction) -> Bool {
    unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
      == unsafeBitCast(SIG_IGN, to: Int.self)
  }

  private static func register(_ worker: Worker) -> Int {
    state.withLock { state in
      defer { state.nextID += 1 }
      if state.workers.isEmpty {
        for (number, _) in signals {
          var old = sigaction()
          guard var handler = state.dispatchHandlers?[number] else { continue }
          sigaction(number, &handler, &old)
          state.previous[number] = old
        }
      }
      state.workers[state.nextID] = worker
      return state.nextID
    }
  }

  private static func received(_ name: String) {
    let workers = state.withLock { state in
      // A second signal ends the process at once.
      for (number, _) in signals { signal(number, SIG_DFL) }
      return Array(state.workers.values)
    }
    for worker in workers {
      worker.logger.info(
        "received \(name): finishing running jobs; send it again to quit at once")
      worker.stop()
    }
  }

  func restore() {
    Self.state.withLock { state in
      guard state.workers.removeValue(forKey: id) != nil, state.workers.isEmpty else { return }
      for (number, action) in state.previous {
        var action = action
        sigaction(number, &action, nil)
      }
      state.previous = [:]
    }
  }
}
