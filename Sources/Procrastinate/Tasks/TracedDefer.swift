import Foundation
import Instrumentation
import Tracing

extension ProcrastinateApp {
  /// Defers one job inside a `procrastinate.defer.<task>` PRODUCER span, carrying the
  /// current trace context in its arguments under ``JobRequest/trace``'s carrier key, and
  /// returns its id. With no tracer bootstrapped the span costs nothing and no context is
  /// added. A member already under the carrier key wins (`jsonb` keeps the last one).
  /// ``deferUntraced(_:)`` is the named exception: no span, the arguments as they are.
  ///
  /// - Throws: ``DeferError`` for a bad queue or task name (nothing reaches the database;
  ///   the span records the error),
  ///   ``AlreadyEnqueuedError`` when the queueing lock is taken, ``DatabaseError`` otherwise.
  @discardableResult
  public func `defer`(_ job: JobRequest) async throws -> Int64 {
    try await deferInSpan(task: job.taskName, options: job.options, trace: job.trace) {
      job.arguments.json
    }
  }

  /// Defers `task` with `arguments` and `options`, traced as ``defer(_:)``.
  @discardableResult
  public func `defer`(
    task: String, arguments: JobArguments = JobArguments(), options: DeferOptions = DeferOptions()
  ) async throws -> Int64 {
    try await self.defer(JobRequest(task: task, arguments: arguments, options: options))
  }

  /// Defers `task` with typed `arguments` inside a `procrastinate.defer.<task>` PRODUCER
  /// span, carrying the current trace context in the arguments under the task's carrier key.
  ///
  /// Generated `defer` functions call this; the spec's queue, priority and locks apply
  /// unless `overrides` changes them.
  ///
  /// - Returns: the job id.
  @discardableResult
  public func `defer`<Arguments: Encodable & Sendable>(
    _ task: TaskDefinition, arguments: Arguments, overrides: DeferOverrides = DeferOverrides()
  ) async throws -> Int64 {
    try await deferInSpan(
      task: task.name, options: overrides.applied(to: task.defaults), trace: task.trace
    ) { try Self.encode(arguments) }
  }

  /// Defers many jobs in one statement inside one PRODUCER span with
  /// `messaging.batch.message_count`, and returns their ids in the same order; every job
  /// carries that span's context under its own carrier key. The span is
  /// `procrastinate.defer.<task>` when the jobs share a task, else `procrastinate.defer`.
  /// All or nothing: a taken queueing lock defers none of them. ``deferBatchUntraced(_:)``
  /// is the named exception.
  @discardableResult
  public func deferBatch(_ jobs: [JobRequest]) async throws -> [Int64] {
    if jobs.isEmpty { return [] }
    let task = jobs.allSatisfy { $0.taskName == jobs[0].taskName } ? jobs[0].taskName : nil
    let queue =
      jobs.allSatisfy { $0.options.queue == jobs[0].options.queue } ? jobs[0].options.queue : nil
    // One task's ratio applies when every job is of that task.
    let ratio = task == nil ? nil : jobs[0].trace.sampleRatio
    return try await deferBatchInSpan(
      task: task, queue: queue, options: nil, count: jobs.count, sampleRatio: ratio
    ) {
      jobs
    }
  }

  /// Defers one job per element of `arguments` in one statement, inside one
  /// `procrastinate.defer.<task>` span with `messaging.batch.message_count`; every job
  /// carries that span's context. All or nothing, as ``deferBatch(_:)``.
  @discardableResult
  public func deferBatch<Arguments: Encodable & Sendable>(
    _ task: TaskDefinition, arguments: [Arguments], overrides: DeferOverrides = DeferOverrides()
  ) async throws -> [Int64] {
    let options = overrides.applied(to: task.defaults)
    return try await deferBatchInSpan(
      task: task.name, queue: options.queue, options: options, count: arguments.count,
      sampleRatio: task.trace.sampleRatio
    ) {
      try arguments.map {
        JobRequest(
          task: task.name, arguments: JobArguments(trustedJSON: try Self.encode($0)),
          options: options, trace: task.trace)
      }
    }
  }

  /// One job in its PRODUCER span: the arguments (`json`, made inside the span so that an
  /// encoding error is recorded on it) with the span's context spliced in.
  private func deferInSpan(
    task: String, options: DeferOptions, trace: TaskTraceOptions,
    json: () throws -> String
  ) async throws -> Int64 {
    let context = RootSampling.context(
      ratio: trace.sampleRatio, in: ServiceContext.current ?? .topLevel)
    return try await withSpan(
      TracingKeys.deferSpanName(task: task), context: context, ofKind: .producer
    ) { span in
      span.setProducerAttributes(task: task, queue: options.queue, options: options)
      let json = try json()
      span.recordArguments(json: json, names: trace.recordedArguments)
      let carried = Self.splice(Self.currentTraceContext(), key: trace.carrier, into: json)
      let id = try await deferUntraced(
        JobRequest(
          task: task, arguments: JobArguments(trustedJSON: carried), options: options,
          trace: trace))
      span.attributes[TracingKeys.messagingMessageID] = String(id)
      span.attributes[TracingKeys.jobID] = Int(id)
      return id
    }
  }

  /// Many jobs in one PRODUCER span; `task`, `queue` and `options` are set when all jobs
  /// share them.
  private func deferBatchInSpan(
    task: String?, queue: String?, options: DeferOptions?, count: Int, sampleRatio: Double?,
    jobs: () throws -> [JobRequest]
  ) async throws -> [Int64] {
    let name = task.map { TracingKeys.deferSpanName(task: $0) } ?? TracingKeys.deferBatchSpanName
    let context = RootSampling.context(
      ratio: sampleRatio, in: ServiceContext.current ?? .topLevel)
    return try await withSpan(name, context: context, ofKind: .producer) { span in
      span.setProducerAttributes(task: task, queue: queue, options: options)
      span.attributes[TracingKeys.messagingBatchMessageCount] = count
      var jobs = try jobs()
      // With no context to send (no tracer bootstrapped), the jobs go as they are.
      if let context = Self.currentTraceContext() {
        for index in jobs.indices {
          jobs[index].arguments = JobArguments(
            trustedJSON: Self.splice(
              context, key: jobs[index].trace.carrier, into: jobs[index].arguments.json))
        }
      }
      let ids = try await deferBatchUntraced(jobs)
      span.attributes[TracingKeys.jobIDs] = ids.map { Int($0) }
      return ids
    }
  }

  private static func encode<Arguments: Encodable>(_ arguments: Arguments) throws -> String {
    let data = try TaskArgumentCoding.encoder().encode(arguments)
    guard data.first == UInt8(ascii: "{") else {
      throw JobArgumentsError.notAnObject(
        found: (try? JSONDecoder().decode(JSONValue.self, from: data))?.kindName ?? "not JSON")
    }
    return String(decoding: data, as: UTF8.self)
  }

  /// The current trace context as a JSON object, or nil when there is none to send (no
  /// tracer bootstrapped, or nothing to propagate).
  private static func currentTraceContext() -> String? {
    var headers: [String: String] = [:]
    InstrumentationSystem.instrument.inject(
      ServiceContext.current ?? .topLevel, into: &headers, using: DictionaryInjector())
    if headers.isEmpty { return nil }
    return JSONValue.object(headers.mapValues { .string($0) }).description
  }

  /// Adds `"key": carrier` as the first member of the object `json`, whatever white space
  /// surrounds its braces; anything that is not an object is left as it is.
  static func splice(_ carrier: String?, key: String?, into json: String) -> String {
    guard let carrier, let key else { return json }
    let object = json.drop { $0.isWhitespace }
    guard object.first == "{" else { return json }
    let member = JSONValue.string(key).description + ":" + carrier
    let rest = object.dropFirst().drop { $0.isWhitespace }
    return rest.first == "}" ? "{" + member + "}" : "{" + member + "," + rest
  }
}

extension Span {
  /// The PRODUCER span's attributes; `task`, `queue` and `options` are nil for a batch
  /// whose jobs differ in them.
  fileprivate func setProducerAttributes(task: String?, queue: String?, options: DeferOptions?) {
    updateAttributes { attributes in
      attributes[TracingKeys.messagingSystem] = TracingKeys.messagingSystemValue
      attributes[TracingKeys.messagingOperationType] = "send"
      attributes[TracingKeys.messagingOperationName] = "defer"
      if let queue { attributes[TracingKeys.messagingDestinationName] = queue }
      if let task { attributes[TracingKeys.taskName] = task }
      guard let options else { return }
      attributes[TracingKeys.jobPriority] = Int(options.priority)
      if let lock = options.lock { attributes[TracingKeys.jobLock] = lock }
      if let lock = options.queueingLock { attributes[TracingKeys.jobQueueingLock] = lock }
    }
  }

  /// Copies the named top-level members of the arguments object onto the span.
  func recordArguments(json: String, names: [String]) {
    guard !names.isEmpty,
      let members = try? JSONDecoder().decode([String: JSONValue].self, from: Data(json.utf8))
    else { return }
    for name in names {
      guard let value = members[name] else { continue }
      let key = TracingKeys.argumentPrefix + name
      switch value {
      case .string(let text): attributes[key] = text
      case .int(let number): attributes[key] = Int(number)
      case .double(let number): attributes[key] = number
      case .bool(let flag): attributes[key] = flag
      default: attributes[key] = value.description
      }
    }
  }
}

struct DictionaryInjector: Injector {
  func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
    carrier[key] = value
  }
}

struct DictionaryExtractor: Extractor {
  func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

/// W3C trace identities read through the process's instrument, whichever tracer it is (ours,
/// swift-otel, or another): what it would send in a `traceparent` header.
public enum W3CTrace {
  /// The trace id (32 lowercase hex digits) of the span in `context`; nil when no tracer is
  /// set up or there is no span.
  public static func traceID(in context: ServiceContext = .current ?? .topLevel) -> String? {
    var headers: [String: String] = [:]
    InstrumentationSystem.instrument.inject(context, into: &headers, using: DictionaryInjector())
    guard let parent = headers[TracingKeys.traceParent], TraceParent.isValid(parent) else {
      return nil
    }
    return String(parent.split(separator: "-")[1])
  }
}
