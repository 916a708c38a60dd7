import Foundation
import ProcrastinateConventions
import Tracing

/// Tracing settings, read from the standard `OTEL_*` variables (and the Python guide's
/// `JAEGER_ENDPOINT` and `OTEL_CONSOLE_ENABLED`) in this one place. A bad value gives one
/// clear warning and a sane default, never a crash.
///
/// ``setupTracing(serviceName:endpoint:enableConsole:bootstrap:defaultFile:environment:logger:)``
/// reads them; ``TracingSetup/configuration`` tells you what it found, e.g. the file the
/// spans went to.
public struct TracingConfiguration: Sendable {
  /// `service.name` of the spans: `OTEL_SERVICE_NAME`, else the name given to
  /// `setupTracing`.
  public package(set) var serviceName: String
  /// The other `OTEL_RESOURCE_ATTRIBUTES`, in the order given.
  public package(set) var resourceAttributes: [(key: String, value: SpanAttribute)] = []
  /// `OTEL_SDK_DISABLED=true`: no spans are recorded.
  public package(set) var disabled = false
  /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
  package var sampler: any Sampler = ParentBasedSampler(root: ConstantSampler.alwaysOn)
  /// The `OTEL_BSP_*` settings.
  package var batch = BatchSpanProcessor.Configuration()
  /// OTLP/HTTP export, when an endpoint is configured.
  package var otlp: OTLPHTTPExporter.Configuration?
  /// Jaeger's Thrift-over-HTTP collector URL (`JAEGER_ENDPOINT`, as in the Python guide),
  /// e.g. `http://localhost:14268/api/traces`.
  public package(set) var jaeger: String?
  /// Readable span lines on standard error (`OTEL_CONSOLE_ENABLED`).
  public package(set) var console = false
  /// OTLP/JSON lines appended to this file (`PROCRASTINATE_TRACES_FILE`, or the
  /// `defaultFile` given to `setupTracing`).
  public package(set) var file: String?
  /// What was wrong in the environment, one line each.
  public package(set) var warnings: [String] = []

  package init(serviceName: String) { self.serviceName = serviceName }

  /// Reads the environment. `OTEL_SERVICE_NAME` wins over `service.name` in
  /// `OTEL_RESOURCE_ATTRIBUTES`, which wins over `defaultServiceName`.
  package static func fromEnvironment(
    defaultServiceName: String = "unknown_service:swift",
    _ environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> TracingConfiguration {
    var configuration = TracingConfiguration(serviceName: defaultServiceName)
    // Kept apart from `configuration`: the helpers below write settings through inout.
    var warnings: [String] = []
    func value(_ name: String) -> String? {
      environment[name].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap {
        $0.isEmpty ? nil : $0
      }
    }
    func flag(_ name: String) -> Bool {
      guard let text = value(name)?.lowercased() else { return false }
      if ["true", "1", "yes", "on"].contains(text) { return true }
      if !["false", "0", "no", "off"].contains(text) {
        warnings.append("\(name)=\(text) is not a boolean; using false")
      }
      return false
    }
    func milliseconds(_ name: String, into target: inout Duration) {
      guard let text = value(name) else { return }
      if let number = Int64(text), number >= 0 {
        target = .milliseconds(number)
      } else {
        warnings.append("\(name)=\(text) is not a number of milliseconds; using \(target)")
      }
    }
    func count(_ name: String, into target: inout Int) {
      guard let text = value(name) else { return }
      if let number = Int(text), number > 0 {
        target = number
      } else {
        warnings.append("\(name)=\(text) is not a positive integer; using \(target)")
      }
    }

    configuration.disabled = flag("OTEL_SDK_DISABLED")
    if let text = value("OTEL_RESOURCE_ATTRIBUTES") {
      let (pairs, problems) = keyValuePairs(text, variable: "OTEL_RESOURCE_ATTRIBUTES")
      warnings += problems
      for (key, pairValue) in pairs {
        if key == "service.name" {
          configuration.serviceName = pairValue
        } else {
          configuration.resourceAttributes.append((key, .string(pairValue)))
        }
      }
    }
    if let name = value("OTEL_SERVICE_NAME") { configuration.serviceName = name }

    // Sampler
    let ratioText = value("OTEL_TRACES_SAMPLER_ARG")
    var ratio = 1.0
    if let ratioText {
      if let parsed = Double(ratioText), (0...1).contains(parsed) {
        ratio = parsed
      } else {
        warnings.append(
          "OTEL_TRACES_SAMPLER_ARG=\(ratioText) is not a ratio between 0 and 1; using 1.0")
      }
    }
    switch value("OTEL_TRACES_SAMPLER")?.lowercased() ?? "parentbased_always_on" {
    case "always_on": configuration.sampler = ConstantSampler.alwaysOn
    case "always_off": configuration.sampler = ConstantSampler.alwaysOff
    case "traceidratio": configuration.sampler = TraceIDRatioSampler(ratio: ratio)
    case "parentbased_always_on":
      configuration.sampler = ParentBasedSampler(root: ConstantSampler.alwaysOn)
    case "parentbased_always_off":
      configuration.sampler = ParentBasedSampler(root: ConstantSampler.alwaysOff)
    case "parentbased_traceidratio":
      configuration.sampler = ParentBasedSampler(root: TraceIDRatioSampler(ratio: ratio))
    case let other:
      warnings.append(
        "OTEL_TRACES_SAMPLER=\(other) is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio; using parentbased_always_on"
      )
    }

    // Batch span processor
    milliseconds("OTEL_BSP_SCHEDULE_DELAY", into: &configuration.batch.scheduledDelay)
    milliseconds("OTEL_BSP_EXPORT_TIMEOUT", into: &configuration.batch.exportTimeout)
    count("OTEL_BSP_MAX_QUEUE_SIZE", into: &configuration.batch.maximumQueueSize)
    count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", into: &configuration.batch.maximumBatchSize)
    if configuration.batch.maximumBatchSize > configuration.batch.maximumQueueSize {
      warnings.append(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE is larger than OTEL_BSP_MAX_QUEUE_SIZE; using the queue size"
      )
      configuration.batch.maximumBatchSize = configuration.batch.maximumQueueSize
    }

    // OTLP: the signal-specific endpoint is used as is; the generic one gets /v1/traces.
    let endpoint: String?
    if let traces = value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
      endpoint = traces
    } else if let base = value("OTEL_EXPORTER_OTLP_ENDPOINT") {
      endpoint = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/v1/traces"
    } else {
      endpoint = nil
    }
    if let endpoint {
      var otlp = OTLPHTTPExporter.Configuration(endpoint: endpoint)
      if let text = value("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        ?? value("OTEL_EXPORTER_OTLP_PROTOCOL")
      {
        if let wireProtocol = OTLPHTTPExporter.WireProtocol(rawValue: text) {
          otlp.wireProtocol = wireProtocol
        } else {
          warnings.append(
            "OTEL_EXPORTER_OTLP_PROTOCOL=\(text) is not supported (http/protobuf or http/json); using http/protobuf"
          )
        }
      }
      if let text = value("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        ?? value("OTEL_EXPORTER_OTLP_HEADERS")
      {
        let (pairs, problems) = keyValuePairs(text, variable: "OTEL_EXPORTER_OTLP_HEADERS")
        warnings += problems
        otlp.headers = pairs
      }
      if let text = value("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")
        ?? value("OTEL_EXPORTER_OTLP_COMPRESSION")
      {
        switch text.lowercased() {
        case "gzip": otlp.gzip = true
        case "none": otlp.gzip = false
        default:
          warnings.append("OTEL_EXPORTER_OTLP_COMPRESSION=\(text) is not gzip or none; using none")
        }
      }
      milliseconds("OTEL_EXPORTER_OTLP_TIMEOUT", into: &otlp.timeout)
      milliseconds("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", into: &otlp.timeout)
      configuration.otlp = otlp
    }
    configuration.jaeger = value("JAEGER_ENDPOINT")
    configuration.console = flag("OTEL_CONSOLE_ENABLED")
    configuration.file = value("PROCRASTINATE_TRACES_FILE")
    configuration.warnings = warnings
    return configuration
  }

  /// Parses `k=v,k2=v2` with percent-decoding, as the OTel specification writes them.
  static func keyValuePairs(_ text: String, variable: String) -> ([(String, String)], [String]) {
    var pairs: [(String, String)] = []
    var problems: [String] = []
    for item in text.split(separator: ",", omittingEmptySubsequences: true) {
      let parts = item.split(separator: "=", maxSplits: 1)
      guard parts.count == 2,
        let key = String(parts[0]).trimmingCharacters(in: .whitespaces).removingPercentEncoding,
        !key.isEmpty,
        let pairValue = String(parts[1]).trimmingCharacters(in: .whitespaces)
          .removingPercentEncoding
      else {
        problems.append("\(variable): '\(item)' is not key=value; ignored")
        continue
      }
      pairs.append((key, pairValue))
    }
    return (pairs, problems)
  }
}
