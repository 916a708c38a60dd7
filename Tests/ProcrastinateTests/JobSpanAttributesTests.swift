import Foundation
import Procrastinate
import ProcrastinateConventions
import ProcrastinateJobSpans
import ProcrastinateTracing
import Testing
import Tracing

/// Our tracer's spans keep a job's attributes as one value until export; every other span
/// gets them as ordinary attributes. Both must be the same attributes.
@Suite("Job span attributes kept as one value")
struct JobSpanAttributesTests {
  static let job = JobSpanAttributes(
    queue: "mail", jobID: 42, task: "send", attempts: 1, priority: 5, workerID: 7, lock: "l",
    queueingLock: "q", scheduledAt: "2026-12-03T10:00:00Z", queueWaitMilliseconds: 1.5)

  /// The attributes `forEach` gives, as a dictionary.
  static func dictionary(_ job: JobSpanAttributes) -> [String: SpanAttribute] {
    var all: [String: SpanAttribute] = [:]
    job.forEach { key, value in all[key] = value.spanAttribute }
    return all
  }

  static func dictionary(_ attributes: SpanAttributes) -> [String: SpanAttribute] {
    var all: [String: SpanAttribute] = [:]
    attributes.forEach { key, value in all[key] = value }
    return all
  }

  @Test("they read, change and export like attributes set one by one")
  func semantics() throws {
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(recordingInto: memory)
    var expected = Self.dictionary(Self.job)
    #expect(expected.count == Self.job.count && expected.count == 14)
    #expect(expected[TracingKeys.messagingMessageID] == .string("42"))

    // Kept as they are: read with the others, the outcome added to them.
    let kept = tracer.startSpan("procrastinate.job.send", ofKind: .consumer)
    kept.setJobAttributes(Self.job)
    #expect(Self.dictionary(kept.attributes) == expected)
    kept.setJobOutcome("succeeded")
    kept.end()
    expected[TracingKeys.jobOutcome] = .string("succeeded")
    let keptRecord = try #require(memory.finishedSpans.last)
    #expect(keptRecord.jobAttributes != nil, "kept unhashed until export")
    #expect(Self.dictionary(keptRecord.attributes) == expected)

    // Changed another way: a job key can be replaced or removed, and others added.
    let changed = tracer.startSpan("procrastinate.job.send", ofKind: .consumer)
    changed.setJobAttributes(Self.job)
    changed.attributes[TracingKeys.taskName] = "renamed"
    changed.attributes[TracingKeys.jobLock] = nil
    changed.attributes["custom"] = 1
    changed.setJobOutcome("failed")
    changed.end()
    var changedExpected = Self.dictionary(Self.job)
    changedExpected[TracingKeys.taskName] = .string("renamed")
    changedExpected[TracingKeys.jobLock] = nil
    changedExpected["custom"] = .int64(1)
    changedExpected[TracingKeys.jobOutcome] = .string("failed")
    let changedRecord = try #require(memory.finishedSpans.last)
    #expect(Self.dictionary(changedRecord.attributes) == changedExpected)

    // Set on a span that has attributes: the job's keys win, the others stay.
    let earlier = tracer.startSpan("procrastinate.job.send", ofKind: .consumer)
    earlier.attributes[TracingKeys.taskName] = "old"
    earlier.attributes[TracingKeys.jobOutcome] = "stale"
    earlier.attributes["other"] = true
    earlier.setJobAttributes(Self.job)
    #expect(
      Self.dictionary(earlier.attributes)
        == Self.dictionary(Self.job).merging(["other": .bool(true)]) { a, _ in a })
    earlier.end()

    // A record's attributes, once set, replace the job's.
    var record = keptRecord
    record.attributes = ["only": "this"]
    #expect(
      record.jobAttributes == nil && Self.dictionary(record.attributes) == ["only": .string("this")]
    )
  }

  @Test("the tracer's limits apply to the job's attributes as to the others")
  func limits() throws {
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(
      processor: memory, limits: SpanLimits(attributeCount: 10, attributeValueLength: 2))
    let span = tracer.startSpan("procrastinate.job.send", ofKind: .consumer)
    span.setJobAttributes(Self.job)
    span.attributes["custom"] = "long value"
    span.end()
    let record = try #require(memory.finishedSpans.last)
    #expect(record.attributes.count == 10 && record.droppedAttributes == 5)
    record.attributes.forEach { _, value in
      if case .string(let text) = value { #expect(text.count <= 2) }
    }
  }

  @Test(
    "a job's span has the same attributes under our tracer and under a tracer with spans of its own"
  )
  func sameAttributesOnBothPaths() async throws {
    struct Numbered: Codable, Sendable { var n: Int }
    struct Refused: Error {}
    let app = try ProcrastinateApp(databaseURL: try await TestDatabase.emptyDatabaseURL())
    try await app.applySchema()
    let task = TaskDefinition(name: "both_paths")
    var tasks = TaskRegistry()
    try tasks.register(task, arguments: Numbered.self) { arguments, _ in
      if arguments.n == 3 { throw Refused() }
    }
    let scheduled = Date(timeIntervalSinceNow: -60)
    let requests = [
      DeferOptions(),
      DeferOptions(queue: "other", priority: 3, lock: "a lock", queueingLock: "a queueing lock"),
      DeferOptions(scheduledAt: scheduled),
      DeferOptions(),
    ].enumerated().map { n, options in
      JobRequest(
        task: task.name, arguments: try! JobArguments(json: #"{"n": \#(n)}"#), options: options)
    }
    // Jobs deferred elsewhere: a sampled parent with a tracestate, an unsampled one, a later
    // W3C version (with a field version 00 does not have), one that is not W3C, and none.
    let carriers = [
      #"{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "vendor=abc"}"#,
      #"{"traceparent": "00-0af7651916cd43dd8448eb211c80319d-b7ad6b7169203332-00"}"#,
      #"{"traceparent": "cc-0af7651916cd43dd8448eb211c80319e-b7ad6b7169203333-01-what-the-future-holds"}"#,
      #"{"traceparent": "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"}"#,
      nil,
    ]
    let foreign = carriers.enumerated().map { index, carrier in
      let n = requests.count + index
      return JobRequest(
        task: task.name,
        arguments: try! JobArguments(
          json: carrier.map { #"{"n": \#(n), "trace_context": \#($0)}"# } ?? #"{"n": \#(n)}"#))
    }
    /// Each job's span attributes by `n`, less those that differ from run to run.
    func run(under tracer: some Tracer, memory: InMemorySpanExporter) async throws
      -> [Int: [String: SpanAttribute]]
    {
      try await withTracer(tracer) {
        let ids =
          try await app.deferBatch(requests) + app.deferBatchUntraced(foreign)
        var options = WorkerOptions.test(queues: ["default", "other"])
        options.installSignalHandlers = false
        try await Worker(app: app, tasks: tasks, options: options).run()
        var byJob: [Int: [String: SpanAttribute]] = [:]
        for span in memory.finishedSpans where span.name == "procrastinate.job.both_paths" {
          var attributes = Self.dictionary(span.attributes)
          let id = attributes.removeValue(forKey: TracingKeys.jobID)
          guard case .int64(let jobID) = id, let n = ids.firstIndex(of: jobID) else {
            Issue.record("job id \(id) is not one of \(ids)")
            continue
          }
          let messageID = attributes.removeValue(forKey: TracingKeys.messagingMessageID)
          #expect(messageID == .string(String(jobID)))
          guard case .double(let wait) = attributes.removeValue(forKey: TracingKeys.jobQueueWait)
          else {
            Issue.record("no queue wait on job \(n)")
            continue
          }
          #expect(wait >= 0)
          let worker = attributes.removeValue(forKey: TracingKeys.workerID)
          #expect(worker != nil)
          // Where the span sits: its kind, and its parent, by name when it is the producer
          // span recorded here (ids differ between the runs), else by its ids.
          attributes["test.kind"] = .string("\(span.kind)")
          let producer = memory.finishedSpans.first { $0.context.spanID == span.parentSpanID }
          if let producer {
            #expect(producer.context.traceID == span.context.traceID)
            attributes["test.parent"] = .string("\(producer.name), \(producer.kind)")
          } else if let parent = span.parentSpanID {
            attributes["test.parent"] = .string("\(span.context.traceID) \(parent)")
          } else {
            attributes["test.parent"] = .string("none: a new trace")
          }
          attributes["test.links"] = .int64(Int64(span.links.count))
          byJob[n] = attributes
        }
        return byJob
      }
    }
    let ours = InMemorySpanExporter()
    let fast = try await run(
      under: ProcrastinateTracer(recordingInto: ours), memory: ours)
    let theirs = InMemorySpanExporter()
    let plain = try await run(
      under: PlainSpanTracer(inner: ProcrastinateTracer(recordingInto: theirs)), memory: theirs)
    #expect(fast.count == 8 && plain.count == 8)
    #expect(fast == plain)
    func text(_ n: Int, _ key: String) -> String {
      guard case .string(let text) = fast[n]?[key] else { return "" }
      return text
    }
    for n in 0..<4 { #expect(text(n, "test.parent").hasSuffix(", producer")) }
    #expect(fast[4]?["test.parent"] == .string("0af7651916cd43dd8448eb211c80319c b7ad6b7169203331"))
    #expect(fast[5] == nil, "a job whose producer was not sampled records no span")
    // swift-w3c-trace-context reads version 00 only: a later one is named, not followed.
    #expect(text(6, TracingKeys.traceContextError).contains("W3C version the tracer does not read"))
    for n in 6...8 { #expect(fast[n]?["test.parent"] == .string("none: a new trace")) }
    #expect(text(7, TracingKeys.traceContextError).contains("not a valid W3C traceparent"))
    #expect(text(8, TracingKeys.traceContextError).contains("no 'trace_context'"))
    #expect(fast[1]?[TracingKeys.jobLock] == .string("a lock"))
    #expect(fast[2]?[TracingKeys.jobScheduledAt] == .string(scheduled.ISO8601Format()))
    #expect(fast[3]?[TracingKeys.jobOutcome] == .string("failed"))
    #expect(fast[0]?[TracingKeys.jobOutcome] == .string("succeeded"))
  }
}

/// Our tracer behind spans of another type: what the run wrapper sees from a tracer whose
/// spans take attributes only one by one (swift-otel's, say).
private struct PlainSpanTracer: Tracer {
  let inner: ProcrastinateTracer

  func startSpan<Instant: TracerInstant>(
    _ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind,
    at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
  ) -> PlainSpan {
    PlainSpan(
      inner: inner.startSpan(
        operationName, context: context(), ofKind: kind, at: instant(), function: function,
        file: fileID, line: line))
  }

  func forceFlush() { inner.forceFlush() }

  func inject<Carrier, Inject: Injector>(
    _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
  ) where Inject.Carrier == Carrier {
    inner.inject(context, into: &carrier, using: injector)
  }

  func extract<Carrier, Extract: Extractor>(
    _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
  ) where Extract.Carrier == Carrier {
    inner.extract(carrier, into: &context, using: extractor)
  }
}

private final class PlainSpan: Span {
  let inner: RecordingSpan
  init(inner: RecordingSpan) { self.inner = inner }

  var context: ServiceContext { inner.context }
  var operationName: String {
    get { inner.operationName }
    set { inner.operationName = newValue }
  }
  var attributes: SpanAttributes {
    get { inner.attributes }
    set { inner.attributes = newValue }
  }
  var isRecording: Bool { inner.isRecording }
  func setStatus(_ status: SpanStatus) { inner.setStatus(status) }
  func addEvent(_ event: SpanEvent) { inner.addEvent(event) }
  func recordError<Instant: TracerInstant>(
    _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
  ) {
    inner.recordError(error, attributes: attributes, at: instant())
  }
  func addLink(_ link: SpanLink) { inner.addLink(link) }
  func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
    inner.end(at: instant())
  }
}
