import ProcrastinateConventions

/// Spec names to Swift names: `fetch_joke` → `FetchJoke` / `fetchJoke`, `python.send_report`
/// → `PythonSendReport`. The names stored in the database stay exactly as written.
enum Naming {
  static func words(_ name: String) -> [Substring] {
    name.split { !($0.isLetter || $0.isNumber) }
  }

  static func typeName(_ name: String) -> String {
    words(name).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
  }

  static func memberName(_ name: String) -> String {
    let type = typeName(name)
    return type.prefix(1).lowercased() + type.dropFirst()
  }

  static func isIdentifier(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, first == "_" || isASCIILetter(first) else {
      return false
    }
    return text.unicodeScalars.allSatisfy { $0 == "_" || isASCIILetter($0) || isDigit($0) }
  }

  /// Python keyword-argument names: ASCII identifiers starting with a letter.
  static func isArgumentName(_ text: String) -> Bool {
    guard let first = text.unicodeScalars.first, isASCIILetter(first) else { return false }
    return isIdentifier(text)
  }

  /// Identifiers joined by dots (`module.task`), as Python task names are.
  static func isTaskName(_ text: String) -> Bool {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    return !parts.isEmpty && parts.allSatisfy { isArgumentName(String($0)) }
  }

  private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
  }

  private static func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

  /// Parameters and locals of the generated functions.
  static let reservedArguments: Set<String> = [
    "app", "overrides", "context", "container", "decoder",
  ]

  /// Names an argument cannot take in the generated Python: the defer helpers' per-call
  /// options, and the names the argument dataclass's annotations and defaults use.
  static let reservedPythonArguments: Set<String> = [
    "schedule_in", "schedule_at", "lock", "queueing_lock", "priority", "queue", "str", "int",
    "float", "bool", "list", "datetime", "dataclasses", "JSON",
  ]

  /// Type names a task cannot take: they would hide a type the generated code, Swift or
  /// Foundation uses in the same module.
  static let reservedTypeNames: Set<String> = [
    "Self", "Any", "Type", "Protocol", "Task", "Date", "Data", "URL", "String", "Int", "Double",
    "Bool", "Array", "Dictionary", "Optional", "Error", "Duration", "Codable", "Decodable",
    "Encodable", "Sendable", "CodingKey", "CodingKeys", "Arguments", "JSONValue",
    "TaskRegistry", "TaskDefinition", "TaskTraceOptions", "RetryStrategy", "DeferOptions",
    "DeferOverrides", "JobContext", "ProcrastinateApp", "Procrastinate", "Foundation",
  ]

  /// Swift and Python keywords, which cannot name an argument in one language or the other.
  static let keywords: Set<String> = [
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import",
    "init", "inout", "internal", "let", "open", "operator", "private", "protocol", "public",
    "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "continue",
    "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat",
    "return", "switch", "where", "while", "as", "catch", "false", "is", "nil", "super", "self",
    "Self", "throw", "throws", "true", "try", "Any", "Type", "await", "async",
    "and", "assert", "def", "del", "elif", "except", "finally", "from", "global", "lambda",
    "nonlocal", "not", "or", "pass", "raise", "with", "yield", "None", "True", "False",
  ]

  /// A Swift string literal for `text`.
  static func stringLiteral(_ text: String) -> String {
    TextEscaping.quoted(text) { "\\u{\(String($0, radix: 16))}" }
  }

  /// The allowed word nearest to `word` (edit distance ≤ 2), for "did you mean" hints.
  static func closest(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
      var previous = Array(0...b.count)
      for (i, ca) in a.enumerated() {
        var current = [i + 1]
        for (j, cb) in b.enumerated() {
          current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
        }
        previous = current
      }
      return previous[b.count]
    }
    let scored = candidates.map { ($0, distance(Array(word), Array($0))) }.filter { $0.1 <= 2 }
    return scored.min { $0.1 < $1.1 }?.0
  }
}
