import Foundation
import Mustache

/// Renders validated specs into Swift with the templates of `Templates/`.
public struct Generator: Sendable {
  /// The access level of the generated declarations.
  public enum AccessModifier: String, Sendable, CaseIterable {
    case `public`, `package`, `internal`
  }

  static let templateName = "tasks.swift"
  private let template: MustacheTemplate

  /// Loads `tasks.swift.mustache` from `templatesDirectory`.
  public init(templatesDirectory: String) throws {
    let path = (templatesDirectory as NSString).appendingPathComponent(
      Self.templateName + ".mustache")
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
    let rendered = template.render(EmittedFile(spec, sourceName: sourceName, access: access))
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
public struct GeneratorError: Error, Sendable, CustomStringConvertible {
  /// What went wrong, with the path concerned.
  public let description: String
  init(_ description: String) { self.description = description }
}
