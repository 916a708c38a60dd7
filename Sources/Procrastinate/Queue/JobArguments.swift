import Foundation

/// A job's arguments: always a JSON object, as procrastinate requires (Python calls the
/// task with them as keyword arguments).
///
/// The text is kept exactly as given or as stored, so a handler can decode it into its
/// own `Decodable` type without a round trip through ``JSONValue``.
public struct JobArguments: Sendable, CustomStringConvertible {
  /// The arguments as JSON text; always an object.
  public let json: String

  /// Validates that `json` is a JSON object.
  public init(json: String) throws {
    let value: JSONValue
    do {
      value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
    } catch {
      throw JobArgumentsError.notJSON(reason: Self.reason(error))
    }
    guard case .object = value else { throw JobArgumentsError.notAnObject(found: value.kindName) }
    self.json = json
  }

  /// Arguments from members.
  public init(_ members: [String: JSONValue] = [:]) {
    self.json = JSONValue.object(members).description
  }

  /// Encodes `value`, which must encode as a JSON object (a struct or a dictionary).
  public init<Value: Encodable>(encoding value: Value, encoder: JSONEncoder = JSONEncoder()) throws
  {
    let data = try encoder.encode(value)
    let text = String(decoding: data, as: UTF8.self)
    guard data.first == UInt8(ascii: "{") else {
      let found = (try? JSONDecoder().decode(JSONValue.self, from: data))?.kindName ?? "not JSON"
      throw JobArgumentsError.notAnObject(found: found)
    }
    self.json = text
  }

  /// Arguments read back from the database, already known to be an object.
  package init(trustedJSON: String) { self.json = trustedJSON }

  /// Decodes the arguments into `type`.
  public func decode<Value: Decodable>(
    _ type: Value.Type = Value.self, decoder: JSONDecoder = JSONDecoder()
  ) throws -> Value {
    try decoder.decode(type, from: Data(json.utf8))
  }

  /// The arguments as members.
  public func members() throws -> [String: JSONValue] {
    try decode([String: JSONValue].self)
  }

  /// The arguments as JSON text: ``json``.
  public var description: String { json }

  private static func reason(_ error: any Error) -> String {
    if case DecodingError.dataCorrupted(let context) = error {
      let underlying =
        (context.underlyingError as? NSError)?.userInfo["NSDebugDescription"] as? String
      return underlying ?? context.debugDescription
    }
    return "\(error)"
  }
}

/// Job arguments that procrastinate cannot store or pass to a task.
public enum JobArgumentsError: ProcrastinateError, Sendable, Equatable, CustomStringConvertible {
  /// The text is not JSON at all.
  case notJSON(reason: String)
  /// The JSON is valid but not an object.
  case notAnObject(found: String)

  /// The message: what was wrong, and what to give instead.
  public var description: String {
    switch self {
    case .notJSON(let reason):
      "job arguments are not valid JSON (\(reason)); give a JSON object such as {\"user_id\": 42}"
    case .notAnObject(let found):
      "job arguments must be a JSON object (procrastinate passes them as keyword arguments), found \(found); wrap the value, e.g. {\"value\": …}"
    }
  }
}
