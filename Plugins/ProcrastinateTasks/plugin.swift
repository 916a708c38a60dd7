import Foundation
import PackagePlugin

/// Runs `procrastinate-generate` for each `*.tasks.yaml` of a target. The generator renders
/// with the template bundled with it; the inputs are the spec and the templates' sources (the
/// top-level `Templates/` of the package that provides this plugin), so a rebuild with neither
/// changed does not run the generator, and editing a template reruns it.
@main
struct ProcrastinateTasks: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    guard let target = target as? SourceModuleTarget else { return [] }
    let specs = target.sourceFiles.map(\.url).filter {
      $0.lastPathComponent.hasSuffix(".tasks.yaml")
    }
    if specs.isEmpty { return [] }
    let tool = try context.tool(named: "ProcrastinateGenerate")
    let templateFiles = Self.templates(in: context.package)
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

  /// The templates' sources: the `.mustache` files of the `ProcrastinateTemplates` target, found
  /// in the package graph (the package being built, or the dependency that provides this
  /// plugin). Listed as inputs only: editing one rebuilds the generator's resource bundle (which
  /// the tool's build waits for) and reruns the generator.
  static func templates(in root: Package) -> [URL] {
    var seen: Set<String> = []
    var pending = [root]
    while let package = pending.popLast() {
      guard seen.insert(package.id).inserted else { continue }
      if let target = package.targets.first(where: { $0.name == "ProcrastinateTemplates" }) {
        let folder = target.directoryURL
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
          .filter { $0.hasSuffix(".mustache") }.sorted()
          .map { folder.appendingPathComponent($0) }
      }
      pending += package.dependencies.map(\.package)
    }
    return []
  }
}
