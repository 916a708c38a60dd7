import Foundation
import Procrastinate
import ProcrastinateConventions
import Testing
import Tracing

/// `TaskRegistry.run(_:context:)`: a task's handler run as a worker runs it, tracing
/// included, with no database.
@Suite("Running a task without a database")
struct TaskRunUnitTests {
  struct Ping: Decodable, Sendable { var n: Int }

  static let definition = TaskDefinition(
    name: "unit_ping",
    defaults: DeferOptions(queue: "unit", priority: 0, lock: nil, queueingLock: nil),
    retry: nil,
    trace: TaskTraceOptions(relation: .child, carrier: "trace_context", recordedArguments: []))

  /// An app that never connects: the handlers here do not use it.
  static func app() throws -> ProcrastinateApp {
    try ProcrastinateApp(databaseURL: "postgresql://nobody@127.0.0.1:1/none")
  }

  static func registry(_ received: Recorder<Int>) throws -> TaskRegistry {
    var tasks = TaskRegistry()
    try tasks.register(Self.definition, arguments: Ping.self) { arguments, context in
      received.append(arguments.n)
      #expect(context.span != nil)
    }
    return tasks
  }

  @Test(
    "the handler gets the arguments; the job's span is a child of the carrier's, with its attributes"
  )
  func runsTraced() async throws {
    _ = TestTracing.exporter
    let received = Recorder<Int>()
    let tasks = try Self.registry(received)
    let trace = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    let arguments = try JobArguments(
      json: #"{"n": 7, "trace_context": {"traceparent": "00-\#(trace)-00f067aa0ba902b7-01"}}"#)
    let queue = TestTracing.uniqueQueue()
    try await tasks.run(
      arguments,
      context: JobContext(jobID: 42, taskName: "unit_ping", queueName: queue, app: Self.app()))
    #expect(received.values == [7])
    let spans = TestTracing.jobSpans(queue: queue)
    try #require(spans.count == 1)
    let span = spans[0]
    #expect(span.name == "procrastinate.job.unit_ping")
    #expect("\(span.context.traceID)" == trace)
    #expect(span.parentSpanID.map { "\($0)" } == "00f067aa0ba902b7")
    #expect(span.string(TracingKeys.messagingMessageID) == "42")
    #expect(span.string(TracingKeys.jobOutcome) == "succeeded")
  }

  @Test("a context built without a logger logs with the job's id and task, as a worker's does")
  func contextLogger() throws {
    let context = JobContext(jobID: 9, taskName: "unit_ping", app: try Self.app())
    #expect(context.logger[metadataKey: "job_id"] == "9")
    #expect(context.logger[metadataKey: "task"] == "unit_ping")
  }

  @Test("an unknown task and arguments that do not decode are errors that say what was wrong")
  func errors() async throws {
    let received = Recorder<Int>()
    let tasks = try Self.registry(received)
    let app = try Self.app()
    await #expect(throws: TaskRegistryError.unknownTask("nope", registered: ["unit_ping"])) {
      try await tasks.run(JobArguments(), context: JobContext(taskName: "nope", app: app))
    }
    #expect(
      "\(TaskRegistryError.unknownTask("nope", registered: ["unit_ping"]))"
        == "no handler is registered for task 'nope' (registered: unit_ping)")
    let error = await #expect(throws: TaskArgumentsError.self) {
      try await tasks.run(
        JobArguments(["n": .string("seven")]), context: JobContext(taskName: "unit_ping", app: app))
    }
    #expect(error.map { "\($0)" }?.contains("unit_ping") == true)
    #expect(received.values.isEmpty)
  }
}
