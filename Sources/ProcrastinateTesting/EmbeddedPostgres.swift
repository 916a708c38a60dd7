import Foundation
import Procrastinate
import ProcrastinateConcurrency
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A private PostgreSQL cluster in a temporary folder, listening on loopback only.
///
/// Built from the server binaries of the machine (Debian's `postgresql` package: found
/// through `PROCRASTINATE_PG_BIN`, `pg_config --bindir`, or `/usr/lib/postgresql/*/bin`).
/// When the process runs as root, the server runs as the `postgres` user, since `initdb`
/// refuses root. Tests and examples use it when no database URL is given.
///
/// ```swift
/// let postgres = try await EmbeddedPostgres.start()
/// defer { postgres.stop() }
/// let url = try await postgres.createDatabase("app")
/// ```
public final class EmbeddedPostgres: Sendable {
  /// Server settings.
  public struct Options: Sendable {
    /// `fsync=off` makes tests fast; keep it on to measure realistic throughput.
    public var fsync: Bool = true
    /// Extra `-c name=value` server settings.
    public var settings: [String: String] = [:]
    /// Settings with `fsync` as given (on by default) and extra server settings.
    public init(fsync: Bool = true, settings: [String: String] = [:]) {
      self.fsync = fsync
      self.settings = settings
    }
  }

  /// The TCP port on 127.0.0.1.
  public let port: Int
  /// The temporary folder holding the cluster, its socket and its log.
  public let directory: String
  private let binaries: String
  private let runAsPostgres: Bool
  private let options: Options
  private let stopped = Mutex(false)

  /// `postgresql://postgres@127.0.0.1:<port>/postgres`
  public var url: String { url(database: "postgres") }

  /// The URL of `database` on this server.
  public func url(database: String) -> String {
    "postgresql://postgres@127.0.0.1:\(port)/\(database)"
  }

  /// The server log, for diagnosing a failure.
  public var logPath: String { directory + "/server.log" }

  private init(
    port: Int, directory: String, binaries: String, runAsPostgres: Bool, options: Options
  ) {
    self.port = port
    self.directory = directory
    self.binaries = binaries
    self.runAsPostgres = runAsPostgres
    self.options = options
  }

  /// Creates and starts a cluster.
  public static func start(options: Options = Options()) async throws -> EmbeddedPostgres {
    let binaries = try findBinaries()
    let runAsPostgres = geteuid() == 0
    let account = runAsPostgres ? getpwnam("postgres") : nil
    if runAsPostgres && account == nil {
      throw EmbeddedPostgresError(
        "running as root but there is no 'postgres' user to run the server as; install Debian's postgresql package"
      )
    }
    var template = Array((NSTemporaryDirectory() + "procrastinate-pg-XXXXXX").utf8CString)
    guard let created = mkdtemp(&template) else {
      throw EmbeddedPostgresError(
        "could not create a temporary folder: \(String(cString: strerror(errno)))")
    }
    let directory = String(cString: created)
    if let account {
      chown(directory, account.pointee.pw_uid, account.pointee.pw_gid)
    }
    do {
      let server = try await start(
        directory: directory, binaries: binaries, runAsPostgres: runAsPostgres, options: options)
      EmbeddedPostgres.registerForExit(server)
      await server.startWatchdog()
      return server
    } catch {
      // Nothing is left behind: a server that came up (pg_ctl timed out, say) is stopped, and
      // the folder with the cluster goes.
      let pgCtl = binaries + "/pg_ctl"
      _ = try? await BlockingThread.run("stop \(directory)") {
        if FileManager.default.fileExists(atPath: directory + "/data/postmaster.pid") {
          _ = try? EmbeddedPostgres.runAs(
            runAsPostgres, pgCtl, ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        }
        try? FileManager.default.removeItem(atPath: directory)
      }
      throw error
    }
  }

  /// Initializes and starts a cluster in `directory`, on the first free port that stays free.
  private static func start(
    directory: String, binaries: String, runAsPostgres: Bool, options: Options
  ) async throws -> EmbeddedPostgres {
    var server = EmbeddedPostgres(
      port: try freePort(), directory: directory, binaries: binaries, runAsPostgres: runAsPostgres,
      options: options)
    try await server.run(
      "initdb",
      ["-D", server.dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
    // A free port cannot be reserved: another process (a server starting in a parallel
    // test, a listener on port 0) may take it between the probe and the server's bind.
    // The server then exits at once saying so; start again on another port.
    var attempt = 1
    while true {
      do {
        try await server.startServer()
        break
      } catch let error as EmbeddedPostgresError
        where error.description.contains("Address already in use") && attempt < 5
      {
        attempt += 1
        server = EmbeddedPostgres(
          port: try freePort(), directory: directory, binaries: binaries,
          runAsPostgres: runAsPostgres, options: options)
      }
    }
    return server
  }

  /// `atexit` stops the servers of a process that exits; one that is killed (SIGKILL, a
  /// crash, a CI timeout) runs no handler. A detached shell per server stops it, and deletes
  /// its folder, once this process is gone; it ends by itself when the folder is deleted
  /// by ``stop()``.
  private func startWatchdog() async {
    func quoted(_ text: String) -> String {
      "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
    let pgCtl = binaries + "/pg_ctl"
    let stop =
      (runAsPostgres ? "/usr/sbin/runuser -u postgres -- " : "")
      + "\(quoted(pgCtl)) -D \(quoted(dataDirectory)) -m immediate -w stop"
    let script =
      "(while kill -0 \(getpid()) 2>/dev/null && [ -d \(quoted(dataDirectory)) ]; do sleep 1; done; "
      + "if [ -d \(quoted(dataDirectory)) ]; then \(stop); rm -rf \(quoted(directory)); fi"
      + ") </dev/null >/dev/null 2>&1 &"
    _ = try? await ChildProcess.run("/bin/sh", ["-c", script])
  }

  private var dataDirectory: String { directory + "/data" }

  private func startServer() async throws {
    var settings = [
      "listen_addresses": "127.0.0.1", "port": String(port), "unix_socket_directories": directory,
      "fsync": options.fsync ? "on" : "off", "max_connections": "200",
    ]
    if !options.fsync {
      settings["synchronous_commit"] = "off"
      settings["full_page_writes"] = "off"
    }
    settings.merge(options.settings) { $1 }
    let serverOptions = settings.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" }
      .joined(separator: " ")
    try await run(
      "pg_ctl",
      ["-D", dataDirectory, "-l", logPath, "-w", "-t", "60", "-o", serverOptions, "start"])
  }

  /// Stops the server (fast shutdown) and restarts it on the same port: for fault tests.
  public func restart() async throws {
    try await run("pg_ctl", ["-D", dataDirectory, "-m", "fast", "-w", "stop"])
    try await startServer()
  }

  /// Creates a database and returns its URL.
  public func createDatabase(_ name: String) async throws -> String {
    try await run(
      "psql",
      [
        "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-v",
        "ON_ERROR_STOP=1",
        "-q", "-c", "CREATE DATABASE \"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"",
      ])
    return url(database: name)
  }

  /// Stops the server (immediate shutdown) and deletes its folder, on a thread of its own:
  /// it returns at once, so it never blocks the caller (a `defer` in async code, say). A
  /// process that exits meanwhile finishes the stop in its `atexit` handler. Safe to call
  /// more than once.
  public func stop() {
    let thread = Thread { [self] in self.stopBlocking() }
    thread.name = "stop \(directory)"
    thread.start()
  }

  /// Stops the server and deletes its folder, blocking; a second caller waits for the first
  /// one's stop to finish.
  @available(*, noasync, message: "blocks the thread in waitpid; use 'stop()'")
  private func stopBlocking() {
    stopped.withLock { stopped in
      guard !stopped else { return }
      stopped = true
      _ = try? runSync("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
      keepLog()
      try? FileManager.default.removeItem(atPath: directory)
    }
  }

  /// The last `lines` lines of the server's log, for a failure message.
  public func logTail(lines: Int = 30) -> String {
    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no server log)"
    return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
  }

  /// With `PROCRASTINATE_SERVER_LOGS` set to a folder, the server's log is copied there
  /// before its folder is deleted (scripts/soak sets it, so a failed run keeps its logs).
  private func keepLog() {
    guard let folder = ProcessInfo.processInfo.environment["PROCRASTINATE_SERVER_LOGS"],
      !folder.isEmpty
    else { return }
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let name = (directory as NSString).lastPathComponent + ".server.log"
    try? FileManager.default.copyItem(
      atPath: logPath, toPath: (folder as NSString).appendingPathComponent(name))
  }

  // MARK: - Processes

  @discardableResult
  private func run(_ tool: String, _ arguments: [String]) async throws -> String {
    try await BlockingThread.run(tool) { try self.runSync(tool, arguments) }
  }

  @available(*, noasync, message: "blocks the thread in waitpid; use 'await run'")
  private func runSync(_ tool: String, _ arguments: [String]) throws -> String {
    let result = try Self.runAs(runAsPostgres, binaries + "/" + tool, arguments)
    guard result.status == 0 else {
      var message =
        "\(tool) failed with exit code \(result.status): \(result.output)\(result.errorOutput)"
      if tool == "pg_ctl", let log = try? String(contentsOfFile: logPath, encoding: .utf8) {
        message += "\nserver log:\n" + log.split(separator: "\n").suffix(20).joined(separator: "\n")
      }
      throw EmbeddedPostgresError(message)
    }
    return result.output
  }

  /// Runs a server binary to its end, as the `postgres` user when `asPostgres`.
  @available(*, noasync, message: "blocks the thread in waitpid")
  private static func runAs(
    _ asPostgres: Bool, _ executable: String, _ arguments: [String]
  ) throws -> ChildProcessResult {
    asPostgres
      ? try ChildProcess.runBlocking(
        "/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments)
      : try ChildProcess.runBlocking(executable, arguments)
  }

  private static func findBinaries() throws -> String {
    let fileManager = FileManager.default
    if let configured = ProcessInfo.processInfo.environment["PROCRASTINATE_PG_BIN"],
      !configured.isEmpty
    {
      return configured
    }
    let root = "/usr/lib/postgresql"
    let versions = ((try? fileManager.contentsOfDirectory(atPath: root)) ?? [])
      .compactMap { Int($0) }.sorted(by: >)
    for version in versions
    where fileManager.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
      return "\(root)/\(version)/bin"
    }
    for directory in ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin"]
    where fileManager.isExecutableFile(atPath: directory + "/initdb") {
      return directory
    }
    throw EmbeddedPostgresError(
      "no PostgreSQL server binaries found (looked for initdb in /usr/lib/postgresql/*/bin); install them with 'apt-get install -y postgresql' or set PROCRASTINATE_PG_BIN"
    )
  }

  /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick).
  package static func freePort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else {
      throw EmbeddedPostgresError("could not open a socket to find a free port")
    }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0 else {
      throw EmbeddedPostgresError("could not bind 127.0.0.1 to find a free port")
    }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  // MARK: - Stop at exit

  private static let live = Mutex<[EmbeddedPostgres]>([])

  private static func registerForExit(_ server: EmbeddedPostgres) {
    let isFirst = live.withLock { servers -> Bool in
      servers.append(server)
      return servers.count == 1
    }
    if isFirst {
      atexit { EmbeddedPostgres.live.withLock { $0 }.forEach { $0.stopBlocking() } }
    }
  }
}

/// The embedded server could not be set up; the message says why.
public struct EmbeddedPostgresError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// The message: what could not be set up, and why.
  public let description: String
  init(_ description: String) { self.description = description }
}
