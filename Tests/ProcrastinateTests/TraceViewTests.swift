import Foundation
import Procrastinate
import ProcrastinateTesting
import ProcrastinateTraceData
import ProcrastinateTracing
import Testing
import Tracing

@Suite("Trace view (procrastinate-swift traces show)")
struct TraceViewTests {
  /// Writes the guide's demo shape through the real file exporter and returns the file.
  static func demoFile() async throws -> (path: String, traceID: String, other: String) {
    let path = TestScratch.url.appendingPathComponent(
      "traces-\(UUID().uuidString).jsonl"
    ).path
    let tracing = try setupTracing(
      serviceName: "procrastinate-demo", bootstrap: false,
      environment: ["PROCRASTINATE_TRACES_FILE": path])
    let tracer = tracing.tracer
    struct Failure: Error, CustomStringConvertible { var description: String { "no joke" } }
    let root = tracer.startSpan("demo.full_workflow", ofKind: .internal)
    let deferring = tracer.startSpan("demo.defer_jobs", context: root.context, ofKind: .internal)
    let producer = tracer.startSpan(
      "procrastinate.defer.traced_fetch_joke", context: deferring.context, ofKind: .producer)
    let job = tracer.startSpan(
      "procrastinate.job.traced_fetch_joke", context: producer.context, ofKind: .consumer)
    job.attributes["procrastinate.job.id"] = 7
    let fetch = tracer.startSpan(
      "api.chuck_norris.fetch_joke", context: job.context, ofKind: .client)
    fetch.recordError(Failure())
    fetch.end()
    job.end()
    producer.end()
    let second = tracer.startSpan(
      "procrastinate.defer.traced_process_data", context: deferring.context, ofKind: .producer)
    second.end()
    deferring.end()
    root.end()
    let other = tracer.startSpan("another.trace", ofKind: .server)
    other.end()
    await tracing.shutdown()
    return (
      path, "\(root.context.spanContext!.traceID)", "\(other.context.spanContext!.traceID)"
    )
  }

  @Test("a file's traces print as trees with kinds, durations and errors; --trace selects one")
  func tree() async throws {
    let (path, traceID, other) = try await Self.demoFile()
    let output = try await runProcess(
      TracesPingTests.binary, ["traces", "show", path, "--trace", traceID])
    let lines = output.split(separator: "\n").map(String.init)
    #expect(lines.first?.hasPrefix("trace \(traceID) (procrastinate-demo): 6 spans, ") == true)
    // Each line without what follows the name: the tree drawing and the names.
    let shape = lines.dropFirst().map { line -> String in
      let nameStart = line.firstIndex { !" │├└─".contains($0) } ?? line.endIndex
      let nameEnd =
        line.range(of: "  ", range: nameStart..<line.endIndex)?.lowerBound ?? line.endIndex
      return String(line[..<nameEnd])
    }
    #expect(
      shape == [
        "demo.full_workflow",
        "└── demo.defer_jobs",
        "    ├── procrastinate.defer.traced_fetch_joke",
        "    │   └── procrastinate.job.traced_fetch_joke",
        "    │       └── api.chuck_norris.fetch_joke",
        "    └── procrastinate.defer.traced_process_data",
      ], "\(output)")
    #expect(lines[3].contains("PRODUCER") && lines[4].contains("CONSUMER"))
    #expect(lines[5].contains("CLIENT") && lines[5].contains("✗ ERROR: no joke"))
    #expect(!output.contains(other))

    let all = try await runProcess(TracesPingTests.binary, ["traces", "show", path])
    #expect(all.contains("trace \(traceID)") && all.contains("trace \(other)"))
  }

  @Test("--html writes a waterfall page: a bar per span, attributes on hover")
  func html() async throws {
    let (path, traceID, _) = try await Self.demoFile()
    let page = TestScratch.url.appendingPathComponent(
      "trace-\(UUID().uuidString).html"
    ).path
    let output = try await runProcess(
      TracesPingTests.binary, ["traces", "show", path, "--trace", traceID, "--html", page])
    #expect(output.contains("wrote \(page): 1 trace(s)"))
    let html = try String(contentsOfFile: page, encoding: .utf8)
    #expect(html.components(separatedBy: "<div class=\"row\"").count - 1 == 6)
    #expect(html.contains("class=\"bar error\""))
    #expect(html.contains("procrastinate.job.id = 7"))
    #expect(html.contains("class=\"bar consumer\"") && html.contains("class=\"bar producer\""))
  }

  @Test("a file that is not OTLP/JSON, or an unknown trace, is a clear error")
  func errors() async throws {
    let bad = TestScratch.url.appendingPathComponent(
      "bad-\(UUID().uuidString).jsonl"
    ).path
    try "{\"resourceSpans\": []}\nnot json\n".write(toFile: bad, atomically: true, encoding: .utf8)
    let result = try await runProcessCapturing(
      TracesPingTests.binary, ["traces", "show", bad], allowFailure: true)
    #expect(result.status == 1)
    #expect(result.stderr.contains("\(bad):2: not an OTLP/JSON export request"))
    let (path, _, _) = try await Self.demoFile()
    let unknown = try await runProcessCapturing(
      TracesPingTests.binary,
      ["traces", "show", path, "--trace", String(repeating: "a", count: 32)],
      allowFailure: true)
    #expect(unknown.status == 1 && unknown.stderr.contains("no trace aaaa"))
  }

}

@Suite("Trace view: odd files")
struct TraceViewUnitTests {
  @Test("odd files from other tools: no end time, parent cycles, no span id, blank and CRLF lines")
  func oddFiles() throws {
    func span(_ id: String, parent: String, name: String, start: String, end: String?) -> String {
      #"{"traceId":"t1","spanId":"\#(id)","parentSpanId":"\#(parent)","name":"\#(name)","kind":1,"startTimeUnixNano":"\#(start)""#
        + (end.map { #","endTimeUnixNano":"\#($0)""# } ?? "") + "}"
    }
    let spans = [
      span("a", parent: "b", name: "cycle.a", start: "100", end: "50"),
      span("b", parent: "a", name: "cycle.b", start: "200", end: nil),
      span("", parent: "", name: "no.id", start: "300", end: "400"),
      span("c", parent: "", name: "root", start: "10", end: "20"),
    ].joined(separator: ",")
    let line = #"{"resourceSpans":[{"scopeSpans":[{"spans":["# + spans + "]}]}]}"
    let path = TestScratch.url.appendingPathComponent(
      "odd-\(UUID().uuidString).jsonl"
    ).path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try (line + "\r\n\r\n" + line + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    let read = try TraceView.read(path: path)
    #expect(read.count == 8)
    #expect(read.first { $0.name == "cycle.b" }?.durationNanoseconds == 0)
    // The same reader refuses these ids when it receives spans (the dashboard's receiver).
    #expect(throws: OTLPDecodingError.self) { try OTLPTraceDecoder.json(Data(line.utf8)) }
    let tree = TraceView.tree(read)
    for name in ["cycle.a", "cycle.b", "no.id", "root"] {
      #expect(tree.contains(name), "\(name) missing from\n\(tree)")
    }
    #expect(!TraceView.html(read).isEmpty)
    // One HTML escaper for the trace file and the dashboard: quotes of both kinds too.
    var odd = read[0]
    odd.name = #"it's <b>"x"</b> & co"#
    #expect(TraceView.html([odd]).contains("it&#39;s &lt;b&gt;&quot;x&quot;&lt;/b&gt; &amp; co"))

    try (line + "\n\nnot json\n").write(toFile: path, atomically: true, encoding: .utf8)
    #expect {
      try TraceView.read(path: path)
    } throws: { "\($0)".contains("\(path):3: not an OTLP/JSON export request") }
  }
}
