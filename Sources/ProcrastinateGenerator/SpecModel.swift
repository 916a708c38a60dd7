import Foundation

/// A validated spec file, from which the generator builds the model its template renders.
public struct SpecFile: Sendable, Equatable {
  /// The file name without `.tasks.yaml`, e.g. `jokes`.
  public var baseName: String
  /// The handler protocol, e.g. `JokesTasks`.
  public var protocolName: String
  /// The spec's `access:` (for a library target whose tasks other modules defer or run);
  /// nil when the spec does not say, which leaves the choice to the generator's caller.
  public var access: Generator.AccessModifier? = nil
  public var tasks: [TaskSpec]
}

public struct TaskSpec: Sendable, Equatable {
  /// As written: stored in `procrastinate_jobs.task_name`.
  public var name: String
  /// `FetchJoke` for `fetch_joke`.
  public var typeName: String
  /// `fetchJoke` for `fetch_joke`.
  public var methodName: String
  public var doc: String?
  public var queue: String
  public var priority: Int
  public var lock: String?
  public var queueingLock: String?
  public var retry: RetrySpec?
  public var arguments: [ArgumentSpec]
  public var relation: String
  /// `nil` when the spec says `carrier: none`.
  public var carrier: String?
  public var recordedArguments: [String]
  /// A cron schedule (`periodic:`), already checked.
  public var periodic: String?
  public var periodicID: String = ""
}

public struct RetrySpec: Sendable, Equatable {
  public var maxAttempts: Int?
  public var wait: Double
  public var linearWait: Double
  public var exponentialWait: Double
}

public struct ArgumentSpec: Sendable, Equatable {
  /// As written: the JSON key.
  public var name: String
  public var swiftName: String
  public var type: ArgumentType
  /// A Swift literal, already rendered.
  public var defaultLiteral: String?
  public var doc: String?
}

/// The types a spec argument can have.
public indirect enum ArgumentType: Sendable, Equatable, CustomStringConvertible {
  case string, int, double, bool, date, json
  case array(ArgumentType)
  case optional(ArgumentType)

  /// The Swift spelling.
  public var description: String {
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

  public var isOptional: Bool {
    if case .optional = self { return true }
    return false
  }

  /// The type without its optional wrapper.
  public var unwrapped: ArgumentType {
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
