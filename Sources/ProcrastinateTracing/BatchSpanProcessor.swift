import DequeModule
import Logging
import Metrics
import ProcrastinateConcurrency
import ProcrastinateConventions
import ServiceLifecycle
import Synchronization

/// How many spans were exported, dropped and failed to export: ``TracingSetup/statistics``.
public struct SpanExportStatistics: Sendable, Equatable {
  /// Spans the exporter accepted.
  public var exported = 0
  /// Spans dropped because the queue was full (a slow or down collector).
  public var dropped = 0
  /// Spans the exporter failed to send, after its own retries.
  public var failed = 0

  /// Statistics with the given counts, zero by default.
  public init(exported: Int = 0, dropped: Int = 0, failed: Int = 0) {
    self.exported = exported
    self.dropped = dropped
    self.failed = failed
  }
}

/// Queues finished spans and exports them in batches, off the caller's path.
///
/// `onEnd` never blocks and never waits for the exporter: when the queue is full the span
/// is dropped and counted. A batch is exported as soon as `maximumBatchSize` spans are
/// queued, and whatever is queued when `scheduledDelay` passes; as many batches as are
/// ready go out back to back, so the processor keeps up with bursts instead of sending one
/// batch per tick. `forceFlush` and `shutdown` export everything queued, within `exportTimeout`.
package final class BatchSpanProcessor: SpanProcessor {
  /// The `OTEL_BSP_*` settings.
  package struct Configuration: Sendable {
    package var maximumQueueSize = 2048
    package var scheduledDelay: Duration = .seconds(5)
    package var maximumBatchSize = 512
    package var exportTimeout: Duration = .seconds(30)
    package init() {}
  }

  private struct State {
    /// A deque: taking a batch from the front costs the batch, not the spans left behind,
    /// so `onEnd` callers never wait behind a shift of the whole queue. It holds ended spans
    /// by reference; their records are built when a batch is taken, off the caller's path.
    var queue = Deque<any QueuedSpan>()
    var statistics = SpanExportStatistics()
    var shutDown = false
    /// Spans taken from the queue whose export has not finished.
    var inFlight = 0
    /// The first drop and the first failure of a run of failures are logged, not each one.
    var dropLogged = false
    var failing = false
    /// Set when shutdown has counted what is left: an export finishing after that is not
    /// counted again.
    var settled = false
    /// What the metrics were last told (``publishMetrics()`` adds what came since).
    var published = SpanExportStatistics()
  }

  package let configuration: Configuration
  private let exporter: any SpanExporter
  private let logger: Logger
  private let state = Mutex(State())
  private let batchReady = Wakeup()
  private let exportFinished = Wakeup()
  private let exports: ExportSerializer
  private let loop = Mutex<Task<Void, Never>?>(nil)
  /// Where the pipeline's metrics go (``TracingMetrics``), and the tracer's span starts this
  /// processor publishes with its own.
  private let metrics: TracingMetricsSink
  private let startCounts: SpanStartCounts?
  /// `otel_component_type`/`otel_component_name` of this processor and of its exporter.
  private let processorDimensions: [(String, String)]
  private let exporterDimensions: [(String, String)]

  package init(
    exporter: any SpanExporter, configuration: Configuration = Configuration(),
    logger: Logger = Logger(label: "procrastinate.tracing"),
    metrics: TracingMetricsSink = TracingMetricsSink(), startCounts: SpanStartCounts? = nil
  ) {
    self.exporter = exporter
    self.configuration = configuration
    self.logger = logger
    self.metrics = metrics
    self.startCounts = startCounts
    self.processorDimensions = [
      (TracingMetrics.componentType, "batching_span_processor"),
      (TracingMetrics.componentName, ComponentNames.make("batching_span_processor")),
    ]
    self.exporterDimensions = [
      (TracingMetrics.componentType, exporter.componentType),
      (TracingMetrics.componentName, ComponentNames.make(exporter.componentType)),
    ]
    self.exports = ExportSerializer(exporter: exporter, timeout: configuration.exportTimeout)
    let task = Task { [batchReady, configuration] in
      while !Task.isCancelled {
        await batchReady.wait(timeout: configuration.scheduledDelay)
        await self.exportQueued(until: nil)
        self.publishMetrics()
      }
    }
    loop.withLock { $0 = task }
  }

  /// `otel_component_name` of this processor, e.g. `batching_span_processor/3`.
  package var componentName: String { processorDimensions[1].1 }
  /// `otel_component_name` of its exporter, e.g. `otlp_http_span_exporter/4`.
  package var exporterComponentName: String { exporterDimensions[1].1 }

  /// Adds what was exported, dropped and failed since the last call to the counters, sets
  /// the queue's size, and publishes the tracer's span starts.
  package func publishMetrics() {
    let (delta, queued) = state.withLock { state -> (SpanExportStatistics, Int) in
      let now = state.statistics
      defer { state.published = now }
      return (
        SpanExportStatistics(
          exported: now.exported - state.published.exported,
          dropped: now.dropped - state.published.dropped,
          failed: now.failed - state.published.failed),
        state.queue.count
      )
    }
    // Every series is published, at 0 until something happens: a counter that first appears
    // already at 1 shows Prometheus no increase, and an alert on its rate would not fire.
    let failed = [(TracingMetrics.errorType, "export_failed")]
    let queueFull = [(TracingMetrics.errorType, "queue_full")]
    metrics.counter(TracingMetrics.spansExported, exporterDimensions).increment(
      by: delta.exported)
    metrics.counter(TracingMetrics.spansExported, exporterDimensions + failed).increment(
      by: delta.failed)
    metrics.counter(TracingMetrics.spansProcessed, processorDimensions).increment(
      by: delta.exported + delta.failed)
    metrics.counter(TracingMetrics.spansProcessed, processorDimensions + queueFull).increment(
      by: delta.dropped)
    metrics.gauge(TracingMetrics.queueSize, processorDimensions).record(queued)
    metrics.gauge(TracingMetrics.queueCapacity, processorDimensions).record(
      configuration.maximumQueueSize)
    startCounts?.publish()
  }

  /// What was exported, dropped and failed so far.
  package var statistics: SpanExportStatistics { state.withLock { $0.statistics } }

  package func onEnd(_ span: SpanRecord) {
    enqueue(RecordedSpan(record: span))
  }

  /// Queues an ended span (``RecordingSpan`` hands itself over, or a record in a box).
  func enqueue(_ span: some QueuedSpan) {
    let (full, firstDrop) = state.withLock { state -> (Bool, Bool) in
      guard !state.shutDown, state.queue.count < configuration.maximumQueueSize else {
        state.statistics.dropped += 1
        defer { state.dropLogged = true }
        return (false, !state.dropLogged)
      }
      state.queue.append(span)
      return (state.queue.count == configuration.maximumBatchSize, false)
    }
    if full { batchReady.signal() }
    if firstDrop {
      logger.warning(
        "span queue full (\(configuration.maximumQueueSize) spans) or shut down: dropping spans; they are counted in statistics.dropped (logged once)"
      )
    }
  }

  /// Exports everything queued, and waits for exports already under way, giving up after
  /// `exportTimeout` in all.
  package func forceFlush() async {
    let deadline = ContinuousClock.now + configuration.exportTimeout
    await exportQueued(until: deadline)
    await waitForExports(until: deadline)
  }

  private func waitForExports(until deadline: ContinuousClock.Instant) async {
    while state.withLock({ $0.inFlight > 0 }) && ContinuousClock.now < deadline {
      await exportFinished.wait(timeout: min(deadline - .now, .milliseconds(100)))
    }
  }

  package func shutdown() async {
    state.withLock { $0.shutDown = true }
    loop.withLock { $0 }?.cancel()
    let deadline = ContinuousClock.now + configuration.exportTimeout
    await exportQueued(until: deadline)
    await waitForExports(until: deadline)
    // What the timeout left behind will never be exported: count it, the spans still in
    // queue as dropped and those of an export still under way as failed.
    state.withLock { state in
      state.statistics.dropped += state.queue.count
      state.queue.removeAll()
      state.statistics.failed += state.inFlight
      state.inFlight = 0
      state.settled = true
    }
    await exporter.shutdown()
    publishMetrics()
    let statistics = self.statistics
    if statistics.dropped > 0 || statistics.failed > 0 {
      logger.warning(
        "tracing lost spans: \(statistics.dropped) dropped (queue full), \(statistics.failed) failed to export; \(statistics.exported) exported"
      )
    }
  }

  /// Exports batches back to back until the queue is empty, or the deadline passes.
  private func exportQueued(until deadline: ContinuousClock.Instant?) async {
    while deadline.map({ ContinuousClock.now < $0 }) ?? true {
      let batch = state.withLock { state -> [any QueuedSpan] in
        let count = min(state.queue.count, configuration.maximumBatchSize)
        if count == 0 { return [] }
        defer { state.queue.removeFirst(count) }
        state.inFlight += count
        return Array(state.queue.prefix(count))
      }.map { $0.record() }
      if batch.isEmpty { return }
      let started = ContinuousClock.now
      let failure = await exports.export(batch)
      metrics.timer(
        TracingMetrics.exportDuration,
        failure == nil
          ? exporterDimensions : exporterDimensions + [(TracingMetrics.errorType, "export_failed")]
      ).record(duration: ContinuousClock.now - started)
      defer { exportFinished.signal() }
      let (firstFailure, recovered) = state.withLock { state -> (Bool, Bool) in
        if state.settled { return (false, false) }  // already counted by shutdown
        state.inFlight -= batch.count
        let wasFailing = state.failing
        state.failing = failure != nil
        if failure == nil {
          state.statistics.exported += batch.count
        } else {
          state.statistics.failed += batch.count
        }
        return (failure != nil && !wasFailing, failure == nil && wasFailing)
      }
      // After every batch, not only when the queue is empty: while the collector is down,
      // spans keep coming and the queue may never empty, yet the failures must show.
      publishMetrics()
      if firstFailure, let failure {
        logger.error(
          "exporting spans failed: \(failure); failed spans are counted in statistics.failed, and this is logged again only after an export succeeds"
        )
      } else if recovered {
        logger.info("exporting spans works again")
      }
    }
  }
}

/// An ended span waiting in the queue.
protocol QueuedSpan: AnyObject, Sendable {
  func record() -> SpanRecord
}

extension RecordingSpan: QueuedSpan {}

/// A record handed to ``BatchSpanProcessor/onEnd(_:)`` by someone else's code.
private final class RecordedSpan: QueuedSpan {
  let stored: SpanRecord
  init(record: SpanRecord) { stored = record }
  func record() -> SpanRecord { stored }
}

/// Bounds each export by the timeout: the answer is whichever comes first, the exporter's
/// or the timer's. An exporter that ignores cancellation (a blocking HTTP request) is left to
/// finish on its own, so that a flush or shutdown keeps to `exportTimeout`. (Exports of the
/// timer loop and of a flush may overlap; the OTLP exporter's HTTP client serialises its
/// requests on its own thread.)
private actor ExportSerializer {
  let exporter: any SpanExporter
  let timeout: Duration

  init(exporter: any SpanExporter, timeout: Duration) {
    self.exporter = exporter
    self.timeout = timeout
  }

  /// Nil when the batch was exported, else why not.
  func export(_ batch: [SpanRecord]) async -> String? {
    let exporter = self.exporter
    let timeout = self.timeout
    let answer = FirstAnswer()
    var timer: Task<Void, Never>?
    let result = await withCheckedContinuation { continuation in
      answer.wait(continuation)
      let work = Task {
        do {
          try await exporter.export(batch)
          answer.give(nil)
        } catch {
          answer.give("\(error)")
        }
      }
      timer = Task {
        // Cancelled: the export answered first.
        guard (try? await Task.sleep(for: timeout)) != nil else { return }
        if answer.give("no answer within the export timeout (\(timeout))") { work.cancel() }
      }
    }
    // An export that answered in time leaves no timer sleeping out the export timeout.
    timer?.cancel()
    return result
  }
}

/// Resumes a continuation with the first answer given; later ones are ignored.
private final class FirstAnswer: Sendable {
  private let state = Mutex<(CheckedContinuation<String?, Never>?, Bool)>((nil, false))

  func wait(_ continuation: CheckedContinuation<String?, Never>) {
    state.withLock { $0.0 = continuation }
  }

  /// Whether this answer was the first.
  @discardableResult
  func give(_ answer: String?) -> Bool {
    let continuation = state.withLock { state -> CheckedContinuation<String?, Never>? in
      if state.1 { return nil }
      state.1 = true
      defer { state.0 = nil }
      return state.0
    }
    continuation?.resume(returning: answer)
    return continuation != nil
  }
}

extension BatchSpanProcessor: Service {
  /// Waits for graceful shutdown (or cancellation), then exports what is queued within
  /// `exportTimeout` and shuts the exporter down (``shutdown()``).
  package func run() async throws {
    try? await gracefulShutdown()
    await flushDetached { await self.shutdown() }
  }
}

/// Runs a final flush in a task of its own: a cancelled caller (a `ServiceGroup` being
/// cancelled) must not cut the export short, which its deadline bounds anyway.
func flushDetached(_ flush: @escaping @Sendable () async -> Void) async {
  await Task { await flush() }.value
}
