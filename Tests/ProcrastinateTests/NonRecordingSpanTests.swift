import Foundation
import Procrastinate
import ProcrastinateTracing
import Testing
import Tracing

/// The run wrapper gives a span that records nothing (no tracer, or a trace left out by
/// sampling) no attributes, outcome or error: the job itself must not notice.
@Suite("Jobs under a span that records nothing")
struct NonRecordingSpanTests {
  private struct Numbered: Codable, Sendable { var n: Int }
  private struct Refused: Error {}

  @Test(
    "jobs run, fail and retry as traced ones do; a bad trace context is still logged once per task; nothing is recorded"
  )
  func notRecording() async throws {
    let logs = LogRecorder()
    let app = try ProcrastinateApp(
      databaseURL: try await TestDatabase.emptyDatabaseURL(), logger: logs.logger())
    try await app.applySchema()
    // A name of its own: the warning is logged once per task name in the process.
    let task = TaskDefinition(
      name: "not_recording_\(UInt32.random(in: 0...UInt32.max))", retry: .attempts(1))
    let runs = Recorder<Int>()
    var tasks = TaskRegistry()
    try tasks.register(task, arguments: Numbered.self) { arguments, context in
      runs.append(arguments.n)
      #expect(context.span?.isRecording == false)
      if arguments.n == 2 { throw Refused() }
    }
    for json in [
      #"{"n": 0, "trace_context": 3}"#, #"{"n": 1}"#,
      #"{"n": 2, "trace_context": {"traceparent": "00-zz"}}"#,
    ] {
      try await app.deferUntraced(
        JobRequest(task: task.name, arguments: try JobArguments(json: json)))
    }
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOff, processor: memory)
    try await withTracer(tracer) {
      try await Worker(app: app, tasks: tasks, options: .test()).run()
    }

    #expect(
      try await app.jobRows("status, attempts") == ["succeeded|1", "succeeded|1", "failed|2"])
    // The failing job ran twice: its first failure was retried as the strategy says.
    #expect(runs.values.sorted() == [0, 1, 2, 2])
    #expect(memory.finishedSpans.isEmpty)
    let warnings = logs.messages(atLeast: .warning).filter { $0.contains("task \(task.name):") }
    #expect(warnings.count == 1, "\(warnings)")
    #expect(warnings.first?.contains("its jobs run in new traces") == true)
  }
}
