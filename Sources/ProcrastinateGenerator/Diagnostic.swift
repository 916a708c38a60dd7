/// A problem in a spec file, at a position, printed the way compilers print errors so
/// build logs and editors point at the line.
public struct Diagnostic: Error, Sendable, Equatable, CustomStringConvertible {
  public let path: String
  /// 1-based; 0 when the position is unknown.
  public let line: Int
  public let column: Int
  public let message: String

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
public struct SpecErrors: Error, Sendable, CustomStringConvertible {
  public let diagnostics: [Diagnostic]

  public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
