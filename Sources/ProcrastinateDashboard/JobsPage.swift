import Foundation
import Procrastinate

/// `/jobs`: filters by status, queue, task, lock and worker; newest first, a page at a time
/// through a keyset cursor (`before=<id>`), so that it stays fast with millions of jobs.
/// `stalled=1` lists the stalled jobs instead (few, on one page).
struct JobsPage {
  /// The filters as the query string gave them.
  struct Filters: Sendable, Equatable {
    var status: String?
    var queue: String?
    var task: String?
    var lock: String?
    var worker: String?
    var stalled = false
    var before: Int64?

    /// Reads the filters; an unknown status or a worker or cursor that is not a number is
    /// an error naming the parameter.
    init(query: [String: String]) throws(DashboardInputError) {
      func value(_ name: String) -> String? {
        query[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
      }
      status = value("status")
      if let status, JobStatus(rawValue: status) == nil {
        throw DashboardInputError(
          "status '\(status)' is not one of \(OverviewPage.statuses.joined(separator: ", "))")
      }
      queue = value("queue")
      task = value("task")
      lock = value("lock")
      worker = value("worker")
      if let worker, Int64(worker) == nil {
        throw DashboardInputError("worker '\(worker)' is not a worker id (a number)")
      }
      stalled = value("stalled") == "1"
      if let text = value("before") {
        guard let before = Int64(text) else {
          throw DashboardInputError("before '\(text)' is not a job id (a number)")
        }
        self.before = before
      }
    }

    var jobFilter: JobFilter {
      JobFilter(
        queue: queue, task: task, status: status.flatMap(JobStatus.init(rawValue:)), lock: lock,
        workerID: worker.flatMap { Int64($0) })
    }

    /// The query string of these filters, without the cursor.
    var queryString: String {
      [("status", status), ("queue", queue), ("task", task), ("lock", lock), ("worker", worker)]
        .compactMap { name, value in value.map { "\(name)=\(HTML.query($0))" } }
        .joined(separator: "&") + (stalled ? "&stalled=1" : "")
    }
  }

  static let pageSize = 50

  var filters: Filters
  var page: JobPage

  func render(prefix: String) -> String {
    var body = "<h1>\(filters.stalled ? "Stalled jobs" : "Jobs")</h1>\n"
    body += "<form class=\"filters\" method=\"get\" action=\"\(HTML.escape(prefix))/jobs\">"
    body += "<label>status<select name=\"status\"><option value=\"\">any</option>"
    for status in OverviewPage.statuses {
      body +=
        "<option\(filters.status == status ? " selected" : "")>\(status)</option>"
    }
    body += "</select></label>"
    for (name, value) in [
      ("queue", filters.queue), ("task", filters.task), ("lock", filters.lock),
      ("worker", filters.worker),
    ] {
      body +=
        "<label>\(name)<input name=\"\(name)\" value=\"\(HTML.escape(value ?? ""))\" size=\"14\"></label>"
    }
    body += "<button type=\"submit\">Filter</button>"
    body += " <a href=\"\(HTML.escape(prefix))/jobs\">clear</a></form>\n"

    if page.jobs.isEmpty {
      body += "<p class=\"notice\">No job matches.</p>\n"
    } else {
      body += """
        <table id="jobs"><tr><th class="num">id</th><th>task</th><th>queue</th><th>status</th>\
        <th class="num">attempts</th><th>scheduled</th><th>lock</th><th>worker</th><th>args</th></tr>

        """
      for job in page.jobs {
        body +=
          "<tr><td class=\"num\"><a href=\"\(HTML.escape(prefix))/jobs/\(job.id)\">\(job.id)</a></td>"
        body += "<td>\(HTML.escape(job.task))</td><td>\(HTML.escape(job.queue))</td>"
        body += "<td>\(HTML.statusBadge(job.status))</td><td class=\"num\">\(job.attempts)</td>"
        body += "<td>\(HTML.time(job.scheduledAt))</td><td>\(HTML.escape(job.lock ?? ""))</td>"
        body += "<td>\(job.workerID.map(String.init) ?? "")</td>"
        body += "<td class=\"args\"><code>\(HTML.escape(job.arguments))</code></td></tr>\n"
      }
      body += "</table>\n"
    }
    body += "<div class=\"pager\">"
    let base = "\(prefix)/jobs?\(filters.queryString)"
    if filters.before != nil { body += "<a href=\"\(HTML.escape(base))\">« newest</a>" }
    if let next = page.nextCursor {
      body += "<a id=\"older\" href=\"\(HTML.escape(base + "&before=\(next)"))\">older »</a>"
    }
    body += "</div>\n"
    return body
  }
}

/// A request the dashboard cannot serve as asked: a bad filter, a bad id. Answered `400`.
struct DashboardInputError: ProcrastinateError, CustomStringConvertible {
  let description: String

  init(_ description: String) { self.description = description }
}
