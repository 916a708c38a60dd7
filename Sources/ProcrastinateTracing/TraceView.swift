import Foundation
import ProcrastinateConventions
import ProcrastinateTraceData

/// The file could not be read as OTLP/JSON lines, or the file exporter could not write it.
public struct TraceFileError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// The file, the line when it applies, and what is wrong.
  public let description: String
}

/// Reads what the file exporter wrote (`PROCRASTINATE_TRACES_FILE`) and shows it as trees:
/// the zero-infrastructure view of a trace.
///
/// ```swift
/// print(TraceView.tree(try TraceView.read(path: "simple-example.traces.jsonl")))
/// ```
///
/// It reads with the dashboard's OTLP decoder, in its lenient mode, and draws the tree the
/// dashboard's waterfall draws (``TraceTree``).
public enum TraceView {
  /// Every span of the file at `path`, in file order. Spans from other tools are read as
  /// they are: an id that is missing or not hex is kept as written.
  ///
  /// - Throws: ``TraceFileError`` naming the file and line that is not OTLP/JSON.
  public static func read(path: String) throws -> [TraceSpan] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw TraceFileError(description: "\(path): cannot read the file")
    }
    var spans: [TraceSpan] = []
    let text = String(decoding: data, as: UTF8.self)
    for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
      .enumerated()
    where !line.allSatisfy(\.isWhitespace) {
      do {
        spans += try OTLPTraceDecoder.json(Data(line.utf8), lenient: true)
      } catch {
        throw TraceFileError(
          description: "\(path):\(index + 1): not an OTLP/JSON export request (\(error))")
      }
    }
    return spans
  }

  /// The traces of `spans` (or only `traceID`), oldest first: each root with its children
  /// indented under it, with kind, duration and status, as the guide's "Trace Structure".
  public static func tree(_ spans: [TraceSpan], traceID: String? = nil) -> String {
    var output = ""
    for trace in TraceTree.traces(spans, only: traceID) {
      let services = Set(trace.map(\.serviceName)).sorted().joined(separator: ", ")
      output +=
        "trace \(trace[0].traceID) (\(services)): \(trace.count) span\(trace.count == 1 ? "" : "s"), \(format(span: length(of: trace)))\n"
      for row in TraceTree.rows(trace) {
        let span = row.span
        var line = row.continuing.map { $0 ? "│   " : "    " }.joined()
        if row.depth > 0 { line += row.isLast ? "└── " : "├── " }
        line += span.name
        line += "  \(span.kind == .internal ? "" : kindName(span) + " ")\(format(span: span))"
        if span.statusCode == .error {
          line += "  ✗ ERROR" + (span.statusMessage.map { ": \($0)" } ?? "")
        }
        if row.parentMissing, let parent = span.parentSpanID {
          line += "  (parent \(parent) not in this file)"
        }
        output += line + "\n"
      }
    }
    return output
  }

  /// A self-contained HTML page: one waterfall per trace, spans as bars on a time axis,
  /// attributes and events on hover.
  package static func html(_ spans: [TraceSpan], traceID: String? = nil) -> String {
    var body = ""
    for trace in TraceTree.traces(spans, only: traceID) {
      let start = trace.map(\.startNanoseconds).min() ?? 0
      let total = max(1, Double(length(of: trace)))
      body +=
        "<section><h2>trace <code>\(escape(trace[0].traceID))</code> — \(trace.count) spans, \(format(total / 1e6))</h2>\n"
      for row in TraceTree.rows(trace) {
        let span = row.span
        let left = Double(max(span.startNanoseconds, start) - start) / total * 100
        let width = max(0.3, Double(span.durationNanoseconds) / total * 100)
        let status = span.statusCode.rawValue.uppercased()
        let details =
          ([
            "\(kindName(span)) \(format(span: span)) \(status) \(span.statusMessage ?? "")"
          ]
          + span.attributes.map { "\($0.key) = \($0.value.text)" }
          + span.events.map { "event: \($0.name)" }).joined(separator: "\n")
        let bar = span.statusCode == .error ? "error" : span.kind.rawValue
        body += """
          <div class="row" title="\(escape(details))"><div class="name" style="padding-left:\(min(row.depth, 64) * 14)px">\(escape(span.name))</div>\
          <div class="lane"><div class="bar \(bar)" style="left:\(String(format: "%.3f", left))%;width:\(String(format: "%.3f", width))%"></div>\
          <span class="ms" style="left:\(String(format: "%.3f", min(left + width, 92)))%">\(format(span: span))</span></div></div>

          """
      }
      body += "</section>\n"
    }
    return """
      <!doctype html>
      <html><head><meta charset="utf-8"><title>swift-procrastinate traces</title><style>
      body{font:13px -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222}
      h2{font-size:14px;font-weight:600;margin:18px 0 8px} code{font-size:12px}
      .row{display:flex;align-items:center;height:24px;border-bottom:1px solid #eee}
      .row:hover{background:#f5f7fb} .name{width:34%;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
      .lane{position:relative;flex:1;height:100%} .bar{position:absolute;top:6px;height:12px;border-radius:2px;background:#6c8ebf}
      .bar.producer{background:#d79b00} .bar.consumer{background:#82b366} .bar.client{background:#9673a6}
      .bar.server{background:#6c8ebf} .bar.error{background:#b85450}
      .ms{position:absolute;top:5px;margin-left:4px;font-size:11px;color:#666}
      </style></head><body><h1 style="font-size:16px">swift-procrastinate traces</h1>
      \(body)</body></html>

      """
  }

  /// From the trace's first start to its last end, in nanoseconds.
  private static func length(of trace: [TraceSpan]) -> UInt64 {
    let start = trace.map(\.startNanoseconds).min() ?? 0
    return max(start, trace.map(\.endNanoseconds).max() ?? 0) - start
  }

  /// `SERVER`, `PRODUCER`, … as OTLP names them.
  private static func kindName(_ span: TraceSpan) -> String { span.kind.rawValue.uppercased() }

  private static func format(span: TraceSpan) -> String {
    format(Double(span.durationNanoseconds) / 1e6)
  }

  private static func format(span nanoseconds: UInt64) -> String {
    format(Double(nanoseconds) / 1e6)
  }

  static func format(_ milliseconds: Double) -> String {
    milliseconds >= 1000
      ? String(format: "%.2f s", milliseconds / 1000)
      : String(format: milliseconds >= 10 ? "%.1f ms" : "%.2f ms", milliseconds)
  }

  private static func escape(_ text: String) -> String { TextEscaping.html(text) }
}
