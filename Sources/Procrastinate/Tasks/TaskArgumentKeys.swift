/// The check generated argument types make before decoding: a job's arguments hold only
/// the keys its task's spec allows.
///
/// A key the spec does not declare means the job was deferred from another version of the
/// spec, e.g. a Python module not regenerated after an argument was renamed. Decoding it
/// anyway would leave the renamed argument at its default, or `nil` if it is optional,
/// with nothing to say so; the check fails the job instead, with a ``TaskArgumentsError``
/// that names the key.
public enum TaskArgumentKeys {
  /// Throws when the object `decoder` reads has a key outside `allowed` (the spec's
  /// arguments, its trace carrier, and `timestamp` for a periodic task).
  public static func check(_ decoder: any Decoder, allowed: Set<String>) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    for key in container.allKeys where !allowed.contains(key.stringValue) {
      throw TaskArgumentsError(
        task: "", field: key.stringValue,
        problem:
          "is not in the task's spec (it allows: \(allowed.sorted().joined(separator: ", "))); was the job deferred from another version of the spec?"
      )
    }
  }

  private struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }
}
