import CLibPQ
import Foundation

/// Where the database is, resolved the same way by the CLI, the examples and the library.
///
/// Resolution order: an explicit URL (e.g. `--database-url`), then
/// `PROCRASTINATE_DATABASE_URL`, then `DATABASE_URL`, then libpq's own `PG*` variables
/// (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, …), which libpq reads itself
/// when the connection string is empty.
public struct DatabaseSettings: Sendable, CustomStringConvertible {
  /// Where the URL came from, for messages.
  public enum Source: String, Sendable {
    /// Given explicitly, e.g. with `--database-url`.
    case explicit = "--database-url"
    /// The `PROCRASTINATE_DATABASE_URL` environment variable.
    case procrastinateDatabaseURL = "PROCRASTINATE_DATABASE_URL"
    /// The `DATABASE_URL` environment variable.
    case databaseURL = "DATABASE_URL"
    /// Nothing given: libpq reads its own `PG*` variables.
    case libpqEnvironment = "PG* environment variables"
  }

  /// The libpq connection string: a `postgresql://` URL or `key=value` pairs.
  public let conninfo: String
  /// Where ``conninfo`` came from.
  public let source: Source
  /// The connection target without its password, for logs and errors.
  public let redacted: String
  /// How long a statement may go without a byte from the server before its connection
  /// counts as lost (and is replaced), so that a server or network that goes silent without
  /// closing the connection is noticed instead of waited for forever. TCP keepalives cannot
  /// tell, when the peer's kernel still acknowledges, as a stalled proxy's does.
  ///
  /// `nil` (the default) waits as long as libpq does; a ``Worker`` uses
  /// ``WorkerOptions/responseTimeout`` for its own connections then. A statement given up on
  /// may still run, and commit, on the server: only use this where that is safe.
  public var responseTimeout: Duration? = nil

  /// Validates `conninfo` with libpq's parser; a malformed string throws at once.
  public init(conninfo: String, source: Source = .explicit) throws {
    self.conninfo = conninfo
    self.source = source
    self.redacted = try Self.describe(conninfo, source: source)
  }

  /// Connection settings added under the user's own, which override them (as do the
  /// matching `PG*` variables): a connect attempt gives up after 10 s instead of waiting for
  /// the operating system, and TCP keepalives notice a peer that stopped answering.
  static let connectionDefaults: [(keyword: String, value: String, variable: String)] = [
    ("connect_timeout", "10", "PGCONNECT_TIMEOUT"),
    ("keepalives", "1", ""),
    ("keepalives_idle", "30", ""),
    ("keepalives_interval", "10", ""),
    ("keepalives_count", "3", ""),
    // Unacknowledged data (a send into a dead network) fails after 30 s, not TCP's ~15 min.
    ("tcp_user_timeout", "30000", ""),
  ]

  /// The keywords and values for `PQconnectdbParams`: the defaults above (each left out when
  /// its `PG*` variable is set), then `conninfo` as `dbname`, expanded by libpq, so that what
  /// the user wrote wins.
  func connectParameters(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> [(String, String)] {
    // A service file's values apply only where nothing else is set: with one, add nothing.
    if conninfo.contains("service=") || !(environment["PGSERVICE"] ?? "").isEmpty {
      return [("dbname", conninfo)]
    }
    return Self.connectionDefaults.filter {
      $0.variable.isEmpty || (environment[$0.variable] ?? "").isEmpty
    }
    .map { ($0.keyword, $0.value) } + [("dbname", conninfo)]
  }

  /// Resolves the database from an explicit URL or the environment.
  public static func resolve(
    explicit: String? = nil,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> DatabaseSettings {
    if let explicit, !explicit.isEmpty {
      return try DatabaseSettings(conninfo: explicit, source: .explicit)
    }
    if let url = environment["PROCRASTINATE_DATABASE_URL"], !url.isEmpty {
      return try DatabaseSettings(conninfo: url, source: .procrastinateDatabaseURL)
    }
    if let url = environment["DATABASE_URL"], !url.isEmpty {
      return try DatabaseSettings(conninfo: url, source: .databaseURL)
    }
    return try DatabaseSettings(conninfo: "", source: .libpqEnvironment)
  }

  /// Whether a URL or `PG*` setting was given at all (examples start their own server when not).
  public static func isConfigured(
    explicit: String? = nil,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> Bool {
    if let explicit, !explicit.isEmpty { return true }
    return ["PROCRASTINATE_DATABASE_URL", "DATABASE_URL", "PGHOST", "PGDATABASE", "PGSERVICE"]
      .contains { !(environment[$0] ?? "").isEmpty }
  }

  /// The connection target without its password: ``redacted``.
  public var description: String { redacted }

  /// Parses with `PQconninfoParse` and renders host, port, database and user: never the password.
  private static func describe(_ conninfo: String, source: Source) throws -> String {
    var errorMessage: UnsafeMutablePointer<CChar>?
    guard let options = PQconninfoParse(conninfo, &errorMessage) else {
      let reason =
        errorMessage.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) }
        ?? "libpq could not parse it"
      if let errorMessage { PQfreemem(errorMessage) }
      throw ConfigurationError(
        "malformed database URL from \(source.rawValue): \(reason). Expected postgresql://user@host:port/dbname or 'host=… dbname=…'"
      )
    }
    defer { PQconninfoFree(options) }
    let environment = ProcessInfo.processInfo.environment
    var fields: [String: String] = [:]
    var option = options
    while let keyword = option.pointee.keyword {
      if let value = option.pointee.val {
        fields[String(cString: keyword)] = String(cString: value)
      }
      option += 1
    }
    let host = fields["host"] ?? fields["hostaddr"] ?? environment["PGHOST"] ?? "localhost"
    let port = fields["port"] ?? environment["PGPORT"] ?? "5432"
    let user = fields["user"] ?? environment["PGUSER"] ?? ""
    let database = fields["dbname"] ?? environment["PGDATABASE"] ?? (user.isEmpty ? "" : user)
    return "host=\(host) port=\(port) dbname=\(database)" + (user.isEmpty ? "" : " user=\(user)")
  }
}

/// A configuration value was missing or malformed; the message says which and what to write instead.
public struct ConfigurationError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// What was missing or malformed, and what to write instead.
  public let message: String
  /// An error whose whole text is `message`.
  public init(_ message: String) { self.message = message }
  /// The message: what was wrong and what to write instead.
  public var description: String { message }
}
