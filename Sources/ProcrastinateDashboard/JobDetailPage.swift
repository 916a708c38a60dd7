import Foundation
import Procrastinate
import ProcrastinateTraceData

/// `/jobs/{id}`: the job's fields and arguments, its events, the actions its status allows,
/// and the waterfall of the trace it belongs to.
struct JobDetailPage {
  var job: JobSummary
  var events: [JobEvent]
  var trace: JobTrace
  var flash: String?

  func render(prefix: String, csrfToken: String) -> String {
    var body = "<h1>Job \(job.id) <small>\(HTML.escape(job.task))</small></h1>\n"
    if let flash { body += "<p class=\"flash\" id=\"flash\">\(HTML.escape(flash))</p>\n" }
    body += "<dl class=\"fields\" id=\"fields\">"
    let fields: [(String, String)] = [
      ("status", HTML.statusBadge(job.status) + (job.abortRequested ? " (abort requested)" : "")),
      ("task", HTML.escape(job.task)),
      (
        "queue",
        "<a href=\"\(HTML.escape(prefix))/jobs?queue=\(HTML.query(job.queue))\">\(HTML.escape(job.queue))</a>"
      ),
      ("attempts", String(job.attempts)),
      ("priority", String(job.priority)),
      ("lock", HTML.escape(job.lock ?? "—")),
      ("queueing lock", HTML.escape(job.queueingLock ?? "—")),
      ("scheduled at", HTML.time(job.scheduledAt)),
      (
        "worker",
        job.workerID.map { "<a href=\"\(HTML.escape(prefix))/jobs?worker=\($0)\">\($0)</a>" } ?? "—"
      ),
    ]
    for (name, value) in fields {
      body +=
        "<dt>\(name)</dt><dd id=\"field-\(name.replacingOccurrences(of: " ", with: "-"))\">\(value)</dd>"
    }
    body += "</dl>\n"

    let actions = Self.actions(for: job.status)
    if !actions.isEmpty {
      body += "<h2>Actions</h2>\n<div id=\"actions\">"
      for action in actions {
        body += HTML.actionForm(
          action: "\(prefix)/jobs/\(job.id)/\(action.rawValue)", label: action.label,
          csrfToken: csrfToken, style: action == .retry ? "" : "danger")
      }
      body += "</div>\n"
    }

    body +=
      "<h2>Arguments</h2>\n<pre id=\"args\">\(HTML.escape(Self.pretty(job.arguments)))</pre>\n"

    body += "<h2>Events</h2>\n"
    if events.isEmpty {
      body += "<p class=\"notice\">No event recorded.</p>\n"
    } else {
      body +=
        "<table id=\"events\"><tr><th>event</th><th>at</th><th class=\"num\">after the first</th></tr>\n"
      let first = events[0].at
      for event in events {
        body += "<tr><td>\(HTML.escape(event.type))</td><td>\(HTML.time(event.at))</td>"
        body +=
          "<td class=\"num\">+\(HTML.duration(seconds: event.at.timeIntervalSince(first)))</td></tr>\n"
      }
      body += "</table>\n"
    }

    body += "<h2>Trace</h2>\n"
    body += Waterfall(trace: trace).render()
    return body
  }

  /// What an operator may do to a job in `status`, as procrastinate allows it.
  enum Action: String, CaseIterable {
    case retry, cancel, abort

    var label: String {
      switch self {
      case .retry: "Retry now"
      case .cancel: "Cancel"
      case .abort: "Abort"
      }
    }
  }

  static func actions(for status: String) -> [Action] {
    switch status {
    case "failed": [.retry]
    case "todo": [.cancel]
    case "doing": [.abort]
    default: []
    }
  }

  /// The arguments as indented JSON; as they are when they are not JSON.
  static func pretty(_ json: String) -> String {
    guard
      let object = try? JSONSerialization.jsonObject(
        with: Data(json.utf8), options: [.fragmentsAllowed]),
      let data = try? JSONSerialization.data(
        withJSONObject: object,
        options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
    else { return json }
    return String(decoding: data, as: UTF8.self)
  }
}

/// The spans of the trace(s) a job belongs to, and why there are none when there are none.
struct JobTrace {
  /// The trace ids: from the job's `trace_context`, and from spans that name the job.
  var traceIDs: [String]
  var spans: [TraceSpan]
  /// Set when there is nothing to show: why.
  var missing: String?

  /// Finds the job's traces: the `traceparent` its arguments carry (`trace_context`, as the
  /// generated code and the Python guide put it), and every trace whose spans name its id.
  static func find(job: JobSummary, in store: SpanStore) -> JobTrace {
    var ids: [String] = []
    let carried = carriedTraceID(arguments: job.arguments)
    if let carried { ids.append(carried) }
    for id in store.traceIDs(jobID: job.id).sorted() where !ids.contains(id) { ids.append(id) }
    let spans = ids.flatMap { store.spans(traceID: $0) }
    var missing: String?
    if ids.isEmpty {
      missing =
        "This job's arguments carry no trace context, and no span received names job \(job.id)."
    } else if spans.isEmpty {
      let counts = store.counts
      missing =
        "Its trace \(ids[0]) has no span here: none was received for it (this dashboard holds the last \(store.capacity) spans; \(counts.received) received, \(counts.evicted) evicted). Point OTEL_EXPORTER_OTLP_ENDPOINT at this dashboard, or start it with --traces FILE."
    }
    return JobTrace(traceIDs: ids, spans: spans, missing: missing)
  }

  /// The trace id of `{"trace_context": {"traceparent": "00-<trace id>-<span id>-<flags>"}}`.
  static func carriedTraceID(arguments: String) -> String? {
    guard
      let object = try? JSONSerialization.jsonObject(with: Data(arguments.utf8)) as? [String: Any],
      let carrier = object["trace_context"] as? [String: Any],
      let parent = carrier["traceparent"] as? String
    else { return nil }
    let parts = parent.split(separator: "-")
    guard parts.count >= 4, parts[1].count == 32, parts[1].allSatisfy(\.isHexDigit),
      parts[1] != String(repeating: "0", count: 32)
    else { return nil }
    return parts[1].lowercased()
  }
}
