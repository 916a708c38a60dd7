// The generator's code templates, `tasks.swift.mustache` and `tasks.py.mustache`, live in this
// folder, at the top of the repository, and ship as this target's resources: SwiftPM copies
// them into a `…_ProcrastinateTemplates.resources` folder next to every executable that links
// the generator (`procrastinate-generate`, the plugin's copy of it, the test binary), which is
// where `Generator` reads them. Editing one rebuilds that folder, and the plugin reruns the
// generator.

/// The file names of the templates this target ships.
package enum TemplateFiles {
  /// The Swift template: one `<spec>.tasks.swift` per spec.
  package static let swift = "tasks.swift.mustache"
  /// The Python template: one module for procrastinate 3.10 from one or several specs.
  package static let python = "tasks.py.mustache"
  /// Every template, for the plugin's list of inputs and the generator's checks.
  package static let all = [swift, python]
  /// The part of the resource folder's name that tells it apart from other bundles.
  package static let bundleMarker = "_ProcrastinateTemplates"
}
