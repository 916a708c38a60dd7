/// An error reported by PostgreSQL or by libpq.
///
/// The message is the server's or libpq's own text. It never contains the connection's
/// password: connection strings are shown only in their redacted form.
public struct DatabaseError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// What failed.
  public enum Kind: Sendable, Equatable {
    /// Opening a connection failed (bad URL, unreachable host, wrong password, …).
    case connect
    /// A statement failed while the connection stayed usable.
    case statement
    /// The connection was lost; the pool drops it and opens a new one on next use.
    case connectionLost
  }

  /// What failed.
  public let kind: Kind
  /// The primary message.
  public let message: String
  /// The five-character SQLSTATE code, when the server sent one.
  public private(set) var sqlState: String?
  /// The constraint or index that was violated, when the server named one.
  public private(set) var constraint: String?
  /// The server's detail line, when there is one.
  public private(set) var detail: String?
  /// What was being done, e.g. `defer_jobs` or `connect to host=… dbname=…`.
  public let context: String

  /// The message, with what was being done, and the SQLSTATE and the server's detail when
  /// there are any.
  public var description: String {
    var text = "database error (\(context)): \(message)"
    if let sqlState { text += " [SQLSTATE \(sqlState)]" }
    if let detail { text += " — \(detail)" }
    return text
  }

  /// A connect that failed for a reason that passes: the attempt timed out
  /// (`connect_timeout`), or the server is starting up, shutting down, in recovery or full
  /// (`too many clients`). libpq gives no SQLSTATE for a failed connect, so this reads its
  /// message; a wrong address, port, password or database name is not transient.
  public var isTransientConnectFailure: Bool {
    guard kind == .connect else { return false }
    return Self.transientConnectMessages.contains { message.contains($0) }
  }

  static let transientConnectMessages = [
    "timeout expired", "the database system is starting up",
    "the database system is shutting down", "the database system is in recovery mode",
    "the database system is not yet accepting connections", "too many clients already",
  ]

  /// SQLSTATE `23505`: a unique constraint or unique index was violated.
  var isUniqueViolation: Bool { sqlState == "23505" }

  /// A row refers to one that is gone: for a worker's fetch, its own worker row was pruned.
  static let foreignKeyViolation = "23503"
  /// SQLSTATE class `42`/`3F` for a missing relation or function: the schema is absent.
  var isUndefinedObject: Bool {
    sqlState == "42P01" || sqlState == "42883" || sqlState == "42704"
  }
}
