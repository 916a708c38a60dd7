import Dispatch
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Turns the first SIGINT or SIGTERM into a graceful `stop()` of every standalone worker
/// running; a second one ends the process. When the last of those workers returns, the
/// handlers the process had before are back.
///
/// libdispatch on Linux installs its own `sigaction` handler shortly after the first signal
/// source for a signal starts (asynchronously), and a source created after an earlier one was
/// cancelled never fires. So each signal has one source for the life of the process;
/// observing puts libdispatch's handler in place, and ``restore()`` puts back the previous one,
/// so a signal arriving after the last worker returned gets the process's own disposition.
/// (A process whose every thread blocks the signal, as one spawned from a Swift cooperative
/// thread without resetting its mask does, never acts on it, with or without a worker.)
final class StopSignalObserver: Sendable {
  private static let signals: [(number: Int32, name: String)] = [
    (SIGINT, "SIGINT"), (SIGTERM, "SIGTERM"),
  ]

  private struct State {
    var workers: [Int: Worker] = [:]
    var nextID = 0
    /// Whether the sources were started (once per process), and the handlers libdispatch
    /// installed for them (missing if it installed none within 10 s).
    var started = false
    var dispatchHandlers: [Int32: sigaction] = [:]
    /// The process's handlers before the first observer, restored after the last.
    var previous: [Int32: sigaction] = [:]
    /// A stop signal arrived while workers observe: the next one ends the process.
    var signalled = false
    /// Created once, never cancelled (see above).
    var sources: [any DispatchSourceSignal] = []
  }

  private static let state = Mutex(State())

  private let id: Int

  /// Starts observing for `worker`.
  static func start(for worker: Worker) async -> StopSignalObserver {
    let create = state.withLock { state -> Bool in
      guard state.sources.isEmpty else { return false }
      let queue = DispatchQueue(label: "procrastinate.signals")
      for (number, name) in signals {
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler { received(number, name) }
        state.sources.append(source)
      }
      return true
    }
    if create { await startSources() }
    // Until the sources are started, another worker's first start is under way.
    while !state.withLock({ $0.started }) && !Task.isCancelled {
      try? await Task.sleep(for: .milliseconds(1))
    }
    let (id, complete) = register(worker)
    if !complete {
      worker.logger.warning(
        "could not take over SIGINT and SIGTERM (libdispatch installed no handler); stop this worker with stop() or by cancelling its task"
      )
    }
    return StopSignalObserver(id: id)
  }

  private init(id: Int) { self.id = id }

  /// Starts the sources and waits (up to 10 s) for libdispatch to install its handlers, then
  /// puts the process's handlers back until a worker registers. Meanwhile the signals are
  /// ignored: a stop signal must never end a process whose worker is starting.
  private static func startSources() async {
    let previous = Dictionary(
      uniqueKeysWithValues: signals.map { signal in (signal.number, currentAction(signal.number)) })
    for (number, _) in signals { signal(number, SIG_IGN) }
    let ignored = address(currentAction(signals[0].number))
    state.withLock { state in for source in state.sources { source.resume() } }
    let deadline = ContinuousClock.now + .seconds(10)
    var handlers: [Int32: sigaction] = [:]
    while handlers.count < signals.count && ContinuousClock.now < deadline {
      for (number, _) in signals where handlers[number] == nil {
        let installed = currentAction(number)
        if address(installed) != ignored { handlers[number] = installed }
      }
      if handlers.count < signals.count { try? await Task.sleep(for: .milliseconds(1)) }
      if Task.isCancelled { break }
    }
    for (number, old) in previous {
      var old = old
      sigaction(number, &old, nil)
    }
    state.withLock { state in
      state.dispatchHandlers = handlers
      state.started = true
    }
  }

  private static func ignoreAction() -> sigaction {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = SIG_IGN
    return action
  }

  private static func currentAction(_ number: Int32) -> sigaction {
    var action = sigaction()
    sigaction(number, nil, &action)
    return action
  }

  private static func address(_ action: sigaction) -> Int {
    unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
  }

  /// Registers `worker`; also whether every signal has libdispatch's handler to install.
  private static func register(_ worker: Worker) -> (Int, Bool) {
    state.withLock { state in
      defer { state.nextID += 1 }
      if state.workers.isEmpty {
        for (number, _) in signals {
          // Without libdispatch's handler, the signal is ignored while workers run: it cannot
          // stop them, but it cannot end the process in the middle of their jobs either.
          var handler = state.dispatchHandlers[number] ?? ignoreAction()
          var old = sigaction()
          sigaction(number, &handler, &old)
          state.previous[number] = old
        }
      }
      state.workers[state.nextID] = worker
      return (state.nextID, state.dispatchHandlers.count == signals.count)
    }
  }

  private enum Reaction {
    case stop([Worker])
    case exit
  }

  private static func received(_ number: Int32, _ name: String) {
    let reaction = state.withLock { state -> Reaction in
      // Nobody observes: the process's restored disposition has acted on it already,
      // unless every thread blocks the signal, and then the process chose not to act.
      if state.workers.isEmpty { return .stop([]) }
      if state.signalled { return .exit }
      state.signalled = true
      return .stop(Array(state.workers.values))
    }
    switch reaction {
    case .stop(let workers):
      for worker in workers {
        worker.logger.info(
          "received \(name): finishing running jobs; send it again to quit at once")
        worker.stop()
      }
    case .exit:
      signal(number, SIG_DFL)
      raiseUnblocked(number)
    }
  }

  /// Raises `number` on this thread with it unblocked, so that the disposition in place acts
  /// now (a handler runs; the default action ends the process).
  private static func raiseUnblocked(_ number: Int32) {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, number)
    var old = sigset_t()
    pthread_sigmask(SIG_UNBLOCK, &set, &old)
    raise(number)
    pthread_sigmask(SIG_SETMASK, &old, nil)
  }

  func restore() {
    Self.state.withLock { state in
      guard state.workers.removeValue(forKey: id) != nil, state.workers.isEmpty else { return }
      for (number, action) in state.previous {
        var action = action
        sigaction(number, &action, nil)
      }
      state.previous = [:]
      state.signalled = false
    }
  }
}
