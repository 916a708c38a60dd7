import Foundation
import ProcrastinateTraceData

/// A trace as a waterfall: one row per span, children under their parent in start order,
/// each a bar on the trace's time axis; a row opens on its kind, service, duration, status,
/// attributes and events.
struct Waterfall {
  var trace: JobTrace

  func render() -> String {
    if let missing = trace.missing {
      return "<p class=\"notice\" id=\"trace-missing\">\(HTML.escape(missing))</p>\n"
    }
    let spans = trace.spans
    let start = spans.map(\.startNanoseconds).min() ?? 0
    let latest = spans.map { max($0.endNanoseconds, $0.startNanoseconds) }.max() ?? start
    // Times are whatever the sender said: never add to them (UInt64.max is a valid start).
    let total = max(1, Double(latest - start))
    let end = latest
    let services = Set(spans.map(\.serviceName).filter { !$0.isEmpty }).sorted()
    var out = "<p class=\"muted\" id=\"trace-summary\">trace "
    out += trace.traceIDs.map { "<code>\(HTML.escape($0))</code>" }.joined(separator: ", ")
    out += " · \(spans.count) span\(spans.count == 1 ? "" : "s")"
    out += " · \(HTML.duration(seconds: total / 1e9))"
    if !services.isEmpty { out += " · " + services.map(HTML.escape).joined(separator: ", ") }
    out += "</p>\n<div class=\"waterfall\" id=\"waterfall\">\n"
    for (span, depth) in Self.ordered(spans) {
      let left = Double(span.startNanoseconds.clamped(start, end) - start) / total * 100
      let width = Double(span.durationNanoseconds) / total * 100
      let kind = span.kind.rawValue
      let barClass = span.statusCode == .error ? "error" : kind
      out += "<details class=\"span-row\" id=\"span-\(HTML.escape(span.spanID))\">"
      out += "<summary><span class=\"span-name\" style=\"padding-left:\(8 + depth * 16)px\">"
      out += "\(span.statusCode == .error ? "✗ " : "")\(HTML.escape(span.name))"
      out += "<span class=\"kind\">\(kind)</span></span><span class=\"lane\">"
      out +=
        "<span class=\"bar \(barClass)\" style=\"left:\(Self.percent(left));width:\(Self.percent(width))\"></span>"
      // The duration sits right of the bar, or left of it when the bar reaches the end.
      let label =
        left + width > 80
        ? "right:\(Self.percent(100 - left));padding-right:4px"
        : "left:\(Self.percent(left + width))"
      out += "<span class=\"ms\" style=\"\(label)\">"
      out +=
        "\(HTML.duration(seconds: Double(span.durationNanoseconds) / 1e9))</span></span></summary>"
      out += detail(span)
      out += "</details>\n"
    }
    return out + "</div>\n"
  }

  private func detail(_ span: TraceSpan) -> String {
    var rows: [(String, String)] = [
      ("span id", span.spanID), ("parent", span.parentSpanID ?? "none (root)"),
      ("kind", span.kind.rawValue), ("service", span.serviceName),
      ("status", span.statusCode.rawValue + (span.statusMessage.map { ": \($0)" } ?? "")),
    ]
    rows += span.attributes.map { ($0.key, $0.value.text) }
    var out = "<div class=\"span-detail\"><table>"
    for (key, value) in rows {
      out +=
        "<tr><td class=\"muted\">\(HTML.escape(key))</td><td><code>\(HTML.escape(value))</code></td></tr>"
    }
    out += "</table>"
    if !span.events.isEmpty {
      out += "<table><tr><th>event</th><th>at</th><th>attributes</th></tr>"
      for event in span.events {
        let offset = Double(Int64(bitPattern: event.timeNanoseconds &- span.startNanoseconds)) / 1e9
        let attributes = event.attributes.map { "\($0.key) = \($0.value.text)" }.joined(
          separator: "\n")
        out += "<tr><td>\(HTML.escape(event.name))</td><td>+\(HTML.duration(seconds: offset))</td>"
        out += "<td><pre>\(HTML.escape(attributes))</pre></td></tr>"
      }
      out += "</table>"
    }
    return out + "</div>"
  }

  private static func percent(_ value: Double) -> String {
    String(format: "%.3f%%", max(0, min(100, value)))
  }

  /// Depth first from the roots, children in start order (``TraceTree``); a span reached
  /// twice (a repeated id, a cycle) is listed once. Depths past 24 are drawn at 24.
  static func ordered(_ spans: [TraceSpan]) -> [(TraceSpan, Int)] {
    TraceTree.rows(spans).map { ($0.span, min($0.depth, 24)) }
  }
}

extension UInt64 {
  fileprivate func clamped(_ low: UInt64, _ high: UInt64) -> UInt64 {
    Swift.min(Swift.max(self, low), high)
  }
}
