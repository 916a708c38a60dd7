import ArgumentParser
import Foundation
import Procrastinate

/// Prints rows as an aligned table, or as JSON with `--json`.
struct Output: ParsableArguments {
  @Flag(help: "Print JSON instead of a table.") var json = false

  func print<Value: Encodable>(_ value: Value, table: () -> [[String]]) throws {
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      encoder.dateEncodingStrategy = .iso8601
      Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
      return
    }
    let rows = table()
    guard let header = rows.first else { return }
    var widths = header.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
    }
    for (index, row) in rows.enumerated() {
      Swift.print(
        row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
          .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
      if index == 0 {
        Swift.print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
      }
    }
  }
}

extension JobStatus: ExpressibleByArgument {}

func jobTable(_ jobs: [JobSummary]) -> [[String]] {
  [
    [
      "id", "queue", "task", "status", "attempts", "priority", "lock", "queueing lock", "scheduled",
      "worker", "args",
    ]
  ]
    + jobs.map { job in
      [
        String(job.id), job.queue, job.task,
        job.status + (job.abortRequested ? " (abort requested)" : ""),
        String(job.attempts), String(job.priority), job.lock ?? "", job.queueingLock ?? "",
        job.scheduledAt.map { $0.ISO8601Format() } ?? "", job.workerID.map(String.init) ?? "",
        job.arguments.count > 60 ? String(job.arguments.prefix(57)) + "..." : job.arguments,
      ]
    }
}

/// `jobs`: list jobs with filters.
package struct JobsCommand: AsyncParsableCommand {
  package static let configuration = CommandConfiguration(
    commandName: "jobs", abstract: "List jobs, oldest first, with optional filters.")

  @OptionGroup var database: DatabaseOptions
  @OptionGroup var output: Output
  @Option(help: "Only this job.") var id: Int64?
  @Option(help: "Only this queue.") var queue: String?
  @Option(help: "Only this task name.") var task: String?
  @Option(help: "Only this status: todo, doing, succeeded, failed, cancelled, aborted.")
  var status: JobStatus?
  @Option(help: "Only this lock.") var lock: String?
  @Option(help: "Only this queueing lock.") var queueingLock: String?
  @Option(help: "Only jobs of this worker id.") var worker: Int64?
  @Option(help: "At most this many jobs.") var limit = 100

  package init() {}

  package func run() async throws {
    let app = try database.makeApp()
    let jobs = try await app.jobs(
      JobFilter(
        id: id, queue: queue, task: task, status: status, lock: lock, queueingLock: queueingLock,
        workerID: worker, limit: limit))
    try output.print(jobs) { jobTable(jobs) }
    await app.close()
  }
}

/// What `queues`, `tasks` and `locks` count jobs by.
package enum CountedColumn: Sendable {
  case queue, task, lock

  var commandName: String { "\(self)s" }
  var abstract: String {
    switch self {
    case .queue: "Job counts per queue, by status."
    case .task: "Job counts per task, by status."
    case .lock: "Job counts per lock, by status (jobs with a lock only)."
    }
  }

  func counts(_ app: ProcrastinateApp) async throws -> [JobCounts] {
    switch self {
    case .queue: try await app.queueCounts()
    case .task: try await app.taskCounts()
    case .lock: try await app.lockCounts()
    }
  }
}

/// Names one ``CountedColumn`` as a type, so that each counts command is a type of its own.
package protocol CountedColumnType: Sendable { static var column: CountedColumn { get } }
package enum QueueColumn: CountedColumnType { package static var column: CountedColumn { .queue } }
package enum TaskColumn: CountedColumnType { package static var column: CountedColumn { .task } }
package enum LockColumn: CountedColumnType { package static var column: CountedColumn { .lock } }

/// `queues`, `tasks`, `locks`: job counts by status, one row per queue, task or lock.
package struct CountsCommand<Column: CountedColumnType>: AsyncParsableCommand {
  package static var configuration: CommandConfiguration {
    CommandConfiguration(
      commandName: Column.column.commandName, abstract: Column.column.abstract)
  }
  @OptionGroup var database: DatabaseOptions
  @OptionGroup var output: Output
  package init() {}

  package func run() async throws {
    let app = try database.makeApp()
    let counts = try await Column.column.counts(app)
    await app.close()
    let statuses = ["todo", "doing", "succeeded", "failed", "cancelled", "aborted"]
    try output.print(counts) {
      [["\(Column.column)"] + statuses + ["total"]]
        + counts.map { row in
          [row.name] + statuses.map { String(row.counts[$0] ?? 0) } + [String(row.total)]
        }
    }
  }
}

package typealias QueuesCommand = CountsCommand<QueueColumn>
package typealias TasksCommand = CountsCommand<TaskColumn>
package typealias LocksCommand = CountsCommand<LockColumn>

/// `retry ID`: a failed job runs again.
package struct RetryCommand: AsyncParsableCommand {
  package static let configuration = CommandConfiguration(
    commandName: "retry", abstract: "Send a failed job back to todo, to run now.")
  @Argument(help: "The job id.") var id: Int64
  @OptionGroup var database: DatabaseOptions
  package init() {}
  package func run() async throws {
    let app = try database.makeApp()
    let retried = try await app.retryJob(id: id)
    let status = try await app.jobStatus(id: id)
    await app.close()
    guard retried else {
      FileHandle.standardError.write(
        Data(
          "error: job \(id) \(status.map { "is \($0.status.rawValue), not failed" } ?? "does not exist"); only failed jobs can be retried (stalled ones: 'stalled --retry')\n"
            .utf8))
      throw ExitCode(1)
    }
    print("job \(id) is back in todo")
  }
}

/// `cancel ID [--abort] [--delete]`.
package struct CancelCommand: AsyncParsableCommand {
  package static let configuration = CommandConfiguration(
    commandName: "cancel",
    abstract: "Cancel a waiting job, delete it, or ask a running one to abort.")
  @Argument(help: "The job id.") var id: Int64
  @Flag(help: "Also ask a running job to stop (its worker learns by NOTIFY).") var abort = false
  @Flag(help: "Delete a waiting job instead of marking it cancelled.") var delete = false
  @OptionGroup var database: DatabaseOptions
  package init() {}
  package func run() async throws {
    let app = try database.makeApp()
    let acted = try await app.cancelJob(id: id, abort: abort, delete: delete)
    let status = try await app.jobStatus(id: id)
    await app.close()
    guard acted else {
      FileHandle.standardError.write(
        Data(
          "error: nothing done: job \(id) \(status.map { "is \($0.status.rawValue)" } ?? "does not exist")\(abort ? "" : "; a running job needs --abort")\n"
            .utf8))
      throw ExitCode(1)
    }
    if let status {
      print(
        "job \(id) is \(status.status.rawValue)\(abort && status.status == .doing ? ", abort requested" : "")"
      )
    } else {
      print("job \(id) was deleted")
    }
  }
}

/// `stalled [--retry]`.
package struct StalledCommand: AsyncParsableCommand {
  package static let configuration = CommandConfiguration(
    commandName: "stalled",
    abstract: "List jobs in doing whose worker is gone or silent; --retry gives them back.")
  @Option(help: "Seconds without a heartbeat after which a worker counts as gone.")
  var seconds: Double = 30
  @Flag(help: "Send the stalled jobs back to todo.") var retry = false

  package func validate() throws {
    guard seconds.isFinite, (1...31_536_000).contains(seconds) else {
      throw ValidationError("--seconds must be between 1 and 31536000 (a worker beats every 10 s)")
    }
  }
  @OptionGroup var database: DatabaseOptions
  @OptionGroup var output: Output
  package init() {}
  package func run() async throws {
    let app = try database.makeApp()
    let timeout = Duration.milliseconds(Int(seconds * 1000))
    if retry {
      let retried = try await app.retryStalledJobs(heartbeatTimeout: timeout)
      if output.json {
        try output.print(retried) { [] }
      } else {
        print(
          retried.isEmpty
            ? "no stalled job" : "back in todo: \(retried.map(String.init).joined(separator: ", "))"
        )
      }
    } else {
      let jobs = try await app.stalledJobs(heartbeatTimeout: timeout)
      try output.print(jobs) { jobTable(jobs) }
    }
    await app.close()
  }
}
