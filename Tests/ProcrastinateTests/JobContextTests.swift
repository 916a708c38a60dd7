import Foundation
import Testing

@testable import Procrastinate

@Suite("Job context")
struct JobContextUnitTests {
  static func context(deferredAt: Date?, scheduledAt: Date?) throws -> JobContext {
    JobContext(
      jobID: 1, taskName: "t", queueName: "q", attempts: 0, workerID: 1,
      scheduledAt: scheduledAt, priority: 0, lock: nil, queueingLock: nil,
      deferredAt: deferredAt, logger: .init(label: "test"),
      app: try ProcrastinateApp(databaseURL: "postgresql://nobody@127.0.0.1:1/none"))
  }

  @Test("the queue wait runs from the later of deferral and schedule, never below zero")
  func queueWait() throws {
    let now = Date(timeIntervalSince1970: 1_000_000)
    let (early, late) = (now.addingTimeInterval(-30), now.addingTimeInterval(-10))
    let cases: [(Date?, Date?, Duration?)] = [
      (nil, nil, nil),
      (early, nil, .seconds(30)),
      (nil, early, .seconds(30)),
      (early, late, .seconds(10)),
      (late, early, .seconds(10)),
      (now.addingTimeInterval(5), nil, .zero),
    ]
    for (deferredAt, scheduledAt, expected) in cases {
      let wait = try Self.context(deferredAt: deferredAt, scheduledAt: scheduledAt)
        .queueWait(now: now)
      #expect(
        wait == expected,
        "deferred \(String(describing: deferredAt)), scheduled \(String(describing: scheduledAt))")
    }
  }
}
