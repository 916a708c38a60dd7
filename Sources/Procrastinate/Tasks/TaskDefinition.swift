import Foundation
import ProcrastinateConventions

/// How a job's span relates to the span that deferred it.
public enum TraceRelation: String, Sendable, CaseIterable {
  /// The job span is a child of the producer span: one trace from request to job.
  case child
  /// The job span starts a new trace and links to the producer span.
  case link
  /// The job span starts a new trace; the carried context is ignored.
  case none
}

/// What a task declares about tracing.
public struct TaskTraceOptions: Sendable {
  /// How the job span relates to the producer span.
  public var relation: TraceRelation
  /// The args key that carries `{"traceparent": …, "tracestate": …}`; `nil` sends and reads none.
  public var carrier: String?
  /// Arguments copied onto both spans as `procrastinate.task.args.<name>` (none by default:
  /// arguments may hold personal data).
  public var recordedArguments: [String]
  /// The share of the task's root jobs traced, 0 to 1 (a spec's `trace: { sample: 0.1 }`);
  /// nil leaves every decision to the tracer. Only roots are drawn: a defer outside any
  /// trace, or a run whose job carries no context to continue. A job deferred inside a
  /// sampled trace stays sampled, and one whose defer was left out runs unsampled too, so a
  /// trace never breaks halfway. It takes effect under tracers that follow their parent's
  /// sampled flag (`parentbased_*` samplers: ours and swift-otel's by default).
  public var sampleRatio: Double?

  /// By default: a child span, the context under `trace_context`, no arguments recorded,
  /// sampling left to the tracer.
  ///
  /// - Precondition: `sampleRatio` is nil or between 0 and 1.
  public init(
    relation: TraceRelation = .child, carrier: String? = TracingKeys.defaultCarrier,
    recordedArguments: [String] = [], sampleRatio: Double? = nil
  ) {
    precondition(
      sampleRatio.map { (0...1).contains($0) } ?? true,
      "TaskTraceOptions: sampleRatio \(sampleRatio ?? 0) is not between 0 and 1")
    self.relation = relation
    self.carrier = carrier
    self.recordedArguments = recordedArguments
    self.sampleRatio = sampleRatio
  }
}

/// A task as a spec declares it: its name, default defer options, retry strategy and
/// tracing. Generated code holds one per task; you can declare one by hand too.
public struct TaskDefinition: Sendable {
  /// The name stored in `procrastinate_jobs.task_name`, exactly as written in the spec.
  public let name: String
  /// Queue, priority and locks used when a defer does not override them.
  public let defaults: DeferOptions
  /// How failed jobs of the task are retried; `nil` never retries them.
  public let retry: RetryStrategy?
  /// How the task's spans relate, where the context is carried, which arguments are recorded.
  public let trace: TaskTraceOptions

  /// A task named `name`; by default on the `default` queue, never retried, traced as a child.
  public init(
    name: String, defaults: DeferOptions = DeferOptions(), retry: RetryStrategy? = nil,
    trace: TaskTraceOptions = TaskTraceOptions()
  ) {
    self.name = name
    self.defaults = defaults
    self.retry = retry
    self.trace = trace
  }
}

/// Per-defer changes to a task's declared options; what is left `nil` keeps the spec's value.
public struct DeferOverrides: Sendable {
  /// The queue to use instead of the task's, when set.
  public var queue: String?
  /// The priority to use instead of the task's, when set.
  public var priority: Int32?
  /// The lock to use instead of the task's, when set.
  public var lock: String?
  /// The queueing lock to use instead of the task's, when set.
  public var queueingLock: String?
  /// When the job may start, instead of the task's schedule, when set.
  public var schedule: DeferOptions.Schedule?

  /// Overrides with `schedule` as given; every `nil` keeps the task's value.
  public init(
    queue: String? = nil, priority: Int32? = nil, lock: String? = nil, queueingLock: String? = nil,
    schedule: DeferOptions.Schedule? = nil
  ) {
    (self.queue, self.priority, self.lock, self.queueingLock, self.schedule) =
      (queue, priority, lock, queueingLock, schedule)
  }

  /// Runs the job no earlier than `date`.
  public init(
    queue: String? = nil, priority: Int32? = nil, lock: String? = nil, queueingLock: String? = nil,
    scheduledAt date: Date
  ) {
    self.init(
      queue: queue, priority: priority, lock: lock, queueingLock: queueingLock, schedule: .at(date))
  }

  /// Runs the job after `delay`.
  public init(
    queue: String? = nil, priority: Int32? = nil, lock: String? = nil, queueingLock: String? = nil,
    scheduleIn delay: Duration
  ) {
    self.init(
      queue: queue, priority: priority, lock: lock, queueingLock: queueingLock, schedule: .in(delay)
    )
  }

  /// The options of a job: these overrides over `defaults`.
  public func applied(to defaults: DeferOptions) -> DeferOptions {
    DeferOptions(
      queue: queue ?? defaults.queue, priority: priority ?? defaults.priority,
      lock: lock ?? defaults.lock, queueingLock: queueingLock ?? defaults.queueingLock,
      schedule: schedule ?? defaults.schedule)
  }
}

/// The arguments of a job did not decode into the task's argument type.
public struct TaskArgumentsError: ProcrastinateError, Sendable, Equatable, CustomStringConvertible {
  /// The task whose job's arguments did not decode.
  public let task: String
  /// The argument (JSON key path) at fault; empty when the whole object is.
  public let field: String
  /// What is wrong with it, e.g. `is missing` or `is null, expected Int`.
  public let problem: String

  /// The error for `field` of `task`'s arguments.
  public init(task: String, field: String, problem: String) {
    self.task = task
    self.field = field
    self.problem = problem
  }

  /// The message: the task, the argument and what is wrong with it.
  public var description: String {
    field.isEmpty
      ? "task '\(task)': its arguments do not decode: \(problem)"
      : "task '\(task)': argument '\(field)' \(problem)"
  }

  init(task: String, decoding error: any Error) {
    func path(_ context: DecodingError.Context) -> String {
      context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }
    switch error {
    case let keys as TaskArgumentsError:
      self.init(task: task, field: keys.field, problem: keys.problem)
    case DecodingError.keyNotFound(let key, let context):
      let parent = path(context)
      self.init(
        task: task, field: parent.isEmpty ? key.stringValue : "\(parent).\(key.stringValue)",
        problem: "is missing")
    case DecodingError.typeMismatch(let type, let context):
      self.init(task: task, field: path(context), problem: "is not a valid \(type)")
    case DecodingError.valueNotFound(let type, let context):
      self.init(task: task, field: path(context), problem: "is null, expected \(type)")
    case DecodingError.dataCorrupted(let context):
      self.init(
        task: task, field: path(context), problem: "is invalid: \(context.debugDescription)")
    default:
      self.init(task: task, field: "", problem: "\(error)")
    }
  }
}

/// The JSON coding of typed task arguments. Dates are written as ISO 8601 with milliseconds
/// and `Z` (Python 3.11's `datetime.fromisoformat` reads them) and read in any ISO 8601 form
/// Python writes: with or without fractional seconds, `Z` or an offset, or naive (taken as UTC).
package enum TaskArgumentCoding {
  package static func encoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .custom { date, encoder in
      var container = encoder.singleValueContainer()
      try container.encode(
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }
    encoder.outputFormatting = .sortedKeys
    return encoder
  }

  package static func decoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .custom { decoder in
      let container = try decoder.singleValueContainer()
      let text = try container.decode(String.self)
      guard let date = parseDate(text) else {
        throw DecodingError.dataCorruptedError(
          in: container,
          debugDescription: "'\(text)' is not an ISO 8601 date such as 2026-11-25T10:00:00Z")
      }
      return date
    }
    return decoder
  }

  package static func parseDate(_ text: String) -> Date? {
    let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    let withoutFraction = Date.ISO8601FormatStyle()
    for candidate in [text, text + "Z"] {
      if let date = try? withFraction.parse(candidate) { return date }
      if let date = try? withoutFraction.parse(candidate) { return date }
    }
    return nil
  }
}
