import Foundation
import PackagePlugin

/// Runs `procrastinate-generate` for each `*.tasks.yaml` of a target. The generator renders
/// with the template bundled with it; the inputs are the spec and that template's source, so
/// a rebuild with neither changed does not run the generator.
@main
struct ProcrastinateTasks: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    guard let target = target as? SourceModuleTarget else { return [] }
    let specs = target.sourceFiles.map(\.url).filter {
      $0.lastPathComponent.hasSuffix(".tasks.yaml")
    }
    if specs.isEmpty { return [] }
    let tool = try context.tool(named: "ProcrastinateGenerate")
    // The generator's resources, in this plugin's package. Listed as inputs only: editing a
    // template rebuilds the generator's resource bundle (which the tool's build waits for)
    // and reruns the generator.
    let templates = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Sources/ProcrastinateGenerator/Resources")
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
        arguments: [spec.path, "--output-file", output.path],
        inputFiles: [spec] + templateFiles,
        outputFiles: [output])
    }
  }
}
