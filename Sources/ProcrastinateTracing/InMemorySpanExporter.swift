import ProcrastinateConventions
import Synchronization

/// Keeps finished spans in memory, for tests (the Python guide's `InMemorySpanExporter`):
///
/// ```swift
/// let exporter = InMemorySpanExporter()
/// InstrumentationSystem.bootstrap(ProcrastinateTracer(recordingInto: exporter))
/// // … defer and run jobs …
/// let names = exporter.finishedSpans.map(\.name)
/// ```
///
/// Each span is recorded as it ends, as `SimpleSpanProcessor(InMemorySpanExporter())` does
/// in Python.
public final class InMemorySpanExporter: SpanExporter, SpanProcessor {
  package var componentType: String { "in_memory_span_exporter" }
  private let spans = Mutex<[SpanRecord]>([])

  /// An exporter holding no span yet.
  public init() {}

  /// The spans finished so far, in the order they ended.
  public var finishedSpans: [SpanRecord] { spans.withLock { $0 } }

  /// Forgets the recorded spans.
  public func reset() { spans.withLock { $0.removeAll() } }

  package func export(_ batch: [SpanRecord]) async throws {
    spans.withLock { $0.append(contentsOf: batch) }
  }
  package func onEnd(_ span: SpanRecord) { spans.withLock { $0.append(span) } }
  package func forceFlush() async {}
  package func shutdown() async {}
}
