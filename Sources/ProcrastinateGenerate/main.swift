import ArgumentParser
import Foundation
import ProcrastinateGenerator

/// `procrastinate-generate`: spec files in, Swift out. The build-tool plugin runs it for
/// each `*.tasks.yaml`; you can run it ahead of time and commit the output instead.
@main
struct ProcrastinateGenerate: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "procrastinate-generate",
    abstract: "Generate typed, traced defer and run wrappers from *.tasks.yaml spec files.",
    discussion: """
      Each SPEC becomes <name>.tasks.swift in the output directory (or the file given with
      --output-file, for one spec). A file is rewritten only when its content changed, so
      unchanged specs do not trigger recompilation.
      """)

  @Argument(help: "Spec files (*.tasks.yaml).")
  var specs: [String]

  @Option(help: "Directory for the generated files.")
  var outputDirectory: String?

  @Option(help: "The generated file, when there is exactly one spec.")
  var outputFile: String?

  @Option(
    help:
      "Directory holding a tasks.swift.mustache to use instead of the template bundled with the generator."
  )
  var templates: String?

  @Option(
    help:
      "Access level of the generated declarations: internal, package or public (default: the spec's 'access:', else internal)."
  )
  var accessModifier: Generator.AccessModifier?

  func validate() throws {
    if outputFile != nil && specs.count != 1 {
      throw ValidationError(
        "--output-file takes exactly one spec; use --output-directory for several")
    }
    if (outputFile == nil) == (outputDirectory == nil) {
      throw ValidationError("give either --output-directory or --output-file")
    }
  }

  func run() throws {
    let generator: Generator
    if let templates {
      generator = try Generator(templatesDirectory: templates)
    } else {
      generator = try Generator()
    }
    var failed = false
    for spec in specs {
      let source: String
      do {
        source = try generator.generate(path: spec, access: accessModifier)
      } catch let errors as SpecErrors {
        FileHandle.standardError.write(Data((errors.description + "\n").utf8))
        failed = true
        continue
      }
      let destination = outputFile ?? Self.outputPath(for: spec, in: outputDirectory!)
      try Self.writeIfChanged(source, to: destination)
    }
    if failed { throw ExitCode.failure }
  }

  static func outputPath(for spec: String, in directory: String) -> String {
    var name = (spec as NSString).lastPathComponent
    if name.hasSuffix(".yaml") { name.removeLast(".yaml".count) }
    return (directory as NSString).appendingPathComponent(name + ".swift")
  }

  /// Leaves the file (and its modification time) alone when nothing changed.
  static func writeIfChanged(_ text: String, to path: String) throws {
    let data = Data(text.utf8)
    if FileManager.default.contents(atPath: path) == data { return }
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try data.write(to: URL(fileURLWithPath: path), options: .atomic)
  }
}

extension Generator.AccessModifier: ExpressibleByArgument {}
