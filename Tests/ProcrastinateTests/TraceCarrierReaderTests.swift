import Foundation
import Testing

@testable import Procrastinate

/// The carrier reader replaces a `JSONDecoder` pass on every traced job: it must read
/// exactly what the decoder read.
@Suite("Trace carrier reader")
struct TraceCarrierReaderUnitTests {
  /// What the reader must answer, worked out through `JSONDecoder` and `JSONValue`.
  static func reference(_ json: String, key: String) -> TraceCarrier {
    guard
      let value = try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)),
      case .object(let members) = value
    else { return .unreadable }
    guard let member = members[key], member != .null else { return .missing }
    guard case .object(let carrier) = member else { return .notAnObject(kind: member.kindName) }
    return .object(
      traceParent: carrier["traceparent"]?.stringValue,
      traceState: carrier["tracestate"]?.stringValue)
  }

  @Test(
    "reads the carrier as JSONDecoder does",
    arguments: [
      #"{}"#,
      #"{"a": 1}"#,
      #"{"trace_context": null}"#,
      #"{"trace_context": 12.5e3}"#,
      #"{"trace_context": [1, {"traceparent": "x"}]}"#,
      #"{"trace_context": "00-abc"}"#,
      #"{"trace_context": true}"#,
      #"{"trace_context": {}}"#,
      #"{"trace_context": {"traceparent": 7}}"#,
      #" { "x" : {"trace_context": {"traceparent": "deep"}} , "trace_context" : { "traceparent" : "00-a\u0062c" , "tracestate": "k=v\"w" } } "#,
      #"{"trace\u005fcontext": {"traceparent": "esc\/aped\\\n\t\ud83c\udf89"}}"#,
      #"{"s": "}{][\",", "trace_context": {"tracestate": "only"}}"#,
      #"{"trace_context": {"traceparent": "first"}, "trace_context": {"traceparent": "last"}}"#,
      #"{"trace_context": {"traceparent": "p", "traceparent": 1}}"#,
      #"{"trace_context": {"traceparent": "p"}"#,
      #"{"trace_context": {"traceparent": "p"}} trailing"#,
      #"[1, 2]"#,
      #""#,
    ])
  func fixedCases(json: String) {
    // With repeated keys, the first counts, as with JSONDecoder.
    #expect(
      TraceCarrierReader.scan(json, key: "trace_context").carrier
        == Self.reference(json, key: "trace_context"))
  }

  @Test("2,000 random argument objects, with and without a carrier, read as JSONDecoder reads them")
  func randomObjects() throws {
    var random = SeededGenerator(seed: 0xCA_441E5)
    let encoder = JSONEncoder()
    for _ in 0..<2000 {
      guard case .object(var members) = random.json(depth: 3) else { continue }
      switch Int.random(in: 0..<4, using: &random) {
      case 0:
        members["trace_context"] = random.json(depth: 2)
      case 1:
        members["trace_context"] = .object([
          "traceparent": .string(random.oddText(maximumLength: 60)),
          "tracestate": Bool.random(using: &random)
            ? .string(random.oddText(maximumLength: 20)) : .int(1),
          random.oddText(maximumLength: 8): random.json(depth: 2),
        ])
      default:
        break
      }
      let json = String(decoding: try encoder.encode(JSONValue.object(members)), as: UTF8.self)
      #expect(
        TraceCarrierReader.scan(json, key: "trace_context").carrier
          == Self.reference(json, key: "trace_context"),
        "\(json)")
    }
  }

  /// The arguments a typed handler decodes: the text with the carrier's member taken out
  /// must be the same object without that member.
  static func expectCarrierRemoved(
    _ json: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let (carrier, member) = TraceCarrierReader.scan(json, key: "trace_context")
    guard
      let value = try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)),
      case .object(var members) = value
    else {
      #expect(member == nil, "\(json)", sourceLocation: sourceLocation)
      return
    }
    let present = members.removeValue(forKey: "trace_context") != nil
    #expect((member != nil) == present, "\(json)", sourceLocation: sourceLocation)
    guard let member else { return }
    #expect(carrier != .unreadable)
    let rest = TraceCarrierReader.removing(member, from: json)
    let decoded = try? JSONDecoder().decode(JSONValue.self, from: Data(rest.utf8))
    #expect(decoded == .object(members), "\(json) → \(rest)", sourceLocation: sourceLocation)
  }

  @Test(
    "the carrier's member comes out with one comma, first, last, alone or between others",
    arguments: [
      #"{"trace_context": {"traceparent": "p"}}"#,
      #" { "trace_context" : { } } "#,
      #"{"trace_context": 1, "a": 2}"#,
      #"{"a": 1, "trace_context": null}"#,
      #"{"a": 1 , "trace_context" : [1, ","] , "b": {"trace_context": 3}}"#,
      #"{"a":"}","trace_context":"{,}"}"#,
      #"{"trace\u005fcontext": {"traceparent": "esc\/aped"}, "z": [] }"#,
      #"{"x": 1}"#,
      #"{}"#,
    ])
  func carrierRemoved(json: String) {
    Self.expectCarrierRemoved(json)
  }

  @Test(
    "2,000 random argument objects without their carrier decode as the same object less that member"
  )
  func carrierRemovedRandomly() throws {
    var random = SeededGenerator(seed: 0x5_7121_9ED)
    let encoder = JSONEncoder()
    for _ in 0..<2000 {
      guard case .object(var members) = random.json(depth: 3) else { continue }
      if Bool.random(using: &random) { members["trace_context"] = random.json(depth: 2) }
      var json = String(decoding: try encoder.encode(JSONValue.object(members)), as: UTF8.self)
      if Bool.random(using: &random) {
        json = JSONValue.object(members).description  // sorted keys: another position
      }
      Self.expectCarrierRemoved(json)
    }
  }

  /// The check this one replaced, kept as the reference.
  static func splitValid(_ header: String) -> Bool {
    let parts = header.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count >= 4, parts[0].count == 2, parts[1].count == 32, parts[2].count == 16,
      parts[3].count == 2, parts[0] != "ff"
    else { return false }
    if parts[0] == "00" && parts.count != 4 { return false }
    let hex = Set("0123456789abcdef")
    for part in parts.prefix(4) where !part.allSatisfy(hex.contains) { return false }
    return parts[1].contains { $0 != "0" } && parts[2].contains { $0 != "0" }
  }

  @Test("the byte-wise traceparent check agrees with the split-based one on 20,000 near-misses")
  func traceParentCheck() {
    var random = SeededGenerator(seed: 0x7EAC_E9A2)
    let valid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    #expect(TraceParent.isValid(valid))
    let alphabet = Array("0123456789abcdefABFz-") + ["é"]
    for _ in 0..<20_000 {
      var characters = Array(valid)
      for _ in 0..<Int.random(in: 0...3, using: &random) {
        let index = Int.random(in: 0..<characters.count, using: &random)
        switch Int.random(in: 0..<4, using: &random) {
        case 0: characters[index] = alphabet.randomElement(using: &random)!
        case 1: characters.remove(at: index)
        case 2: characters.insert(alphabet.randomElement(using: &random)!, at: index)
        default:
          let version = ["00", "01", "ff", "fe", "0g"].randomElement(using: &random)!
          characters.replaceSubrange(0..<2, with: version)
          if Bool.random(using: &random) { characters += "-extra" }
        }
      }
      if Bool.random(using: &random) {
        characters.replaceSubrange(3..<35, with: Array(repeating: "0", count: 32))
      }
      if characters.count >= 52 && Int.random(in: 0..<4, using: &random) == 0 {
        characters.replaceSubrange(36..<52, with: Array(repeating: "0", count: 16))
      }
      let header = String(characters)
      #expect(TraceParent.isValid(header) == Self.splitValid(header), "\(header)")
    }
  }
}
