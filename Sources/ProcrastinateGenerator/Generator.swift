import Foundation
import Mustache
import ProcrastinateConventions

/// Renders validated specs into Swift with the `tasks.swift.mustache` template.
///
/// The template ships with the generator as a resource; ``init(templatesDirectory:)`` renders
/// with another one instead.
public struct Generator: Sendable {
  /// The access level of the generated declarations.
  public enum AccessModifier: String, Sendable, CaseIterable {
    /// `public` or `package` when other modules defer or run the tasks; else `internal`.
    case `public`, `package`, `internal`
  }

  static let templateName = "tasks.swift"
  static let templateExtension = "mustache"
  static let templateFileName = templateName + "." + templateExtension
  private let template: MustacheTemplate

  /// Loads the template bundled with the generator.
  public init() throws {
    // On Linux SwiftPM copies the resource to the top of the bundle's directory: if the
    // bundle's own lookup misses it there, it is read from that path directly.
    let url =
      Bundle.module.url(forResource: Self.templateName, withExtension: Self.templateExtension)
      ?? Bundle.module.bundleURL.appendingPathComponent(Self.templateFileName)
    try self.init(templateFile: url.path)
  }

  /// Loads `tasks.swift.mustache` from `templatesDirectory` instead of the bundled template.
  public init(templatesDirectory: String) throws {
    try self.init(
      templateFile: (templatesDirectory as NSString).appendingPathComponent(Self.templateFileName))
  }

  private init(templateFile path: String) throws {
    guard let text = FileManager.default.contents(atPath: path) else {
      throw GeneratorError("cannot read the template \(path)")
    }
    do {
      template = try MustacheTemplate(string: String(decoding: text, as: UTF8.self))
    } catch {
      throw GeneratorError("\(path): invalid template: \(error)")
    }
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
