import Synchronization
import Testing

/// The suite's wait helper: what many tests rely on to wait for an event, not for a time.
@Suite("eventually")
struct EventuallyTests {
  struct NotYet: Error {}

  @Test("a condition that throws is asked again until it holds")
  func retriesErrors() async throws {
    let calls = Mutex(0)
    try await eventually("the third call") {
      let call = calls.withLock {
        $0 += 1
        return $0
      }
      if call < 3 { throw NotYet() }
      return true
    }
    #expect(calls.withLock { $0 } == 3)
  }

  @Test("GiveUp fails at once; a timeout names the last error")
  func givesUp() async throws {
    let started = ContinuousClock.now
    let verdict = await #expect(throws: TaskFailure.self) {
      try await eventually("a verdict") { throw GiveUp(reason: "the worker stopped") }
    }
    #expect(ContinuousClock.now - started < .seconds(30))
    #expect(verdict?.description.contains("the worker stopped") == true)
    let timedOut = await #expect(throws: TaskFailure.self) {
      try await eventually(timeout: .milliseconds(100), "never") { throw NotYet() }
    }
    #expect(timedOut?.description.contains("NotYet") == true)
  }
}
