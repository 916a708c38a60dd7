import Foundation
import Procrastinate
import ProcrastinateJobSpans
import ProcrastinateTesting
import ProcrastinateTracing
import Testing
import Tracing

/// A Python receiver on loopback: OTLP (official opentelemetry-proto classes) by default,
/// or the Jaeger Thrift one.
final class OTLPReceiver {
  let port: Int
  let output: String
  private let child: RunningChild

  /// A receiver on `port` (0: any free one).
  init(failFirst: Int = 0, script: String = "otlp_receiver.py", port requested: Int = 0)
    async throws
  {
    let base = TestScratch.url.appendingPathComponent(
      "otlp-\(UUID().uuidString)"
    ).path
    output = base + ".jsonl"
    let portFile = base + ".port"
    let path = Python.repository.appendingPathComponent("Tests/Interop/\(script)").path
    let options =
      script == "otlp_receiver.py"
      ? ["--fail-first", String(failFirst), "--port", String(requested)] : []
    child = try ChildProcess.spawn(
      Python.interpreter,
      [path, "--port-file", portFile, "--output", output] + options,
      logPath: base + ".log")
    var found: Int?
    try await eventually("the OTLP receiver to listen") {
      found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
      return found != nil
    }
    port = found ?? 0
  }

  var endpoint: String { "http://127.0.0.1:\(port)/v1/traces" }

  /// One decoded request per element.
  func requests() throws -> [[String: Any]] {
    let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    return try text.split(separator: "\n").map {
      try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
    }
  }

  func spans() throws -> [[String: Any]] {
    try requests().flatMap { ($0["spans"] as? [[String: Any]]) ?? [] }
  }

  /// Stops the receiver: its port refuses connections from now on.
  func stop() { child.terminate() }

  deinit { child.terminate() }
}

@Suite(
  "OTLP/HTTP exporter", .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct OTLPExporterTests {
  /// A parent and a child span with every kind of field.
  static func sampleSpans() async throws -> [SpanRecord] {
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(processor: memory)
    let other = tracer.startSpan("linked", ofKind: .internal)
    other.end()
    struct Boom: Error, CustomStringConvertible { var description: String { "boom \"quoted\"" } }
    try? tracer.withSpan("demo.parent", ofKind: .server) { parent in
      parent.attributes["text"] = "héllo \"world\"\n"
      parent.attributes["count"] = 42
      parent.attributes["ratio"] = 0.25
      parent.attributes["flag"] = true
      parent.attributes["tags"] = ["a", "b"]
      try tracer.withSpan("procrastinate.defer.task", ofKind: .producer) { child in
        child.addEvent(SpanEvent(name: "queued", attributes: ["queue": "default"]))
        child.addLink(SpanLink(context: other.context, attributes: ["reason": "batch"]))
        throw Boom()
      }
    }
    // A job span whose attributes are kept as one value: the encoder writes them directly.
    let job = tracer.startSpan("procrastinate.job.send", ofKind: .consumer)
    job.setJobAttributes(JobSpanAttributesTests.job)
    job.setJobOutcome("succeeded")
    job.end()
    // Values whose sizes take more than a byte to say: a long lock, a large id, a negative
    // priority (a ten-byte varint).
    let long = tracer.startSpan("procrastinate.job.long", ofKind: .consumer)
    long.setJobAttributes(
      JobSpanAttributes(
        queue: "q", jobID: 1 << 40, task: "long", attempts: 300, priority: -5, workerID: 1,
        lock: String(repeating: "é", count: 150), queueWaitMilliseconds: 0.25))
    long.end()
    return memory.finishedSpans
  }

  static func check(_ received: [[String: Any]], against spans: [SpanRecord]) throws {
    #expect(received.count == spans.count)
    for span in spans {
      let match = try #require(
        received.first { $0["span_id"] as? String == "\(span.context.spanID)" })
      #expect(match["trace_id"] as? String == "\(span.context.traceID)")
      #expect(match["parent_span_id"] as? String == (span.parentSpanID.map { "\($0)" } ?? ""))
      #expect(match["name"] as? String == span.name)
      #expect(match["start"] as? UInt64 == span.startNanoseconds)
    }
    let parent = try #require(received.first { $0["name"] as? String == "demo.parent" })
    #expect(parent["kind"] as? Int == 2)  // SERVER
    let attributes = try #require(parent["attributes"] as? [String: Any])
    #expect(attributes["text"] as? String == "héllo \"world\"\n")
    #expect(attributes["count"] as? Int == 42)
    #expect(attributes["ratio"] as? Double == 0.25)
    #expect(attributes["flag"] as? Bool == true)
    #expect(attributes["tags"] as? [String] == ["a", "b"])
    let child = try #require(received.first { $0["name"] as? String == "procrastinate.defer.task" })
    #expect(child["kind"] as? Int == 4)  // PRODUCER
    let status = try #require(child["status"] as? [String: Any])
    #expect(status["code"] as? Int == 2)  // ERROR
    #expect(status["message"] as? String == "boom \"quoted\"")
    let events = try #require(child["events"] as? [[String: Any]])
    #expect(events.map { $0["name"] as? String } == ["queued", "exception"])
    #expect(
      (events[1]["attributes"] as? [String: Any])?["exception.message"] as? String
        == "boom \"quoted\"")
    let links = try #require(child["links"] as? [[String: Any]])
    let linked = try #require(spans.first { $0.name == "linked" })
    #expect(links.first?["span_id"] as? String == "\(linked.context.spanID)")
    #expect((links.first?["attributes"] as? [String: Any])?["reason"] as? String == "batch")
    let job = try #require(received.first { $0["name"] as? String == "procrastinate.job.send" })
    let jobAttributes = try #require(job["attributes"] as? [String: Any])
    #expect(jobAttributes.count == 15)
    #expect(jobAttributes[TracingKeys.messagingSystem] as? String == "procrastinate")
    #expect(jobAttributes[TracingKeys.messagingMessageID] as? String == "42")
    #expect(jobAttributes[TracingKeys.jobID] as? Int == 42)
    #expect(jobAttributes[TracingKeys.jobQueueWait] as? Double == 1.5)
    #expect(jobAttributes[TracingKeys.jobOutcome] as? String == "succeeded")
    let long = try #require(received.first { $0["name"] as? String == "procrastinate.job.long" })
    let longAttributes = try #require(long["attributes"] as? [String: Any])
    #expect(longAttributes.count == 12)
    #expect(longAttributes[TracingKeys.jobLock] as? String == String(repeating: "é", count: 150))
    #expect(longAttributes[TracingKeys.jobID] as? Int == 1 << 40)
    #expect(longAttributes[TracingKeys.messagingMessageID] as? String == String(1 << 40))
    #expect(longAttributes[TracingKeys.jobAttempts] as? Int == 300)
    #expect(longAttributes[TracingKeys.jobPriority] as? Int == -5)
    #expect(longAttributes[TracingKeys.jobQueueWait] as? Double == 0.25)
  }

  @Test(
    "what we send decodes with the official classes: protobuf and JSON, plain and gzip",
    arguments: [OTLPHTTPExporter.WireProtocol.protobuf, .json], [false, true])
  func roundTrip(wireProtocol: OTLPHTTPExporter.WireProtocol, gzip: Bool) async throws {
    let receiver = try await OTLPReceiver()
    var configuration = OTLPHTTPExporter.Configuration(endpoint: receiver.endpoint)
    configuration.wireProtocol = wireProtocol
    configuration.gzip = gzip
    configuration.headers = [("x-team", "queue")]
    let exporter = OTLPHTTPExporter(
      configuration: configuration,
      resource: TracingResource(
        serviceName: "simple-example", attributes: [("deployment.environment", .string("test"))]))
    let spans = try await Self.sampleSpans()
    #expect(try await exporter.send(spans) == 200)
    let requests = try receiver.requests()
    #expect(requests.count == 1)
    let request = try #require(requests.first)
    #expect(request["path"] as? String == "/v1/traces")
    #expect(request["encoding"] as? String == (gzip ? "gzip" : ""))
    #expect((request["headers"] as? [String: Any])?["x-team"] as? String == "queue")
    let resource = try #require(request["resource"] as? [String: Any])
    #expect(resource["service.name"] as? String == "simple-example")
    #expect(resource["telemetry.sdk.language"] as? String == "swift")
    #expect(resource["deployment.environment"] as? String == "test")
    try Self.check(try receiver.spans(), against: spans)
  }

  @Test("a collector answering 503 then 200 gets every span exactly once")
  func retries() async throws {
    let receiver = try await OTLPReceiver(failFirst: 2)
    var configuration = OTLPHTTPExporter.Configuration(endpoint: receiver.endpoint)
    configuration.initialBackoff = .milliseconds(10)
    let exporter = OTLPHTTPExporter(
      configuration: configuration, resource: TracingResource(serviceName: "retry"))
    var batchConfiguration = BatchSpanProcessor.Configuration()
    batchConfiguration.maximumBatchSize = 50
    let processor = BatchSpanProcessor(exporter: exporter, configuration: batchConfiguration)
    let tracer = ProcrastinateTracer(processor: processor)
    for index in 0..<200 { tracer.startSpan("span-\(index)").end() }
    await processor.forceFlush()
    let names = try receiver.spans().compactMap { $0["name"] as? String }
    #expect(names.count == 200)
    #expect(Set(names).count == 200)
    #expect(processor.statistics == SpanExportStatistics(exported: 200, dropped: 0, failed: 0))
  }

  @Test("a collector that is down costs no crash; the lost spans are counted")
  func collectorDown() async throws {
    var configuration = OTLPHTTPExporter.Configuration(endpoint: "http://127.0.0.1:1/v1/traces")
    configuration.maximumRetries = 1
    configuration.initialBackoff = .milliseconds(10)
    let exporter = OTLPHTTPExporter(
      configuration: configuration, resource: TracingResource(serviceName: "down"))
    do {
      try await exporter.send([])
      Issue.record("sending to a closed port succeeded")
    } catch let error as HTTPExportError {
      #expect(error.transportError?.code == 7)  // CURLE_COULDNT_CONNECT
    }
    let processor = BatchSpanProcessor(exporter: exporter)
    let tracer = ProcrastinateTracer(processor: processor)
    for _ in 0..<30 { tracer.startSpan("lost").end() }
    await processor.shutdown()
    #expect(processor.statistics == SpanExportStatistics(exported: 0, dropped: 0, failed: 30))
  }
}

@Suite("traces ping", .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct TracesPingTests {
  static let binary = Python.repository.appendingPathComponent(".build/debug/procrastinate-swift")
    .path

  @Test("ping sends a parent, a child and a linked span, and reports the HTTP status")
  func accepted() async throws {
    let receiver = try await OTLPReceiver()
    let result = try await runProcessCapturing(
      Self.binary, ["traces", "ping"],
      environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)",
        "OTEL_SERVICE_NAME": "ping-test", "JAEGER_ENDPOINT": "",
      ])
    #expect(result.stdout.contains("OK: the collector accepted them (HTTP 200)"))
    #expect(!result.stdout.contains("Jaeger"))
    let spans = try receiver.spans()
    #expect(
      Set(spans.compactMap { $0["name"] as? String }) == [
        "procrastinate.ping", "procrastinate.ping.child", "procrastinate.ping.linked",
      ])
    let child = try #require(spans.first { $0["name"] as? String == "procrastinate.ping.child" })
    #expect((child["events"] as? [[String: Any]])?.first?["name"] as? String == "ping.event")
    #expect((child["links"] as? [[String: Any]])?.count == 1)
    #expect(
      (try receiver.requests().first?["resource"] as? [String: Any])?["service.name"] as? String
        == "ping-test")
  }

  @Test("ping to a collector that is down says so and exits 1")
  func down() async throws {
    let result = try await runProcessCapturing(
      Self.binary, ["traces", "ping", "--endpoint", "http://127.0.0.1:1"],
      environment: ["JAEGER_ENDPOINT": ""], allowFailure: true)
    #expect(result.status == 1)
    #expect(result.stdout.contains("could not reach the collector: curl error 7"))
    let unconfigured = try await runProcessCapturing(
      Self.binary, ["traces", "ping"],
      environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "", "JAEGER_ENDPOINT": ""], allowFailure: true)
    #expect(unconfigured.status != 0 && unconfigured.stderr.contains("no OTLP endpoint configured"))
  }

  @Test(
    "with JAEGER_ENDPOINT alone, ping sends the spans to Jaeger as Thrift and prints its status")
  func jaeger() async throws {
    let receiver = try await OTLPReceiver(script: "jaeger_receiver.py")
    let result = try await ping(
      otlp: "", jaeger: "http://127.0.0.1:\(receiver.port)/api/traces",
      ["OTEL_SERVICE_NAME": "ping-test"])
    #expect(result.status == 0)
    #expect(result.stdout.contains("to Jaeger at http://127.0.0.1:\(receiver.port)/api/traces"))
    #expect(result.stdout.contains("OK: Jaeger accepted them (HTTP 202)"))
    #expect(!result.stdout.contains("the collector"))
    let requests = try receiver.requests()
    #expect(requests.count == 1)
    let request = try #require(requests.first)
    #expect(request["path"] as? String == "/api/traces")
    #expect(request["content_type"] as? String == "application/x-thrift")
    #expect(request["service"] as? String == "ping-test")
    #expect(
      Set(try receiver.spans().compactMap { $0["name"] as? String }) == [
        "procrastinate.ping", "procrastinate.ping.child", "procrastinate.ping.linked",
      ])
  }

  @Test("ping checks OTLP and Jaeger both; a Jaeger port that refuses connections fails the run")
  func otlpAndJaeger() async throws {
    let otlp = try await OTLPReceiver()
    let jaeger = try await OTLPReceiver(script: "jaeger_receiver.py")
    let both = try await ping(
      otlp: "http://127.0.0.1:\(otlp.port)", jaeger: "http://127.0.0.1:\(jaeger.port)/api/traces")
    #expect(both.status == 0)
    #expect(both.stdout.contains("OK: the collector accepted them (HTTP 200)"))
    #expect(both.stdout.contains("OK: Jaeger accepted them (HTTP 202)"))
    #expect(try otlp.spans().count == 3)
    #expect(try jaeger.spans().count == 3)

    let refused = try await ping(
      otlp: "http://127.0.0.1:\(otlp.port)", jaeger: "http://127.0.0.1:1/api/traces")
    #expect(refused.status == 1)
    #expect(refused.stdout.contains("OK: the collector accepted them (HTTP 200)"))
    #expect(refused.stdout.contains("FAILED: could not reach Jaeger: curl error 7"))

    let jaegerOnlyRefused = try await ping(otlp: "", jaeger: "http://127.0.0.1:1/api/traces")
    #expect(jaegerOnlyRefused.status == 1)
    #expect(jaegerOnlyRefused.stdout.contains("FAILED: could not reach Jaeger: curl error 7"))
  }

  /// `traces ping` with `otlp` as the OTLP endpoint and `jaeger` as `JAEGER_ENDPOINT` (an
  /// empty string for none), and `extra` variables.
  private func ping(otlp: String, jaeger: String, _ extra: [String: String] = [:])
    async throws -> ProcessOutput
  {
    try await runProcessCapturing(
      Self.binary, ["traces", "ping"],
      environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "JAEGER_ENDPOINT": jaeger].merging(
        extra
      ) { $1 },
      allowFailure: true)
  }
}

@Suite(
  "Jaeger exporter", .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct JaegerExporterTests {
  @Test(
    "JAEGER_ENDPOINT gets Thrift batches that Jaeger's IDL decodes, with parents, tags, logs and links"
  )
  func thrift() async throws {
    let receiver = try await OTLPReceiver(script: "jaeger_receiver.py")
    let endpoint = "http://127.0.0.1:\(receiver.port)/api/traces"
    let tracing = try setupTracing(
      serviceName: "simple-example", bootstrap: false,
      environment: [
        "JAEGER_ENDPOINT": endpoint, "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
      ])
    #expect(tracing.destinations == ["Jaeger \(endpoint)"])
    let spans = try await OTLPExporterTests.sampleSpans()
    for span in spans { tracing.tracer.processor.onEnd(span) }
    await tracing.shutdown()
    #expect(
      tracing.statistics == SpanExportStatistics(exported: spans.count, dropped: 0, failed: 0))
    let request = try #require(try receiver.requests().first)
    #expect(request["path"] as? String == "/api/traces")
    #expect(request["content_type"] as? String == "application/x-thrift")
    #expect(request["service"] as? String == "simple-example")
    #expect(
      (request["process_tags"] as? [String: Any])?["deployment.environment"] as? String == "test")
    let received = try #require(request["spans"] as? [[String: Any]])
    #expect(received.count == spans.count)
    for span in spans {
      let match = try #require(
        received.first { $0["span_id"] as? String == "\(span.context.spanID)" })
      #expect(match["trace_id"] as? String == "\(span.context.traceID)")
      #expect(
        match["parent_span_id"] as? String
          == (span.parentSpanID.map { "\($0)" } ?? "0000000000000000"))
      #expect(match["name"] as? String == span.name)
      #expect(match["start"] as? UInt64 == span.startNanoseconds / 1_000)
      #expect(match["flags"] as? Int == 1)
    }
    let parent = try #require(received.first { $0["name"] as? String == "demo.parent" })
    let parentTags = try #require(parent["tags"] as? [String: Any])
    #expect(parentTags["span.kind"] as? String == "server")
    #expect(parentTags["count"] as? Int == 42)
    #expect(parentTags["ratio"] as? Double == 0.25)
    #expect(parentTags["flag"] as? Bool == true)
    #expect(parentTags["text"] as? String == "héllo \"world\"\n")
    let child = try #require(received.first { $0["name"] as? String == "procrastinate.defer.task" })
    let childTags = try #require(child["tags"] as? [String: Any])
    #expect(childTags["error"] as? Bool == true)
    #expect(childTags["otel.status_description"] as? String == "boom \"quoted\"")
    let logs = try #require(child["logs"] as? [[String: Any]])
    #expect(logs.compactMap { $0["event"] as? String } == ["queued", "exception"])
    let references = try #require(child["references"] as? [[String: Any]])
    let linked = try #require(spans.first { $0.name == "linked" })
    #expect(references.first?["span_id"] as? String == "\(linked.context.spanID)")
    #expect(references.first?["type"] as? Int == 1)
  }
}
