import Procrastinate
import Synchronization

/// Keeps finished spans in memory, for tests (the Python guide's `InMemorySpanExporter`).
///
/// It is both an exporter (behind a ``BatchSpanProcessor``) and a processor that records
/// each span as it ends, like `SimpleSpanProcessor(InMemorySpanExporter())`.
public final class InMemorySpanExporter: SpanExporter, SpanProcessor {
  private let spans = Mutex<[SpanRecord]>([])

  public init() {}

  /// The spans finished so far, in the order they ended.
  public var finishedSpans: [SpanRecord] { spans.withLock { $0 } }

  /// Forgets the recorded spans.
  public func reset() { spans.withLock { $0.removeAll() } }

  public func export(_ batch: [SpanRecord]) async throws {
    spans.withLock { $0.append(contentsOf: batch) }
  }
  public func onEnd(_ span: SpanRecord) { spans.withLock { $0.append(span) } }
  public func forceFlush() async {}
  public func shutdown() async {}
}
