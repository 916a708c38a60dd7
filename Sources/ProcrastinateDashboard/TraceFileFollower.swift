import Dispatch
import Foundation
import Logging
import ProcrastinateTraceData
import ServiceLifecycle

/// Follows the file exporter's output (OTLP/JSON export requests, one per line) as it grows,
/// from its start, and keeps its spans. A line that is not OTLP/JSON is logged with its
/// number and counted as a refused body; a file that is truncated or replaced is read again
/// from its start. Reads run on a dispatch queue, never on Swift's cooperative pool.
struct TraceFileFollower: Service {
  let path: String
  let store: SpanStore
  let logger: Logger
  var interval: Duration = .milliseconds(250)

  func run() async throws {
    try await cancelWhenGracefulShutdown {
      var offset: UInt64 = 0
      var partial: [UInt8] = []
      var lineNumber = 0
      var reportedMissing = false
      while !Task.isCancelled {
        switch await Self.read(path: path, from: offset) {
        case .missing(let reason):
          if !reportedMissing {
            logger.warning("traces file \(path): \(reason); waiting for it to appear")
            reportedMissing = true
          }
        case .shrunk:
          logger.info("traces file \(path) was truncated or replaced; reading it from its start")
          (offset, partial, lineNumber) = (0, [], 0)
          continue
        case .bytes(let bytes):
          reportedMissing = false
          offset += UInt64(bytes.count)
          partial += bytes
          ingest(lines: &partial, lineNumber: &lineNumber)
        }
        try await Task.sleep(for: interval)
      }
    }
  }

  /// Decodes the complete lines of `buffer` and leaves the last, incomplete one in it.
  private func ingest(lines buffer: inout [UInt8], lineNumber: inout Int) {
    guard let lastNewline = buffer.lastIndex(of: UInt8(ascii: "\n")) else { return }
    let complete = buffer[..<lastNewline]
    for line in complete.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
      lineNumber += 1
      guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0d }) else { continue }
      do {
        store.insert(try OTLPTraceDecoder.json(Data(line)))
      } catch {
        store.recordRejectedBody()
        logger.error("traces file \(path):\(lineNumber): \(error)")
      }
    }
    buffer.removeSubrange(...lastNewline)
  }

  enum ReadResult {
    case bytes([UInt8])
    case missing(String)
    case shrunk
  }

  /// What the file holds past `offset`, read on a dispatch queue.
  static func read(path: String, from offset: UInt64) async -> ReadResult {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(returning: readNow(path: path, from: offset))
      }
    }
  }

  private static func readNow(path: String, from offset: UInt64) -> ReadResult {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      return .missing(
        FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist")
    }
    defer { try? handle.close() }
    do {
      let size = try handle.seekToEnd()
      if size < offset { return .shrunk }
      if size == offset { return .bytes([]) }
      try handle.seek(toOffset: offset)
      // At most 16 MiB a turn: a huge file is taken in steps.
      let data = try handle.read(upToCount: Int(min(size - offset, 16 * 1024 * 1024))) ?? Data()
      return .bytes(Array(data))
    } catch {
      return .missing("cannot be read: \(error)")
    }
  }
}
