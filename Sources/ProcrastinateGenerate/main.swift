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
      Swift (the default): each SPEC becomes <name>.tasks.swift in the output directory (or
      the file given with --output-file, for one spec).

      Python (--language python): the SPECs become one module for procrastinate 3.10 and the
      OpenTelemetry API, written to --output-file, e.g.
        procrastinate-generate --language python jokes.tasks.yaml --output-file tasks.py

      A file is rewritten only when its content changed, so unchanged specs do not trigger
      recompilation.
      """)

  /// The language to generate.
  enum Language: String, ExpressibleByArgument, CaseIterable {
    case swift, python
  }

  @Argument(help: "Spec files (*.tasks.yaml).")
  var specs: [String]

  @Option(help: "The language to generate: swift (one file per spec) or python (one module).")
  var language: Language = .swift

  @Option(help: "Directory for the generated files.")
  var outputDirectory: String?

  @Option(help: "The generated file, when there is exactly one spec.")
  var outputFile: String?

  @Option(
    help:
      "Directory holding a tasks.swift.mustache (or tasks.py.mustache) to use instead of the template bundled with the generator."
  )
  var templates: String?

  @Option(
    help:
      "Access level of the generated declarations: internal, package or public (default: the spec's 'access:', else internal)."
  )
  var accessModifier: Generator.AccessModifier?

  @Flag(
    help:
      "Write nothing; fail when an output file differs from what the specs generate now (for CI: a module not regenerated after a spec changed)."
  )
  var check = false

  func validate() throws {
    if language == .python {
      if outputFile == nil || outputDirectory != nil {
        throw ValidationError("--language python writes one module: give --output-file FILE.py")
      }
      if accessModifier != nil {
        throw ValidationError("--access-modifier applies to Swift only")
      }
      return
    }
    if outputFile != nil && specs.count != 1 {
      throw ValidationError(
        "--output-file takes exactly one spec; use --output-directory for several")
    }
    if (outputFile == nil) == (outputDirectory == nil) {
      throw ValidationError("give either --output-directory or --output-file")
    }
  }

  func run() throws {
    if language == .python { return try runPython() }
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
      try write(source, to: destination)
    }
    if failed { throw ExitCode.failure }
  }

  func runPython() throws {
    let generator =
      try templates.map { try PythonGenerator(templatesDirectory: $0) } ?? PythonGenerator()
    let source: String
    do {
      source = try generator.generate(paths: specs)
    } catch let errors as SpecErrors {
      FileHandle.standardError.write(Data((errors.description + "\n").utf8))
      throw ExitCode.failure
    }
    try write(source, to: outputFile!)
  }

  /// Writes `text` unless it is already there; with `--check`, only says that it is not.
  func write(_ text: String, to path: String) throws {
    guard check else { return try Self.writeIfChanged(text, to: path) }
    if FileManager.default.contents(atPath: path) != Data(text.utf8) {
      FileHandle.standardError.write(
        Data(
          "error: \(path) is out of date with \(specs.joined(separator: ", ")): run procrastinate-generate again without --check\n"
            .utf8))
      throw ExitCode.failure
    }
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
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true)
    }
    try data.write(to: URL(fileURLWithPath: path), options: .atomic)
  }
}

extension Generator.AccessModifier: ExpressibleByArgument {}
