import DequeModule
import ProcrastinateTraceData
import Synchronization

/// The most recent spans the dashboard received, bounded by count: when full, the oldest
/// go (and are counted). Indexed by trace and by the procrastinate job a span names, so a
/// job's page finds its trace at once.
final class SpanStore: Sendable {
  /// Spans received, spans evicted to stay within the capacity, and request bodies refused.
  struct Counts: Sendable, Equatable {
    var received = 0
    var evicted = 0
    var rejectedBodies = 0
    var kept = 0
  }

  private struct State {
    var spans = Deque<TraceSpan>()
    /// The sequence number of `spans.first`; a span's number is its position plus this.
    var firstSequence = 0
    var byTrace: [String: Deque<Int>] = [:]
    /// Job id → the traces whose spans name it; trace → those job ids, to undo on eviction.
    var tracesByJob: [Int64: Set<String>] = [:]
    var jobsByTrace: [String: Set<Int64>] = [:]
    var counts = Counts()
  }

  let capacity: Int
  static let maximumJobsPerSpan = 1_000
  private let state = Mutex(State())

  init(capacity: Int) {
    precondition(capacity > 0, "the span store needs room for at least one span")
    self.capacity = capacity
    DashboardMetrics.publishInitialValues()
  }

  /// Keeps `spans`, evicting the oldest beyond the capacity.
  func insert(_ spans: [TraceSpan]) {
    let jobs = spans.map(Self.jobIDs)
    let (evicted, kept) = state.withLock { state -> (Int, Int) in
      let evictedBefore = state.counts.evicted
      for (span, jobIDs) in zip(spans, jobs) {
        if state.spans.count == capacity { Self.evictOldest(&state) }
        let sequence = state.firstSequence + state.spans.count
        state.spans.append(span)
        state.byTrace[span.traceID, default: []].append(sequence)
        for job in jobIDs {
          state.tracesByJob[job, default: []].insert(span.traceID)
          state.jobsByTrace[span.traceID, default: []].insert(job)
        }
      }
      state.counts.received += spans.count
      state.counts.kept = state.spans.count
      return (state.counts.evicted - evictedBefore, state.spans.count)
    }
    DashboardMetrics.received(spans.count, evicted: evicted, kept: kept)
  }

  func recordRejectedBody() {
    state.withLock { $0.counts.rejectedBodies += 1 }
    DashboardMetrics.rejectedBody()
  }

  var counts: Counts { state.withLock { $0.counts } }

  /// Every span kept of `traceID`, in the order received.
  func spans(traceID: String) -> [TraceSpan] {
    state.withLock { state in
      (state.byTrace[traceID] ?? []).map { state.spans[$0 - state.firstSequence] }
    }
  }

  /// The traces whose spans name job `id` (`procrastinate.job.id`, `procrastinate.job.ids`,
  /// or `messaging.message.id` on a span of `messaging.system` procrastinate).
  func traceIDs(jobID: Int64) -> Set<String> {
    state.withLock { $0.tracesByJob[jobID] ?? [] }
  }

  private static func evictOldest(_ state: inout State) {
    let span = state.spans.removeFirst()
    let sequence = state.firstSequence
    state.firstSequence += 1
    state.counts.evicted += 1
    // In place: the trace's index is not copied (a trace can hold most of the store).
    if state.byTrace[span.traceID]?.first == sequence {
      state.byTrace[span.traceID]?.removeFirst()
    }
    guard state.byTrace[span.traceID]?.isEmpty ?? true else { return }
    state.byTrace[span.traceID] = nil
    for job in state.jobsByTrace.removeValue(forKey: span.traceID) ?? [] {
      state.tracesByJob[job]?.remove(span.traceID)
      if state.tracesByJob[job]?.isEmpty == true { state.tracesByJob[job] = nil }
    }
  }

  /// The jobs a span names; at most ``maximumJobsPerSpan`` (a batch defer's span lists them
  /// all in `procrastinate.job.ids`).
  static func jobIDs(of span: TraceSpan) -> [Int64] {
    var ids: [Int64] = []
    var isProcrastinate = false
    var messageID: Int64?
    for attribute in span.attributes {
      switch (attribute.key, attribute.value) {
      case ("procrastinate.job.id", let value): ids += integers(value)
      case ("procrastinate.job.ids", let value): ids += integers(value)
      case ("messaging.system", .string("procrastinate")): isProcrastinate = true
      case ("messaging.message.id", let value): messageID = integers(value).first
      default: break
      }
    }
    if isProcrastinate, let messageID, !ids.contains(messageID) { ids.append(messageID) }
    return Array(ids.prefix(maximumJobsPerSpan))
  }

  private static func integers(_ value: TraceValue) -> [Int64] {
    switch value {
    case .int(let number): [number]
    case .string(let text): Int64(text).map { [$0] } ?? []
    case .array(let values): values.flatMap(integers)
    default: []
    }
  }
}
