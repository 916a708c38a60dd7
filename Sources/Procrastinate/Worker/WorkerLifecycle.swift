import Dispatch
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

extension Worker: Service {
  /// Runs until stopped. Throws only when the worker cannot start (bad configuration, no
  /// database, no schema); a connection lost while starting (a terminated backend, a
  /// restart) is retried, and once started, database outages are waited out.
  ///
  /// How it stops:
  /// - **In a `ServiceGroup`** (swift-service-lifecycle): on graceful shutdown it stops
  ///   fetching, lets running jobs finish within ``WorkerOptions/shutdownTimeout``,
  ///   unregisters and returns. The group owns the signals.
  /// - **On its own, with ``WorkerOptions/installSignalHandlers`` on** (the caller's
  ///   choice; off by default): the first SIGINT or SIGTERM does the same; a second one ends
  ///   the process at once. The process's previous handlers are back when `run()` returns.
  /// - ``stop()`` from anywhere, or (one-shot) an empty queue.
  /// - **Cancelling the task** that runs it stops fetching and aborts the running jobs at
  ///   once; `run()` still writes their outcomes and unregisters before it returns.
  public func run() async throws {
    try options.validate()
    let signals = options.installSignalHandlers ? await StopSignalObserver.start(for: self) : nil
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
