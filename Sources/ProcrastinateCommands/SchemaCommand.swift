import ArgumentParser
import Foundation
import Logging
import Procrastinate

/// Options shared by the commands that talk to the database.
public struct DatabaseOptions: ParsableArguments {
  public init() {}

  @Option(
    name: .customLong("database-url"),
    help:
      "PostgreSQL URL. Default: PROCRASTINATE_DATABASE_URL, then DATABASE_URL, then libpq's PG* variables."
  )
  public var databaseURL: String?

  /// An app on the resolved database.
  public func makeApp(maximumConnections: Int = 1) throws -> ProcrastinateApp {
    try ProcrastinateApp(
      database: DatabaseSettings.resolve(explicit: databaseURL),
      maximumConnections: maximumConnections, logger: commandLogger())
  }
}

/// `schema --apply | --check`.
public struct SchemaCommand: AsyncParsableCommand {
  public init() {}

  public static let configuration = CommandConfiguration(
    commandName: "schema",
    abstract: "Create or check procrastinate's 3.10 schema.",
    discussion: """
      --apply creates the schema on a database that has none, and changes nothing on one that \
      already has it (applied by Python's 'procrastinate schema --apply' or by this command).
      --check lists what is missing and exits 1 if anything is.
      """
  )

  @Flag(help: "Create the schema when the database has none.") var apply = false
  @Flag(help: "Say whether the database carries the 3.10 contract; exit 1 if not.") var check =
    false
  @OptionGroup var database: DatabaseOptions

  public func validate() throws {
    if apply == check { throw ValidationError("give exactly one of --apply or --check") }
  }

  public func run() async throws {
    let app = try database.makeApp()
    if apply {
      switch try await app.applySchema() {
      case .created:
        print("Created procrastinate's 3.10 schema on \(app.database.redacted).")
      case .alreadyPresent:
        print("The schema is already there on \(app.database.redacted): nothing changed.")
      }
      return
    }
    let report = try await app.checkSchema()
    if report.isComplete {
      print(
        "OK: \(app.database.redacted) carries procrastinate's 3.10 schema (\(report.present.count) objects checked)."
      )
      return
    }
    if report.isAbsent {
      print(
        "Missing: \(app.database.redacted) has no procrastinate schema. Run 'procrastinate-swift schema --apply'."
      )
    } else {
      print(
        "Incomplete: \(app.database.redacted) lacks \(report.missing.count) of \(report.missing.count + report.present.count) objects:"
      )
      for object in report.missing { print("  - \(object)") }
    }
    throw ExitCode(1)
  }
}
