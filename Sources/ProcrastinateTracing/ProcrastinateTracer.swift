import ProcrastinateConventions
import ProcrastinateJobSpans
import Tracing
import W3CTraceContext

/// A swift-distributed-tracing `Tracer` that samples, records and hands finished spans to
/// its exporters, and propagates W3C `traceparent` / `tracestate`.
///
/// ``setupTracing(serviceName:endpoint:enableConsole:bootstrap:defaultFile:environment:logger:)``
/// builds one from the environment and bootstraps it; read it from ``TracingSetup/tracer``
/// when you pass a tracer around yourself. In tests, record spans in memory:
///
/// ```swift
/// let exporter = InMemorySpanExporter()
/// InstrumentationSystem.bootstrap(ProcrastinateTracer(recordingInto: exporter))
/// ```
///
/// Parent and child come from `ServiceContext` (task-local), so spans started by other
/// libraries through `InstrumentationSystem.tracer` nest under ours and the other way round.
public final class ProcrastinateTracer: Tracer, Sendable {
  /// The tracer's span type.
  public typealias Span = RecordingSpan

  package let sampler: any Sampler
  package let processor: any SpanProcessor
  package let limits: SpanLimits
  /// Spans started, sampled and not, for `otel_sdk_span_started_total` (published by the
  /// batch span processors).
  package let startCounts: SpanStartCounts
  private let ids = SpanIDGenerator()
  private let delivery: SpanDelivery

  package init(
    sampler: any Sampler = ParentBasedSampler(root: ConstantSampler.alwaysOn),
    processor: any SpanProcessor, limits: SpanLimits = SpanLimits(),
    startCounts: SpanStartCounts = SpanStartCounts()
  ) {
    self.sampler = sampler
    self.processor = processor
    self.delivery = SpanDelivery(processor)
    self.limits = limits
    self.startCounts = startCounts
  }

  /// A tracer for tests: every root span is sampled, and each span is added to `exporter`'s
  /// ``InMemorySpanExporter/finishedSpans`` as it ends.
  public convenience init(recordingInto exporter: InMemorySpanExporter) {
    self.init(processor: exporter)
  }

  /// Starts a span, the child of the span in `context` if there is one; called by
  /// `withSpan` and `startSpan` of swift-distributed-tracing.
  public func startSpan<Instant: TracerInstant>(
    _ operationName: String, context: @autoclosure () -> InstrumentationContext,
    ofKind kind: SpanKind,
    at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
  ) -> RecordingSpan {
    let base = context()
    return start(
      operationName, in: base, parent: base.spanContext, kind: kind,
      startNanoseconds: instant().nanosecondsSinceEpoch)
  }

  /// The span under `parent` (a new trace when nil), whose context is `base` with the new
  /// span's context in it; `job` gives a job span's attributes, asked only if it records.
  private func start(
    _ operationName: String, in base: InstrumentationContext, parent: SpanContext?,
    kind: SpanKind, startNanoseconds: UInt64, job: () -> JobSpanAttributes? = { nil }
  ) -> RecordingSpan {
    var spanServiceContext = base
    let traceID = parent?.traceID ?? ids.traceID()
    let sampled = sampler.shouldSample(
      traceID: traceID, parent: parent, operationName: operationName, kind: kind)
    startCounts.count(sampled: sampled)
    var flags = parent?.flags ?? []
    if sampled { flags.insert(.sampled) } else { flags.remove(.sampled) }
    let spanContext = SpanContext(
      traceID: traceID, spanID: ids.spanID(), flags: flags,
      traceState: parent?.traceState ?? TraceState(),
      isRemote: false)
    spanServiceContext.spanContext = spanContext
    return RecordingSpan(
      name: operationName, kind: kind, context: spanServiceContext, spanContext: spanContext,
      parentSpanID: parent?.spanID, startNanoseconds: startNanoseconds,
      isRecording: sampled, job: sampled ? job() : nil,
      limits: limits, delivery: delivery)
  }

  /// Exports what is queued (the protocol's synchronous form starts it and returns).
  public func forceFlush() {
    let processor = self.processor
    Task { await processor.forceFlush() }
  }

  /// Exports what is queued and waits for it.
  public func flush() async {
    await processor.forceFlush()
  }

  /// Writes the current span's `traceparent` (and `tracestate`, when not empty) into `carrier`.
  public func inject<Carrier, Inject: Injector>(
    _ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject
  ) where Inject.Carrier == Carrier {
    guard let spanContext = context.spanContext else { return }
    injector.inject(spanContext.traceParent, forKey: TracingKeys.traceParent, into: &carrier)
    if let state = spanContext.traceStateHeader {
      injector.inject(state, forKey: TracingKeys.traceState, into: &carrier)
    }
  }

  /// A missing or malformed `traceparent` leaves the context as it is: the next span
  /// starts a new trace. Never throws.
  public func extract<Carrier, Extract: Extractor>(
    _ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract
  ) where Extract.Carrier == Carrier {
    guard let parent = extractor.extract(key: TracingKeys.traceParent, from: carrier),
      let spanContext = SpanContext(
        traceParent: parent,
        traceState: extractor.extract(key: TracingKeys.traceState, from: carrier))
    else { return }
    context.spanContext = spanContext
  }
}

extension ProcrastinateTracer: JobSpanStarting {
  /// A job's CONSUMER span under the producer its carrier names, as `extract` then
  /// `startSpan` would start it, with one context write instead of two.
  package func startJobSpan(
    _ operationName: String, traceParent: String, traceState: String?,
    attributes: @autoclosure () -> JobSpanAttributes
  ) -> (any Tracing.Span & JobAttributeRecording)? {
    // Read as `extract` reads it: a header it would not read gives no span here either.
    guard let parent = SpanContext(traceParent: traceParent, traceState: traceState) else {
      return nil
    }
    // The attributes are built only for a span that records.
    return start(
      operationName, in: .topLevel, parent: parent, kind: .consumer,
      startNanoseconds: DefaultTracerClock.now.nanosecondsSinceEpoch, job: { attributes() })
  }
}

/// Where an ended span goes, worked out once per tracer: batch processors (also those inside
/// a ``MultiSpanProcessor``) queue the span itself, by reference, and build its record on
/// the export side; any other processor gets a record at once.
struct SpanDelivery: Sendable {
  let batches: [BatchSpanProcessor]
  let others: [any SpanProcessor]

  init(_ processor: any SpanProcessor) {
    var batches: [BatchSpanProcessor] = []
    var others: [any SpanProcessor] = []
    func add(_ processor: any SpanProcessor) {
      if let batch = processor as? BatchSpanProcessor {
        batches.append(batch)
      } else if let multi = processor as? MultiSpanProcessor {
        multi.processors.forEach(add)
      } else {
        others.append(processor)
      }
    }
    add(processor)
    self.batches = batches
    self.others = others
  }
}
