import Foundation
import ProcrastinateTesting
import ProcrastinateTracing
import Testing
import Tracing

@testable import ProcrastinateDashboard
@testable import ProcrastinateTraceData

@Suite("Dashboard: OTLP decoding, span store, pages")
struct DashboardUnitTests {
  /// Spans of every shape our tracer makes: kinds, parents, typed attributes, events, errors.
  static func recordedSpans() -> [SpanRecord] {
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(sampler: ConstantSampler.alwaysOn, processor: memory)
    let root = tracer.startSpan("request <root>", ofKind: .server)
    root.attributes["http.route"] = "/jokes/<script>"
    let child = tracer.startSpan("procrastinate.job.t", context: root.context, ofKind: .consumer)
    child.updateAttributes { attributes in
      attributes["procrastinate.job.id"] = 42
      attributes["ratio"] = 0.25
      attributes["flag"] = true
      attributes["tags"] = SpanAttribute.stringArray(["a", "b"])
      attributes["numbers"] = SpanAttribute.int64Array([1, -2])
      attributes["unicode"] = "Grüße 🎉"
    }
    child.addEvent(SpanEvent(name: "retry", attributes: ["attempt": 2]))
    child.recordError(DashboardInputError("boom"))
    child.setStatus(SpanStatus(code: .error, message: "boom"))
    child.end()
    root.end()
    return memory.finishedSpans
  }

  static let resource = TracingResource(serviceName: "unit-test")

  @Test("what our exporter sends decodes field by field, in protobuf and in OTLP/JSON")
  func roundTrip() throws {
    let records = Self.recordedSpans()
    let fromProtobuf = try OTLPTraceDecoder.protobuf(
      OTLPEncoding.protobuf(records, resource: Self.resource))
    let fromJSON = try OTLPTraceDecoder.json(
      Data(OTLPEncoding.json(records, resource: Self.resource).utf8))
    #expect(fromProtobuf.count == 2)
    #expect(fromProtobuf == fromJSON)
    for (record, span) in zip(records, fromProtobuf) {
      #expect(span.traceID == "\(record.context.traceID)")
      #expect(span.spanID == "\(record.context.spanID)")
      #expect(span.parentSpanID == record.parentSpanID.map { "\($0)" })
      #expect(span.name == record.name)
      #expect(span.startNanoseconds == record.startNanoseconds)
      #expect(span.endNanoseconds == record.endNanoseconds)
      #expect(span.serviceName == "unit-test")
    }
    let job = try #require(fromProtobuf.first { $0.name == "procrastinate.job.t" })
    #expect(job.kind == .consumer)
    #expect(job.statusCode == .error && job.statusMessage == "boom")
    #expect(job.attribute("procrastinate.job.id") == .int(42))
    #expect(job.attribute("ratio") == .double(0.25))
    #expect(job.attribute("flag") == .bool(true))
    #expect(job.attribute("tags") == .array([.string("a"), .string("b")]))
    #expect(job.attribute("numbers") == .array([.int(1), .int(-2)]))
    #expect(job.attribute("unicode") == .string("Grüße 🎉"))
    #expect(job.events.map(\.name) == ["retry", "exception"])
    #expect(job.events[0].attributes == [TraceAttribute("attempt", .int(2))])
    #expect(SpanStore.jobIDs(of: job) == [42])
  }

  @Test("a bad body is refused with where and why; random bytes never crash the decoder")
  func badBodies() throws {
    let good = OTLPEncoding.protobuf(Self.recordedSpans(), resource: Self.resource)
    #expect(throws: OTLPDecodingError.self) {
      try OTLPTraceDecoder.protobuf(Array(good.dropLast(3)))
    }
    do {
      _ = try OTLPTraceDecoder.protobuf(Array(good.dropLast(3)))
    } catch {
      #expect(
        error.description.contains("ends in the middle")
          || error.description.contains("bytes where"), "\(error)")
    }
    // Field 1 of the request with wire type 0 where a message belongs.
    do {
      _ = try OTLPTraceDecoder.protobuf([0x08, 0x01])
      Issue.record("a varint where a message belongs was accepted")
    } catch {
      #expect(error.description.contains("wire type 0; expected 2"), "\(error)")
    }
    let badID =
      #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"0102030405060708","name":"n"}]}]}]}"#
    do {
      _ = try OTLPTraceDecoder.json(Data(badID.utf8))
      Issue.record("a bad trace id was accepted")
    } catch {
      #expect(
        error.description
          == "resourceSpans[0].scopeSpans[0].spans[0]: traceId must be 32 hex digits; got xyz")
    }
    #expect(throws: OTLPDecodingError.self) { try OTLPTraceDecoder.json(Data("[1]".utf8)) }
    var random = SeededGenerator(seed: 0xDA5B_0A2D)
    var decoded = 0
    for round in 0..<3_000 {
      var bytes = good
      if round % 2 == 0 {
        bytes = (0..<Int.random(in: 0...200, using: &random)).map { _ in
          UInt8.random(in: 0...255, using: &random)
        }
      } else {
        for _ in 0..<Int.random(in: 1...6, using: &random) {
          bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(
            in: 0...255, using: &random)
        }
      }
      if (try? OTLPTraceDecoder.protobuf(bytes)) != nil { decoded += 1 }
    }
    print(
      "dashboard decoder fuzz: \(decoded) of 3000 random or mutated bodies decoded, the rest refused"
    )
  }

  @Test("values nested beyond 32 levels are refused, not recursed into")
  func deepNesting() {
    var value = #"{"stringValue":"x"}"#
    for _ in 0..<40 { value = #"{"arrayValue":{"values":["# + value + "]}}" }
    let body =
      #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"n","attributes":[{"key":"k","value":"#
      + value + "}]}]}]}]}"
    #expect(throws: OTLPDecodingError.self) { try OTLPTraceDecoder.json(Data(body.utf8)) }
  }

  @Test("the store keeps the newest spans, counts the evicted ones, and forgets their jobs")
  func store() {
    let store = SpanStore(capacity: 3)
    func span(_ trace: String, _ id: String, job: Int64?) -> TraceSpan {
      TraceSpan(
        traceID: String(repeating: trace, count: 32), spanID: String(repeating: id, count: 16),
        name: id, startNanoseconds: 1, endNanoseconds: 2,
        attributes: job.map { [TraceAttribute("procrastinate.job.id", .int($0))] } ?? [])
    }
    store.insert([span("a", "1", job: 7), span("a", "2", job: nil), span("b", "3", job: 8)])
    #expect(store.traceIDs(jobID: 7) == [String(repeating: "a", count: 32)])
    store.insert([span("c", "4", job: nil), span("c", "5", job: 8)])
    #expect(store.counts == SpanStore.Counts(received: 5, evicted: 2, rejectedBodies: 0, kept: 3))
    #expect(store.spans(traceID: String(repeating: "a", count: 32)).isEmpty)
    #expect(store.traceIDs(jobID: 7).isEmpty, "the job's only trace was evicted")
    #expect(
      store.traceIDs(jobID: 8) == [
        String(repeating: "b", count: 32), String(repeating: "c", count: 32),
      ])
    #expect(store.spans(traceID: String(repeating: "c", count: 32)).map(\.name) == ["4", "5"])
  }

  @Test("the waterfall lists children under their parent in start order, and survives cycles")
  func waterfallOrder() {
    func span(_ id: String, parent: String?, start: UInt64) -> TraceSpan {
      TraceSpan(
        traceID: String(repeating: "a", count: 32), spanID: id, parentSpanID: parent, name: id,
        startNanoseconds: start, endNanoseconds: start + 10)
    }
    let spans = [
      span("c2", parent: "p", start: 30), span("p", parent: nil, start: 0),
      span("c1", parent: "p", start: 20), span("g", parent: "c1", start: 25),
      span("x", parent: "y", start: 50), span("y", parent: "x", start: 60),
    ]
    let ordered = Waterfall.ordered(spans).map { "\($0.0.spanID)@\($0.1)" }
    #expect(ordered == ["p@0", "c1@1", "g@2", "c2@1", "x@0", "y@1"])
  }

  @Test(
    "hostile spans: times at the end of UInt64, a parent chain 50,000 deep, too many attributes, huge strings"
  )
  func hostileSpans() throws {
    let trace = String(repeating: "a", count: 32)
    let late = TraceSpan(
      traceID: trace, spanID: "0000000000000001", name: "late", startNanoseconds: .max,
      endNanoseconds: .max)
    let html = Waterfall(trace: JobTrace(traceIDs: [trace], spans: [late], missing: nil)).render()
    #expect(html.contains("late"))
    var chain: [TraceSpan] = []
    for index in 0..<50_000 {
      let parent: String? = index == 0 ? nil : String(format: "%016x", index)
      chain.append(
        TraceSpan(
          traceID: trace, spanID: String(format: "%016x", index + 1), parentSpanID: parent,
          name: "s\(index)", startNanoseconds: UInt64(index), endNanoseconds: UInt64(index + 1)))
    }
    let ordered = Waterfall.ordered(chain)
    #expect(ordered.count == 50_000 && ordered.last?.1 == 24)
    var attributes = (0..<200).map { #"{"key":"k\#($0)","value":{"intValue":"1"}}"# }
    attributes.append(
      #"{"key":"big","value":{"stringValue":"\#(String(repeating: "x", count: 20_000))"}}"#)
    let body =
      #"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"\#(trace)","spanId":"0000000000000001","name":"n","attributes":["#
      + attributes.joined(separator: ",") + "]}]}]}]}"
    let span = try #require(try OTLPTraceDecoder.json(Data(body.utf8)).first)
    #expect(span.attributes.count == OTLPTraceDecoder.maximumEntries)
    #expect(span.dropped == 201 - OTLPTraceDecoder.maximumEntries)
    let decoded = try OTLPTraceDecoder.protobuf(
      OTLPEncoding.protobuf(Self.manyAttributes(), resource: Self.resource))
    let many = try #require(decoded.first { $0.name == "many" })
    #expect(many.attributes.count == OTLPTraceDecoder.maximumEntries)
    #expect(many.dropped == 200 - OTLPTraceDecoder.maximumEntries)
    let big = try #require(decoded.first { $0.name == "big" }?.attribute("big"))
    guard case .string(let text) = big else {
      Issue.record("big is \(big)")
      return
    }
    #expect(text.utf8.count <= OTLPTraceDecoder.maximumStringBytes + 3 && text.hasSuffix("…"))
    #expect(text.dropLast().allSatisfy { $0 == "é" }, "cut at a character boundary")
  }

  /// A span with 200 attributes, and one with a 20,000-character string.
  static func manyAttributes() -> [SpanRecord] {
    let memory = InMemorySpanExporter()
    let tracer = ProcrastinateTracer(
      sampler: ConstantSampler.alwaysOn, processor: memory,
      limits: SpanLimits(attributeCount: 1_000))
    let many = tracer.startSpan("many", ofKind: .internal)
    many.updateAttributes { attributes in
      for index in 0..<200 { attributes["k\(index)"] = index }
    }
    many.end()
    let big = tracer.startSpan("big", ofKind: .internal)
    big.attributes["big"] = String(repeating: "é", count: 20_000)
    big.end()
    return memory.finishedSpans
  }

  @Test("escaping and form fields")
  func helpers() {
    #expect(HTML.escape("<a href='x'>&\"</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;")
    #expect(
      FormData.parse("a=1&b=two+words&c=%3Cx%3E&a=2&d") == [
        "a": "1", "b": "two words", "c": "<x>", "d": "",
      ])
  }
}

@Suite("Dashboard: gzip bodies")
struct DashboardGzipTests {
  @Test("what gzip(1) writes inflates; truncated, oversized and non-gzip bodies are refused")
  func inflate() async throws {
    let text = String(repeating: "procrastinate ", count: 10_000)
    let file = TestScratch.url.appendingPathComponent("gz-\(UUID()).txt")
      .path
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: file) }
    #expect(try await ChildProcess.run("/bin/gzip", ["-kf", file]).status == 0)
    let gzipped = try #require(FileManager.default.contents(atPath: file + ".gz"))
    defer { try? FileManager.default.removeItem(atPath: file + ".gz") }
    #expect(try Gzip.inflate(Array(gzipped), limit: 1 << 20) == Array(text.utf8))
    #expect(throws: Gzip.Failure.self) {
      try Gzip.inflate(Array(gzipped.prefix(40)), limit: 1 << 20)
    }
    do {
      _ = try Gzip.inflate(Array(gzipped), limit: 1000)
      Issue.record("a body inflating past the limit was accepted")
    } catch {
      #expect(error.description == "the body inflates to more than 1000 bytes")
    }
    #expect(throws: Gzip.Failure.self) { try Gzip.inflate(Array("not gzip".utf8), limit: 1000) }
  }

  @Test("what the exporter compresses is gzip: gzip(1) restores it, and so does inflate")
  func compress() async throws {
    let text = String(repeating: "procrastinate.job.traced_fetch_joke ", count: 5_000)
    let compressed = try Gzip.compress(Array(text.utf8))
    #expect(compressed.prefix(2) == [0x1f, 0x8b] && compressed.count < text.utf8.count / 20)
    #expect(try Gzip.inflate(compressed, limit: 1 << 20) == Array(text.utf8))
    #expect(try Gzip.inflate(Gzip.compress([]), limit: 10) == [])
    let file = TestScratch.url.appendingPathComponent("gz-\(UUID()).gz")
      .path
    FileManager.default.createFile(atPath: file, contents: Data(compressed))
    defer { try? FileManager.default.removeItem(atPath: file) }
    let restored = try await ChildProcess.run("/bin/gzip", ["-dc", file])
    #expect(restored.status == 0 && restored.output == text)
  }
}
