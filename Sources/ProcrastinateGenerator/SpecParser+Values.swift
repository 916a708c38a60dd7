import Foundation
import Yams

/// Reading a spec's values and YAML nodes: defaults, numbers, durations, printable text,
/// mappings and their allowed keys, each problem reported with its position.
extension SpecParser {
  mutating func defaultValue(_ node: Node, type: ArgumentType, what: String)
    -> SpecValue?
  {
    if Self.isNull(node) {
      if type.isOptional { return .null }
      error(node, "\(what): default null needs an optional type, e.g. '\(type)?'")
      return nil
    }
    switch type.unwrapped {
    case .string:
      guard case .scalar(let scalar) = node else { break }
      return .string(scalar.string)
    case .int:
      if let number = integer(node, "\(what): default", range: Int.min...Int.max) {
        return .int(number)
      }
      return nil
    case .double:
      if case .scalar(let scalar) = node, let number = Double(scalar.string), number.isFinite {
        return .double(number)
      }
    case .bool:
      if case .scalar(let scalar) = node, ["true", "false"].contains(scalar.string) {
        return .bool(scalar.string == "true")
      }
    case .array(let element):
      guard case .sequence(let items) = node else { break }
      var values: [SpecValue] = []
      for item in items {
        guard let value = defaultValue(item, type: element, what: what) else { return nil }
        values.append(value)
      }
      return .array(values)
    case .date, .json:
      error(
        node,
        "\(what): defaults are not supported for \(type.unwrapped) arguments; make it optional ('\(type.unwrapped)?') instead"
      )
      return nil
    case .optional:
      break
    }
    error(node, "\(what): default '\(node.string ?? "…")' is not a valid \(type)")
    return nil
  }

  mutating func integer(_ node: Node, _ what: String, range: ClosedRange<Int>) -> Int? {
    guard case .scalar(let scalar) = node, let number = Int(scalar.string) else {
      error(node, "\(what): expected an integer, found '\(node.string ?? "a \(kind(node))")'")
      return nil
    }
    guard range.contains(number) else {
      error(node, "\(what): \(number) is out of range (\(range.lowerBound)…\(range.upperBound))")
      return nil
    }
    return number
  }

  mutating func seconds(_ node: Node, _ what: String) -> Double {
    guard case .scalar(let scalar) = node, let number = Double(scalar.string), number.isFinite
    else {
      error(
        node, "\(what): expected a number of seconds, found '\(node.string ?? "a \(kind(node))")'")
      return 0
    }
    guard number >= 0 else {
      error(node, "\(what): \(scalar.string) is negative; write 0 or more seconds")
      return 0
    }
    return number
  }

  /// Queue and lock names end up in comments and string literals: no control characters.
  mutating func checkPrintable(_ node: Node, _ text: String, _ what: String) {
    if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
      error(node, "\(what): contains a control character (a newline or tab); use a plain name")
    }
  }

  /// A plain `null`, `~` or nothing.
  static func isNull(_ node: Node) -> Bool {
    guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
  }

  mutating func mapping(_ node: Node, _ what: String) -> [(Node, Node)]? {
    guard case .mapping(let mapping) = node else {
      error(node, "\(what): expected a mapping of 'key: value' lines, found \(kind(node))")
      return nil
    }
    return mapping.map { ($0.key, $0.value) }
  }

  func value(_ pairs: [(Node, Node)], _ key: String) -> Node? {
    pairs.first { $0.0.string == key }?.1
  }

  mutating func checkKeys(_ pairs: [(Node, Node)], allowed: [String], in what: String) {
    for (key, _) in pairs where !allowed.contains(key.string ?? "") {
      let suggestion =
        Naming.closest(to: key.string ?? "", in: allowed).map { "did you mean '\($0)'? " } ?? ""
      error(
        key,
        "\(what): unknown key '\(key.string ?? "?")'; \(suggestion)known keys: \(allowed.joined(separator: ", "))"
      )
    }
  }

  mutating func scalarString(_ node: Node, _ what: String) -> String? {
    guard case .scalar(let scalar) = node else {
      error(node, "\(what): expected a single value, found \(kind(node))")
      return nil
    }
    return scalar.string
  }

  func kind(_ node: Node) -> String {
    switch node {
    case .scalar: "a value"
    case .mapping: "a mapping"
    case .sequence: "a list"
    case .alias: "an alias"
    }
  }
}
