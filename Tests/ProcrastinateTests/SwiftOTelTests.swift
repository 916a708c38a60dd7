import Foundation
import Procrastinate
import ProcrastinateTesting
import Testing

/// `Examples/SwiftOTel`, built by `scripts/test` before the tests run.
enum SwiftOTelBinary {
  static let path = ExampleBuild.binary("swift-otel-example")
  static var testable: Bool {
    Python.available
      && (TracingDemoBinary.required || FileManager.default.isExecutableFile(atPath: path))
  }
}

@Suite(
  "Generated tasks under swift-otel",
  .enabled(if: SwiftOTelBinary.testable, "build Examples/SwiftOTel (scripts/test does)"))
struct SwiftOTelTests {
  @Test(
    "swift-otel records the generated defer and job spans in one trace, and trace_context is what Python's guide reads"
  )
  func swiftOTel() async throws {
    let receiver = try await OTLPReceiver()
    let database = try await TestDatabase.emptyDatabaseURL()
    let output = try await runProcess(
      SwiftOTelBinary.path, [],
      environment: [
        "PROCRASTINATE_DATABASE_URL": database,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
      ])
    #expect(output.contains("swift-otel shut down"), "\(output)")

    // Decoded by the official opentelemetry-proto classes (Tests/Interop/otlp_receiver.py).
    let spans = try receiver.spans()
    func one(_ name: String) throws -> [String: Any] { try onlySpan(named: name, in: spans) }
    func kind(_ span: [String: Any]) -> Int { span["kind"] as? Int ?? -1 }
    let signup = try one("signup")
    let deferSpan = try one("procrastinate.defer.send_welcome_email")
    let jobSpan = try one("procrastinate.job.send_welcome_email")
    let email = try one("email.send")
    let trace = field(signup, "trace_id")
    #expect(Set([signup, deferSpan, jobSpan, email].map { field($0, "trace_id") }) == [trace])
    #expect(field(deferSpan, "parent_span_id") == field(signup, "span_id") && kind(deferSpan) == 4)
    #expect(field(jobSpan, "parent_span_id") == field(deferSpan, "span_id") && kind(jobSpan) == 5)
    #expect(field(email, "parent_span_id") == field(jobSpan, "span_id") && kind(email) == 3)
    let attributes = jobSpan["attributes"] as? [String: Any] ?? [:]
    #expect(attributes["procrastinate.job.outcome"] as? String == "succeeded")
    #expect(attributes["procrastinate.task.args.user_id"] as? Int == 42)
    let resource = try receiver.requests().first?["resource"] as? [String: Any]
    #expect(resource?["service.name"] as? String == "procrastinate-swift-otel-example")

    // The carrier swift-otel injected: {"traceparent": "00-<trace>-<defer span>-01"}, read
    // back with the guide's `extract(trace_context)` from the OpenTelemetry SDK.
    let arguments = try await psql(database, "SELECT args->'trace_context' FROM procrastinate_jobs")
    try #require(arguments.count == 1)
    let carrier = try JSONDecoder().decode([String: String].self, from: Data(arguments[0].utf8))
    #expect(carrier == ["traceparent": "00-\(trace)-\(field(deferSpan, "span_id"))-01"])
    let extracted = try await runProcess(
      Python.interpreter,
      [
        "-c",
        """
        import json, sys
        from opentelemetry import trace
        from opentelemetry.propagate import extract
        context = trace.get_current_span(extract(json.loads(sys.argv[1]))).get_span_context()
        print(format(context.trace_id, "032x"), format(context.span_id, "016x"), context.is_remote)
        """,
        arguments[0],
      ])
    #expect(
      extracted.trimmingCharacters(in: .whitespacesAndNewlines)
        == "\(trace) \(field(deferSpan, "span_id")) True")
  }

  @Test(
    "the embedded defer and worker commands run under swift-otel: their spans, from two processes, form one trace; the binary links no libcurl"
  )
  func commandsUnderSwiftOTel() async throws {
    let receiver = try await OTLPReceiver()
    let database = try await TestDatabase.emptyDatabaseURL()
    let app = try ProcrastinateApp(databaseURL: database, logger: TestDatabase.quietLogger)
    try await app.applySchema()
    await app.close()
    let environment = [
      "PROCRASTINATE_DATABASE_URL": database,
      "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)",
      "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    ]
    let deferred = try await runProcess(
      SwiftOTelBinary.path,
      [
        "defer", "send_welcome_email", #"{"user_id": 7, "address": "grace@example.com"}"#,
        "--queue", "emails",
      ],
      environment: environment)
    let job = try #require(Int64(deferred.trimmingCharacters(in: .whitespacesAndNewlines)))
    _ = try await runProcess(
      SwiftOTelBinary.path, ["worker", "--queues", "emails", "--one-shot"],
      environment: environment)
    #expect(
      try await psql(database, "SELECT id, status FROM procrastinate_jobs") == ["\(job)|succeeded"])

    // Each command ran swift-otel's service beside its work and shut it down after, so the
    // spans of both processes were exported before they exited.
    let spans = try receiver.spans()
    func one(_ name: String) throws -> [String: Any] { try onlySpan(named: name, in: spans) }
    let deferSpan = try one("procrastinate.defer.send_welcome_email")
    let jobSpan = try one("procrastinate.job.send_welcome_email")
    let email = try one("email.send")
    let trace = field(deferSpan, "trace_id")
    #expect(Set([deferSpan, jobSpan, email].map { field($0, "trace_id") }) == [trace])
    #expect(field(deferSpan, "parent_span_id").isEmpty && deferSpan["kind"] as? Int == 4)
    #expect(field(jobSpan, "parent_span_id") == field(deferSpan, "span_id"))
    #expect(field(email, "parent_span_id") == field(jobSpan, "span_id"))
    let attributes = jobSpan["attributes"] as? [String: Any] ?? [:]
    #expect(attributes["procrastinate.job.id"] as? Int == Int(job))
    #expect(attributes["procrastinate.task.args.user_id"] as? Int == 7)
    let services = try receiver.requests().compactMap {
      ($0["resource"] as? [String: Any])?["service.name"] as? String
    }
    #expect(Set(services) == ["procrastinate-swift-otel-example"] && services.count >= 2)

    // Only this package's tracer links libcurl; this binary uses swift-otel's exporter.
    let libraries = try await runProcess("/usr/bin/ldd", [SwiftOTelBinary.path])
    #expect(!libraries.contains("libcurl"), "\(libraries)")
    #expect(libraries.contains("libpq"))
  }
}

/// The one span called `name` among `spans` (decoded by Tests/Interop/otlp_receiver.py).
private func onlySpan(named name: String, in spans: [[String: Any]]) throws -> [String: Any] {
  let matches = spans.filter { $0["name"] as? String == name }
  try #require(
    matches.count == 1, "\(name): \(matches.count) in \(spans.map { $0["name"] ?? "?" })")
  return matches[0]
}

/// A span's field as a string ("" when missing).
private func field(_ span: [String: Any], _ key: String) -> String { span[key] as? String ?? "" }
