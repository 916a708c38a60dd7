import Foundation
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
        group.addTask { await wakeup.wait(after: ticket, timeout: .seconds(30)) }
      }
    }
    #expect(ContinuousClock.now - started < .seconds(5))
    // Without a ticket the signal's memory is one flag, which the waits above did not take.
    let fresh = ContinuousClock.now
    await wakeup.wait(timeout: .seconds(30))
    #expect(ContinuousClock.now - fresh < .seconds(5))
  }

  @Test("close wakes waiters and every later wait returns at once")
  func closeIsSticky() async {
    let wakeup = Wakeup()
    let started = ContinuousClock.now
    async let waiting: Void = wakeup.wait(timeout: .seconds(30))
    try? await Task.sleep(for: .milliseconds(50))
    wakeup.close()
    await waiting
    for _ in 0..<5 { await wakeup.wait(timeout: .seconds(30)) }
    #expect(ContinuousClock.now - started < .seconds(5))
  }

  @Test(
    "a one-shot worker with many slots stops as soon as the queue is drained, never a polling interval late",
    arguments: [WorkerOptions.FetchStrategy.perJob, .batched])
  func oneShotEndsPromptly(strategy: WorkerOptions.FetchStrategy) async throws {
    let app = try await TestDatabase.app()
    var tasks = TaskRegistry()
    try tasks.register("noop") { _, _ in try await Task.sleep(for: .milliseconds(1)) }
    // The lost wake-up showed in about one run in six before the fix; ten runs each.
    for run in 0..<10 {
      let queue = "drain_\(strategy)_\(run)"
      try await app.deferBatch(
        (0..<200).map { _ in JobRequest(task: "noop", options: DeferOptions(queue: queue)) })
      var options = WorkerOptions(
        queues: [queue], concurrency: 50, oneShot: true, fetchStrategy: strategy)
      options.installSignalHandlers = false
      options.listenNotify = false
      options.pollingInterval = .seconds(60)
      let started = ContinuousClock.now
      try await Worker(app: app, tasks: tasks, options: options).run()
      let took = ContinuousClock.now - started
      #expect(took < .seconds(20), "run \(run) took \(took)")
    }
    await app.close()
  }
}
