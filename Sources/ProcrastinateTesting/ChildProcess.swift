import Foundation
import Procrastinate
import ProcrastinateConcurrency
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// What a finished child process printed and how it exited.
package struct ChildProcessResult: Sendable {
  /// The exit status, or 128 + the signal number when a signal ended it.
  package var status: Int32
  package var output: String
  package var errorOutput: String
}

/// Runs programs with `posix_spawn` and `waitpid`.
///
/// Foundation's `Process` was seen here to never return from `waitUntilExit` for a child
/// that had already exited (left as a zombie), so the embedded server and the tests use this
/// instead. Output goes to temporary files, not pipes, so a daemon the child starts (the
/// postmaster behind `pg_ctl start`) cannot hold the caller's read open.
package enum ChildProcess {
  /// Runs `executable` to completion, waiting for it on a thread of its own: the calling
  /// task suspends, and Swift's cooperative pool stays free for the code under test.
  package static func run(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:]
  ) async throws -> ChildProcessResult {
    try await BlockingThread.run("child \(executable)") {
      try runBlocking(executable, arguments, environment: environment)
    }
  }

  /// Runs `executable` to completion, blocking the calling thread in `waitpid`: for
  /// synchronous code only (an `atexit` handler, a thread of one's own).
  @available(*, noasync, message: "blocks the thread in waitpid; use 'await ChildProcess.run'")
  package static func runBlocking(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:]
  ) throws -> ChildProcessResult {
    let outputPath = try temporaryFile()
    let errorPath = try temporaryFile()
    defer {
      unlink(outputPath)
      unlink(errorPath)
    }
    let pid = try start(
      executable, arguments, environment: environment, outputPath: outputPath,
      errorPath: errorPath)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      guard errno == EINTR else {
        throw ChildProcessError(
          "waiting for \(executable) failed: \(String(cString: strerror(errno)))")
      }
    }
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return ChildProcessResult(
      status: exitStatus,
      output: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
      errorOutput: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
  }

  /// Starts `executable` in the background, with its output going to `logPath` and
  /// `environment` over the caller's.
  package static func spawn(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:],
    logPath: String
  ) throws -> RunningChild {
    let pid = try start(
      executable, arguments, environment: environment, outputPath: logPath, errorPath: nil)
    return RunningChild(pid: pid)
  }

  /// Starts `executable` with `environment` over the caller's, its input from `/dev/null`,
  /// its output to `outputPath` and its errors to `errorPath` (or to its output when nil);
  /// its pid.
  private static func start(
    _ executable: String, _ arguments: [String], environment: [String: String],
    outputPath: String, errorPath: String?
  ) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    if let errorPath {
      posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    } else {
      posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp =
      ProcessInfo.processInfo.environment.merging(environment) { $1 }
      .map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      argv.forEach { free($0) }
      envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let spawned = withDefaultSignals { posix_spawn(&pid, executable, &actions, $0, argv, envp) }
    guard spawned == 0 else {
      throw ChildProcessError(
        "could not start \(executable): \(String(cString: strerror(spawned)))")
    }
    return pid
  }

  /// Calls `body` with spawn attributes that start the child as a shell would: no signal
  /// blocked and every signal's default action. Without them the child inherits the
  /// calling thread's mask, and Swift's cooperative threads block SIGINT and SIGTERM: a
  /// program that never unblocks them (an async main does not) then ignores both. It also
  /// inherits `SIG_IGN`, which dispatch signal sources (ServiceLifecycle's) set.
  private static func withDefaultSignals(
    _ body: (UnsafePointer<posix_spawnattr_t>) -> Int32
  ) -> Int32 {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(
      &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    return body(&attributes)
  }

  private static func temporaryFile() throws -> String {
    var template = Array((NSTemporaryDirectory() + "procrastinate-child-XXXXXX").utf8CString)
    let descriptor = mkstemp(&template)
    guard descriptor >= 0 else {
      throw ChildProcessError(
        "could not create a temporary file: \(String(cString: strerror(errno)))")
    }
    close(descriptor)
    return String(
      decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}

/// A child process could not be started or waited for.
package struct ChildProcessError: ProcrastinateError, CustomStringConvertible {
  package let description: String
  init(_ description: String) { self.description = description }
}

/// A child process started with ``ChildProcess/spawn(_:_:environment:logPath:)``.
///
/// Nothing here blocks: the process is reaped with `WNOHANG`, polled by an awaiting task or,
/// after ``terminate()``, by a thread of its own. Once the process has been reaped its pid
/// may belong to another process: nothing here signals it again (a second `kill` could hit,
/// say, a PostgreSQL server).
package final class RunningChild: Sendable {
  package let pid: pid_t
  /// The exit status, once the process has been reaped.
  private let exitStatus = Mutex<Int32?>(nil)

  init(pid: pid_t) { self.pid = pid }

  /// Sends `number` (SIGTERM, say) and returns at once; nothing once the process was reaped.
  package func signal(_ number: Int32) {
    exitStatus.withLock { status in
      if status == nil { kill(pid, number) }
    }
  }

  /// The exit status (128 + the signal number when a signal ended it) once the process has
  /// ended, polling up to `timeout`; nil if it is still running then.
  package func waitForExit(timeout: Duration) async -> Int32? {
    let deadline = ContinuousClock.now + timeout
    while true {
      if let status = reap() { return status }
      if ContinuousClock.now >= deadline { return nil }
      try? await Task.sleep(for: .milliseconds(10))
    }
  }

  /// Kills the process (SIGKILL: the child may have inherited an ignored SIGTERM) and
  /// returns at once; a thread of its own reaps it. Safe in `deinit` and `defer`.
  package func terminate() {
    signal(SIGKILL)
    guard reap() == nil else { return }
    let thread = Thread { [self] in
      while reap() == nil { usleep(2_000) }
    }
    thread.name = "reap \(pid)"
    thread.start()
  }

  /// Reaps the process if it has ended, without waiting; its status once it has.
  private func reap() -> Int32? {
    exitStatus.withLock { exitStatus in
      if let exitStatus { return exitStatus }
      var status: Int32 = 0
      var result: pid_t
      repeat {
        result = waitpid(pid, &status, WNOHANG)
      } while result < 0 && errno == EINTR
      if result == pid {
        exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
      } else if result < 0 {
        exitStatus = -1  // not our child any more: never signal it again
      }
      return exitStatus
    }
  }
}
