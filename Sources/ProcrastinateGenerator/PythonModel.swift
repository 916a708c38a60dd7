import Foundation
import ProcrastinateConventions

// What `tasks.py.mustache` renders: one Python module for procrastinate 3.10 from one or
// several validated specs, built by `EmittedPythonModule.init(_:)`. As for Swift
// (`EmittedModel.swift`), these types hold only data the template places: names, Python
// literals and expressions of spec values, type spellings, and the flags and lists its
// sections need. `TemplateContext` presents them to the template.

/// The module: every task of the specs it is generated from.
struct EmittedPythonModule: Sendable {
  /// The specs' file names, e.g. `jokes.tasks.yaml, reports.tasks.yaml`.
  let sources: String
  let tasks: [EmittedPythonTask]

  init(_ specs: [(spec: SpecFile, sourceName: String)]) {
    sources = specs.map(\.sourceName).joined(separator: ", ")
    tasks = specs.flatMap { spec, sourceName in
      spec.tasks.map { EmittedPythonTask($0, sourceName: sourceName) }
    }
  }
}

/// One task: its `_Task` description, its procrastinate task, its argument dataclass and
/// handler protocol, and its defer and implement functions.
struct EmittedPythonTask: Sendable {
  /// As written in the spec; stored in `procrastinate_jobs.task_name`.
  let name: String
  let nameLiteral: String
  /// `fetch_joke` for `fetch_joke`, `python_send_report` for `python.send_report`.
  let pythonName: String
  /// `FetchJoke`.
  let typeName: String
  let sourceLiteral: String
  let queueLiteral: String
  let priority: Int
  /// A string literal, or `None`.
  let lockLiteral: String
  let queueingLockLiteral: String
  /// `_Retry(...)` with the parameters the spec sets, or `None`.
  let retryExpression: String
  let relationLiteral: String
  /// A string literal, or `None` when the task sends and reads no trace context.
  let carrierLiteral: String
  let recordedArguments: [EmittedListItem]
  /// The sampling ratio as a literal, or nil when the spec sets none.
  let sampleLiteral: String?
  /// `True` for a periodic task.
  let periodicFlag: String
  let periodic: EmittedSchedule?
  let arguments: [EmittedPythonArgument]
  let hasArguments: Bool
  /// The dataclass's docstring body, escaped, lines indented for the class body.
  let docText: String

  init(_ task: TaskSpec, sourceName: String) {
    let literal = PythonNaming.stringLiteral
    name = task.name
    nameLiteral = literal(task.name)
    pythonName = PythonNaming.identifier(task.name)
    typeName = task.typeName
    sourceLiteral = literal(sourceName)
    queueLiteral = literal(task.queue)
    priority = task.priority
    lockLiteral = task.lock.map(literal) ?? "None"
    queueingLockLiteral = task.queueingLock.map(literal) ?? "None"
    retryExpression = task.retry.map(Self.retry) ?? "None"
    relationLiteral = literal(task.relation)
    carrierLiteral = task.carrier.map(literal) ?? "None"
    recordedArguments = EmittedListItem.list(task.recordedArguments.map(literal))
    sampleLiteral = task.sample.map { "\($0)" }
    periodicFlag = task.periodic == nil ? "False" : "True"
    periodic = task.periodic.map { cron in
      EmittedSchedule(cronLiteral: literal(cron), idLiteral: literal(task.periodicID))
    }
    arguments = task.arguments.map(EmittedPythonArgument.init)
    hasArguments = !task.arguments.isEmpty
    docText = PythonNaming.docText(
      PythonNaming.nonBlank(task.doc) ?? "The arguments of a ``\(task.name)`` job.",
      indent: "    ")
  }

  /// `_Retry(...)` with the parameters the spec sets, in `RetryStrategy`'s order.
  static func retry(_ retry: RetrySpec) -> String {
    var parameters: [String] = []
    if let maxAttempts = retry.maxAttempts { parameters.append("max_attempts=\(maxAttempts)") }
    for (key, value) in [
      ("wait", retry.wait), ("linear_wait", retry.linearWait),
      ("exponential_wait", retry.exponentialWait),
    ] where value != 0 {
      parameters.append("\(key)=\(EmittedRetry.number(value))")
    }
    return "_Retry(" + parameters.joined(separator: ", ") + ")"
  }
}

/// One argument: a `_Argument` of the task's description, a dataclass field, a keyword of the
/// handler protocol and of the defer functions.
struct EmittedPythonArgument: Sendable {
  /// As written: the JSON key and the Python keyword.
  let name: String
  let nameLiteral: String
  /// The Python annotation, e.g. `list[str] | None`.
  let pythonType: String
  /// The runtime's description of the type, e.g. `_optional(_list(_STR))`.
  let kindExpression: String
  /// `True` when the argument has no default.
  let requiredFlag: String
  /// The default as a Python literal; `nil` when the argument is required.
  let defaultLiteral: String?
  /// The dataclass field's default: the literal, or a factory for a list.
  let fieldDefault: String?
  /// Whether the default is a list, which a defer function's signature shares between calls.
  let mutableDefault: Bool
  /// The field's docstring body, escaped; `nil` when the spec gives none.
  let fieldDoc: String?

  init(_ argument: ArgumentSpec) {
    name = argument.name
    nameLiteral = PythonNaming.stringLiteral(argument.name)
    pythonType = PythonNaming.annotation(argument.type)
    kindExpression = PythonNaming.kind(argument.type)
    requiredFlag = argument.defaultValue == nil ? "True" : "False"
    let literal = argument.defaultValue.map(PythonNaming.literal)
    defaultLiteral = literal
    if case .array = argument.defaultValue, let literal {
      fieldDefault = "dataclasses.field(default_factory=lambda: \(literal))"
      mutableDefault = true
    } else {
      fieldDefault = literal
      mutableDefault = false
    }
    fieldDoc = PythonNaming.nonBlank(argument.doc).map { PythonNaming.docText($0, indent: "    ") }
  }
}

/// Spec names, types and values in Python.
enum PythonNaming {
  /// A Python identifier for a task name: its words joined by `_` (`python.send_report` →
  /// `python_send_report`).
  static func identifier(_ taskName: String) -> String {
    Naming.words(taskName).joined(separator: "_")
  }

  /// The public names a task's part of the module defines (its private ones, `_task__<name>`
  /// and `_run__<name>`, cannot meet another task's or the runtime's: no Python name of a
  /// task holds `__`).
  static func publicNames(typeName: String, pythonName: String) -> [String] {
    ["\(typeName)Args", "\(typeName)Handler"]
      + ["", "_async", "_batch", "_batch_async"].map { "defer_\(pythonName)\($0)" }
      + ["implement_\(pythonName)"]
  }

  /// `text`, or nil when it is nil or only white space (an empty docstring fails ruff).
  static func nonBlank(_ text: String?) -> String? {
    guard let text, !text.allSatisfy(\.isWhitespace) else { return nil }
    return text
  }

  /// A double-quoted Python string literal.
  static func stringLiteral(_ text: String) -> String {
    TextEscaping.quoted(text) { "\\x" + (($0 < 0x10) ? "0" : "") + String($0, radix: 16) }
  }

  /// A docstring's body: `"` and `\` escaped so that no line can close or break it, later
  /// lines indented for the body it sits in.
  static func docText(_ text: String, indent: String) -> String {
    let lines = EmittedTask.lines(text).map { line in
      TextEscaping.escaping(line) { scalar in
        switch scalar {
        case "\\": "\\\\"
        case "\"": "\\\""
        case _ where scalar.value < 0x20: " "
        default: nil
        }
      }
    }
    return lines.joined(separator: "\n" + indent)
  }

  /// The annotation of a spec type.
  static func annotation(_ type: ArgumentType) -> String {
    switch type {
    case .string: "str"
    case .int: "int"
    case .double: "float"
    case .bool: "bool"
    case .date: "datetime.datetime"
    case .json: "JSON"
    case .array(let element): "list[\(annotation(element))]"
    case .optional(let wrapped): "\(annotation(wrapped)) | None"
    }
  }

  /// The runtime's description of a spec type.
  static func kind(_ type: ArgumentType) -> String {
    switch type {
    case .string: "_STR"
    case .int: "_INT"
    case .double: "_FLOAT"
    case .bool: "_BOOL"
    case .date: "_DATETIME"
    case .json: "_JSON"
    case .array(let element): "_list(\(kind(element)))"
    case .optional(let wrapped): "_optional(\(kind(wrapped)))"
    }
  }

  /// A spec value as a Python literal.
  static func literal(_ value: SpecValue) -> String {
    switch value {
    case .null: "None"
    case .string(let text): stringLiteral(text)
    case .int(let number): String(number)
    case .double(let number): "\(number)"
    case .bool(let flag): flag ? "True" : "False"
    case .array(let items): "[" + items.map(literal).joined(separator: ", ") + "]"
    }
  }
}
