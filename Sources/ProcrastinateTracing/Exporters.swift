import Foundation
import ProcrastinateConventions
import Synchronization
import Tracing

/// Fans finished spans out to several processors.
package struct MultiSpanProcessor: SpanProcessor {
  package let processors: [any SpanProcessor]
  package init(_ processors: [any SpanProcessor]) { self.processors = processors }
  package func onEnd(_ span: SpanRecord) { for processor in processors { processor.onEnd(span) } }
  package func forceFlush() async { for processor in processors { await processor.forceFlush() } }
  package func shutdown() async { for processor in processors { await processor.shutdown() } }
}

/// Prints one readable line per finished span (`OTEL_CONSOLE_ENABLED=true`):
///
///     [trace 0af7651916cd43dd] procrastinate.job.fetch_joke CONSUMER 12.4 ms OK parent=b7ad6b7169203331 job.id=42
package final class ConsoleSpanExporter: SpanExporter, SpanProcessor {
  package var componentType: String { "console_span_exporter" }
  private let write: @Sendable (String) -> Void

  /// - Parameter write: where lines go; standard error by default, so program output stays clean.
  package init(
    write: @escaping @Sendable (String) -> Void = {
      FileHandle.standardError.write(Data(($0 + "\n").utf8))
    }
  ) {
    self.write = write
  }

  package static func line(_ span: SpanRecord) -> String {
    let milliseconds = Double(span.endNanoseconds - span.startNanoseconds) / 1_000_000
    var parts = [
      "[trace \(String(span.context.traceID.description.prefix(16)))]", span.name,
      "\(span.kind)".uppercased(),
      String(format: "%.1f ms", milliseconds),
    ]
    switch span.status?.code {
    case .error: parts.append("ERROR" + (span.status?.message.map { " (\($0))" } ?? ""))
    case .ok: parts.append("OK")
    case nil: parts.append("UNSET")
    }
    if let parent = span.parentSpanID { parts.append("parent=\(parent)") }
    var attributes: [String] = []
    span.attributes.forEach { key, value in
      attributes.append("\(key)=\(AttributeValue(value).display)")
    }
    parts.append(contentsOf: attributes.sorted())
    for event in span.events { parts.append("event=\(event.name)") }
    return parts.joined(separator: " ")
  }

  package func export(_ spans: [SpanRecord]) async throws {
    for span in spans { write(Self.line(span)) }
  }
  package func onEnd(_ span: SpanRecord) { write(Self.line(span)) }
  package func forceFlush() async {}
  package func shutdown() async {}
}

/// Appends each export request as one line of OTLP/JSON to a file: traces with no
/// infrastructure at all, readable by `procrastinate-swift traces show` and by any OTLP tool.
package final class FileSpanExporter: SpanExporter {
  package var componentType: String { "otlp_file_span_exporter" }
  package let path: String
  package let resource: TracingResource
  private let lock = Mutex(())

  /// A file that cannot be created or written does not stop the process: each export to
  /// it fails, the batch processor counts the spans as failed and logs the reason once.
  package init(path: String, resource: TracingResource) {
    self.path = path
    self.resource = resource
    if !FileManager.default.fileExists(atPath: path) {
      _ = FileManager.default.createFile(atPath: path, contents: nil)
    }
  }

  package func export(_ spans: [SpanRecord]) async throws {
    guard !spans.isEmpty else { return }
    let line = OTLPEncoding.json(spans, resource: resource) + "\n"
    // O_APPEND: each line lands whole at the end even when several processes append to
    // the same file (a deferring process and a worker, say).
    try lock.withLock { _ in
      let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
      guard fd >= 0 else {
        throw TraceFileError(
          description: "\(path): cannot open for appending: \(String(cString: strerror(errno)))")
      }
      defer { close(fd) }
      let bytes = Array(line.utf8)
      let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      guard written == bytes.count else {
        throw TraceFileError(
          description: written < 0
            ? "\(path): cannot write: \(String(cString: strerror(errno)))"
            : "\(path): only \(written) of \(bytes.count) bytes written")
      }
    }
  }

  package func shutdown() async {}
}
