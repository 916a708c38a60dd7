import ArgumentParser
import Foundation
import Logging
import Procrastinate

/// Options shared by the commands that talk to the database: `--database-url`, else
/// `PROCRASTINATE_DATABASE_URL`, else `DATABASE_URL`, else libpq's `PG*` variables.
///
/// Add them to your own commands with `@OptionGroup var database: DatabaseOptions`.
public struct DatabaseOptions: ParsableArguments {
  /// No URL given: the environment decides.
  public init() {}

  /// The `--database-url` given, if any.
  @Option(
    name: .customLong("database-url"),
    help:
      "PostgreSQL URL. Default: PROCRASTINATE_DATABASE_URL, then DATABASE_URL, then libpq's PG* variables."
  )
  public var databaseURL: String?

  /// An app on the resolved database (`--database-url`, else the environment), with
  /// `maximumConnections` connections and the commands' logger on standard error.
  public func makeApp(maximumConnections: Int = 1) throws -> ProcrastinateApp {
    try ProcrastinateApp(
      database: DatabaseSettings.resolve(explicit: databaseURL),
      maximumConnections: maximumConnections, logger: commandLogger())
  }
}

/// `schema --apply | --check`: creates procrastinate's 3.10 schema on a database that has
/// none, or says whether the database carries it (exit 1 if not), as Python's
/// `procrastinate schema` does.
public struct SchemaCommand: AsyncParsableCommand {
  /// The command with its default options (ArgumentParser parses them from the command line).
  public init() {}

  /// The `schema` subcommand's name and help.
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

  /// Checks that exactly one of `--apply` and `--check` is given.
  public func validate() throws {
    if apply == check { throw ValidationError("give exactly one of --apply or --check") }
  }

  /// Applies or checks the schema.
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
