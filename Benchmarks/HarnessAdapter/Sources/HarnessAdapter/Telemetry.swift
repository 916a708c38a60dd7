import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The harness reads stdout as telemetry: one JSON object per line, each written whole
/// and at once (no buffering), so a line never interleaves with another or waits in a buffer.
final class Telemetry: Sendable {
  let settings: AdapterSettings
  private let writing = Mutex(())

  init(settings: AdapterSettings) { self.settings = settings }

  func write(_ object: [String: Any]) {
    guard
      let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    else { return }
    writing.withLock { _ in
      FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
  }

  /// The descriptor the harness waits for (within 60 s of start).
  func descriptor(startedAt: Date) {
    write([
      "kind": "descriptor", "system": "swift-procrastinate",
      "event_tables": ["public.procrastinate_jobs", "public.procrastinate_events"],
      // Every index of the two event tables in the 3.10 schema (a harness reads their
      // statistics by these names).
      "event_indexes": [
        "public.procrastinate_jobs_pkey",
        "public.procrastinate_jobs_queueing_lock_idx_v1",
        "public.procrastinate_jobs_lock_idx_v1",
        "public.idx_procrastinate_jobs_worker_not_null",
        "public.procrastinate_jobs_queue_name_idx_v1",
        "public.procrastinate_jobs_id_lock_idx_v1",
        "public.procrastinate_jobs_priority_idx_v1",
        "public.procrastinate_events_pkey",
        "public.procrastinate_events_job_id_fkey_v1",
      ],
      "extensions": [String](), "version": AdapterVersion.version, "schema_version": "3.10",
      "db_name": settings.databaseName, "started_at": Timestamp.iso(startedAt),
      "instance_id": settings.instanceID,
    ])
  }

  /// One sample: `window_s` is the span of time the value covers (0 for a point reading).
  func metric(_ name: String, _ value: Double, window: Double, at time: Date) {
    write([
      "t": Timestamp.iso(time), "system": "swift-procrastinate", "kind": "adapter",
      "subject_kind": "adapter", "subject": "", "metric": name,
      "value": value.isFinite ? value : 0, "window_s": window,
      "instance_id": settings.instanceID,
    ])
  }
}

enum AdapterVersion {
  /// The adapter's own version, as the descriptor reports it.
  static let version = "0.1.0"
}

/// ISO 8601 UTC with milliseconds and `Z`, the harness's time format, written and read
/// without Foundation's formatters (the handler reads one per job).
enum Timestamp {
  static func iso(_ date: Date) -> String {
    let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    var seconds = time_t(milliseconds / 1000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func pad(_ value: Int32, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return
      "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(milliseconds % 1000), 3))Z"
  }

  /// Seconds since 1970 of `YYYY-MM-DDTHH:MM:SS[.fff…]Z`; nil for anything else.
  static func parse(_ text: String) -> Double? {
    let bytes = Array(text.utf8)
    guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z") else { return nil }
    func number(_ range: Range<Int>) -> Int32? {
      var value: Int32 = 0
      for index in range {
        let digit = bytes[index] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        value = value * 10 + Int32(digit)
      }
      return value
    }
    guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
      let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
    else { return nil }
    var parts = tm()
    parts.tm_year = year - 1900
    parts.tm_mon = month - 1
    parts.tm_mday = day
    parts.tm_hour = hour
    parts.tm_min = minute
    parts.tm_sec = second
    var fraction = 0.0
    if bytes[19] == UInt8(ascii: ".") {
      var scale = 0.1
      for byte in bytes[20..<(bytes.count - 1)] {
        let digit = byte &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        fraction += Double(digit) * scale
        scale /= 10
      }
    } else if bytes.count != 20 {
      return nil
    }
    return Double(timegm(&parts)) + fraction
  }
}
