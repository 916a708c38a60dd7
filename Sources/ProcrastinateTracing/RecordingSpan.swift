import ProcrastinateConventions
import ProcrastinateJobSpans
import Tracing
import W3CTraceContext

/// A span of ``ProcrastinateTracer``: what `withSpan` and `startSpan` hand you. Thread-safe;
/// ends once, and changes after the end (or to a span that is not sampled) are ignored.
public final class RecordingSpan: Tracing.Span, @unchecked Sendable {
  // @unchecked Sendable: `state` is read and written only while `lock` is held (`withState`
  // and the `attributes` accessors); every other stored property is immutable.
  private struct State {
    var name: String
    /// The attributes set one by one.
    var attributes = SpanAttributes()
    /// A job span's attributes, kept unhashed until export (``JobAttributeRecording``); no
    /// key of theirs is in `attributes`.
    var job: JobSpanAttributes?
    var events: [SpanEvent] = []
    var links: [SpanRecord.Link] = []
    var status: SpanStatus?
    var droppedEvents = 0
    var droppedLinks = 0
    var ended = false
    var endNanoseconds: UInt64 = 0

    /// All the attributes, the job's included.
    var allAttributes: SpanAttributes {
      guard let job else { return attributes }
      var all = attributes
      job.forEach { key, value in all.set(key, value: value.spanAttribute) }
      return all
    }

    /// Turns the job's attributes into ordinary ones: done before the attributes change
    /// any other way, so that a change to one of the job's keys applies to it.
    mutating func unpackJobAttributes() {
      guard job != nil else { return }
      attributes = allAttributes
      job = nil
    }
  }

  /// The context carrying this span: pass it on to make children of this span.
  public let context: InstrumentationContext
  package let kind: SpanKind
  /// Whether the span was sampled: only then are its attributes, events and links kept.
  public let isRecording: Bool
  private let spanContext: SpanContext
  private let parentSpanID: SpanID?
  private let startNanoseconds: UInt64
  private let limits: SpanLimits
  private let delivery: SpanDelivery
  private let lock = SpinLock()
  private var state: State

  init(
    name: String, kind: SpanKind, context: InstrumentationContext, spanContext: SpanContext,
    parentSpanID: SpanID?,
    startNanoseconds: UInt64, isRecording: Bool, job: JobSpanAttributes? = nil,
    limits: SpanLimits, delivery: SpanDelivery
  ) {
    (self.context, self.kind, self.spanContext, self.parentSpanID) =
      (context, kind, spanContext, parentSpanID)
    (self.startNanoseconds, self.isRecording, self.limits, self.delivery) =
      (startNanoseconds, isRecording, limits, delivery)
    self.state = State(name: name, job: isRecording ? job : nil)
  }

  private func withState<Result>(_ body: (inout State) -> Result) -> Result {
    lock.lock()
    defer { lock.unlock() }
    return body(&state)
  }

  /// The span's name; it may change until the span ends.
  public var operationName: String {
    get { withState { $0.name } }
    // Unchanged once ended: the processor may read the span after that.
    set { withState { if !$0.ended { $0.name = newValue } } }
  }

  /// The span's attributes; `span.attributes["key"] = value` sets one in place.
  public var attributes: SpanAttributes {
    get { withState { $0.allAttributes } }
    set {
      guard isRecording else { return }
      withState { state in
        guard !state.ended else { return }
        state.attributes = newValue
        state.job = nil
      }
    }
    // In place, under the lock: `span.attributes[key] = value` inserts one entry instead of
    // copying the whole dictionary out and back. Changes to a span that is not recording or
    // has ended go to a scratch copy and are dropped.
    _modify {
      lock.lock()
      defer { lock.unlock() }
      if isRecording && !state.ended {
        state.unpackJobAttributes()
        yield &state.attributes
      } else {
        var scratch = state.allAttributes
        yield &scratch
      }
    }
  }

  /// Sets the status. `OK` is final; a later status without a message keeps the message
  /// already set for the same code.
  public func setStatus(_ status: SpanStatus) {
    guard isRecording else { return }
    withState { state in
      // OK is final. A later status without a message keeps the message of the same code
      // (withSpan sets a bare ERROR after recordError has set one with the error's text).
      if state.ended || state.status?.code == .ok { return }
      if status.message == nil, let current = state.status, current.code == status.code { return }
      state.status = status
    }
  }

  /// Adds an event, such as a log line with a timestamp.
  public func addEvent(_ event: SpanEvent) {
    guard isRecording else { return }
    withState { state in
      guard !state.ended else { return }
      if state.events.count >= limits.eventCount {
        state.droppedEvents += 1
      } else {
        state.events.append(event)
      }
    }
  }

  /// Adds an `exception` event (`exception.type`, `exception.message`) and sets status ERROR.
  public func recordError<Instant: TracerInstant>(
    _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
  ) {
    guard isRecording else { return }
    var eventAttributes = attributes
    eventAttributes[TracingKeys.exceptionType] = String(reflecting: type(of: error))
    eventAttributes[TracingKeys.exceptionMessage] = String(describing: error)
    addEvent(
      SpanEvent(name: TracingKeys.exceptionEvent, at: instant(), attributes: eventAttributes))
    setStatus(SpanStatus(code: .error, message: String(describing: error)))
  }

  /// Links another span, e.g. the producer of a job run in a new trace.
  public func addLink(_ link: SpanLink) {
    guard isRecording, let linked = link.context.spanContext else { return }
    withState { state in
      guard !state.ended else { return }
      if state.links.count >= limits.linkCount {
        state.droppedLinks += 1
      } else {
        state.links.append(SpanRecord.Link(context: linked, attributes: link.attributes))
      }
    }
  }

  /// Ends the span and hands it to the tracer's exporters; later calls do nothing.
  public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
    let end = instant().nanosecondsSinceEpoch
    let first = withState { state -> Bool in
      guard !state.ended else { return false }
      state.ended = true
      state.endNanoseconds = max(end, startNanoseconds)
      return true
    }
    guard isRecording, first else { return }
    // Batch processors queue the span itself (one reference) and build its record on the
    // export side: the caller copies nothing.
    for batch in delivery.batches { batch.enqueue(self) }
    if !delivery.others.isEmpty {
      let record = record()
      for processor in delivery.others { processor.onEnd(record) }
    }
  }

  /// What the span recorded, once it has ended (its state no longer changes).
  func record() -> SpanRecord {
    var finished = withState { $0 }
    if let job = finished.job,
      finished.attributes.count + job.count > limits.attributeCount
        || limits.attributeValueLength != nil
    {
      finished.unpackJobAttributes()  // the limits apply to all of them alike
    }
    let (attributes, droppedAttributes) = limits.limit(finished.attributes)
    return SpanRecord(
      context: spanContext, parentSpanID: parentSpanID, name: finished.name, kind: kind,
      startNanoseconds: startNanoseconds, endNanoseconds: finished.endNanoseconds,
      attributes: attributes, jobAttributes: finished.job,
      events: finished.events, links: finished.links, status: finished.status,
      droppedAttributes: droppedAttributes, droppedEvents: finished.droppedEvents,
      droppedLinks: finished.droppedLinks)
  }
}

extension RecordingSpan: JobAttributeRecording {
  /// Keeps the job's attributes as one value until export (``JobAttributeRecording``).
  package func setJobAttributes(_ attributes: JobSpanAttributes) {
    guard isRecording else { return }
    withState { state in
      guard !state.ended else { return }
      state.unpackJobAttributes()
      // The job's keys (the outcome's too) replace any the span has; usually it has none.
      if !state.attributes.isEmpty {
        attributes.forEach { key, _ in state.attributes[key] = nil }
        state.attributes[TracingKeys.jobOutcome] = nil
      }
      state.job = attributes
    }
  }

  package func setJobOutcome(_ outcome: String) {
    guard isRecording else { return }
    withState { state in
      guard !state.ended else { return }
      // In place: comparing `state.job` with nil would copy the whole value.
      if (state.job?.outcome = outcome) == nil {
        state.attributes.set(TracingKeys.jobOutcome, value: .string(outcome))
      }
    }
  }
}
