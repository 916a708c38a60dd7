import Foundation
import Procrastinate
import Synchronization

/// The counts by queue and status, taken at most every `maximumAge` and served from memory
/// meanwhile: counting scans the whole jobs table (about 100 ms for a million jobs here,
/// since procrastinate's indexes do not cover status), and a page must answer well within
/// that. A page asking for counts older than `maximumAge` gets them at once while fresh ones
/// are taken in the background; only the very first request waits for the count.
final class QueueCountsCache: Sendable {
  struct Snapshot: Sendable {
    var queues: [JobCounts]
    var takenAt: Date
  }

  private struct State {
    var snapshot: Snapshot?
    var refreshing = false
  }

  private let app: ProcrastinateApp
  private let maximumAge: TimeInterval
  private let state = Mutex(State())

  init(app: ProcrastinateApp, maximumAge: TimeInterval) {
    self.app = app
    self.maximumAge = maximumAge
  }

  func counts() async throws -> Snapshot {
    let (cached, refresh) = state.withLock { state -> (Snapshot?, Bool) in
      guard let snapshot = state.snapshot else { return (nil, false) }
      let stale = Date().timeIntervalSince(snapshot.takenAt) > maximumAge
      let refresh = stale && !state.refreshing
      if refresh { state.refreshing = true }
      return (snapshot, refresh)
    }
    guard let cached else { return try await take() }
    if refresh {
      Task {
        _ = try? await self.take()
        self.state.withLock { $0.refreshing = false }
      }
    }
    return cached
  }

  /// Counts now, and keeps the result.
  @discardableResult
  private func take() async throws -> Snapshot {
    // Stamped when the count starts: the counts are at least that old.
    let started = Date()
    let snapshot = Snapshot(queues: try await app.queueCounts(), takenAt: started)
    state.withLock { state in
      if (state.snapshot?.takenAt ?? .distantPast) < snapshot.takenAt { state.snapshot = snapshot }
    }
    return snapshot
  }
}
