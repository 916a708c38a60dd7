import Foundation
import ProcrastinateConventions

/// A span read back from an OTLP/JSON file, as the file exporter writes it
/// (`PROCRASTINATE_TRACES_FILE`: one `ExportTraceServiceRequest` per line).
///
/// Two stored spans are equal when their trace and span ids are.
public struct StoredSpan: Sendable, Equatable {
  /// The trace id, 32 hex digits.
  public var traceID: String
  /// The span id, 16 hex digits.
  public var spanID: String
  /// Empty for a root span.
  public var parentSpanID: String
  /// The operation name.
  public var name: String
  /// `INTERNAL`, `SERVER`, `CLIENT`, `PRODUCER` or `CONSUMER`.
  public var kind: String
  /// When the span started, in nanoseconds since the Unix epoch.
  public var startNanoseconds: UInt64
  /// When the span ended, in nanoseconds since the Unix epoch.
  public var endNanoseconds: UInt64
  /// `UNSET`, `OK` or `ERROR`.
  public var status: String
  /// The status message, empty when there is none.
  public var statusMessage: String
  /// Attribute values as text, in the order they were written.
  public var attributes: [(key: String, value: String)]
  /// The names of the span's events.
  public var events: [String]
  /// `service.name` of the resource that sent the span.
  public var serviceName: String

  /// Zero when the end is missing or before the start (files from other SDKs may hold such).
  public var durationMilliseconds: Double {
    endNanoseconds > startNanoseconds ? Double(endNanoseconds - startNanoseconds) / 1e6 : 0
  }

  /// Whether both are the same span: same trace id and span id.
  public static func == (lhs: StoredSpan, rhs: StoredSpan) -> Bool {
    lhs.traceID == rhs.traceID && lhs.spanID == rhs.spanID
  }
}

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
public enum TraceView {
  static let kinds = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]
  static let statuses = ["UNSET", "OK", "ERROR"]

  /// Every span of the file at `path`, in file order.
  ///
  /// - Throws: ``TraceFileError`` naming the file and line that is not OTLP/JSON.
  public static func read(path: String) throws -> [StoredSpan] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw TraceFileError(description: "\(path): cannot read the file")
    }
    var spans: [StoredSpan] = []
    let text = String(decoding: data, as: UTF8.self)
    for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
      .enumerated()
    where !line.allSatisfy(\.isWhitespace) {
      guard
        let request = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let resourceSpans = request["resourceSpans"] as? [[String: Any]]
      else {
        throw TraceFileError(
          description:
            "\(path):\(index + 1): not an OTLP/JSON export request (expected {\"resourceSpans\": …})"
        )
      }
      for resourceSpan in resourceSpans {
        let resource = (resourceSpan["resource"] as? [String: Any])?["attributes"]
        let service = attributes(resource).first { $0.key == "service.name" }?.value ?? ""
        for scope in resourceSpan["scopeSpans"] as? [[String: Any]] ?? [] {
          for span in scope["spans"] as? [[String: Any]] ?? [] {
            spans.append(stored(span, service: service))
          }
        }
      }
    }
    return spans
  }

  private static func stored(_ span: [String: Any], service: String) -> StoredSpan {
    func number(_ key: String) -> UInt64 {
      (span[key] as? String).flatMap { UInt64($0) } ?? (span[key] as? NSNumber)?.uint64Value ?? 0
    }
    let status = span["status"] as? [String: Any] ?? [:]
    let kind = (span["kind"] as? NSNumber)?.intValue ?? 0
    let code = (status["code"] as? NSNumber)?.intValue ?? 0
    return StoredSpan(
      traceID: span["traceId"] as? String ?? "", spanID: span["spanId"] as? String ?? "",
      parentSpanID: span["parentSpanId"] as? String ?? "", name: span["name"] as? String ?? "?",
      kind: kinds.indices.contains(kind) ? kinds[kind] : "\(kind)",
      startNanoseconds: number("startTimeUnixNano"), endNanoseconds: number("endTimeUnixNano"),
      status: statuses.indices.contains(code) ? statuses[code] : "\(code)",
      statusMessage: status["message"] as? String ?? "",
      attributes: attributes(span["attributes"]),
      events: (span["events"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String },
      serviceName: service)
  }

  private static func attributes(_ value: Any?) -> [(key: String, value: String)] {
    (value as? [[String: Any]] ?? []).compactMap { attribute in
      guard let key = attribute["key"] as? String else { return nil }
      return (key, text(attribute["value"]))
    }
  }

  private static func text(_ value: Any?) -> String {
    guard let value = value as? [String: Any], let (kind, inner) = value.first else { return "" }
    switch kind {
    case "arrayValue":
      let values = (inner as? [String: Any])?["values"] as? [Any] ?? []
      return "[" + values.map { text($0) }.joined(separator: ", ") + "]"
    default:
      return "\(inner)"
    }
  }

  /// The traces of `spans` (or only `traceID`), oldest first: each root with its children
  /// indented under it, with kind, duration and status, as the guide's "Trace Structure".
  public static func tree(_ spans: [StoredSpan], traceID: String? = nil) -> String {
    var output = ""
    for trace in traces(spans, only: traceID) {
      let start = trace.map(\.startNanoseconds).min() ?? 0
      let end = max(start, trace.map(\.endNanoseconds).max() ?? 0)
      let services = Set(trace.map(\.serviceName)).sorted().joined(separator: ", ")
      output +=
        "trace \(trace[0].traceID) (\(services)): \(trace.count) span\(trace.count == 1 ? "" : "s"), \(format(Double(end - start) / 1e6))\n"
      let children = Dictionary(
        grouping: trace.filter { !$0.parentSpanID.isEmpty }, by: \.parentSpanID)
      let ids = Set(trace.map(\.spanID))
      // Roots: no parent, or a parent that is not in the file (e.g. in another service).
      var roots = trace.filter { $0.parentSpanID.isEmpty || !ids.contains($0.parentSpanID) }
      var printed = Set<String>()
      func walk(_ span: StoredSpan, prefix: String, last: Bool, root: Bool) {
        // A span seen twice (a cycle, or a repeated id) is printed once.
        guard printed.insert(span.spanID + "/" + span.parentSpanID).inserted else { return }
        let branch = root ? "" : (last ? "└── " : "├── ")
        var line = prefix + branch + span.name
        line +=
          "  \(span.kind == "INTERNAL" ? "" : span.kind + " ")\(format(span.durationMilliseconds))"
        if span.status == "ERROR" {
          line += "  ✗ ERROR" + (span.statusMessage.isEmpty ? "" : ": \(span.statusMessage)")
        }
        if !span.parentSpanID.isEmpty && !ids.contains(span.parentSpanID) {
          line += "  (parent \(span.parentSpanID) not in this file)"
        }
        output += line + "\n"
        let next = children[span.spanID, default: []].sorted {
          $0.startNanoseconds < $1.startNanoseconds
        }
        let childPrefix = root ? prefix : prefix + (last ? "    " : "│   ")
        for (index, child) in next.enumerated() {
          walk(child, prefix: childPrefix, last: index == next.count - 1, root: false)
        }
      }
      for root in roots.sorted(by: { $0.startNanoseconds < $1.startNanoseconds }) {
        walk(root, prefix: "", last: true, root: true)
      }
      // Spans no root reaches (parents forming a cycle) still show, as roots.
      roots = trace.filter { !printed.contains($0.spanID + "/" + $0.parentSpanID) }
      for span in roots { walk(span, prefix: "", last: true, root: true) }
    }
    return output
  }

  /// A self-contained HTML page: one waterfall per trace, spans as bars on a time axis,
  /// attributes and events on hover.
  package static func html(_ spans: [StoredSpan], traceID: String? = nil) -> String {
    var body = ""
    for trace in traces(spans, only: traceID) {
      let start = trace.map(\.startNanoseconds).min() ?? 0
      let end = max(start, trace.map(\.endNanoseconds).max() ?? 0)
      let total = max(1, Double(end - start))
      let depth = depths(trace)
      body +=
        "<section><h2>trace <code>\(escape(trace[0].traceID))</code> — \(trace.count) spans, \(format(total / 1e6))</h2>\n"
      for span in trace.sorted(by: { $0.startNanoseconds < $1.startNanoseconds }) {
        let left = Double(span.startNanoseconds - start) / total * 100
        let width = max(0.3, span.durationMilliseconds * 1e6 / total * 100)
        let details =
          ([
            "\(span.kind) \(format(span.durationMilliseconds)) \(span.status) \(span.statusMessage)"
          ]
          + span.attributes.map { "\($0.key) = \($0.value)" }
          + span.events.map { "event: \($0)" }).joined(separator: "\n")
        body += """
          <div class="row" title="\(escape(details))"><div class="name" style="padding-left:\(depth[span.spanID, default: 0] * 14)px">\(escape(span.name))</div>\
          <div class="lane"><div class="bar \(span.status == "ERROR" ? "error" : span.kind.lowercased())" style="left:\(String(format: "%.3f", left))%;width:\(String(format: "%.3f", width))%"></div>\
          <span class="ms" style="left:\(String(format: "%.3f", min(left + width, 92)))%">\(format(span.durationMilliseconds))</span></div></div>

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

  private static func traces(_ spans: [StoredSpan], only traceID: String?) -> [[StoredSpan]] {
    let selected = traceID.map { id in spans.filter { $0.traceID == id } } ?? spans
    let grouped = Dictionary(grouping: selected, by: \.traceID)
    return grouped.values.sorted {
      ($0.map(\.startNanoseconds).min() ?? 0) < ($1.map(\.startNanoseconds).min() ?? 0)
    }
  }

  private static func depths(_ trace: [StoredSpan]) -> [String: Int] {
    let byID = Dictionary(trace.map { ($0.spanID, $0) }, uniquingKeysWith: { first, _ in first })
    var result: [String: Int] = [:]
    for span in trace {
      var depth = 0
      var parent = span.parentSpanID
      while let next = byID[parent], depth < 64 {
        depth += 1
        parent = next.parentSpanID
      }
      result[span.spanID] = depth
    }
    return result
  }

  static func format(_ milliseconds: Double) -> String {
    milliseconds >= 1000
      ? String(format: "%.2f s", milliseconds / 1000)
      : String(format: milliseconds >= 10 ? "%.1f ms" : "%.2f ms", milliseconds)
  }

  private static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
