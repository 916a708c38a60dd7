import Foundation
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTracing
import Synchronization
import Testing
import Tracing
import W3CTraceContext

/// A dictionary carrier, as job arguments carry `trace_context`.
struct DictionaryInjector: Injector {
  func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
    carrier[key] = value
  }
}

struct DictionaryExtractor: Extractor {
  func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

@Suite("Tracer")
struct TracerUnitTests {
  @Test("nested spans share the trace and point at their parents")
  func nesting() async throws {
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(processor: memory)
    try await tracer.withSpan("root", ofKind: .server) { root in
      root.attributes["http.route"] = "/jobs"
      try await tracer.withSpan("child", ofKind: .producer) { child in
        child.addEvent("deferred")
        try await Task.sleep(for: .milliseconds(1))
      }
    }
    let spans = memory.finishedSpans
    #expect(spans.map(\.name) == ["child", "root"])
    let (child, root) = (spans[0], spans[1])
    #expect(child.context.traceID == root.context.traceID)
    #expect(child.parentSpanID == root.context.spanID)
    #expect(root.parentSpanID == nil)
    #expect(child.kind == .producer && root.kind == .server)
    #expect(root.attributes["http.route"]?.toSpanAttribute() == .string("/jobs"))
    #expect(child.events.map(\.name) == ["deferred"])
    #expect(child.endNanoseconds >= child.startNanoseconds + 1_000_000)
    #expect(child.context.isSampled)
  }

  @Test("recordError adds an exception event and sets status ERROR")
  func errors() async throws {
    struct PaymentDeclined: Error, CustomStringConvertible {
      var description: String { "card declined" }
    }
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(processor: memory)
    #expect(throws: PaymentDeclined.self) {
      try tracer.withSpan("charge") { _ in throw PaymentDeclined() }
    }
    let span = try #require(memory.finishedSpans.first)
    #expect(span.status?.code == .error)
    let event = try #require(span.events.first)
    #expect(event.name == "exception")
    #expect(event.attributes["exception.message"]?.toSpanAttribute() == .string("card declined"))
    let type = try #require(event.attributes["exception.type"]?.toSpanAttribute())
    #expect("\(type)".contains("PaymentDeclined"))
  }

  @Test("W3C traceparent and tracestate round-trip; a malformed header starts a new trace")
  func propagation() throws {
    let tracer = ProcrastinateTracer(processor: InMemorySpanExporter())
    var incoming = InstrumentationContext.topLevel
    let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    tracer.extract(
      ["traceparent": header, "tracestate": "vendor=abc"], into: &incoming,
      using: DictionaryExtractor())
    let parent = try #require(incoming.spanContext)
    #expect(parent.traceParent == header && parent.isRemote)
    let span = tracer.startSpan("job", context: incoming, ofKind: .consumer)
    defer { span.end() }
    var carrier: [String: String] = [:]
    tracer.inject(span.context, into: &carrier, using: DictionaryInjector())
    let traceparent = try #require(carrier["traceparent"])
    #expect(traceparent.hasPrefix("00-0af7651916cd43dd8448eb211c80319c-"))
    #expect(!traceparent.contains("b7ad6b7169203331"))
    #expect(traceparent.hasSuffix("-01"))
    #expect(carrier["tracestate"] == "vendor=abc")

    for malformed in [
      "", "garbage", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
    ] {
      var context = InstrumentationContext.topLevel
      tracer.extract(["traceparent": malformed], into: &context, using: DictionaryExtractor())
      #expect(context.spanContext == nil, "accepted \(malformed)")
    }
  }

  @Test(
    "samplers: always_off records nothing but propagates; ratio keeps about that share; parent-based follows"
  )
  func samplers() {
    let memory = InMemorySpanExporter()
    let off = ProcrastinateTracer(sampler: ConstantSampler.alwaysOff, processor: memory)
    let span = off.startSpan("dropped")
    #expect(!span.isRecording)
    #expect(span.context.spanContext?.isSampled == false)
    span.end()
    #expect(memory.finishedSpans.isEmpty)

    let half = TraceIDRatioSampler(ratio: 0.5)
    let kept = (0..<4000).filter { _ in
      half.shouldSample(traceID: .random(), parent: nil, operationName: "x", kind: .internal)
    }.count
    #expect((1700...2300).contains(kept), "kept \(kept) of 4000 at ratio 0.5")
    #expect(
      TraceIDRatioSampler(ratio: 0).shouldSample(
        traceID: .random(), parent: nil, operationName: "x", kind: .internal) == false)

    let parentBased = ParentBasedSampler(root: ConstantSampler.alwaysOff)
    let sampledParent = SpanContext(
      traceID: .random(), spanID: .random(), flags: .sampled, isRemote: true)
    let unsampledParent = SpanContext(
      traceID: .random(), spanID: .random(), flags: [], isRemote: true)
    #expect(
      parentBased.shouldSample(
        traceID: sampledParent.traceID, parent: sampledParent, operationName: "x", kind: .consumer))
    #expect(
      !parentBased.shouldSample(
        traceID: unsampledParent.traceID, parent: unsampledParent, operationName: "x",
        kind: .consumer))
    #expect(
      !parentBased.shouldSample(
        traceID: .random(), parent: nil, operationName: "x", kind: .consumer))
  }

  @Test("attribute, event and link limits drop and count what goes past them")
  func limits() throws {
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(
      processor: memory,
      limits: SpanLimits(attributeCount: 2, attributeValueLength: 4, eventCount: 1, linkCount: 1))
    let other = tracer.startSpan("other")
    other.end()
    let span = tracer.startSpan("limited")
    span.attributes["a"] = "abcdefgh"
    span.attributes["b"] = 1
    span.attributes["c"] = 2
    span.addEvent("one")
    span.addEvent("two")
    span.addLink(SpanLink(context: other.context, attributes: [:]))
    span.addLink(SpanLink(context: other.context, attributes: [:]))
    span.end()
    let record = try #require(memory.finishedSpans.last)
    #expect(record.attributes.count == 2 && record.droppedAttributes == 1)
    record.attributes.forEach { _, value in
      if case .string(let text) = value { #expect(text.count <= 4) }
    }
    #expect(record.events.count == 1 && record.droppedEvents == 1)
    #expect(record.links.count == 1 && record.droppedLinks == 1)
    #expect(record.links.first?.context.spanID == other.context.spanContext?.spanID)
  }
}

/// An exporter that can be slowed down or made to fail.
final class ControllableExporter: SpanExporter {
  let exported = Mutex<Int>(0)
  let batches = Mutex<[Int]>([])
  let delay: Duration
  let failing: Bool

  init(delay: Duration = .zero, failing: Bool = false) {
    self.delay = delay
    self.failing = failing
  }

  func export(_ spans: [SpanRecord]) async throws {
    if delay > .zero { try await Task.sleep(for: delay) }
    if failing { throw TaskFailure(description: "collector down") }
    exported.withLock { $0 += spans.count }
    batches.withLock { $0.append(spans.count) }
  }

  func shutdown() async {}
}

/// An exporter stuck until its gate opens: a collector that does not answer.
final class GatedExporter: SpanExporter {
  let gate = Gate()
  func export(_ spans: [SpanRecord]) async throws { try await gate.wait() }
  func shutdown() async {}
}

@Suite("Batch span processor")
struct BatchSpanProcessorUnitTests {
  static func span(_ tracer: ProcrastinateTracer) {
    tracer.startSpan("s").end()
  }

  @Test("exports full batches at once and the rest on flush; keeps up with bursts")
  func batches() async throws {
    let exporter = ControllableExporter()
    var configuration = BatchSpanProcessor.Configuration()
    configuration.maximumQueueSize = 100_000
    configuration.maximumBatchSize = 512
    // An hour: every full batch that goes out went without waiting for the delay.
    configuration.scheduledDelay = .seconds(3600)
    let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration)
    let tracer = ProcrastinateTracer(processor: processor)
    for _ in 0..<50_000 { Self.span(tracer) }
    try await eventually(
      timeout: .seconds(300), "full batches to go out without waiting for the delay",
      seen: { "\(exporter.exported.withLock { $0 }) exported" }
    ) {
      exporter.exported.withLock { $0 } >= 50_000 - 511
    }
    await processor.forceFlush()
    #expect(exporter.exported.withLock { $0 } == 50_000)
    #expect(processor.statistics == SpanExportStatistics(exported: 50_000, dropped: 0, failed: 0))
    #expect(exporter.batches.withLock { $0 }.allSatisfy { $0 <= 512 })
  }

  @Test("a stuck collector never blocks the caller: the queue drops and counts")
  func drops() async throws {
    let exporter = GatedExporter()
    var configuration = BatchSpanProcessor.Configuration()
    configuration.maximumQueueSize = 100
    configuration.maximumBatchSize = 10
    configuration.exportTimeout = .seconds(120)
    let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration)
    let tracer = ProcrastinateTracer(processor: processor)
    // Ending a span never waits for the exporter: with the collector stuck, these return
    // (a caller that waited would hang here until the gate opens, after the test).
    for _ in 0..<1_000 { Self.span(tracer) }
    // The queue holds 100, and at most one batch of 10 is stuck in the exporter.
    let dropped = processor.statistics.dropped
    #expect((890...900).contains(dropped), "\(processor.statistics)")
    #expect(processor.statistics.exported == 0)
    exporter.gate.open()
    await processor.shutdown()
    #expect(
      processor.statistics == SpanExportStatistics(exported: 1_000 - dropped, dropped: dropped))
  }

  @Test("an export with no answer is given up at the export timeout, its spans counted failed")
  func exportTimeout() async {
    let exporter = GatedExporter()  // no answer until its gate opens, or it is cancelled
    var configuration = BatchSpanProcessor.Configuration()
    configuration.exportTimeout = .milliseconds(200)
    let processor = BatchSpanProcessor(exporter: exporter, configuration: configuration)
    let tracer = ProcrastinateTracer(processor: processor)
    for _ in 0..<5 { Self.span(tracer) }
    // The flush exports the 5 itself (a batch under the size, before the loop's delay) and
    // waits for that export's answer: the timeout's.
    await processor.forceFlush()
    #expect(processor.statistics == SpanExportStatistics(exported: 0, dropped: 0, failed: 5))
    exporter.gate.open()
    await processor.shutdown()
  }

  @Test("failed exports are counted, not lost silently")
  func failures() async {
    let processor = BatchSpanProcessor(exporter: ControllableExporter(failing: true))
    let tracer = ProcrastinateTracer(processor: processor)
    for _ in 0..<25 { Self.span(tracer) }
    await processor.forceFlush()
    #expect(processor.statistics == SpanExportStatistics(exported: 0, dropped: 0, failed: 25))
  }
}
