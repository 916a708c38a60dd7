import Foundation
import Procrastinate
import ProcrastinateGenerator
import ProcrastinateTesting
import Testing

/// Where `scripts/test` builds the example packages: one build folder for all of them, so
/// that what they share (this package, NIO, Hummingbird) is compiled once.
enum ExampleBuild {
  static let folder = Python.repository.appendingPathComponent(".build/examples/debug")

  /// The executable `product` of an example package.
  static func binary(_ product: String) -> String {
    folder.appendingPathComponent(product).path
  }
}

/// `Examples/TracingDemo`, built by `scripts/test` before the tests run (which sets
/// `PROCRASTINATE_REQUIRE_EXAMPLES=1`, so a missing build fails instead of skipping).
enum TracingDemoBinary {
  static let path = ExampleBuild.binary("tracing-demo")
  static var required: Bool {
    ProcessInfo.processInfo.environment["PROCRASTINATE_REQUIRE_EXAMPLES"] == "1"
  }
  static var testable: Bool {
    Python.available && (required || FileManager.default.isExecutableFile(atPath: path))
  }
}

@Suite(
  "Tracing demo, end to end",
  .enabled(if: TracingDemoBinary.testable, "build Examples/TracingDemo (scripts/test does)"))
struct TracingDemoTests {
  @Test("the demo's trace has the guide's structure, span by span, over OTLP")
  func structure() async throws {
    let receiver = try await OTLPReceiver()
    let output = try await runProcess(
      TracingDemoBinary.path, [],
      environment: [
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiver.port)",
        // No internet here, and none needed: the demo starts its local joke service.
        "JOKE_API_URL": "http://127.0.0.1:1/jokes/random",
        "PROCRASTINATE_DATABASE_URL": "", "DATABASE_URL": "", "PGHOST": "", "PGDATABASE": "",
        "PROCRASTINATE_TRACES_FILE": "",
      ])
    #expect(output.contains("using the local joke service at http://127.0.0.1:"))
    #expect(output.contains("8 spans sent to OTLP http/protobuf"))

    let spans = try receiver.spans()
    func one(_ name: String) throws -> [String: Any] {
      let matches = spans.filter { $0["name"] as? String == name }
      try #require(matches.count == 1, "\(name): \(matches.count) spans")
      return matches[0]
    }
    func id(_ span: [String: Any]) -> String { span["span_id"] as? String ?? "?" }
    func parent(_ span: [String: Any]) -> String { span["parent_span_id"] as? String ?? "?" }
    func kind(_ span: [String: Any]) -> Int { span["kind"] as? Int ?? -1 }
    // OTLP kinds: 1 internal, 3 client, 4 producer, 5 consumer.
    let workflow = try one("demo.full_workflow")
    let deferJobs = try one("demo.defer_jobs")
    let deferJoke = try one("procrastinate.defer.traced_fetch_joke")
    let jokeJob = try one("procrastinate.job.traced_fetch_joke")
    let fetch = try one("api.chuck_norris.fetch_joke")
    let store = try one("db.store_joke")
    let deferData = try one("procrastinate.defer.traced_process_data")
    let dataJob = try one("procrastinate.job.traced_process_data")
    #expect(spans.count == 8)
    #expect(
      Set(spans.compactMap { $0["trace_id"] as? String }).count == 1, "one trace per workflow")
    #expect(parent(workflow).isEmpty && kind(workflow) == 1)
    #expect(parent(deferJobs) == id(workflow) && kind(deferJobs) == 1)
    #expect(parent(deferJoke) == id(deferJobs) && kind(deferJoke) == 4)
    #expect(parent(deferData) == id(deferJobs) && kind(deferData) == 4)
    #expect(parent(jokeJob) == id(deferJoke) && kind(jokeJob) == 5)
    #expect(parent(dataJob) == id(deferData) && kind(dataJob) == 5)
    #expect(parent(fetch) == id(jokeJob) && kind(fetch) == 3)
    #expect(parent(store) == id(jokeJob) && kind(store) == 3)
    let resource = try receiver.requests().first?["resource"] as? [String: Any]
    #expect(resource?["service.name"] as? String == "procrastinate-demo")
  }
}

@Suite(
  "Mixed fleet example, end to end",
  .enabled(if: TracingDemoBinary.testable, "build Examples/TracingDemo (scripts/test does)"))
struct MixedFleetTests {
  static let binary = ExampleBuild.binary("mixed-fleet")

  @Test("a Swift producer, a Python worker and a Swift worker from one spec print one trace")
  func oneTrace() async throws {
    let folder = TestScratch.url.appendingPathComponent(
      "mixed-fleet-\(UUID().uuidString)"
    ).path
    let file = folder + "/fleet.traces.jsonl"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let output = try await runProcess(
      Self.binary, [],
      environment: [
        "PROCRASTINATE_TRACES_FILE": file, "PYTHON": Python.interpreter,
        "OTEL_EXPORTER_OTLP_ENDPOINT": "", "JAEGER_ENDPOINT": "",
      ])
    let lines = output.split(separator: "\n").map(String.init)
    #expect(lines.contains("Python rendered report 42: 6 pages."), "\(output)")
    #expect(
      lines.contains { $0.hasPrefix("Swift stored report 42: 6 pages, summary, figures, outlook") })
    let tree = try #require(lines.firstIndex { $0.hasPrefix("trace ") }, "\(output)")
    #expect(lines[tree].contains("(fleet-python, fleet-swift): 6 spans"), "\(lines[tree])")
    // Each line without its duration: "└── name  KIND" (kind when not internal).
    let shape = lines[(tree + 1)...].map { line -> String in
      guard let split = line.range(of: "  ", options: .backwards) else { return line }
      let name = line[..<split.lowerBound].trimmingCharacters(in: .whitespaces)
      let kind = line[split.upperBound...].split(separator: " ").first.map(String.init) ?? ""
      return kind.allSatisfy(\.isUppercase) ? "\(name)  \(kind)" : name
    }
    #expect(
      shape == [
        "fleet.request",
        "└── procrastinate.defer.python.render_report  PRODUCER",
        "└── procrastinate.job.python.render_report  CONSUMER",
        "└── procrastinate.defer.store_report  PRODUCER",
        "└── procrastinate.job.store_report  CONSUMER",
        "└── fleet.store",
      ], "\(output)")
  }

  @Test("the example's Python module is what the generator makes of its spec today")
  func pythonModuleFresh() throws {
    let example = Python.repository.appendingPathComponent("Examples/TracingDemo")
    let generated = try PythonGenerator().generate(paths: [
      example.appendingPathComponent("Sources/MixedFleet/fleet.tasks.yaml").path
    ])
    let committed = try String(
      contentsOf: example.appendingPathComponent("python/fleet_tasks.py"), encoding: .utf8)
    #expect(
      generated == committed,
      "regenerate: swift run procrastinate-generate --language python Examples/TracingDemo/Sources/MixedFleet/fleet.tasks.yaml --output-file Examples/TracingDemo/python/fleet_tasks.py"
    )
  }
}
