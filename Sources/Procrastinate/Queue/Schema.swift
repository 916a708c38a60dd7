/// What `schema --check` found: each object of the procrastinate 3.10 contract, present or not.
public struct SchemaReport: Sendable {
  /// Objects of the contract that exist, e.g. `table procrastinate_jobs`.
  public let present: [String]
  /// Objects of the contract that are missing.
  public let missing: [String]

  /// Every object of the contract is there.
  public var isComplete: Bool { missing.isEmpty }
  /// Nothing of the contract is there: the database is new to procrastinate.
  public var isAbsent: Bool { present.isEmpty }
}

/// What `applySchema()` did.
public enum SchemaApplyOutcome: Sendable, Equatable {
  /// The schema was created.
  case created
  /// The whole contract was already there (applied by Python or by us); nothing changed.
  case alreadyPresent
}

/// The database lacks the contract, or carries only part of it: applying would clash,
/// and running would fail.
public struct IncompleteSchemaError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// The objects of the contract that are missing, e.g. `table procrastinate_jobs`.
  public let missing: [String]
  /// None of the schema is there (rather than part of it).
  public let isAbsent: Bool

  /// The error for a database that lacks `missing`; `isAbsent` when it has none of it.
  public init(missing: [String], isAbsent: Bool = false) {
    self.missing = missing
    self.isAbsent = isAbsent
  }

  /// The message: what is missing, and how to create or migrate the schema.
  public var description: String {
    if isAbsent {
      return
        "the database has no procrastinate schema (no procrastinate_jobs table, …): create it with 'procrastinate-swift schema --apply' (or Python's 'procrastinate schema --apply', or ProcrastinateApp.applySchema())"
    }
    return
      "the database has part of procrastinate's 3.10 schema but lacks \(missing.count) object(s): "
      + missing.prefix(10).joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
      + ". Apply procrastinate's migrations up to 3.10 (or 3.4+) rather than the full schema."
  }
}

extension ProcrastinateApp {
  /// Checks, object by object, whether the database carries the procrastinate 3.10 contract.
  public func checkSchema() async throws -> SchemaReport {
    try await store.checkSchema()
  }

  /// Creates the procrastinate 3.10 schema on a database that has none, in one transaction.
  ///
  /// On a database that already has the whole contract (applied by Python's
  /// `procrastinate schema --apply` or by this method) nothing is changed. A database with
  /// only part of it is left alone and ``IncompleteSchemaError`` lists what is missing.
  /// Concurrent callers are serialised with an advisory lock.
  @discardableResult
  public func applySchema() async throws -> SchemaApplyOutcome {
    try await store.applySchema()
  }
}
