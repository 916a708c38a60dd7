import Logging
import Synchronization

/// A swift-log handler that keeps every message, for tests that check what was logged.
final class LogRecorder: Sendable {
  struct Entry: Sendable {
    var level: Logger.Level
    var message: String
    var at = ContinuousClock.now
  }

  private let entries = Mutex<[Entry]>([])

  var all: [Entry] { entries.withLock { $0 } }

  func messages(atLeast level: Logger.Level) -> [String] {
    all.filter { $0.level >= level }.map(\.message)
  }

  /// A logger that records here (at every level).
  func logger(_ label: String = "test") -> Logger {
    Logger(label: label) { _ in Handler(recorder: self) }
  }

  fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

  private struct Handler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
      get { metadata[key] }
      set { metadata[key] = newValue }
    }

    func log(
      level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
      file: String, function: String, line: UInt
    ) {
      recorder.append(Entry(level: level, message: message.description))
    }
  }
}
