import Foundation
import Procrastinate
import ProcrastinateGenerator
import ProcrastinateTracing
import Testing
import Tracing

/// SplitMix64: a small seeded generator, so that a failing case can be replayed.
struct SeededGenerator: RandomNumberGenerator {
  private var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension SeededGenerator {
  /// A string of `count` characters drawn from `alphabet`.
  mutating func string(from alphabet: [Character], count: Int) -> String {
    String((0..<count).map { _ in alphabet.randomElement(using: &self)! })
  }

  /// Odd text: ASCII punctuation, controls, accents, CJK, emoji, combining marks.
  mutating func oddText(maximumLength: Int) -> String {
    let pools: [ClosedRange<UInt32>] = [
      0x20...0x7E, 0x01...0x1F, 0xC0...0x17F, 0x300...0x36F, 0x4E00...0x4E80, 0x1F600...0x1F64F,
      0xFFF0...0xFFFD,
    ]
    let count = Int.random(in: 0...maximumLength, using: &self)
    return String(
      String.UnicodeScalarView(
        (0..<count).compactMap { _ in
          Unicode.Scalar(UInt32.random(in: pools.randomElement(using: &self)!, using: &self))
        }))
  }

  /// A random JSON value, at most `depth` levels deep.
  mutating func json(depth: Int) -> JSONValue {
    switch Int.random(in: 0..<(depth > 0 ? 8 : 5), using: &self) {
    case 0: return .null
    case 1: return .bool(Bool.random(using: &self))
    case 2: return .int(Int64.random(in: Int64.min...Int64.max, using: &self))
    case 3: return .double(Double.random(in: -1e300...1e300, using: &self))
    case 4: return .string(oddText(maximumLength: 40))
    case 5, 6:
      return .array((0..<Int.random(in: 0...4, using: &self)).map { _ in json(depth: depth - 1) })
    default:
      var members: [String: JSONValue] = [:]
      for _ in 0..<Int.random(in: 0...4, using: &self) {
        members[oddText(maximumLength: 12)] = json(depth: depth - 1)
      }
      return .object(members)
    }
  }
}

@Suite("Fuzzed input")
struct FuzzTests {

  @Test(
    "random trace_context values never fail a job: it runs in a new trace and its span says why"
  )
  func traceContext() async throws {
    let app = try await TestDatabase.app()
    var random = SeededGenerator(seed: 0x5EED_0002)
    let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    var carriers: [JSONValue] = []
    for _ in 0..<600 {
      switch Int.random(in: 0..<6, using: &random) {
      case 0: carriers.append(random.json(depth: 3))
      case 1:
        carriers.append(.object(["traceparent": .string(random.oddText(maximumLength: 80))]))
      case 2:
        // A valid traceparent with one character changed.
        var characters = Array(valid)
        characters[Int.random(in: 0..<characters.count, using: &random)] =
          Array("0123456789abcdefxyz-G ").randomElement(using: &random)!
        carriers.append(
          .object([
            "traceparent": .string(String(characters)),
            "tracestate": .string(random.oddText(maximumLength: 30)),
          ]))
      case 3:
        carriers.append(.object(["traceparent": .string(String(repeating: "0", count: 100_000))]))
      case 4: carriers.append(.object(["traceparent": random.json(depth: 2)]))
      default:
        carriers.append(
          .object([
            "traceparent": .string(valid),
            "tracestate": .string(random.oddText(maximumLength: 600)),
          ]))
      }
    }
    let requests = try carriers.map { carrier in
      JobRequest(
        task: "fuzz.trace",
        arguments: try JobArguments(
          json: JSONValue.object(["trace_context": carrier, "n": 1]).description))
    }
    let ids = try await app.deferBatchUntraced(requests)
    let exporter = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOn, processor: exporter)
    struct Arguments: Codable, Sendable { var n: Int }
    var tasks = TaskRegistry()
    try tasks.register(TaskDefinition(name: "fuzz.trace"), arguments: Arguments.self) { _, _ in }
    try await withTracer(tracer) {
      try await Worker(app: app, tasks: tasks, options: .test(concurrency: 8)).run()
    }
    #expect(try await app.jobRows("status").allSatisfy { $0 == "succeeded" })
    let spans = exporter.finishedSpans.filter { $0.name == "procrastinate.job.fuzz.trace" }
    #expect(spans.count == ids.count)
    for span in spans {
      let problem = span.attributes.get(TracingKeys.traceContextError)
      // A span either continues a valid parent or says why it could not.
      #expect((span.parentSpanID != nil) != (problem != nil), "\(span.attributes)")
    }
  }

  @Test(
    "job arguments from other producers (random JSON, deep nesting, huge strings) decode or fail that one job; the worker goes on"
  )
  func jobArguments() async throws {
    let app = try await TestDatabase.app()
    var random = SeededGenerator(seed: 0x5EED_0003)
    var documents: [String] = []
    for index in 0..<300 {
      switch index % 5 {
      case 0:
        documents.append(
          JSONValue.object(["n": .int(Int64(index)), "extra": random.json(depth: 4)]).description)
      case 1: documents.append(JSONValue.object(["n": random.json(depth: 3)]).description)
      case 2:
        let depth = Int.random(in: 100...3000, using: &random)
        documents.append(
          "{\"n\": 1, \"deep\": " + String(repeating: "[", count: depth)
            + String(repeating: "]", count: depth) + "}")
      case 3:
        documents.append(
          JSONValue.object([
            "n": 2, "huge": .string(String(repeating: "é", count: 1_000_000 + index)),
          ]).description)
      default: documents.append(JSONValue.object(["m": random.json(depth: 2)]).description)
      }
    }
    // Inserted as another producer would: straight into procrastinate_jobs, as jsonb.
    var ids: [Int64] = []
    for document in documents {
      let rows = try await app.query(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args) VALUES ('default', 'fuzz.args', $1::jsonb) RETURNING id",
        [document])
      ids.append(Int64(rows[0][0]!)!)
    }
    struct Arguments: Codable, Sendable { var n: Int }
    let ran = Recorder<Int>()
    var tasks = TaskRegistry()
    try tasks.register(TaskDefinition(name: "fuzz.args"), arguments: Arguments.self) {
      arguments, _ in ran.append(arguments.n)
    }
    try await Worker(app: app, tasks: tasks, options: .test(concurrency: 4)).run()
    let statuses = try await app.jobRows("status")
    #expect(statuses.count == ids.count)
    #expect(statuses.allSatisfy { $0 == "succeeded" || $0 == "failed" }, "\(Set(statuses))")
    #expect(ran.count == statuses.filter { $0 == "succeeded" }.count)
    #expect(ran.count > 0 && ran.count < ids.count)
  }
}

@Suite(
  "Fuzzed OTLP encoding",
  .enabled(if: Python.available, "run scripts/test to create the virtualenv"))
struct OTLPFuzzTests {
  @Test(
    "random attribute names and values, odd Unicode included, decode with the official opentelemetry-proto classes",
    arguments: [OTLPHTTPExporter.WireProtocol.protobuf, .json])
  func attributes(wireProtocol: OTLPHTTPExporter.WireProtocol) async throws {
    var random = SeededGenerator(seed: wireProtocol == .protobuf ? 0x5EED_0004 : 0x5EED_0005)
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOn, processor: memory)
    for _ in 0..<200 {
      let span = tracer.startSpan(random.oddText(maximumLength: 30), ofKind: .internal)
      var attributes: [String: SpanAttribute] = [:]
      for _ in 0..<Int.random(in: 1...12, using: &random) {
        let name = "k" + random.oddText(maximumLength: 20)
        let value: SpanAttribute
        switch Int.random(in: 0..<6, using: &random) {
        case 0: value = .string(random.oddText(maximumLength: 60))
        case 1: value = .int64(Int64.random(in: Int64.min...Int64.max, using: &random))
        case 2: value = .double(Double.random(in: -1e12...1e12, using: &random))
        case 3: value = .bool(Bool.random(using: &random))
        case 4:
          value = .stringArray((0..<3).map { _ in random.oddText(maximumLength: 10) })
        default:
          value = .int64Array((0..<3).map { _ in Int64.random(in: -1000...1000, using: &random) })
        }
        attributes[name] = value
      }
      span.updateAttributes { for (name, value) in attributes { $0[name] = value } }
      span.end()
    }
    let receiver = try await OTLPReceiver()
    var configuration = OTLPHTTPExporter.Configuration(endpoint: receiver.endpoint)
    configuration.wireProtocol = wireProtocol
    let exporter = OTLPHTTPExporter(
      configuration: configuration, resource: TracingResource(serviceName: "fuzz", attributes: []))
    #expect(try await exporter.send(memory.finishedSpans) == 200)
    let received = try receiver.spans()
    #expect(received.count == 200)
    for span in memory.finishedSpans {
      let match = try #require(
        received.first { $0["span_id"] as? String == "\(span.context.spanID)" })
      #expect(match["name"] as? String == span.name)
      let decoded = match["attributes"] as? [String: Any] ?? [:]
      var count = 0
      span.attributes.forEach { name, value in
        count += 1
        let got = decoded[name]
        switch value {
        case .string(let text): #expect(got as? String == text, "\(name)")
        case .int64(let number): #expect((got as? NSNumber)?.int64Value == number, "\(name)")
        case .double(let number):
          // Exact on the wire (protobuf doubles are raw bits; Python prints the shortest
          // round-trip form); Foundation's JSON number parsing on Linux was seen 2 ulp off.
          let decoded = got as? Double ?? .nan
          #expect(abs(decoded - number) <= 2 * number.ulp, "\(name): \(decoded) vs \(number)")
        case .bool(let flag): #expect(got as? Bool == flag, "\(name)")
        case .stringArray(let texts): #expect(got as? [String] == texts, "\(name)")
        case .int64Array(let numbers):
          #expect((got as? [NSNumber])?.map(\.int64Value) == numbers, "\(name)")
        default: Issue.record("unexpected attribute \(name)")
        }
      }
      #expect(decoded.count == count)
    }
  }
}

@Suite("Fuzzed specs")
struct SpecFuzzUnitTests {
  @Test("3,000 random mutations of a spec never crash the parser: a spec or located errors")
  func specParser() throws {
    let fixture = try String(
      contentsOfFile: Python.repository.appendingPathComponent(
        "Tests/Fixtures/everything.tasks.yaml"
      )
      .path, encoding: .utf8)
    let generator = try Generator()
    var random = SeededGenerator(seed: 0x5EED_0001)
    let alphabet = Array(":{}[]-#'\"\n \t,&*!|>%@`?=~0123456789abcxyz_.\\") + ["é", "🎉"]
    var parsed = 0
    var refused = 0
    for round in 0..<3000 {
      var lines = fixture.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      for _ in 0..<Int.random(in: 1...4, using: &random) {
        let index = Int.random(in: 0..<lines.count, using: &random)
        switch Int.random(in: 0..<5, using: &random) {
        case 0: lines.remove(at: index)
        case 1: lines.insert(lines[Int.random(in: 0..<lines.count, using: &random)], at: index)
        case 2:
          var line = Array(lines[index])
          let at = Int.random(in: 0...line.count, using: &random)
          line.insert(
            contentsOf: random.string(from: alphabet, count: Int.random(in: 1...6, using: &random)),
            at: at)
          lines[index] = String(line)
        case 3:
          let line = lines[index]
          lines[index] = String(line.prefix(Int.random(in: 0...line.count, using: &random)))
        default: lines.swapAt(index, Int.random(in: 0..<lines.count, using: &random))
        }
        if lines.isEmpty { lines = [""] }
      }
      let text = lines.joined(separator: "\n")
      do {
        let spec = try SpecParser.parse(text, path: "fuzz.tasks.yaml")
        _ = generator.render(spec, sourceName: "fuzz.tasks.yaml")
        parsed += 1
      } catch {
        refused += 1
        #expect(!error.diagnostics.isEmpty, "round \(round): refused without a diagnostic")
        for diagnostic in error.diagnostics {
          #expect(
            diagnostic.line >= 1 && diagnostic.column >= 1
              && diagnostic.description.hasPrefix("fuzz.tasks.yaml:\(diagnostic.line):"),
            "round \(round): \(diagnostic)")
        }
      }
    }
    #expect(parsed > 100 && refused > 100, "parsed \(parsed), refused \(refused)")
  }
}
