import Synchronization

/// What the producer, the handler and the depth poller report to the sampler.
final class Counters: Sendable {
  let enqueued = Atomic<Int>(0)
  let completed = Atomic<Int>(0)
  /// The queue's `todo` count, or -1 before the first reading.
  let queueDepth = Atomic<Int>(-1)
  /// The producer's current target rate, in jobs/s (0 in depth-target mode).
  let targetRate = Atomic<Int>(0)
  let claim = LatencyWindow()
  let endToEnd = LatencyWindow()
}
