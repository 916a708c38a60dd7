import Foundation
import Mustache
import ProcrastinateTemplates

/// Renders validated specs into one Python module for procrastinate 3.10 with the
/// `tasks.py.mustache` template: a `Blueprint` with every task, typed defer helpers that open
/// the PRODUCER span and inject the trace context, and typed implementations run in the
/// CONSUMER span, with the span names, kinds and attributes Swift uses.
///
/// The module imports only `procrastinate`, `opentelemetry-api` and the standard library,
/// and passes `mypy --strict` and `ruff check`.
public struct PythonGenerator: Sendable {
  private let template: MustacheTemplate

  /// Loads the template bundled with the generator (see ``Generator/init()``).
  public init() throws {
    template = try TemplateLoader.bundled(TemplateFiles.python)
  }

  /// Loads `tasks.py.mustache` from `templatesDirectory` instead of the bundled template.
  public init(templatesDirectory: String) throws {
    template = try TemplateLoader.load(TemplateFiles.python, from: templatesDirectory)
  }

  /// The module for `specs`, each read from its `sourceName`.
  ///
  /// - Throws: ``GeneratorError`` when two tasks of the specs would define one Python name
  ///   (`a.b` and `a_b`, `report` and `report_batch`, `fetch_joke` and `fetchJoke`).
  public func render(_ specs: [(spec: SpecFile, sourceName: String)]) throws -> String {
    // Every public name a task defines, with the task that defines it: two tasks must not
    // define one name (`report` and `report_batch` both give `defer_report_batch`;
    // `fetch_joke` and `fetchJoke` both give `FetchJokeArgs`).
    var owners: [String: String] = [:]
    for (spec, sourceName) in specs {
      for task in spec.tasks {
        let here = "task '\(task.name)' of \(sourceName)"
        let names = PythonNaming.publicNames(
          typeName: task.typeName, pythonName: PythonNaming.identifier(task.name))
        for name in names {
          if let other = owners[name], other != here {
            throw GeneratorError(
              "\(here) and \(other) both define '\(name)' in Python; rename one of them")
          }
          owners[name] = here
        }
      }
    }
    let rendered = template.render(TemplateContext.make(EmittedPythonModule(specs)))
    return rendered.trimmingCharacters(in: .newlines) + "\n"
  }

  /// Parses, validates and renders the specs at `paths` into one module.
  ///
  /// - Throws: ``SpecErrors`` with every spec's problems, or ``GeneratorError``.
  public func generate(paths: [String]) throws -> String {
    var specs: [(spec: SpecFile, sourceName: String)] = []
    var diagnostics: [Diagnostic] = []
    for path in paths {
      guard let data = FileManager.default.contents(atPath: path) else {
        throw GeneratorError("cannot read \(path)")
      }
      do {
        let spec = try SpecParser.parse(String(decoding: data, as: UTF8.self), path: path)
        specs.append((spec, (path as NSString).lastPathComponent))
      } catch {
        diagnostics += error.diagnostics
      }
    }
    if !diagnostics.isEmpty { throw SpecErrors(diagnostics: diagnostics) }
    return try render(specs)
  }
}
