import Foundation
import Logging
import Synchronization
import Tracing

extension TaskRegistry {
  /// Registers a typed, traced handler for `task`: the run wrapper generated code installs.
  ///
  /// For each job it reads the trace context under the task's carrier key, opens the
  /// `procrastinate.job.<task>` CONSUMER span (child of the producer span, linked to it, or
  /// a fresh root, per ``TaskTraceOptions/relation``), decodes the arguments (a mismatch
  /// fails the job with a ``TaskArgumentsError`` naming the task and the field), runs
  /// `handler` with the span in ``JobContext/span`` and as the current span, records an
  /// error with status ERROR, and sets the outcome. The retry strategy is the task's.
  ///
  /// A missing or malformed trace context never fails the job: it runs in a new trace, the
  /// span's `procrastinate.trace_context.error` says why, and a warning is logged once per task.
  public mutating func register<Arguments: Decodable & Sendable>(
    _ task: TaskDefinition, arguments: Arguments.Type = Arguments.self,
    handler: @escaping @Sendable (Arguments, JobContext) async throws -> Void
  ) throws {
    var task = task
    if var retry = task.retry {
      // Arguments that do not decode will not decode on the next attempt either.
      let chosen = retry.shouldRetry
      retry.shouldRetry = { error in !(error is TaskArgumentsError) && (chosen?(error) ?? true) }
      task = TaskDefinition(
        name: task.name, defaults: task.defaults, retry: retry, trace: task.trace)
    }
    try register(task.name, retry: task.retry) { [task] jobArguments, context in
      try await TracedRun.run(task, jobArguments, context) { jobArguments, context in
        let arguments: Arguments
        do {
          arguments = try jobArguments.decode(Arguments.self, decoder: TaskArgumentCoding.decoder())
        } catch {
          throw TaskArgumentsError(task: task.name, decoding: error)
        }
        try await handler(arguments, context)
      }
    }
  }
}

enum TracedRun {
  /// Tasks already warned about a bad trace context, so the log gets one line per task.
  private static let warned = Mutex<Set<String>>([])

  static func run(
    _ task: TaskDefinition, _ arguments: JobArguments, _ context: JobContext,
    body: @Sendable (JobArguments, JobContext) async throws -> Void
  ) async throws {
    let tracer = InstrumentationSystem.tracer
    let (parent, problem) = extractParent(task: task, arguments: arguments)
    var base = ServiceContext.topLevel
    if task.trace.relation == .child, let parent { base = parent }
    let span = tracer.startSpan(
      TracingKeys.jobSpanName(task: task.name), context: base, ofKind: .consumer)
    if task.trace.relation == .link, let parent {
      span.addLink(SpanLink(context: parent, attributes: [:]))
    }
    span.setConsumerAttributes(task: task, context: context)
    if let problem {
      span.attributes[TracingKeys.traceContextError] = problem
      let first = warned.withLock { $0.insert(task.name).inserted }
      if first {
        context.logger.warning(
          "task \(task.name): \(problem); its jobs run in new traces (logged once per task)")
      }
    }
    if !task.trace.recordedArguments.isEmpty {
      span.recordArguments(json: arguments.json, names: task.trace.recordedArguments)
    }
    var jobContext = context
    jobContext.span = span
    defer { span.end() }
    do {
      try await ServiceContext.withValue(span.context) {
        try await body(arguments, jobContext)
      }
      span.attributes[TracingKeys.jobOutcome] = "succeeded"
    } catch {
      let aborted = error is CancellationError || Task.isCancelled
      let retried =
        !aborted && task.retry?.retryDelay(attempts: context.attempts, error: error) != nil
      span.attributes[TracingKeys.jobOutcome] = aborted ? "aborted" : retried ? "retried" : "failed"
      span.attributes[TracingKeys.errorType] = String(reflecting: type(of: error))
      span.recordError(error)
      span.setStatus(SpanStatus(code: .error, message: String(describing: error)))
      throw error
    }
  }

  /// The producer's context from the carrier, or why there is none to use.
  private static func extractParent(task: TaskDefinition, arguments: JobArguments)
    -> (ServiceContext?, String?)
  {
    guard let key = task.trace.carrier, task.trace.relation != .none else { return (nil, nil) }
    let value: JSONValue?
    do {
      value = try arguments.decode(CarrierProbe.self, decoder: CarrierProbe.decoder(key: key)).value
    } catch {
      return (nil, "the job's arguments could not be read for '\(key)'")
    }
    guard let value else { return (nil, "no '\(key)' in the job's arguments") }
    guard case .object(let members) = value else {
      return (nil, "'\(key)' is \(value.kindName), not an object with a traceparent")
    }
    guard case .string(let traceParent) = members[TracingKeys.traceParent] ?? .null else {
      return (nil, "'\(key)' has no traceparent string")
    }
    guard TraceParent.isValid(traceParent) else {
      return (
        nil, "'\(key)'.traceparent '\(traceParent.prefix(80))' is not a valid W3C traceparent"
      )
    }
    var headers = [TracingKeys.traceParent: traceParent]
    if case .string(let state) = members[TracingKeys.traceState] ?? .null {
      headers[TracingKeys.traceState] = state
    }
    var context = ServiceContext.topLevel
    InstrumentationSystem.instrument.extract(headers, into: &context, using: DictionaryExtractor())
    if !traceParent.hasPrefix("00-") {
      // A later W3C version: valid, but a tracer may only read version 00. Whether it read
      // this one shows in what it would send on.
      var sent: [String: String] = [:]
      InstrumentationSystem.instrument.inject(context, into: &sent, using: DictionaryInjector())
      if sent[TracingKeys.traceParent] == nil {
        return (
          nil,
          "'\(key)'.traceparent '\(traceParent.prefix(80))' has a W3C version the tracer does not read"
        )
      }
    }
    return (context, nil)
  }
}

/// Reads one member of the arguments object without materialising the rest.
private struct CarrierProbe: Decodable {
  static let keyInfo = CodingUserInfoKey(rawValue: "procrastinate.carrier")!
  let value: JSONValue?

  static func decoder(key: String) -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.userInfo[keyInfo] = key
    return decoder
  }

  struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  init(from decoder: any Decoder) throws {
    let key = Key(stringValue: decoder.userInfo[Self.keyInfo] as? String ?? "")
    value = try decoder.container(keyedBy: Key.self).decodeIfPresent(JSONValue.self, forKey: key)
  }
}

/// The W3C `traceparent` syntax: `vv-<32 hex>-<16 hex>-ff`, ids not all zero, version not ff.
enum TraceParent {
  static func isValid(_ header: String) -> Bool {
    let parts = header.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count >= 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16,
      parts[3].count == 2, parts[0] != "ff"
    else { return false }
    if parts[0] == "00" && parts.count != 4 { return false }
    let hex = Set("0123456789abcdef")
    for part in parts.prefix(4) where !part.allSatisfy(hex.contains) { return false }
    return parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
  }
}

extension Span {
  fileprivate func setConsumerAttributes(task: TaskDefinition, context: JobContext) {
    // One update, not one copy of the attribute dictionary per key.
    updateAttributes { attributes in
      attributes[TracingKeys.messagingSystem] = TracingKeys.messagingSystemValue
      attributes[TracingKeys.messagingOperationType] = "process"
      attributes[TracingKeys.messagingOperationName] = "run"
      attributes[TracingKeys.messagingDestinationName] = context.queueName
      attributes[TracingKeys.messagingMessageID] = String(context.jobID)
      attributes[TracingKeys.taskName] = task.name
      attributes[TracingKeys.jobID] = Int(context.jobID)
      attributes[TracingKeys.jobAttempts] = context.attempts
      attributes[TracingKeys.jobPriority] = Int(context.priority)
      attributes[TracingKeys.workerID] = Int(context.workerID)
      if let lock = context.lock { attributes[TracingKeys.jobLock] = lock }
      if let lock = context.queueingLock { attributes[TracingKeys.jobQueueingLock] = lock }
      if let scheduled = context.scheduledAt {
        attributes[TracingKeys.jobScheduledAt] = scheduled.ISO8601Format()
      }
      if let wait = context.queueWait() {
        attributes[TracingKeys.jobQueueWait] =
          Double(wait.components.seconds) * 1000 + Double(wait.components.attoseconds) / 1e15
      }
    }
  }
}
