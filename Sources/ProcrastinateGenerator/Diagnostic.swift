import ProcrastinateConventions

/// A problem in a spec file, at a position, printed the way compilers print errors so
/// build logs and editors point at the line.
public struct Diagnostic: ProcrastinateError, Sendable, Equatable, CustomStringConvertible {
  /// The spec file, as the generator was given it.
  public let path: String
  /// 1-based; 0 when the position is unknown.
  public let line: Int
  /// 1-based; 0 when the position is unknown.
  public let column: Int
  /// What is wrong and what to write instead.
  public let message: String

  /// A problem at `line`:`column` of the spec at `path`.
  public init(path: String, line: Int, column: Int, message: String) {
    self.path = path
    self.line = line
    self.column = column
    self.message = message
  }

  /// `path:line:column: error: message`.
  public var description: String { "\(path):\(line):\(column): error: \(message)" }
}

/// Every problem found in one spec, in file order.
public struct SpecErrors: ProcrastinateError, Sendable, CustomStringConvertible {
  /// The problems, in file order.
  public let diagnostics: [Diagnostic]

  /// One `path:line:column: error: message` line per problem.
  public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
