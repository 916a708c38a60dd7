import Foundation
import Logging
import ProcrastinateConventions
import ServiceLifecycle
import Synchronization
import Tracing

/// The tracer `setupTracing` installed, with what it needs at shutdown.
///
/// Call ``shutdown()`` before the process exits, or run it as a swift-service-lifecycle
/// `Service`: put it first in a `ServiceGroup` (groups shut services down in reverse order),
/// and on graceful shutdown it exports every queued span after the services that produce
/// them have stopped, as swift-otel's service does.
public final class TracingSetup: Sendable {
  /// The tracer, also the process's tracer when `setupTracing` bootstrapped it; pass it
  /// around yourself when it did not.
  public let tracer: ProcrastinateTracer
  /// The settings read from the environment and the `setupTracing` arguments.
  public let configuration: TracingConfiguration
  /// The batch processors, for their export statistics.
  package let batchProcessors: [BatchSpanProcessor]
  /// Where spans go, for messages such as "traces went to …": e.g.
  /// `OTLP http/protobuf http://localhost:4318/v1/traces`, `Jaeger <url>`, `file <path>`,
  /// `console`.
  public let destinations: [String]

  init(
    tracer: ProcrastinateTracer, configuration: TracingConfiguration,
    batchProcessors: [BatchSpanProcessor], destinations: [String]
  ) {
    self.tracer = tracer
    self.configuration = configuration
    self.batchProcessors = batchProcessors
    self.destinations = destinations
  }

  /// Exported, dropped and failed spans, summed over the exporters.
  public var statistics: SpanExportStatistics {
    batchProcessors.reduce(into: SpanExportStatistics()) { total, processor in
      let statistics = processor.statistics
      total.exported += statistics.exported
      total.dropped += statistics.dropped
      total.failed += statistics.failed
    }
  }

  /// "N spans sent to <destinations>", with the dropped and failed counts when not zero.
  public var summary: String {
    let statistics = self.statistics
    let lost =
      statistics.dropped + statistics.failed > 0
      ? " (\(statistics.dropped) dropped, \(statistics.failed) failed)" : ""
    let places = destinations.isEmpty ? "nowhere" : destinations.joined(separator: ", ")
    return "\(statistics.exported) spans sent to \(places)\(lost)"
  }

  /// Exports what is queued (call it before the process exits) and logs what was lost.
  public func shutdown() async {
    await tracer.processor.shutdown()
  }
}

extension TracingSetup: Service {
  /// Waits for graceful shutdown (or cancellation), then exports what is queued, within
  /// the export timeout (`OTEL_BSP_EXPORT_TIMEOUT`), and shuts the exporters down.
  public func run() async throws {
    try? await gracefulShutdown()
    await flushDetached { await self.shutdown() }
  }
}

private let bootstrapped = Mutex(false)

private let loggingWithTraceIDs: Void = LoggingSystem.bootstrap(
  StreamLogHandler.standardError, metadataProvider: .procrastinateTracing)

/// Bootstraps the process's logging onto standard error, each line with the current
/// `trace_id` and `span_id`, and this package's tracer from the environment
/// (``setupTracing(serviceName:endpoint:enableConsole:bootstrap:defaultFile:environment:logger:)``).
///
/// It is what an app returns from the embedded commands' `bootstrapObservability` hook
/// (ProcrastinateCommands' `TaskProvider`) to run them under this package's tracer:
///
/// ```swift
/// static func bootstrapObservability(serviceName: String) throws -> (any Service)? {
///   try bootstrapLoggingAndTracing(serviceName: serviceName)
/// }
/// ```
public func bootstrapLoggingAndTracing(serviceName: String) throws -> TracingSetup {
  _ = loggingWithTraceIDs
  return try setupTracing(serviceName: serviceName)
}

/// Builds the tracer from the environment (see ``TracingConfiguration``) and makes it the
/// process's tracer, as the Python guide's `setup_tracing` does:
///
/// ```swift
/// let tracing = try setupTracing(serviceName: "simple-example")
/// defer { Task { await tracing.shutdown() } }
/// ```
///
/// - Parameters:
///   - serviceName: `service.name` of the spans, unless `OTEL_SERVICE_NAME` says otherwise.
///   - endpoint: an OTLP/HTTP base URL (`/v1/traces` is appended), overriding the environment.
///   - enableConsole: print span lines, as `OTEL_CONSOLE_ENABLED=true` does.
///   - bootstrap: install it with `InstrumentationSystem.bootstrap` (only the first call
///     in a process can; later calls return a tracer you pass around yourself).
///   - defaultFile: where spans go (OTLP/JSON lines) when neither the environment nor
///     `endpoint` names an exporter: the examples' zero-infrastructure default, which
///     `procrastinate-swift traces show` prints.
///   - environment: where the `OTEL_*`, `JAEGER_ENDPOINT` and `PROCRASTINATE_TRACES_FILE`
///     variables are read; the process's environment by default.
///   - logger: receives one warning per bad variable, and the exporters' warnings.
/// - Returns: the tracer and its exporters; ``TracingSetup/shutdown()`` exports what is
///   queued.
@discardableResult
public func setupTracing(
  serviceName: String, endpoint: String? = nil, enableConsole: Bool? = nil, bootstrap: Bool = true,
  defaultFile: String? = nil,
  environment: [String: String] = ProcessInfo.processInfo.environment,
  logger: Logger = Logger(label: "procrastinate.tracing")
) throws -> TracingSetup {
  var configuration = TracingConfiguration.fromEnvironment(
    defaultServiceName: serviceName, environment)
  if environment["OTEL_SERVICE_NAME"] == nil { configuration.serviceName = serviceName }
  if let defaultFile, endpoint == nil, configuration.otlp == nil, configuration.jaeger == nil,
    configuration.file == nil
  {
    configuration.file = defaultFile
  }
  if let endpoint {
    let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
    var otlp = configuration.otlp ?? OTLPHTTPExporter.Configuration(endpoint: base + "/v1/traces")
    otlp.endpoint = base.hasSuffix("/v1/traces") ? base : base + "/v1/traces"
    configuration.otlp = otlp
  }
  if let enableConsole { configuration.console = enableConsole }
  for warning in configuration.warnings { logger.warning("\(warning)") }

  let resource = TracingResource(
    serviceName: configuration.serviceName, attributes: configuration.resourceAttributes)
  var processors: [any SpanProcessor] = []
  var batches: [BatchSpanProcessor] = []
  var destinations: [String] = []
  // The tracer counts span starts; the batch processors publish the counts.
  let sampler: any Sampler =
    configuration.disabled ? ConstantSampler.alwaysOff : configuration.sampler
  let startCounts = SpanStartCounts(samplerRatio: sampler.ratio)
  if !configuration.disabled {
    func export(to exporter: some SpanExporter, destination: String) {
      let batch = BatchSpanProcessor(
        exporter: exporter, configuration: configuration.batch, logger: logger,
        startCounts: startCounts)
      batches.append(batch)
      processors.append(batch)
      destinations.append(destination)
    }
    if let otlp = configuration.otlp {
      export(
        to: OTLPHTTPExporter(configuration: otlp, resource: resource),
        destination: "OTLP \(otlp.wireProtocol.rawValue) \(otlp.endpoint)")
    }
    if let jaeger = configuration.jaeger {
      export(
        to: JaegerThriftExporter(endpoint: jaeger, resource: resource),
        destination: "Jaeger \(jaeger)")
    }
    if let file = configuration.file {
      export(to: FileSpanExporter(path: file, resource: resource), destination: "file \(file)")
    }
    if configuration.console {
      processors.append(ConsoleSpanExporter())
      destinations.append("console")
    }
  }
  let tracer = ProcrastinateTracer(
    sampler: sampler, processor: MultiSpanProcessor(processors), startCounts: startCounts)
  if bootstrap {
    let first = bootstrapped.withLock { done -> Bool in
      defer { done = true }
      return !done
    }
    if first {
      InstrumentationSystem.bootstrap(tracer)
    } else {
      logger.warning(
        "tracing was already set up in this process; the new tracer is not the global one")
    }
  }
  return TracingSetup(
    tracer: tracer, configuration: configuration, batchProcessors: batches,
    destinations: destinations)
}

extension Logger.MetadataProvider {
  /// Adds `trace_id` and `span_id` of the current span to every log line, so logs and
  /// traces can be joined:
  ///
  /// ```swift
  /// LoggingSystem.bootstrap(StreamLogHandler.standardError, metadataProvider: .procrastinateTracing)
  /// ```
  public static let procrastinateTracing = Logger.MetadataProvider {
    guard let span = InstrumentationContext.current?.spanContext else { return [:] }
    return ["trace_id": "\(span.traceID)", "span_id": "\(span.spanID)"]
  }
}
