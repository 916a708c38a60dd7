import Foundation
import Procrastinate
import ProcrastinateCron

/// `/`: queues with counts by status, workers with their last heartbeat, periodic schedules,
/// failed and stalled counts, and what the span receiver holds.
struct OverviewPage {
  static let statuses = [
    "todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted",
  ]

  var queues: [JobCounts]
  /// When the counts were taken (they are kept for ``DashboardOptions/countsMaximumAge``).
  var countedAt: Date
  var workers: [WorkerHeartbeat]
  var periodic: [PeriodicTick]
  var schedules: [PeriodicTask]
  var stalled: Int
  var spans: SpanStore.Counts
  var spanCapacity: Int
  /// A worker silent for longer than this is marked.
  var silentAfter: Double
  var now: Date

  func render(prefix: String) -> String {
    let total = { (status: String) in queues.reduce(0) { $0 + ($1.counts[status] ?? 0) } }
    var body = "<h1>Overview</h1>\n<div class=\"cards\">"
    for (status, alert) in [("todo", false), ("doing", false), ("failed", true)] {
      let count = total(status)
      body +=
        "<a class=\"card\(alert && count > 0 ? " alert" : "")\" id=\"card-\(status)\" href=\"\(HTML.escape(prefix))/jobs?status=\(status)\">\(status)<b>\(count)</b></a>"
    }
    body +=
      "<a class=\"card\(stalled > 0 ? " alert" : "")\" id=\"card-stalled\" href=\"\(HTML.escape(prefix))/jobs?stalled=1\">stalled<b>\(stalled)</b></a>"
    body += "</div>\n"

    body +=
      "<h2>Queues <small class=\"muted\" id=\"counted\">counted \(HTML.duration(seconds: max(0, now.timeIntervalSince(countedAt)))) ago</small></h2>\n"
    if queues.isEmpty {
      body += "<p class=\"notice\">No jobs yet.</p>\n"
    } else {
      body += "<table id=\"queues\"><tr><th>queue</th>"
      body += Self.statuses.map { "<th class=\"num\">\($0)</th>" }.joined()
      body += "<th class=\"num\">total</th></tr>\n"
      for queue in queues {
        let link = "\(prefix)/jobs?queue=\(HTML.query(queue.name))"
        body += "<tr><td><a href=\"\(HTML.escape(link))\">\(HTML.escape(queue.name))</a></td>"
        for status in Self.statuses {
          let count = queue.counts[status] ?? 0
          body +=
            count == 0
            ? "<td class=\"num muted\">0</td>"
            : "<td class=\"num\"><a href=\"\(HTML.escape(link + "&status=" + status))\">\(count)</a></td>"
        }
        body += "<td class=\"num\">\(queue.total)</td></tr>\n"
      }
      body += "</table>\n"
    }

    body += "<h2>Workers</h2>\n"
    if workers.isEmpty {
      body += "<p class=\"notice\">No worker is registered.</p>\n"
    } else {
      body +=
        "<table id=\"workers\"><tr><th>worker</th><th>last heartbeat</th><th class=\"num\">running jobs</th></tr>\n"
      for worker in workers {
        let silent = worker.silentFor > silentAfter
        body +=
          "<tr><td><a href=\"\(HTML.escape(prefix))/jobs?worker=\(worker.id)\">\(worker.id)</a></td>"
        body +=
          "<td>\(HTML.duration(seconds: worker.silentFor)) ago\(silent ? " <span class=\"silent\">silent</span>" : "")</td>"
        body += "<td class=\"num\">\(worker.running)</td></tr>\n"
      }
      body += "</table>\n"
    }

    body += "<h2>Periodic tasks</h2>\n"
    let rows = periodicRows()
    if rows.isEmpty {
      body += "<p class=\"notice\">No periodic task has ticked, and none is registered here.</p>\n"
    } else {
      body +=
        "<table id=\"periodic\"><tr><th>task</th><th>periodic id</th><th>schedule</th><th>last tick</th><th>next tick</th><th>last job</th></tr>\n"
      for row in rows {
        body += "<tr><td>\(HTML.escape(row.task))</td><td>\(HTML.escape(row.periodicID))</td>"
        body +=
          "<td>\(row.cron.map { "<code>\(HTML.escape($0))</code>" } ?? "<span class=\"muted\">not registered here</span>")</td>"
        body += "<td>\(HTML.time(row.lastTick))</td><td>\(HTML.time(row.nextTick))</td>"
        body +=
          "<td>\(row.jobID.map { "<a href=\"\(HTML.escape(prefix))/jobs/\($0)\">\($0)</a>" } ?? "—")</td></tr>\n"
      }
      body += "</table>\n"
    }

    body += "<h2>Traces</h2>\n<p id=\"spans\">\(spans.kept) spans kept (at most \(spanCapacity)), "
    body += "\(spans.received) received, \(spans.evicted) evicted as the oldest"
    if spans.rejectedBodies > 0 { body += ", \(spans.rejectedBodies) request bodies refused" }
    body += ". Send OTLP/HTTP to <code>\(HTML.escape(prefix))/v1/traces</code>.</p>\n"
    return body
  }

  private struct PeriodicRow {
    var task: String
    var periodicID: String
    var cron: String?
    var lastTick: Date?
    var nextTick: Date?
    var jobID: Int64?
  }

  /// The schedules registered here and the ticks the database recorded, merged.
  private func periodicRows() -> [PeriodicRow] {
    var rows = periodic.map {
      PeriodicRow(
        task: $0.task, periodicID: $0.periodicID, cron: nil, lastTick: $0.lastTick, nextTick: nil,
        jobID: $0.jobID)
    }
    for schedule in schedules {
      let next = (try? Cron(schedule.cron))?.next(after: now)
      if let index = rows.firstIndex(where: {
        $0.task == schedule.task.name && $0.periodicID == schedule.periodicID
      }) {
        rows[index].cron = schedule.cron
        rows[index].nextTick = next
      } else {
        rows.append(
          PeriodicRow(
            task: schedule.task.name, periodicID: schedule.periodicID, cron: schedule.cron,
            nextTick: next))
      }
    }
    return rows.sorted { ($0.task, $0.periodicID) < ($1.task, $1.periodicID) }
  }
}
