import Foundation
import Synchronization

/// The repository's root folder (this file is `Benchmarks/Sources/BenchmarkSupport/…`).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// What a benchmark must undo on every way out: child processes it started, servers.
/// Run once, newest first, on normal exit, on an error and on SIGINT/SIGTERM.
public enum Cleanup {
  private static let actions = Mutex<[@Sendable () -> Void]>([])

  public static func add(_ action: @escaping @Sendable () -> Void) {
    actions.withLock { $0.append(action) }
  }

  /// Runs every action added so far, newest first, and forgets them.
  public static func runAll() {
    let pending = actions.withLock { actions in
      defer { actions.removeAll() }
      return actions
    }
    for action in pending.reversed() { action() }
  }

  /// SIGINT and SIGTERM run the cleanup, then exit with 128 + the signal.
  ///
  /// Not with `SIG_IGN` and a dispatch source: an ignored signal stays ignored in every
  /// child started after it, so a Python helper or psql would ignore the SIGTERM that stops
  /// it. A handler (reset to the default in children by exec) writes the signal's number to
  /// a pipe; a thread of its own reads it and cleans up outside the handler.
  static func installSignalHandlers() {
    let readEnd = signalPipe[0]
    Thread {
      var number: UInt8 = 0
      while read(readEnd, &number, 1) != 1 {}
      FileHandle.standardError.write(Data("interrupted: stopping child processes\n".utf8))
      runAll()
      exit(128 + Int32(number))
    }.start()
    for signalNumber in [SIGINT, SIGTERM] {
      signal(signalNumber) { number in
        var byte = UInt8(truncatingIfNeeded: number)
        _ = write(signalPipe[1], &byte, 1)
      }
    }
  }
}

/// The self-pipe the signal handler writes to (read end, write end).
private let signalPipe: [Int32] = {
  var ends: [Int32] = [-1, -1]
  _ = pipe(&ends)
  return ends
}()

/// Starts a child process that ``Cleanup`` stops: SIGTERM, then SIGKILL after 3 s.
public func spawn(
  _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
  standardOutput: Any? = FileHandle.nullDevice, standardError: Any? = nil
) throws -> Process {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  if let environment {
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  }
  if let standardOutput { process.standardOutput = standardOutput }
  if let standardError { process.standardError = standardError }
  try process.run()
  Cleanup.add { stop(process) }
  return process
}

/// SIGTERM, then SIGKILL if it is still running after 3 s; waits for it, at most 2 s more
/// (never for ever: a run must end even if an exit is not noticed).
public func stop(_ process: Process) {
  guard process.isRunning else { return }
  process.terminate()
  var deadline = Date().addingTimeInterval(3)
  while process.isRunning && Date() < deadline { usleep(10_000) }
  guard process.isRunning else { return }
  kill(process.processIdentifier, SIGKILL)
  deadline = Date().addingTimeInterval(2)
  while process.isRunning && Date() < deadline { usleep(10_000) }
}

/// The benchmark program's entry: runs `body`; on an error prints it and exits 1. Child
/// processes and servers registered with ``Cleanup`` are stopped on every way out.
public func benchmarkMain(_ body: () async throws -> Void) async -> Never {
  Cleanup.installSignalHandlers()
  do {
    try await body()
    Cleanup.runAll()
    exit(0)
  } catch {
    FileHandle.standardError.write(Data("benchmark failed: \(error)\n".utf8))
    Cleanup.runAll()
    exit(1)
  }
}

/// A benchmark's own error, with the text to print.
public struct BenchmarkFailure: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}
