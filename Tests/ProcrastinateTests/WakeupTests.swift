import Foundation
import ProcrastinateConcurrency
import ProcrastinateTesting
import Synchronization
import Testing

@testable import Procrastinate

@Suite("Wake-ups of fetch loops")
struct WakeupTests {
  @Test("a signal given after a ticket wakes every waiter holding it, not only the first")
  func ticketsSeeEverySignal() async {
    let wakeup = Wakeup()
    let ticket = wakeup.ticket()
    wakeup.signal()  // while the loops were "fetching": nobody waits yet
    let started = ContinuousClock.now
    await withTaskGroup(of: Void.self) { group in
      for _ in 0..<20 {
        group.addTask { await wakeup.wait(after: ticket, timeout: .seconds(300)) }
      }
    }
    // Missing the signal would cost the 300 s timeout; under a loaded suite "at once" can
    // still take seconds.
    #expect(ContinuousClock.now - started < .seconds(60))
    // Without a ticket the signal's memory is one flag, which the waits above did not take.
    let fresh = ContinuousClock.now
    await wakeup.wait(timeout: .seconds(300))
    #expect(ContinuousClock.now - fresh < .seconds(60))
  }

  @Test("close wakes waiters and every later wait returns at once")
  func closeIsSticky() async {
    let wakeup = Wakeup()
    let started = ContinuousClock.now
    async let waiting: Void = wakeup.wait(timeout: .seconds(300))
    try? await Task.sleep(for: .milliseconds(50))
    wakeup.close()
    await waiting
    for _ in 0..<5 { await wakeup.wait(timeout: .seconds(300)) }
    // Each wait would take 300 s if close were not sticky.
    #expect(ContinuousClock.now - started < .seconds(60))
  }

  @Test(
    "a one-shot worker with many slots stops as soon as the queue is drained, never a polling interval late",
    arguments: [WorkerOptions.FetchStrategy.perJob, .batched])
  func oneShotEndsPromptly(strategy: WorkerOptions.FetchStrategy) async throws {
    // A server of its own: 30 slots with a connection each would take the shared server's
    // connections from the tests running alongside.
    let server = try await EmbeddedPostgres.start(
      options: .init(fsync: false, settings: ["max_connections": "100"]))
    defer { server.stop() }
    let app = try ProcrastinateApp(
      databaseURL: try await server.createDatabase("drain"), logger: TestDatabase.quietLogger)
    try await app.applySchema()
    let lastEnd = Mutex<ContinuousClock.Instant?>(nil)
    var tasks = TaskRegistry()
    try tasks.register("noop") { _, _ in
      try await Task.sleep(for: .milliseconds(1))
      lastEnd.withLock { $0 = .now }
    }
    // Without the fix the lost wake-up showed within the first few runs; six runs each.
    for run in 0..<6 {
      let queue = "drain_\(strategy)_\(run)"
      try await app.deferBatch(
        (0..<150).map { _ in JobRequest(task: "noop", options: DeferOptions(queue: queue)) })
      var options = WorkerOptions(
        queues: [queue], concurrency: 30, oneShot: true, fetchStrategy: strategy)
      options.installSignalHandlers = false
      options.listenNotify = false
      options.pollingInterval = .seconds(3600)
      lastEnd.withLock { $0 = nil }
      try await Worker(app: app, tasks: tasks, options: options).run()
      let returned = ContinuousClock.now
      // What is measured is the time from the last job's end to run()'s return: a missed
      // wake-up costs the whole polling interval, an hour.
      let tail = lastEnd.withLock { $0 }.map { returned - $0 }
      #expect(
        tail != nil && tail! < .seconds(60),
        "run \(run) returned \(String(describing: tail)) after its last job")
    }
    await app.close()
  }
}
