import Foundation
import Logging
import ProcrastinateTraceData
import ServiceLifecycle

#if canImport(Glibc)
  import Glibc
#endif

/// Follows the file exporter's output (OTLP/JSON export requests, one per line) as it grows,
/// from its start, and keeps its spans. A line that is not OTLP/JSON is logged with its
/// number and counted as a refused body; a file that is truncated or replaced is read again
/// from its start. Reads and decoding run on a dispatch queue, not on Swift's cooperative pool.
struct TraceFileFollower: Service {
  let path: String
  let store: SpanStore
  let logger: Logger
  var interval: Duration = .milliseconds(250)
  /// A line longer than this (no newline in sight) is dropped and counted as refused.
  var maximumLineBytes = 16 * 1024 * 1024

  func run() async throws {
    try await cancelWhenGracefulShutdown {
      var offset: UInt64 = 0
      var identity: FileIdentity?
      var partial: [UInt8] = []
      var lineNumber = 0
      var reportedMissing = false
      var skippingLine = false
      while !Task.isCancelled {
        switch await Self.read(path: path, from: offset) {
        case .missing(let reason):
          if !reportedMissing {
            logger.warning("traces file \(path): \(reason); waiting for it to appear")
            reportedMissing = true
          }
        case .read(let bytes, let file, let size):
          reportedMissing = false
          // A file truncated, or replaced by another (rotated, deleted and created again):
          // read the new one from its start.
          if size < offset || (identity != nil && identity != file) {
            logger.info("traces file \(path) was truncated or replaced; reading it from its start")
            (offset, partial, lineNumber, identity) = (0, [], 0, file)
            continue
          }
          identity = file
          offset += UInt64(bytes.count)
          partial += bytes
          if partial.count > maximumLineBytes, !partial.contains(UInt8(ascii: "\n")) {
            lineNumber += 1
            store.recordRejectedBody()
            logger.error(
              "traces file \(path):\(lineNumber): a line longer than \(maximumLineBytes) bytes; skipped"
            )
            partial = []
            skippingLine = true
          }
          let (lines, numbers, rest) = Self.completeLines(
            &partial, skipFirst: &skippingLine, lineNumber: &lineNumber)
          partial = rest
          if !lines.isEmpty {
            let store = self.store
            let failures =
              (try? await OffPool.run { Self.decode(lines, numbers: numbers, into: store) }) ?? []
            for (number, error) in failures {
              logger.error("traces file \(path):\(number): \(error)")
            }
          }
        }
        try await Task.sleep(for: interval)
      }
    }
  }

  /// Splits off the complete lines of `buffer` (numbered), leaving the incomplete last one.
  /// After an over-long line was dropped, its remainder up to the next newline is skipped.
  static func completeLines(
    _ buffer: inout [UInt8], skipFirst: inout Bool, lineNumber: inout Int
  ) -> (lines: [[UInt8]], numbers: [Int], rest: [UInt8]) {
    guard let lastNewline = buffer.lastIndex(of: UInt8(ascii: "\n")) else {
      return ([], [], skipFirst ? [] : buffer)
    }
    var lines: [[UInt8]] = []
    var numbers: [Int] = []
    for line in buffer[..<lastNewline].split(
      separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    {
      if skipFirst {
        skipFirst = false
        continue
      }
      lineNumber += 1
      guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0d }) else { continue }
      lines.append(Array(line))
      numbers.append(lineNumber)
    }
    return (lines, numbers, Array(buffer[(lastNewline + 1)...]))
  }

  /// Decodes and keeps each line's spans; the lines that are not OTLP/JSON, with why.
  private static func decode(_ lines: [[UInt8]], numbers: [Int], into store: SpanStore)
    -> [(Int, OTLPDecodingError)]
  {
    var failures: [(Int, OTLPDecodingError)] = []
    for (line, number) in zip(lines, numbers) {
      do {
        store.insert(try OTLPTraceDecoder.json(Data(line)))
      } catch {
        store.recordRejectedBody()
        failures.append((number, error))
      }
    }
    return failures
  }

  /// The device and inode of the file read: another pair means another file.
  struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
  }

  enum ReadResult: Sendable {
    /// What lies past the offset, which file it is, and its size.
    case read([UInt8], FileIdentity, size: UInt64)
    case missing(String)
  }

  /// What the file holds past `offset`, read on a dispatch queue.
  static func read(path: String, from offset: UInt64) async -> ReadResult {
    // `readNow` throws nothing: only cancellation could, and the loop checks it.
    (try? await OffPool.run { readNow(path: path, from: offset) }) ?? .missing("not read")
  }

  private static func readNow(path: String, from offset: UInt64) -> ReadResult {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      return .missing(
        FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist")
    }
    defer { try? handle.close() }
    var status = stat()
    guard fstat(handle.fileDescriptor, &status) == 0 else { return .missing("cannot be read") }
    let identity = FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    do {
      let size = try handle.seekToEnd()
      guard size > offset else { return .read([], identity, size: size) }
      try handle.seek(toOffset: offset)
      // At most 16 MiB a turn: a huge file is taken in steps.
      let data = try handle.read(upToCount: Int(min(size - offset, 16 * 1024 * 1024))) ?? Data()
      return .read(Array(data), identity, size: size)
    } catch {
      return .missing("cannot be read: \(error)")
    }
  }
}
