import Foundation
import Mustache
import ProcrastinateConventions
import ProcrastinateTemplates

/// Renders validated specs into Swift with the `tasks.swift.mustache` template.
///
/// The template ships with the generator as a resource; ``init(templatesDirectory:)`` renders
/// with another one instead. ``PythonGenerator`` renders the same specs for Python.
public struct Generator: Sendable {
  /// The access level of the generated declarations.
  public enum AccessModifier: String, Sendable, CaseIterable {
    /// `public` or `package` when other modules defer or run the tasks; else `internal`.
    case `public`, `package`, `internal`
  }

  private let template: MustacheTemplate

  /// Loads the template bundled with the generator, from its resource bundle next to the
  /// running executable: where SwiftPM puts it for a built tool, a test binary, and the
  /// plugin's copy of `procrastinate-generate`.
  ///
  /// - Throws: ``GeneratorError`` when the bundle is not there (an executable copied
  ///   without its `…_ProcrastinateTemplates.resources` folder): install that folder next to
  ///   it, or use ``init(templatesDirectory:)`` (`--templates DIR`).
  public init() throws {
    template = try TemplateLoader.bundled(TemplateFiles.swift)
  }

  /// Loads `tasks.swift.mustache` from `templatesDirectory` instead of the bundled template.
  public init(templatesDirectory: String) throws {
    template = try TemplateLoader.load(TemplateFiles.swift, from: templatesDirectory)
  }

  /// The Swift source for `spec`, read from `sourceName`.
  public func render(_ spec: SpecFile, sourceName: String, access: AccessModifier = .internal)
    -> String
  {
    let model = EmittedFile(spec, sourceName: sourceName, access: access)
    let rendered = template.render(TemplateContext.make(model))
    return rendered.trimmingCharacters(in: .newlines) + "\n"
  }

  /// Parses, validates and renders the spec at `path`, with the access level `access`, else
  /// the spec's own `access:`, else `internal`.
  public func generate(path: String, access: AccessModifier? = nil) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw GeneratorError("cannot read \(path)")
    }
    let spec = try SpecParser.parse(String(decoding: data, as: UTF8.self), path: path)
    return render(
      spec, sourceName: (path as NSString).lastPathComponent,
      access: access ?? spec.access ?? .internal)
  }
}

/// The generator could not read its input or its templates.
public struct GeneratorError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// What went wrong, with the path concerned.
  public let description: String
  init(_ description: String) { self.description = description }
}

/// Finds and parses the templates: in the generator's resource bundle beside the executable,
/// or in a directory given instead.
enum TemplateLoader {
  /// The template `name` from the bundle SwiftPM puts next to the executable (named
  /// `<package>_ProcrastinateTemplates.resources`, or `…-tool.resources` in a plugin's build).
  static func bundled(_ name: String) throws -> MustacheTemplate {
    let folder = Bundle.main.bundleURL
    // A build folder can hold both the target's bundle and the plugin's host copy
    // (`…-tool.resources`), one of them stale: read the one built with this executable.
    let isTool = Bundle.main.executableURL?.lastPathComponent.hasSuffix("-tool") ?? false
    let bundles =
      ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
      .filter { $0.contains(TemplateFiles.bundleMarker) && $0.hasSuffix(".resources") }
      .sorted {
        ($0.hasSuffix("-tool.resources") == isTool ? 0 : 1, $0) < (
          $1.hasSuffix("-tool.resources") == isTool ? 0 : 1, $1
        )
      }
    for bundle in bundles {
      let file = folder.appendingPathComponent(bundle).appendingPathComponent(name)
      if FileManager.default.fileExists(atPath: file.path) { return try parse(file.path) }
    }
    throw GeneratorError(
      "the bundled template is missing: no *\(TemplateFiles.bundleMarker).resources folder with \(name) next to the executable in \(folder.path); install that folder with the executable, or pass a templates directory (--templates DIR)"
    )
  }

  /// The template `name` from `directory`.
  static func load(_ name: String, from directory: String) throws -> MustacheTemplate {
    try parse((directory as NSString).appendingPathComponent(name))
  }

  private static func parse(_ path: String) throws -> MustacheTemplate {
    guard let text = FileManager.default.contents(atPath: path) else {
      throw GeneratorError("cannot read the template \(path)")
    }
    do {
      return try MustacheTemplate(string: String(decoding: text, as: UTF8.self))
    } catch {
      throw GeneratorError("\(path): invalid template: \(error)")
    }
  }
}
