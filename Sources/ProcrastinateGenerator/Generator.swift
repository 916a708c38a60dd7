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
    let rendered = template.render(Self.viewModel(spec, sourceName: sourceName, access: access))
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

  static func viewModel(_ spec: SpecFile, sourceName: String, access: AccessModifier) -> [String:
    Any]
  {
    [
      "source": sourceName,
      "access": access == .internal ? "" : access.rawValue + " ",
      "protocolName": spec.protocolName,
      "tasks": spec.tasks.map(task),
    ]
  }

  private static func task(_ task: TaskSpec) -> [String: Any] {
    var model = taskModel(task)
    if let cron = task.periodic {
      model["periodic"] = [
        "cronLiteral": Naming.stringLiteral(cron),
        "periodicIDLiteral": Naming.stringLiteral(task.periodicID),
      ]
    }
    return model
  }

  private static func taskModel(_ task: TaskSpec) -> [String: Any] {
    let literal = Naming.stringLiteral
    let retry = task.retry.map { retry in
      var parts = retry.maxAttempts.map { ["maxAttempts: \($0)"] } ?? []
      if retry.wait != 0 { parts.append("wait: \(number(retry.wait))") }
      if retry.linearWait != 0 { parts.append("linearWait: \(number(retry.linearWait))") }
      if retry.exponentialWait != 0 {
        parts.append("exponentialWait: \(number(retry.exponentialWait))")
      }
      return "RetryStrategy(\(parts.joined(separator: ", ")))"
    }
    let arguments = task.arguments.enumerated().map { index, argument -> [String: Any] in
      let wrapped = argument.type.unwrapped
      let decodeCall: String
      if argument.type.isOptional || argument.defaultLiteral != nil {
        let fallback = argument.defaultLiteral.flatMap { $0 == "nil" ? nil : " ?? \($0)" } ?? ""
        decodeCall = "decodeIfPresent(\(wrapped).self, forKey: .\(argument.swiftName))\(fallback)"
      } else {
        decodeCall = "decode(\(wrapped).self, forKey: .\(argument.swiftName))"
      }
      return [
        "swiftName": argument.swiftName,
        "keyClause": argument.name == argument.swiftName ? "" : " = \(literal(argument.name))",
        "type": argument.type.description,
        "defaultClause": argument.defaultLiteral.map { " = \($0)" } ?? "",
        "decodeCall": decodeCall,
        "docLines": lines(argument.doc),
        "last": index == task.arguments.count - 1,
      ]
    }
    return [
      "name": task.name,
      "nameLiteral": literal(task.name),
      "typeName": task.typeName,
      "methodName": task.methodName,
      "docLines": lines(task.doc),
      "queue": task.queue,
      "queueLiteral": literal(task.queue),
      "priority": task.priority,
      "lockLiteral": task.lock.map(literal) ?? "nil",
      "queueingLockLiteral": task.queueingLock.map(literal) ?? "nil",
      "retryLiteral": retry ?? "nil",
      "relation": task.relation,
      "carrierLiteral": task.carrier.map(literal) ?? "nil",
      "recordedLiteral": "[" + task.recordedArguments.map(literal).joined(separator: ", ") + "]",
      "arguments": arguments,
      "hasArguments": !arguments.isEmpty,

    ]
  }

  private static func lines(_ text: String?) -> [String] {
    guard let text, !text.isEmpty else { return [] }
    return text.trimmingCharacters(in: .whitespacesAndNewlines).split(
      separator: "\n", omittingEmptySubsequences: false
    ).map { String($0.trimmingCharacters(in: .whitespaces)) }
  }

  private static func number(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }
}

/// The generator could not read its input or its templates.
public struct GeneratorError: Error, Sendable, CustomStringConvertible {
  public let description: String
  init(_ description: String) { self.description = description }
}
