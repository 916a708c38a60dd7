import Foundation

/// A validated spec file, from which the generator builds the model its template renders.
///
/// ``SpecParser/parse(_:path:)`` makes one; ``Generator/render(_:sourceName:access:)`` renders it.
public struct SpecFile: Sendable, Equatable {
  /// The file name without `.tasks.yaml`, e.g. `jokes`.
  public var baseName: String
  /// The handler protocol, e.g. `JokesTasks`.
  public var protocolName: String
  /// The spec's `access:` (for a library target whose tasks other modules defer or run);
  /// nil when the spec does not say, which leaves the choice to the generator's caller.
  public var access: Generator.AccessModifier? = nil
  /// The tasks, in file order.
  package var tasks: [TaskSpec]
}

/// One validated task of a spec.
package struct TaskSpec: Sendable, Equatable {
  /// As written: stored in `procrastinate_jobs.task_name`.
  package var name: String
  /// `FetchJoke` for `fetch_joke`.
  package var typeName: String
  /// `fetchJoke` for `fetch_joke`.
  package var methodName: String
  package var doc: String?
  package var queue: String
  package var priority: Int
  package var lock: String?
  package var queueingLock: String?
  package var retry: RetrySpec?
  package var arguments: [ArgumentSpec]
  package var relation: String
  /// `nil` when the spec says `carrier: none`.
  package var carrier: String?
  package var recordedArguments: [String]
  /// `trace: { sample: … }`: the share of root jobs traced, 0 to 1; nil when not set.
  package var sample: Double? = nil
  /// A cron schedule (`periodic:`), already checked.
  package var periodic: String?
  package var periodicID: String = ""
}

/// A task's `retry:`; zero waits are the runtime's defaults.
package struct RetrySpec: Sendable, Equatable {
  package var maxAttempts: Int?
  package var wait: Double
  package var linearWait: Double
  package var exponentialWait: Double
}

/// One argument of a task.
package struct ArgumentSpec: Sendable, Equatable {
  /// As written: the JSON key.
  package var name: String
  package var swiftName: String
  package var type: ArgumentType
  /// The default value: `nil` when the argument is required, `.null` for an optional one.
  package var defaultValue: SpecValue?
  package var doc: String?
}

/// A default value from a spec, checked against its argument's type; each language's
/// renderer writes it as its own literal.
package indirect enum SpecValue: Sendable, Equatable {
  case null
  case string(String)
  case int(Int)
  case double(Double)
  case bool(Bool)
  case array([SpecValue])
}

/// The types a spec argument can have.
package indirect enum ArgumentType: Sendable, Equatable, CustomStringConvertible {
  case string, int, double, bool, date, json
  case array(ArgumentType)
  case optional(ArgumentType)

  /// The Swift spelling.
  package var description: String {
    switch self {
    case .string: "String"
    case .int: "Int"
    case .double: "Double"
    case .bool: "Bool"
    case .date: "Date"
    case .json: "JSONValue"
    case .array(let element): "[\(element)]"
    case .optional(let wrapped): "\(wrapped)?"
    }
  }

  package var isOptional: Bool {
    if case .optional = self { return true }
    return false
  }

  /// The type without its optional wrapper.
  package var unwrapped: ArgumentType {
    if case .optional(let wrapped) = self { return wrapped }
    return self
  }

  static let names = "String, Int, Double, Bool, Date, JSON, [T] and T?"

  /// Parses `String`, `[Int]`, `[String]?`, `JSON`…
  static func parse(_ text: String) -> ArgumentType? {
    let text = text.trimmingCharacters(in: .whitespaces)
    if text.hasSuffix("?") {
      guard let wrapped = parse(String(text.dropLast())), !wrapped.isOptional else { return nil }
      return .optional(wrapped)
    }
    if text.hasPrefix("[") && text.hasSuffix("]") {
      return parse(String(text.dropFirst().dropLast())).map { .array($0) }
    }
    switch text {
    case "String": return .string
    case "Int": return .int
    case "Double": return .double
    case "Bool": return .bool
    case "Date": return .date
    case "JSON": return .json
    default: return nil
    }
  }
}
