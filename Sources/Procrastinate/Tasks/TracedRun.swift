import Foundation
import Logging
import ProcrastinateConventions
import ProcrastinateJobSpans
import Synchronization
import Tracing

extension TaskRegistry {
  /// Registers a typed, traced handler for `task`: the run wrapper generated code installs.
  ///
  /// For each job it reads the trace context under the task's carrier key, opens the
  /// `procrastinate.job.<task>` CONSUMER span (child of the producer span, linked to it, or
  /// a fresh root, per ``TaskTraceOptions/relation``), decodes the arguments without the
  /// carrier's member, which belongs to the tracing, not to the task (a mismatch
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
    let spanName = TracingKeys.jobSpanName(task: task.name)  // once, not per job
    try register(task.name, retry: task.retry) { [task] jobArguments, context in
      try await TracedRun.run(task, spanName: spanName, jobArguments, context) {
        jobArguments, context in
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
    _ task: TaskDefinition, spanName: String, _ arguments: JobArguments, _ context: JobContext,
    body: @Sendable (JobArguments, JobContext) async throws -> Void
  ) async throws {
    let current = CurrentTracer.current
    let (headers, carrierProblem, member) = readCarrier(task: task, arguments: arguments)
    var problem = carrierProblem
    // Our tracer starts a child straight from the headers, the attributes in it; any other
    // tracer (or relation) goes through `extract` and `startSpan`.
    var started: (any Span & JobAttributeRecording)?
    var parent: ServiceContext?
    if let headers, let key = task.trace.carrier {
      if task.trace.relation == .child, let jobSpans = current.jobSpans {
        started = jobSpans.startJobSpan(
          spanName, traceParent: headers.traceParent, traceState: headers.traceState,
          attributes: JobSpanAttributes(task: task, context: context))
        if started == nil { problem = headers.unread(key: key) }
      } else {
        (parent, problem) = extract(headers, key: key)
      }
    }
    let span: any Span
    if let started {
      span = started
    } else {
      var base = ServiceContext.topLevel
      if task.trace.relation == .child, let parent { base = parent }
      // A root (no producer to continue): the task's own ratio, if it has one, decides.
      base = RootSampling.context(ratio: task.trace.sampleRatio, in: base)
      span = current.tracer.startSpan(spanName, context: base, ofKind: .consumer)
      if task.trace.relation == .link, let parent {
        span.addLink(SpanLink(context: parent, attributes: [:]))
      }
    }
    // A span that records nothing (no tracer, or a trace left out by sampling) is given
    // nothing: building its attributes would cost an untraced job for nothing.
    let recording = span.isRecording
    // Our tracer's spans keep the job's attributes as one value until export, where they are
    // written field by field; any other span gets them as attributes.
    let jobRecording = started ?? (recording ? span as? any JobAttributeRecording : nil)
    if recording && started == nil {
      let attributes = JobSpanAttributes(task: task, context: context)
      if let jobRecording {
        jobRecording.setJobAttributes(attributes)
      } else {
        span.setEachJobAttribute(attributes)
      }
    }
    func setOutcome(_ outcome: String) {
      if let jobRecording {
        jobRecording.setJobOutcome(outcome)
      } else {
        span.attributes[TracingKeys.jobOutcome] = outcome
      }
    }
    if let problem {
      if recording { span.attributes[TracingKeys.traceContextError] = problem.description }
      let first = warned.withLock { $0.insert(task.name).inserted }
      if first {
        context.logger.warning(
          "task \(task.name): \(problem); its jobs run in new traces (logged once per task)")
      }
    }
    if recording && !task.trace.recordedArguments.isEmpty {
      span.recordArguments(json: arguments.json, names: task.trace.recordedArguments)
    }
    var jobContext = context
    jobContext.span = span
    defer { span.end() }
    do {
      // The carrier is the tracing's, not the task's: the handler's arguments go without
      // it, which also spares the typed decode from reading it on every job.
      let taskArguments =
        member.map {
          JobArguments(trustedJSON: TraceCarrierReader.removing($0, from: arguments.json))
        }
        ?? arguments
      try await ServiceContext.withValue(span.context) {
        try await body(taskArguments, jobContext)
      }
      if recording { setOutcome("succeeded") }
    } catch {
      guard recording else { throw error }
      setOutcome(JobOutcome(error: error, retry: task.retry, attempts: context.attempts).name)
      span.attributes[TracingKeys.errorType] = String(reflecting: type(of: error))
      span.recordError(error)
      span.setStatus(SpanStatus(code: .error, message: String(describing: error)))
      throw error
    }
  }

  /// The carrier's W3C headers, once checked, or why there are none to use, and where the
  /// carrier's member is in the arguments' text.
  private static func readCarrier(task: TaskDefinition, arguments: JobArguments)
    -> (CarrierHeaders?, CarrierProblem?, Range<Int>?)
  {
    guard let key = task.trace.carrier, task.trace.relation != .none else {
      return (nil, nil, nil)
    }
    let (carrier, member) = TraceCarrierReader.scan(arguments.json, key: key)
    let (headers, problem) = checkedHeaders(carrier, key: key)
    return (headers, problem, member)
  }

  private static func checkedHeaders(_ carrier: TraceCarrier, key: String)
    -> (CarrierHeaders?, CarrierProblem?)
  {
    switch carrier {
    case .unreadable:
      return (nil, CarrierProblem(key: key, reason: .unreadable))
    case .missing:
      return (nil, CarrierProblem(key: key, reason: .missing))
    case .notAnObject(let kind):
      return (nil, CarrierProblem(key: key, reason: .notAnObject(kind: kind)))
    case .object(nil, _):
      return (nil, CarrierProblem(key: key, reason: .noTraceParent))
    case .object(let traceParent?, let state):
      guard TraceParent.isValid(traceParent) else {
        return (nil, CarrierProblem(key: key, reason: .invalid(traceParent: traceParent)))
      }
      return (CarrierHeaders(traceParent: traceParent, traceState: state), nil)
    }
  }

  /// The producer's context, read by the process's instrument, or why it gives none.
  private static func extract(_ headers: CarrierHeaders, key: String)
    -> (ServiceContext?, CarrierProblem?)
  {
    var context = ServiceContext.topLevel
    InstrumentationSystem.instrument.extract(
      headers, into: &context, using: CarrierHeaders.Reader())
    if !headers.isVersion00 {
      // A later W3C version: valid, but a tracer may only read version 00. Whether it read
      // this one shows in what it would send on.
      var sent: [String: String] = [:]
      InstrumentationSystem.instrument.inject(context, into: &sent, using: DictionaryInjector())
      if sent[TracingKeys.traceParent] == nil { return (nil, headers.unread(key: key)) }
    }
    return (context, nil)
  }
}

/// Why a job's carrier gives no parent. Put into words only when it is logged or recorded:
/// a job deferred without a tracer has no carrier, and its run should not pay for a message.
private struct CarrierProblem: CustomStringConvertible {
  enum Reason {
    case unreadable, missing, noTraceParent
    case notAnObject(kind: String)
    case invalid(traceParent: String)
    case unreadVersion(traceParent: String)
  }

  var key: String
  var reason: Reason

  var description: String {
    switch reason {
    case .unreadable: "the job's arguments could not be read for '\(key)'"
    case .missing: "no '\(key)' in the job's arguments"
    case .notAnObject(let kind): "'\(key)' is \(kind), not an object with a traceparent"
    case .noTraceParent: "'\(key)' has no traceparent string"
    case .invalid(let traceParent):
      "'\(key)'.traceparent '\(traceParent.prefix(80))' is not a valid W3C traceparent"
    case .unreadVersion(let traceParent):
      "'\(key)'.traceparent '\(traceParent.prefix(80))' has a W3C version the tracer does not read"
    }
  }
}

/// The two W3C headers of a carrier, handed to the instrument without a dictionary.
private struct CarrierHeaders {
  var traceParent: String
  var traceState: String?

  var isVersion00: Bool { traceParent.utf8.starts(with: "00-".utf8) }

  /// Why a tracer that did not read `traceParent` gives no parent: nothing to say of version
  /// 00 (the job runs in a new trace, as after `extract`), an unread version otherwise.
  func unread(key: String) -> CarrierProblem? {
    isVersion00 ? nil : CarrierProblem(key: key, reason: .unreadVersion(traceParent: traceParent))
  }

  struct Reader: Extractor {
    func extract(key: String, from carrier: CarrierHeaders) -> String? {
      switch key {
      case TracingKeys.traceParent: carrier.traceParent
      case TracingKeys.traceState: carrier.traceState
      default: nil
      }
    }
  }
}

/// The W3C `traceparent` syntax: `vv-<32 hex>-<16 hex>-ff`, ids not all zero, version not ff.
enum TraceParent {
  static func isValid(_ header: String) -> Bool {
    var header = header
    return header.withUTF8(isValid)
  }

  /// Byte by byte over the header's contiguous UTF-8, with no allocation: this runs for
  /// every traced job. A version 00 header (all that is sent today) is checked at its fixed
  /// positions; any other goes through the general walk.
  private static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    if bytes.count == 55 && bytes[0] == UInt8(ascii: "0") && bytes[1] == UInt8(ascii: "0") {
      return isValidVersion00(bytes)
    }
    return isValidAnyVersion(bytes)
  }

  /// A lowercase hex digit, the only kind W3C allows.
  private static func isHex(_ byte: UInt8) -> Bool {
    byte &- UInt8(ascii: "0") < 10 || byte &- UInt8(ascii: "a") < 6
  }

  /// `00-<32 hex>-<16 hex>-<2 hex>`, 55 bytes, ids not all zero.
  private static func isValidVersion00(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    let dash = UInt8(ascii: "-")
    guard bytes[2] == dash, bytes[35] == dash, bytes[52] == dash else { return false }
    var traceNonZero = false
    for index in 3..<35 {
      let byte = bytes[index]
      guard isHex(byte) else { return false }
      traceNonZero = traceNonZero || byte != UInt8(ascii: "0")
    }
    var spanNonZero = false
    for index in 36..<52 {
      let byte = bytes[index]
      guard isHex(byte) else { return false }
      spanNonZero = spanNonZero || byte != UInt8(ascii: "0")
    }
    return isHex(bytes[53]) && isHex(bytes[54]) && traceNonZero && spanNonZero
  }

  private static func isValidAnyVersion(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    func expected(_ field: Int) -> Int { field == 1 ? 32 : field == 2 ? 16 : 2 }
    var field = 0  // which dash-separated field the byte is in
    var length = 0
    var version: (UInt8, UInt8) = (0, 0)
    var traceNonZero = false
    var spanNonZero = false
    for byte in bytes {
      if byte == UInt8(ascii: "-") {
        if field < 4 && length != expected(field) { return false }
        field += 1
        length = 0
        continue
      }
      if field < 4 {
        guard isHex(byte), length < expected(field) else { return false }
        if field == 0 && length == 0 { version.0 = byte }
        if field == 0 && length == 1 { version.1 = byte }
        if field == 1 && byte != UInt8(ascii: "0") { traceNonZero = true }
        if field == 2 && byte != UInt8(ascii: "0") { spanNonZero = true }
      }
      length += 1
    }
    if field < 4 && length != expected(field) { return false }
    guard field >= 3 else { return false }
    if version == (UInt8(ascii: "f"), UInt8(ascii: "f")) { return false }
    // Version 00 has exactly four fields; later versions may append more.
    if version == (UInt8(ascii: "0"), UInt8(ascii: "0")) && field != 3 { return false }
    return traceNonZero && spanNonZero
  }
}

extension JobSpanAttributes {
  /// Borrowing: the run wrapper's autoclosure would otherwise copy both on every job.
  fileprivate init(task: borrowing TaskDefinition, context: borrowing JobContext) {
    self.init(
      queue: context.queueName, jobID: context.jobID, task: task.name,
      attempts: Int64(context.attempts), priority: Int64(context.priority),
      workerID: context.workerID, lock: context.lock, queueingLock: context.queueingLock,
      scheduledAt: context.scheduledAt?.ISO8601Format(),
      queueWaitMilliseconds: context.queueWait().map { $0.inSeconds * 1000 })
  }
}

extension Span {
  /// The job's attributes on a span of another tracer: built at their final size, then set
  /// in one update, with no copy of the attribute dictionary per key.
  fileprivate func setEachJobAttribute(_ job: JobSpanAttributes) {
    var added = [String: SpanAttribute](minimumCapacity: 16)
    job.forEach { key, value in
      switch value {
      case .string(let text): added[key] = .string(text)
      case .int(let number): added[key] = .int64(number)
      case .double(let number): added[key] = .double(number)
      }
    }
    updateAttributes { attributes in
      // A span usually has none yet; any it has (set by another tracer) are kept.
      var merged = SpanAttributes(added)
      attributes.forEach { key, value in
        if added[key] == nil { merged.set(key, value: value) }
      }
      attributes = merged
    }
  }
}
