import Foundation
import Procrastinate
import ProcrastinateTraceData

/// The JSON API's shapes, built for `JSONSerialization`.
enum DashboardJSON {
  static func job(_ job: JobSummary) -> [String: Any] {
    let arguments =
      (try? JSONSerialization.jsonObject(
        with: Data(job.arguments.utf8), options: [.fragmentsAllowed]))
      ?? job.arguments
    return [
      "id": job.id, "queue": job.queue, "task": job.task, "priority": Int(job.priority),
      "lock": job.lock.map { $0 as Any } ?? NSNull(),
      "queueingLock": job.queueingLock.map { $0 as Any } ?? NSNull(),
      "args": arguments, "status": job.status,
      "scheduledAt": job.scheduledAt.map { $0.timeIntervalSince1970 as Any } ?? NSNull(),
      "attempts": job.attempts, "abortRequested": job.abortRequested,
      "workerId": job.workerID.map { $0 as Any } ?? NSNull(),
    ]
  }

  /// A span: ids as hex, times as Unix nanoseconds, attributes as an object.
  static func span(_ span: TraceSpan) -> [String: Any] {
    [
      "traceId": span.traceID, "spanId": span.spanID,
      "parentSpanId": span.parentSpanID.map { $0 as Any } ?? NSNull(),
      "name": span.name, "kind": span.kind.rawValue, "service": span.serviceName,
      "start": span.startNanoseconds, "end": span.endNanoseconds,
      "durationMs": Double(span.durationNanoseconds) / 1e6,
      "status": [
        "code": span.statusCode.rawValue,
        "message": span.statusMessage.map { $0 as Any } ?? NSNull(),
      ],
      "attributes": attributes(span.attributes),
      "events": span.events.map { event in
        [
          "name": event.name, "time": event.timeNanoseconds,
          "attributes": attributes(event.attributes),
        ]
          as [String: Any]
      },
    ]
  }

  private static func attributes(_ attributes: [TraceAttribute]) -> [String: Any] {
    var object: [String: Any] = [:]
    for attribute in attributes where object[attribute.key] == nil {
      object[attribute.key] = value(attribute.value)
    }
    return object
  }

  private static func value(_ value: TraceValue) -> Any {
    switch value {
    case .string(let text): text
    case .bool(let flag): flag
    case .int(let number): number
    case .double(let number): number.isFinite ? number : String(number) as Any
    case .bytes: value.text
    case .array(let values): values.map(self.value)
    case .map(let entries): attributes(entries)
    }
  }
}
