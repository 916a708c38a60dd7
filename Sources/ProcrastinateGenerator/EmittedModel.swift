import Foundation
import ProcrastinateConventions

// What `tasks.swift.mustache` renders: one value per declaration the generated file holds,
// built from a validated `SpecFile` by `EmittedFile.init(_:sourceName:access:)`. The template
// decides the shape of the code; these types hold only data: names, Swift literals of spec
// values, type spellings, doc lines, and the flags and lists the template's sections need.
//
// The template reads them as `TemplateContext` presents them (their stored properties), so:
// - every value the template names is a stored property (computed properties are invisible);
// - a `Bool` switches a section, an array repeats it, an optional that is `nil` is absent
//   (the template's `{{^name}}` branch runs);
// - a name that is absent or `nil` in the current value is looked up in the enclosing ones
//   (an argument's in its task's, then in the file's), so a property name means one thing
//   at every level: `access` and `source` are the file's, read from inside tasks and arguments.

/// One generated file: the spec's tasks and its handler protocol.
struct EmittedFile: Sendable {
  /// The spec's file name, e.g. `jokes.tasks.yaml`.
  let source: String
  /// The access keyword and a space (`public `, `package `), put before every declaration;
  /// empty for `internal`, which the generated code leaves implicit.
  let access: String
  /// The handler protocol, e.g. `JokesTasks`.
  let protocolName: String
  let tasks: [EmittedTask]

  /// The model of the file generated from `spec`, read from `sourceName`, with declarations of
  /// the access level `access`.
  init(_ spec: SpecFile, sourceName: String, access: Generator.AccessModifier) {
    self.source = sourceName
    self.access = access == .internal ? "" : access.rawValue + " "
    self.protocolName = spec.protocolName
    self.tasks = spec.tasks.map(EmittedTask.init)
  }
}

/// One task: its namespace enum with the definition, arguments and defer functions, its
/// protocol requirement and its registration.
struct EmittedTask: Sendable {
  /// As written in the spec; stored in `procrastinate_jobs.task_name`.
  let name: String
  let nameLiteral: String
  /// `FetchJoke` for `fetch_joke`.
  let typeName: String
  /// `fetchJoke` for `fetch_joke`.
  let methodName: String
  /// The spec's `doc`, one element per line; empty when there is none.
  let docLines: [String]
  let queue: String
  let queueLiteral: String
  let priority: Int
  /// A string literal, or the literal `nil` when the task declares no lock.
  let lockLiteral: String
  /// A string literal, or the literal `nil` when the task declares no queueing lock.
  let queueingLockLiteral: String
  /// `nil` when the task is not retried.
  let retry: EmittedRetry?
  /// A case of `TraceRelation`: `child`, `link` or `none`.
  let relation: String
  /// A string literal, or the literal `nil` when the task sends and reads no trace context.
  let carrierLiteral: String
  /// The arguments copied onto spans, as string literals.
  let recordedArguments: [EmittedListItem]
  /// The sampling ratio as a literal, or nil when the spec sets none.
  let sampleLiteral: String?
  let arguments: [EmittedArgument]
  let hasArguments: Bool
  /// The keys a job's arguments may hold, as string literals: the arguments, the carrier,
  /// and `timestamp` for a periodic task.
  let allowedKeys: [EmittedListItem]
  /// `nil` when the task is not periodic.
  let periodic: EmittedSchedule?

  init(_ task: TaskSpec) {
    let literal = Naming.stringLiteral
    name = task.name
    nameLiteral = literal(task.name)
    typeName = task.typeName
    methodName = task.methodName
    docLines = EmittedTask.lines(task.doc)
    queue = task.queue
    queueLiteral = literal(task.queue)
    priority = task.priority
    lockLiteral = task.lock.map(literal) ?? "nil"
    queueingLockLiteral = task.queueingLock.map(literal) ?? "nil"
    retry = task.retry.map(EmittedRetry.init)
    relation = task.relation
    carrierLiteral = task.carrier.map(literal) ?? "nil"
    recordedArguments = EmittedListItem.list(task.recordedArguments.map(literal))
    sampleLiteral = task.sample.map { "\($0)" }
    arguments = task.arguments.enumerated().map { index, argument in
      EmittedArgument(argument, last: index == task.arguments.count - 1)
    }
    hasArguments = !task.arguments.isEmpty
    var keys = task.arguments.map(\.name)
    if let carrier = task.carrier { keys.append(carrier) }
    if task.periodic != nil { keys.append(Conventions.periodicTimestampArgument) }
    allowedKeys = EmittedListItem.list(Array(Set(keys)).sorted().map(literal))
    periodic = task.periodic.map { cron in
      EmittedSchedule(cronLiteral: literal(cron), idLiteral: literal(task.periodicID))
    }
  }

  /// The lines of a doc comment: trimmed, blank lines inside kept.
  static func lines(_ text: String?) -> [String] {
    guard let text, !text.isEmpty else { return [] }
    return text.trimmingCharacters(in: .whitespacesAndNewlines).split(
      separator: "\n", omittingEmptySubsequences: false
    ).map { String($0.trimmingCharacters(in: .whitespaces)) }
  }
}

/// One argument of a task: a stored property of `Arguments`, a parameter of the defer
/// functions and of the protocol requirement, and a JSON key.
struct EmittedArgument: Sendable {
  /// The Swift name, e.g. `userId`.
  let swiftName: String
  /// The JSON key as a string literal, when it differs from `swiftName` (`"user_id"`).
  let keyLiteral: String?
  /// The Swift type, e.g. `[String]?`.
  let type: String
  /// The type the decoder reads: `type` without its optional wrapper.
  let decodedType: String
  /// The parameters' default value as a Swift literal (`nil` for an optional argument);
  /// `nil` when the argument is required.
  let defaultLiteral: String?
  /// Whether a missing key is allowed: the argument is optional or has a default.
  let decodesIfPresent: Bool
  /// The value a missing key decodes to, when it is not `nil`.
  let fallbackLiteral: String?
  /// The argument's `doc`, one element per line.
  let docLines: [String]
  /// Whether this is the task's last argument (no separator after it).
  let last: Bool

  init(_ argument: ArgumentSpec, last: Bool) {
    self.swiftName = argument.swiftName
    self.keyLiteral =
      argument.name == argument.swiftName ? nil : Naming.stringLiteral(argument.name)
    self.type = argument.type.description
    self.decodedType = argument.type.unwrapped.description
    let literal = argument.defaultValue.map(Self.literal)
    self.defaultLiteral = literal
    self.decodesIfPresent = argument.type.isOptional || literal != nil
    self.fallbackLiteral = argument.defaultValue == .null ? nil : literal
    self.docLines = EmittedTask.lines(argument.doc)
    self.last = last
  }
}

extension EmittedArgument {
  /// `value` as a Swift literal.
  static func literal(_ value: SpecValue) -> String {
    switch value {
    case .null: "nil"
    case .string(let text): Naming.stringLiteral(text)
    case .int(let number): String(number)
    case .double(let number): "\(number)"
    case .bool(let flag): flag ? "true" : "false"
    case .array(let items): "[" + items.map(literal).joined(separator: ", ") + "]"
    }
  }
}

/// A task's `RetryStrategy`: each parameter the spec sets; the others keep the runtime's
/// defaults and are left out.
struct EmittedRetry: Sendable {
  let maxAttempts: EmittedRetryParameter?
  let wait: EmittedRetryParameter?
  let linearWait: EmittedRetryParameter?
  let exponentialWait: EmittedRetryParameter?

  init(_ retry: RetrySpec) {
    // In `RetryStrategy(...)`'s parameter order; zero waits are the defaults.
    let values: [String?] = [
      retry.maxAttempts.map { String($0) },
      retry.wait == 0 ? nil : EmittedRetry.number(retry.wait),
      retry.linearWait == 0 ? nil : EmittedRetry.number(retry.linearWait),
      retry.exponentialWait == 0 ? nil : EmittedRetry.number(retry.exponentialWait),
    ]
    var parameters: [EmittedRetryParameter?] = []
    var first = true
    for value in values {
      parameters.append(value.map { EmittedRetryParameter(value: $0, first: first) })
      if value != nil { first = false }
    }
    maxAttempts = parameters[0]
    wait = parameters[1]
    linearWait = parameters[2]
    exponentialWait = parameters[3]
  }

  /// A number of seconds as a Swift literal: `2` rather than `2.0`, `1.5` as it is.
  static func number(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }
}

/// One parameter of `RetryStrategy(...)` that the spec sets.
struct EmittedRetryParameter: Sendable {
  /// A Swift number literal.
  let value: String
  /// Whether no parameter comes before it (no separator before it).
  let first: Bool
}

/// A periodic task's schedule, passed to `registerPeriodic`.
struct EmittedSchedule: Sendable {
  /// The cron expression as a string literal.
  let cronLiteral: String
  /// The `periodic_id` as a string literal.
  let idLiteral: String
}

/// An element of a Swift array literal.
struct EmittedListItem: Sendable {
  /// The element as a Swift literal.
  let literal: String
  /// Whether this is the last element (no separator after it).
  let last: Bool

  /// `literals` with the last one marked.
  static func list(_ literals: [String]) -> [EmittedListItem] {
    literals.enumerated().map { index, literal in
      EmittedListItem(literal: literal, last: index == literals.count - 1)
    }
  }
}
