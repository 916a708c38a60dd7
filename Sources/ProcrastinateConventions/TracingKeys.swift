/// Span names and attribute keys, in one place: the OpenTelemetry conventions we follow and
/// the `procrastinate.*` ones of design §5.
public enum TracingKeys {
  /// The span event that records an error (OpenTelemetry's `exception`).
  public static let exceptionEvent = "exception"
  /// The `exception` event's attribute holding the error's type name.
  public static let exceptionType = "exception.type"
  /// The `exception` event's attribute holding the error's description.
  public static let exceptionMessage = "exception.message"
  /// The job span's attribute holding the type name of the error that ended the run.
  public static let errorType = "error.type"
  /// The carrier member holding the W3C `traceparent`: version, trace id, span id, flags.
  public static let traceParent = "traceparent"
  /// The carrier member holding the W3C `tracestate`, when the trace has one.
  public static let traceState = "tracestate"

  /// The args key that carries the trace context, as the Python guide passes it.
  public static let defaultCarrier = Conventions.traceCarrier

  /// `procrastinate.defer.<task>`, kind PRODUCER.
  public static func deferSpanName(task: String) -> String { "procrastinate.defer.\(task)" }
  /// A batch defer of jobs of several tasks, kind PRODUCER.
  public static let deferBatchSpanName = "procrastinate.defer"
  /// `procrastinate.job.<task>`, kind CONSUMER.
  public static func jobSpanName(task: String) -> String { "procrastinate.job.\(task)" }

  /// The messaging system of defer and job spans: ``messagingSystemValue``.
  public static let messagingSystem = "messaging.system"
  /// The value of ``messagingSystem``: `procrastinate`.
  public static let messagingSystemValue = "procrastinate"
  /// The operation type: `send` on a defer span, `process` on a job span.
  public static let messagingOperationType = "messaging.operation.type"
  /// The operation name: `defer` on a defer span, `run` on a job span.
  public static let messagingOperationName = "messaging.operation.name"
  /// The queue the job is deferred to or was fetched from (on a batch, when its jobs share one).
  public static let messagingDestinationName = "messaging.destination.name"
  /// The job id, as a string.
  public static let messagingMessageID = "messaging.message.id"
  /// How many jobs a batch defer sent.
  public static let messagingBatchMessageCount = "messaging.batch.message_count"

  /// The task name (on a batch defer span, when its jobs share one).
  public static let taskName = "procrastinate.task.name"
  /// The job id, as an integer: on the job span, and on a one-job defer span once stored.
  public static let jobID = "procrastinate.job.id"
  /// The ids of a batch defer's jobs, in the order they were given.
  public static let jobIDs = "procrastinate.job.ids"
  /// The job's attempts before this run: 0 on the first run.
  public static let jobAttempts = "procrastinate.job.attempts"
  /// The job's priority.
  public static let jobPriority = "procrastinate.job.priority"
  /// The job's lock, when it has one.
  public static let jobLock = "procrastinate.job.lock"
  /// The job's queueing lock, when it has one.
  public static let jobQueueingLock = "procrastinate.job.queueing_lock"
  /// When a scheduled job was due to start, in ISO 8601 (on the job span).
  public static let jobScheduledAt = "procrastinate.job.scheduled_at"
  /// Milliseconds the job waited in the queue: from its defer (or retry, or its scheduled
  /// time if later) to its start.
  public static let jobQueueWait = "procrastinate.job.queue_wait_ms"
  /// `succeeded`, `retried`, `failed` or `aborted`.
  public static let jobOutcome = "procrastinate.job.outcome"
  /// The id of the worker running the job (`procrastinate_workers.id`).
  public static let workerID = "procrastinate.worker.id"
  /// The schedule id and the tick (Unix seconds) of a periodic task's defer.
  public static let periodicID = "procrastinate.periodic.id"
  /// The tick of a periodic task's defer, in Unix seconds.
  public static let periodicTimestamp = "procrastinate.periodic.timestamp"
  /// Why the job's trace context was not used (missing or malformed); the job runs in a new trace.
  public static let traceContextError = "procrastinate.trace_context.error"
  /// Prefix of the arguments a spec copies onto spans (`record_args`).
  public static let argumentPrefix = "procrastinate.task.args."
}
