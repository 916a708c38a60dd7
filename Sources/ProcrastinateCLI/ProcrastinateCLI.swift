import ArgumentParser
import Foundation
import Procrastinate
import ProcrastinateCommands
import ProcrastinateTraceData
import ProcrastinateTracing
import ServiceLifecycle
import Synchronization
import Tracing

@main
struct ProcrastinateCLI: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "procrastinate-swift",
    abstract: "Operate a procrastinate 3.10 job queue from Swift.",
    subcommands: [
      SchemaCommand.self, DeferCommand<CLITasks>.self, JobsCommand.self, QueuesCommand.self,
      TasksCommand.self, LocksCommand.self, RetryCommand.self, CancelCommand.self,
      StalledCommand.self, HealthchecksCommand.self, TracesCommand.self, DashboardCommand.self,
    ]
  )
}

/// What `procrastinate-swift defer` runs with: no tasks of its own, this package's tracer.
enum CLITasks: TaskProvider {
  static let serviceName = "procrastinate-swift"
  static func register(into tasks: inout TaskRegistry) throws {}
  static func bootstrapObservability(serviceName: String) throws -> (any Service)? {
    try bootstrapLoggingAndTracing(serviceName: serviceName)
  }
}

struct TracesCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "traces",
    abstract: "Check where traces go, and show traces written to a file.",
    subcommands: [PingCommand.self, ShowCommand.self]
  )
}

struct ShowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show",
    abstract: "Print the traces of a file exporter's output as trees, or write a waterfall page.",
    discussion: """
      FILE is what PROCRASTINATE_TRACES_FILE collects: OTLP/JSON export requests, one per \
      line. Each trace prints as a tree with kinds, durations and errors; --html writes a \
      self-contained page with one waterfall per trace (attributes on hover).
      """
  )

  @Argument(help: "The OTLP/JSON lines file, e.g. simple-example.traces.jsonl.")
  var file: String

  @Option(help: "Only this trace id (32 hex digits).")
  var trace: String?

  @Option(help: "Write an HTML waterfall page here instead of printing trees.")
  var html: String?

  func run() throws {
    let spans: [TraceSpan]
    do {
      spans = try TraceView.read(path: file)
    } catch {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode.failure
    }
    if let trace, !spans.contains(where: { $0.traceID == trace }) {
      FileHandle.standardError.write(
        Data(
          "error: no trace \(trace) in \(file) (\(Set(spans.map(\.traceID)).count) traces)\n".utf8))
      throw ExitCode.failure
    }
    if let html {
      try TraceView.html(spans, traceID: trace).write(
        toFile: html, atomically: true, encoding: .utf8)
      print(
        "wrote \(html): \(Set(spans.filter { trace == nil || $0.traceID == trace }.map(\.traceID)).count) trace(s)"
      )
    } else {
      print(TraceView.tree(spans, traceID: trace), terminator: "")
    }
  }
}

struct PingCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ping",
    abstract:
      "Send a small test trace to each configured collector (OTLP, Jaeger) and say whether it was accepted.",
    discussion: """
      Sends a parent and a child span (with an attribute, an event and a link) to the \
      OTLP/HTTP endpoint configured by OTEL_EXPORTER_OTLP_* (or --endpoint) and to Jaeger's \
      Thrift endpoint when JAEGER_ENDPOINT is set, once each, without retries, and prints \
      the HTTP status or the connection error for each. Exits 1 when any of them failed.
      """
  )

  @Option(help: "OTLP/HTTP base URL, e.g. http://localhost:4318 (/v1/traces is appended).")
  var endpoint: String?

  @Option(
    help: "Service name on the test spans (default: OTEL_SERVICE_NAME or procrastinate-ping).")
  var serviceName: String?

  func run() async throws {
    var environment = ProcessInfo.processInfo.environment
    if let endpoint {
      environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] =
        (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint)
        + (endpoint.hasSuffix("/v1/traces") ? "" : "/v1/traces")
    }
    let configuration = TracingConfiguration.fromEnvironment(
      defaultServiceName: "procrastinate-ping", environment)
    for warning in configuration.warnings { print("warning: \(warning)") }
    guard configuration.otlp != nil || configuration.jaeger != nil else {
      throw ValidationError(
        "no OTLP endpoint configured: set OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://localhost:4318) or pass --endpoint; or set JAEGER_ENDPOINT (e.g. http://localhost:14268/api/traces)"
      )
    }
    let resource = TracingResource(
      serviceName: serviceName ?? configuration.serviceName,
      attributes: configuration.resourceAttributes)
    let memory = CollectingProcessor()
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOn, processor: memory)
    let linked = tracer.startSpan("procrastinate.ping.linked")
    linked.end()
    tracer.withSpan("procrastinate.ping", ofKind: .server) { parent in
      parent.attributes["ping.attribute"] = "hello"
      tracer.withSpan("procrastinate.ping.child") { child in
        child.addEvent(SpanEvent(name: "ping.event", attributes: ["ping.step": 1]))
        child.addLink(SpanLink(context: linked.context, attributes: [:]))
      }
    }
    let spans = memory.spans
    let trace = spans.first?.context.traceID.description ?? "?"
    var failed = false
    // The same spans go to every destination: one answer each, reported as it comes.
    if var otlp = configuration.otlp {
      otlp.maximumRetries = 0
      let exporter = OTLPHTTPExporter(configuration: otlp, resource: resource)
      print(
        "Sending \(spans.count) spans (trace \(trace)) to \(otlp.endpoint) as \(otlp.wireProtocol.rawValue)…"
      )
      let accepted = await Self.report(collector: "the collector") {
        try await exporter.send(spans)
      }
      if !accepted { failed = true }
    }
    if let jaeger = configuration.jaeger {
      let exporter = JaegerThriftExporter(endpoint: jaeger, resource: resource)
      print("Sending \(spans.count) spans (trace \(trace)) to Jaeger at \(jaeger) as Thrift…")
      let accepted = await Self.report(collector: "Jaeger") { try await exporter.send(spans) }
      if !accepted { failed = true }
    }
    if failed { throw ExitCode(1) }
  }

  /// Prints the status `send` returned, or why it failed; true when the spans were accepted.
  static func report(collector: String, _ send: () async throws -> Int) async -> Bool {
    do {
      let status = try await send()
      print("OK: \(collector) accepted them (HTTP \(status)).")
      return true
    } catch let error as HTTPExportError {
      if let transport = error.transportError {
        print(
          "FAILED: could not reach \(collector): \(transport). Is it running and listening on that address?"
        )
      } else {
        print(
          "FAILED: \(collector) answered HTTP \(error.status ?? 0)\(error.body.isEmpty ? "" : ": \(error.body.prefix(200))")."
        )
      }
    } catch {
      print("FAILED: \(collector): \(error)")
    }
    return false
  }
}

/// Keeps the ping's spans to send them in one request.
final class CollectingProcessor: SpanProcessor {
  private let storage = Mutex<[SpanRecord]>([])
  var spans: [SpanRecord] { storage.withLock { $0 } }
  func onEnd(_ span: SpanRecord) { storage.withLock { $0.append(span) } }
  func forceFlush() async {}
  func shutdown() async {}
}
