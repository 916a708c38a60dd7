import ProcrastinateConventions

/// Span names and attribute keys, in one place: the OpenTelemetry conventions we follow and
/// the `procrastinate.*` ones of design §5.
public enum TracingKeys {
  public static let exceptionEvent = "exception"
  public static let exceptionType = "exception.type"
  public static let exceptionMessage = "exception.message"
  public static let errorType = "error.type"
  public static let traceParent = "traceparent"
  public static let traceState = "tracestate"

  /// The args key that carries the trace context, as the Python guide passes it.
  public static let defaultCarrier = Conventions.traceCarrier

  /// `procrastinate.defer.<task>`, kind PRODUCER.
  public static func deferSpanName(task: String) -> String { "procrastinate.defer.\(task)" }
  /// A batch defer of jobs of several tasks, kind PRODUCER.
  public static let deferBatchSpanName = "procrastinate.defer"
  /// `procrastinate.job.<task>`, kind CONSUMER.
  public static func jobSpanName(task: String) -> String { "procrastinate.job.\(task)" }

  public static let messagingSystem = "messaging.system"
  public static let messagingSystemValue = "procrastinate"
  public static let messagingOperationType = "messaging.operation.type"
  public static let messagingOperationName = "messaging.operation.name"
  public static let messagingDestinationName = "messaging.destination.name"
  public static let messagingMessageID = "messaging.message.id"
  public static let messagingBatchMessageCount = "messaging.batch.message_count"

  public static let taskName = "procrastinate.task.name"
  public static let jobID = "procrastinate.job.id"
  public static let jobIDs = "procrastinate.job.ids"
  public static let jobAttempts = "procrastinate.job.attempts"
  public static let jobPriority = "procrastinate.job.priority"
  public static let jobLock = "procrastinate.job.lock"
  public static let jobQueueingLock = "procrastinate.job.queueing_lock"
  public static let jobScheduledAt = "procrastinate.job.scheduled_at"
  /// Milliseconds the job waited in the queue: from its defer (or retry, or its scheduled
  /// time if later) to its start.
  public static let jobQueueWait = "procrastinate.job.queue_wait_ms"
  /// `succeeded`, `retried`, `failed` or `aborted`.
  public static let jobOutcome = "procrastinate.job.outcome"
  public static let workerID = "procrastinate.worker.id"
  /// The schedule id and the tick (Unix seconds) of a periodic task's defer.
  public static let periodicID = "procrastinate.periodic.id"
  public static let periodicTimestamp = "procrastinate.periodic.timestamp"
  /// Why the job's trace context was not used (missing or malformed); the job runs in a new trace.
  public static let traceContextError = "procrastinate.trace_context.error"
  /// Prefix of the arguments a spec copies onto spans (`record_args`).
  public static let argumentPrefix = "procrastinate.task.args."
}
