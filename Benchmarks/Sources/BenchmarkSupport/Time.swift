import Foundation

/// A duration in seconds.
public func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Seconds `body` took.
public func measure(_ body: () async throws -> Void) async rethrows -> Double {
  let start = ContinuousClock.now
  try await body()
  return seconds(ContinuousClock.now - start)
}

/// `clock`'s reading in nanoseconds: `CLOCK_PROCESS_CPUTIME_ID` (this process's CPU time,
/// every thread, user and system), `CLOCK_THREAD_CPUTIME_ID` (the calling thread's),
/// `CLOCK_MONOTONIC` (wall time).
public func nanoseconds(_ clock: clockid_t) -> Double {
  var time = timespec()
  clock_gettime(clock, &time)
  return Double(time.tv_sec) * 1e9 + Double(time.tv_nsec)
}

/// This process's CPU time so far (every thread, user and system), in seconds.
public func processCPUSeconds() -> Double { nanoseconds(CLOCK_PROCESS_CPUTIME_ID) / 1e9 }
