import Foundation
import ProcrastinateConventions
import ProcrastinateCron
import Yams

/// Reads a `*.tasks.yaml` file into a ``SpecFile``, collecting every problem with its
/// position instead of stopping at the first.
public struct SpecParser {
  /// How a spec file's name ends; the rest of the name gives the protocol's.
  public static let fileSuffix = ".tasks.yaml"

  let path: String
  var diagnostics: [Diagnostic] = []

  /// Parses `text`, the contents of the spec at `path`.
  public static func parse(_ text: String, path: String) throws(SpecErrors) -> SpecFile {
    var parser = SpecParser(path: path)
    let spec = parser.file(text)
    if !parser.diagnostics.isEmpty || spec == nil {
      throw SpecErrors(diagnostics: parser.diagnostics)
    }
    return spec!
  }

  private init(path: String) { self.path = path }

  // MARK: - Reporting

  mutating func error(_ node: Node?, _ message: String) {
    let mark = node?.mark
    diagnostics.append(
      Diagnostic(path: path, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
  }

  mutating func error(line: Int, column: Int, _ message: String) {
    diagnostics.append(Diagnostic(path: path, line: line, column: column, message: message))
  }

  // MARK: - File

  mutating func file(_ text: String) -> SpecFile? {
    let fileName = (path as NSString).lastPathComponent
    var base = fileName
    if base.hasSuffix(Self.fileSuffix) { base.removeLast(Self.fileSuffix.count) }
    let protocolName = Naming.typeName(base) + "Tasks"
    if !Naming.isIdentifier(protocolName) {
      error(
        line: 1, column: 1,
        "file name '\(fileName)' gives the protocol name '\(protocolName)', which is not a Swift identifier; name the file with letters, digits and '_', e.g. 'jokes.tasks.yaml'"
      )
    }
    let root: Node
    do {
      guard let node = try Yams.compose(yaml: text) else {
        error(line: 1, column: 1, "the spec is empty; write 'tasks:' followed by at least one task")
        return nil
      }
      root = node
    } catch {
      yamlError(error)
      return nil
    }
    guard let top = mapping(root, "the spec") else { return nil }
    checkKeys(top, allowed: ["tasks", "access"], in: "the spec")
    var access: Generator.AccessModifier?
    if let node = value(top, "access"), let text = scalarString(node, "'access'") {
      access = Generator.AccessModifier(rawValue: text)
      if access == nil {
        error(
          node,
          "'access' is '\(text)'; write one of \(Generator.AccessModifier.allCases.map(\.rawValue).joined(separator: ", "))"
        )
      }
    }
    guard let tasksNode = value(top, "tasks") else {
      error(root, "the spec has no 'tasks:' key; write 'tasks:' followed by one entry per task")
      return nil
    }
    guard let taskMap = mapping(tasksNode, "'tasks'") else { return nil }
    if taskMap.isEmpty { error(tasksNode, "'tasks' is empty; declare at least one task") }
    var tasks: [TaskSpec] = []
    var typeNames: [String: String] = [:]
    for (key, node) in taskMap {
      guard let name = scalarString(key, "a task name") else { continue }
      guard let task = task(name: name, key: key, node: node, protocolName: protocolName)
      else { continue }
      if let other = typeNames[task.typeName] {
        error(
          key,
          "task '\(name)' and task '\(other)' both become the Swift name '\(task.typeName)'; rename one of them"
        )
        continue
      }
      typeNames[task.typeName] = name
      tasks.append(task)
    }
    return SpecFile(baseName: base, protocolName: protocolName, access: access, tasks: tasks)
  }

  mutating func yamlError(_ error: any Error) {
    switch error {
    case YamlError.scanner(_, let problem, let mark, _),
      YamlError.parser(_, let problem, let mark, _),
      YamlError.composer(_, let problem, let mark, _):
      self.error(line: mark.line, column: mark.column, "invalid YAML: \(problem)")
    case YamlError.duplicatedKeysInMapping(let duplicates, let context):
      self.error(
        line: context.mark.line, column: context.mark.column,
        "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")): each task and each argument can be declared once"
      )
    default:
      self.error(line: 1, column: 1, "invalid YAML: \(error)")
    }
  }

  // MARK: - Task

  static let taskKeys = [
    "doc", "queue", "priority", "lock", "queueing_lock", "retry", "args", "trace", "periodic",
    "periodic_id",
  ]

  mutating func task(name: String, key: Node, node: Node, protocolName: String)
    -> TaskSpec?
  {
    let before = diagnostics.count
    if !Naming.isTaskName(name) {
      error(
        key,
        "invalid task name '\(name)': use letters, digits, '_' and '.', starting with a letter, e.g. 'fetch_joke' or 'reports.send'"
      )
    } else if name.count > Conventions.maximumTaskNameCharacters {
      error(
        key,
        "task name '\(name)' is longer than \(Conventions.maximumTaskNameCharacters) characters (procrastinate_jobs.task_name)"
      )
    }
    let typeName = Naming.typeName(name)
    if Naming.isTaskName(name) {
      if Naming.reservedTypeNames.contains(typeName) || typeName == protocolName {
        error(
          key,
          "task '\(name)' would be the Swift type '\(typeName)', which \(typeName == protocolName ? "is the spec's protocol" : "hides a type the generated code or Foundation uses"); rename the task, e.g. '\(name)_job'"
        )
      } else if Naming.keywords.contains(Naming.memberName(name)) {
        error(
          key,
          "task '\(name)' would be the Swift method '\(Naming.memberName(name))', a keyword; rename the task, e.g. '\(name)_job'"
        )
      }
    }
    var task = TaskSpec(
      name: name, typeName: typeName, methodName: Naming.memberName(name), doc: nil,
      queue: Conventions.defaultQueue, priority: 0, lock: nil, queueingLock: nil, retry: nil,
      arguments: [], relation: Conventions.defaultTraceRelation, carrier: Conventions.traceCarrier,
      recordedArguments: [])
    if Self.isNull(node) {
      return diagnostics.count == before ? task : nil
    }
    guard let fields = mapping(node, "task '\(name)'") else { return nil }
    checkKeys(fields, allowed: Self.taskKeys, in: "task '\(name)'")
    if let doc = value(fields, "doc"), !Self.isNull(doc) { task.doc = scalarString(doc, "'doc'") }
    if let queue = value(fields, "queue"), let text = scalarString(queue, "'queue'") {
      if Self.isNull(queue) || text.isEmpty {
        error(
          queue, "task '\(name)': 'queue' is empty; leave it out for '\(Conventions.defaultQueue)'")
      } else if text.utf8.count > Conventions.maximumQueueNameBytes {
        error(
          queue,
          "task '\(name)': queue '\(text)' is \(text.utf8.count) bytes; procrastinate's NOTIFY channel limits queue names to \(Conventions.maximumQueueNameBytes) bytes, use a shorter name"
        )
      }
      checkPrintable(queue, text, "task '\(name)': 'queue'")
      task.queue = text
    }
    if let priority = value(fields, "priority") {
      task.priority =
        integer(priority, "task '\(name)': 'priority'", range: Int(Int32.min)...Int(Int32.max)) ?? 0
    }
    if let lock = value(fields, "lock"), !Self.isNull(lock),
      let text = scalarString(lock, "task '\(name)': 'lock'")
    {
      checkPrintable(lock, text, "task '\(name)': 'lock'")
      task.lock = text
    }
    if let lock = value(fields, "queueing_lock"), !Self.isNull(lock),
      let text = scalarString(lock, "task '\(name)': 'queueing_lock'")
    {
      checkPrintable(lock, text, "task '\(name)': 'queueing_lock'")
      task.queueingLock = text
    }
    if let retry = value(fields, "retry") { task.retry = self.retry(retry, task: name) }
    if let args = value(fields, "args") { task.arguments = arguments(args, task: name) }
    if let trace = value(fields, "trace") { self.trace(trace, into: &task) }
    if let node = value(fields, "periodic"), let cron = scalarString(node, "'periodic'") {
      do {
        _ = try Cron(cron)
        task.periodic = cron
      } catch let cronError as CronError {
        error(node, "task '\(name)': 'periodic': \(cronError.problem)")
      } catch {}
      // A periodic job gets only `timestamp` (the tick): every other argument needs a default.
      let timestamp = Conventions.periodicTimestampArgument
      for argument in task.arguments
      where argument.defaultValue == nil
        && !(argument.name == timestamp && argument.type == .int)
      {
        error(
          value(fields, "args"),
          "task '\(name)' is periodic: its jobs get only '\(timestamp)'; give argument '\(argument.name)' a default or make it optional"
        )
      }
    }
    if let node = value(fields, "periodic_id"), let id = scalarString(node, "'periodic_id'") {
      if task.periodic == nil {
        error(node, "task '\(name)': 'periodic_id' needs 'periodic: <cron>'")
      }
      task.periodicID = id
    }
    if let carrier = task.carrier,
      let argument = task.arguments.first(where: { $0.name == carrier })
    {
      error(
        value(fields, "args"),
        "task '\(name)': argument '\(argument.name)' has the name of the trace carrier; rename it or set 'trace: { carrier: other_key }'"
      )
    }
    return diagnostics.count == before ? task : nil
  }

  mutating func retry(_ node: Node, task: String) -> RetrySpec? {
    let what = "task '\(task)': 'retry'"
    if case .scalar(let scalar) = node {
      if scalar.style == .plain, scalar.string == "true" || scalar.string == "false" {
        return scalar.string == "true"
          ? RetrySpec(maxAttempts: nil, wait: 0, linearWait: 0, exponentialWait: 0) : nil
      }
      if let attempts = integer(node, what, range: 0...1_000_000) {
        return RetrySpec(maxAttempts: attempts, wait: 0, linearWait: 0, exponentialWait: 0)
      }
      return nil
    }
    guard let fields = mapping(node, what) else { return nil }
    checkKeys(
      fields, allowed: ["max_attempts", "wait", "linear_wait", "exponential_wait"], in: what)
    var spec = RetrySpec(maxAttempts: nil, wait: 0, linearWait: 0, exponentialWait: 0)
    if let node = value(fields, "max_attempts") {
      spec.maxAttempts = integer(node, "\(what).max_attempts", range: 0...1_000_000)
    }
    if let node = value(fields, "wait") { spec.wait = seconds(node, "\(what).wait") }
    if let node = value(fields, "linear_wait") {
      spec.linearWait = seconds(node, "\(what).linear_wait")
    }
    if let node = value(fields, "exponential_wait") {
      spec.exponentialWait = seconds(node, "\(what).exponential_wait")
    }
    return spec
  }

  mutating func arguments(_ node: Node, task: String) -> [ArgumentSpec] {
    guard let fields = mapping(node, "task '\(task)': 'args'") else { return [] }
    var result: [ArgumentSpec] = []
    var swiftNames: [String: String] = [:]
    for (key, value) in fields {
      guard let name = scalarString(key, "an argument name") else { continue }
      let what = "task '\(task)': argument '\(name)'"
      if !Naming.isArgumentName(name) {
        error(
          key,
          "\(what): not a valid name; use letters, digits and '_', starting with a letter, e.g. 'user_id'"
        )
        continue
      }
      let swiftName = Naming.memberName(name)
      if Naming.reservedArguments.contains(swiftName) || Naming.keywords.contains(swiftName)
        || Naming.keywords.contains(name) || Naming.reservedPythonArguments.contains(name)
      {
        error(
          key,
          "\(what): '\(name)' is reserved (a Swift or Python keyword, or a name the generated code uses: \(Naming.reservedArguments.union(Naming.reservedPythonArguments).sorted().joined(separator: ", "))); choose another name"
        )
        continue
      }
      if let other = swiftNames[swiftName] {
        error(
          key, "\(what) and argument '\(other)' both become '\(swiftName)' in Swift; rename one")
        continue
      }
      swiftNames[swiftName] = name
      var typeNode = value
      var argument = ArgumentSpec(name: name, swiftName: swiftName, type: .string)
      var defaultNode: Node?
      if case .mapping(let mapping) = value {
        let details = mapping.map { ($0.key, $0.value) }
        checkKeys(details, allowed: ["type", "default", "doc"], in: what)
        guard let type = self.value(details, "type") else {
          error(value, "\(what): no 'type'; write e.g. '{ type: Int, default: 5 }'")
          continue
        }
        typeNode = type
        defaultNode = self.value(details, "default")
        if let doc = self.value(details, "doc"), !Self.isNull(doc) {
          argument.doc = scalarString(doc, "'doc'")
        }
      }
      guard let typeText = scalarString(typeNode, "\(what): the type") else { continue }
      guard let type = ArgumentType.parse(typeText) else {
        error(
          typeNode,
          "\(what): unknown type '\(typeText)'; use one of \(ArgumentType.names), e.g. '[String]?'"
        )
        continue
      }
      argument.type = type
      if let defaultNode, type.isOptional, !Self.isNull(defaultNode) {
        error(
          defaultNode,
          "\(what): an optional argument defaults to null; drop the default, or make the type '\(type.unwrapped)' to default to \(defaultNode.string ?? "it")"
        )
        continue
      } else if let defaultNode {
        argument.defaultValue = defaultValue(defaultNode, type: type, what: what)
      } else if type.isOptional {
        argument.defaultValue = .null
      }
      result.append(argument)
    }
    return result
  }

  mutating func trace(_ node: Node, into task: inout TaskSpec) {
    let what = "task '\(task.name)': 'trace'"
    guard let fields = mapping(node, what) else { return }
    checkKeys(fields, allowed: ["relation", "record_args", "carrier", "sample"], in: what)
    if let node = value(fields, "sample") {
      if case .scalar(let scalar) = node, let ratio = Double(scalar.string), ratio.isFinite,
        (0...1).contains(ratio)
      {
        task.sample = ratio
      } else {
        error(
          node,
          "\(what).sample: expected the share of root jobs to trace, a number from 0 to 1 (e.g. 0.1); found '\(node.string ?? "a \(kind(node))")'"
        )
      }
    }
    if let node = value(fields, "relation"), let relation = scalarString(node, "'relation'") {
      let relations = Conventions.traceRelations
      if relations.contains(relation) {
        task.relation = relation
      } else {
        error(
          node,
          "\(what).relation: unknown value '\(relation)'; use \(relations.dropLast().joined(separator: ", ")) or \(relations.last ?? "")"
        )
      }
    }
    if let node = value(fields, "carrier"), let carrier = scalarString(node, "'carrier'") {
      if carrier == "none" || carrier.isEmpty || Self.isNull(node) {
        task.carrier = nil
      } else if !Naming.isArgumentName(carrier) {
        error(
          node,
          "\(what).carrier: '\(carrier)' is not a valid args key; write e.g. '\(Conventions.traceCarrier)', or 'none'"
        )
      } else {
        task.carrier = carrier
      }
    }
    if let node = value(fields, "record_args") {
      guard case .sequence(let items) = node else {
        error(node, "\(what).record_args: expected a list of argument names, e.g. [category]")
        return
      }
      for item in items {
        guard let name = scalarString(item, "an argument name") else { continue }
        if task.arguments.contains(where: { $0.name == name }) {
          task.recordedArguments.append(name)
        } else {
          error(
            item,
            "\(what).record_args: '\(name)' is not an argument of the task; known: \(task.arguments.map(\.name).joined(separator: ", "))"
          )
        }
      }
    }
  }
}
