import Foundation
import Instrumentation
import Tracing

extension ProcrastinateApp {
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
    let options = overrides.applied(to: task.defaults)
    return try await withSpan(TracingKeys.deferSpanName(task: task.name), ofKind: .producer) {
      span in
      span.setProducerAttributes(task: task, options: options)
      let json = try Self.encode(arguments, for: task)
      span.recordArguments(json: json, names: task.trace.recordedArguments)
      let request = JobRequest(
        task: task.name, arguments: JobArguments(trustedJSON: Self.carrying(task, in: json)),
        options: options)
      let id = try await self.defer(request)
      span.attributes[TracingKeys.messagingMessageID] = String(id)
      span.attributes[TracingKeys.jobID] = Int(id)
      return id
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
    return try await withSpan(TracingKeys.deferSpanName(task: task.name), ofKind: .producer) {
      span in
      span.setProducerAttributes(task: task, options: options)
      span.attributes[TracingKeys.messagingBatchMessageCount] = arguments.count
      let carrier = Self.carrier(for: task)
      let requests = try arguments.map {
        let json = try Self.encode($0, for: task)
        return JobRequest(
          task: task.name,
          arguments: JobArguments(
            trustedJSON: Self.splice(carrier, key: task.trace.carrier, into: json)),
          options: options)
      }
      let ids = try await self.deferBatch(requests)
      span.attributes[TracingKeys.jobIDs] = ids.map { Int($0) }
      return ids
    }
  }

  private static func encode<Arguments: Encodable>(_ arguments: Arguments, for task: TaskDefinition)
    throws -> String
  {
    let data = try TaskArgumentCoding.encoder().encode(arguments)
    guard data.first == UInt8(ascii: "{") else {
      throw JobArgumentsError.notAnObject(
        found: (try? JSONDecoder().decode(JSONValue.self, from: data))?.kindName ?? "not JSON")
    }
    return String(decoding: data, as: UTF8.self)
  }

  /// The current trace context as a JSON object, or nil when there is none to send.
  private static func carrier(for task: TaskDefinition) -> String? {
    guard task.trace.carrier != nil else { return nil }
    var headers: [String: String] = [:]
    InstrumentationSystem.instrument.inject(
      ServiceContext.current ?? .topLevel, into: &headers, using: DictionaryInjector())
    if headers.isEmpty { return nil }
    return JSONValue.object(headers.mapValues { .string($0) }).description
  }

  private static func carrying(_ task: TaskDefinition, in json: String) -> String {
    splice(carrier(for: task), key: task.trace.carrier, into: json)
  }

  /// Adds `"key": carrier` as the first member of the object `json`.
  private static func splice(_ carrier: String?, key: String?, into json: String) -> String {
    guard let carrier, let key else { return json }
    let member = JSONValue.string(key).description + ":" + carrier
    let rest = json.dropFirst().drop { $0 == " " || $0 == "\n" }
    return rest.first == "}" ? "{" + member + "}" : "{" + member + "," + rest
  }
}

extension Span {
  fileprivate func setProducerAttributes(task: TaskDefinition, options: DeferOptions) {
    updateAttributes { attributes in
      attributes[TracingKeys.messagingSystem] = TracingKeys.messagingSystemValue
      attributes[TracingKeys.messagingOperationType] = "send"
      attributes[TracingKeys.messagingOperationName] = "defer"
      attributes[TracingKeys.messagingDestinationName] = options.queue
      attributes[TracingKeys.taskName] = task.name
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
