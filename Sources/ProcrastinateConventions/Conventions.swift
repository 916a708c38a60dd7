/// The rules of procrastinate 3.10's job contract that both the runtime (`Procrastinate`) and
/// the spec checker (`ProcrastinateGenerator`) apply, defined once so that a spec the
/// generator accepts makes jobs the runtime accepts, and the other way round.
///
/// `Procrastinate` keeps its own public names for some of them
/// (`DeferOptions.maximumQueueNameBytes`, `TracingKeys.defaultCarrier`), defined as these.
public enum Conventions {
  /// The queue of a job whose task or defer names none: procrastinate's `default`.
  public static let defaultQueue = "default"

  /// The longest queue name, in UTF-8 bytes. procrastinate notifies workers on the channel
  /// `procrastinate_queue_v1#<queue>`, and PostgreSQL channel names are at most 63 bytes.
  public static let maximumQueueNameBytes = 40

  /// The longest task name, in characters: `procrastinate_jobs.task_name` is `varchar(128)`.
  public static let maximumTaskNameCharacters = 128

  /// The args key that carries a job's trace context, `{"traceparent": …, "tracestate": …}`,
  /// as the Python guide passes it; the key a task uses unless its spec names another.
  public static let traceCarrier = "trace_context"

  /// How a job's span can relate to the span that deferred it, as spelled in specs and in the
  /// raw values of `Procrastinate.TraceRelation`: `child`, `link`, `none`.
  public static let traceRelations = ["child", "link", "none"]

  /// The relation of a task whose spec names none: the job span is a child of the producer's.
  public static let defaultTraceRelation = "child"

  /// The argument a periodic task's job gets from the deferrer: the tick, in Unix seconds,
  /// as procrastinate's `@app.periodic` passes it.
  public static let periodicTimestampArgument = "timestamp"
}
