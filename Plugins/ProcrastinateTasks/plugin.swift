import Foundation
import PackagePlugin

/// Runs `procrastinate-generate` for each `*.tasks.yaml` of a target. Inputs are the spec
/// and the templates, so a rebuild with neither changed does not run the generator.
@main
struct ProcrastinateTasks: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    guard let target = target as? SourceModuleTarget else { return [] }
    let specs = target.sourceFiles.map(\.url).filter {
      $0.lastPathComponent.hasSuffix(".tasks.yaml")
    }
    if specs.isEmpty { return [] }
    let tool = try context.tool(named: "ProcrastinateGenerate")
    // This plugin's package holds the templates, next to Plugins/.
    let templates = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Templates")
    let templateFiles =
      ((try? FileManager.default.contentsOfDirectory(atPath: templates.path)) ?? [])
      .filter { $0.hasSuffix(".mustache") }.sorted()
      .map { templates.appendingPathComponent($0) }
    return specs.map { spec in
      var name = spec.lastPathComponent
      name.removeLast(".yaml".count)
      let output = context.pluginWorkDirectoryURL.appendingPathComponent(name + ".swift")
      return .buildCommand(
        displayName: "Generating \(name).swift from \(spec.lastPathComponent)",
        executable: tool.url,
        arguments: [spec.path, "--output-file", output.path, "--templates", templates.path],
        inputFiles: [spec] + templateFiles,
        outputFiles: [output])
    }
  }
}
