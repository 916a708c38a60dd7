import Foundation
import ProcrastinateGenerator
import ProcrastinateTesting
import Testing

@Suite("Generator")
struct GeneratorUnitTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
  /// The template's source, which the generator bundles as a resource.
  static let templates = root.appendingPathComponent("Sources/ProcrastinateGenerator/Resources")
    .path
  static let fixture = root.appendingPathComponent("Tests/Fixtures/everything.tasks.yaml").path
  static let golden = root.appendingPathComponent(
    "Tests/ProcrastinateTests/Generated/everything.tasks.swift"
  ).path

  /// The golden file is compiled into this test target and exercised end to end by
  /// `GeneratedTasksTests`. `UPDATE_GOLDEN=1 swift test --filter Generator` rewrites it.
  @Test("the spec using every feature renders exactly the golden file")
  func golden() throws {
    let generated = try Generator().generate(path: Self.fixture)
    if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
      try generated.write(toFile: Self.golden, atomically: true, encoding: .utf8)
    }
    let expected = try String(contentsOfFile: Self.golden, encoding: .utf8)
    #expect(generated == expected)
    // The bundled template is the source's, and a templates directory can stand in for it.
    #expect(
      try Generator(templatesDirectory: Self.templates).generate(path: Self.fixture) == expected)
  }

  @Test("a templates directory without the template is an error that names the path")
  func missingTemplate() {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "no-templates-\(UUID().uuidString)"
    ).path
    let error = #expect(throws: GeneratorError.self) {
      try Generator(templatesDirectory: directory)
    }
    #expect(
      error?.description == "cannot read the template \(directory)/tasks.swift.mustache")
  }

  static func diagnostics(_ yaml: String, file: String = "jokes.tasks.yaml") -> [String] {
    do {
      _ = try SpecParser.parse(yaml, path: "Sources/App/\(file)")
      return []
    } catch {
      return error.diagnostics.map(\.description)
    }
  }

  @Test(
    "every bad spec is an error at its line and column that says what to write instead",
    arguments: [
      (
        "tasks:\n  a: [\n", "3:1: error: invalid YAML: did not find expected node content"
      ),
      (
        "tasks:\n  fetch:\n    args:\n      n: Integer\n",
        "4:10: error: task 'fetch': argument 'n': unknown type 'Integer'; use one of String, Int, Double, Bool, Date, JSON, [T] and T?, e.g. '[String]?'"
      ),
      (
        "tasks:\n  fetch: {}\n  fetch: {}\n",
        "2:3: error: duplicate key 'fetch': each task and each argument can be declared once"
      ),
      (
        "tasks:\n  fetch:\n    args:\n      n: Int\n      n: String\n",
        "4:7: error: duplicate key 'n': each task and each argument can be declared once"
      ),
      (
        "tasks:\n  fetch:\n    args:\n      user_id: Int\n      userId: Int\n",
        "5:7: error: task 'fetch': argument 'userId' and argument 'user_id' both become 'userId' in Swift; rename one"
      ),
      (
        "tasks:\n  2fetch: {}\n",
        "2:3: error: invalid task name '2fetch': use letters, digits, '_' and '.', starting with a letter, e.g. 'fetch_joke' or 'reports.send'"
      ),
      (
        "tasks:\n  fetch:\n    args: { user-id: Int }\n",
        "3:13: error: task 'fetch': argument 'user-id': not a valid name; use letters, digits and '_', starting with a letter, e.g. 'user_id'"
      ),
      (
        "tasks:\n  fetch:\n    args: { class: Int }\n",
        "3:13: error: task 'fetch': argument 'class': 'class' is reserved (a Swift or Python keyword, or a parameter of the generated functions: app, container, context, decoder, overrides); choose another name"
      ),
      (
        "tasks:\n  fetch:\n    queu: default\n",
        "3:5: error: task 'fetch': unknown key 'queu'; did you mean 'queue'? known keys: doc, queue, priority, lock, queueing_lock, retry, args, trace, periodic, periodic_id"
      ),
      (
        "tasks:\n  fetch:\n    queue: \(String(repeating: "q", count: 41))\n",
        "3:12: error: task 'fetch': queue '\(String(repeating: "q", count: 41))' is 41 bytes; procrastinate's NOTIFY channel limits queue names to 40 bytes, use a shorter name"
      ),
      (
        "tasks:\n  fetch:\n    retry: { max_attempts: many }\n",
        "3:28: error: task 'fetch': 'retry'.max_attempts: expected an integer, found 'many'"
      ),
      (
        "tasks:\n  fetch:\n    retry: { wait: -1 }\n",
        "3:20: error: task 'fetch': 'retry'.wait: -1 is negative; write 0 or more seconds"
      ),
      (
        "tasks:\n  fetch:\n    args: { n: { type: Int, default: five } }\n",
        "3:38: error: task 'fetch': argument 'n': default: expected an integer, found 'five'"
      ),
      (
        "tasks:\n  fetch:\n    trace: { relation: parent }\n",
        "3:24: error: task 'fetch': 'trace'.relation: unknown value 'parent'; use child, link or none"
      ),
      (
        "tasks:\n  fetch:\n    args: { trace_context: JSON }\n",
        "3:11: error: task 'fetch': argument 'trace_context' has the name of the trace carrier; rename it or set 'trace: { carrier: other_key }'"
      ),
      (
        "tasks:\n  fetch:\n    args: { n: Int }\n    trace: { record_args: [m] }\n",
        "4:28: error: task 'fetch': 'trace'.record_args: 'm' is not an argument of the task; known: n"
      ),
      ("jobs: {}\n", "1:1: error: the spec: unknown key 'jobs'; known keys: tasks, access"),
      (
        "access: open\ntasks: { fetch: {} }\n",
        "1:9: error: 'access' is 'open'; write one of public, package, internal"
      ),
      (
        "tasks:\n  tick:\n    periodic: \"*/5 * *\"\n",
        "3:15: error: task 'tick': 'periodic': it has 3 field(s); write 5 (minute hour day month weekday) or 6 (… seconds), e.g. '*/5 * * * *'"
      ),
      (
        "tasks:\n  tick:\n    periodic: \"* * * * *\"\n    args: { user_id: Int }\n",
        "4:11: error: task 'tick' is periodic: its jobs get only 'timestamp'; give argument 'user_id' a default or make it optional"
      ),
      (
        "tasks:\n  date: {}\n",
        "2:3: error: task 'date' would be the Swift type 'Date', which hides a type the generated code or Foundation uses; rename the task, e.g. 'date_job'"
      ),
      (
        "tasks:\n  default: {}\n",
        "2:3: error: task 'default' would be the Swift method 'default', a keyword; rename the task, e.g. 'default_job'"
      ),
      (
        "tasks:\n  jokes_tasks: {}\n",
        "2:3: error: task 'jokes_tasks' would be the Swift type 'JokesTasks', which is the spec's protocol; rename the task, e.g. 'jokes_tasks_job'"
      ),
      (
        "tasks:\n  fetch:\n    args: { n: { type: Int?, default: 5 } }\n",
        "3:39: error: task 'fetch': argument 'n': an optional argument defaults to null; drop the default, or make the type 'Int' to default to 5"
      ),
      (
        "tasks:\n  fetch:\n    queue: \"a\\tb\"\n",
        "3:12: error: task 'fetch': 'queue': contains a control character (a newline or tab); use a plain name"
      ),
    ])
  func diagnostic(yaml: String, expected: String) {
    let found = Self.diagnostics(yaml)
    #expect(found.contains("Sources/App/jokes.tasks.yaml:\(expected)"), "\(found)")
  }

  @Test("the spec's 'access:' sets the generated declarations' access; the caller's choice wins")
  func access() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "access-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let spec = directory.appendingPathComponent("shared.tasks.yaml").path
    try "access: public\ntasks:\n  fetch: { args: { n: Int } }\n".write(
      toFile: spec, atomically: true, encoding: .utf8)
    let generator = try Generator()
    let fromSpec = try generator.generate(path: spec)
    #expect(fromSpec.contains("public enum Fetch {"))
    #expect(fromSpec.contains("public protocol SharedTasks: Sendable {"))
    let overridden = try generator.generate(path: spec, access: .package)
    #expect(overridden.contains("package enum Fetch {"))
    #expect(!overridden.contains("public "))
  }

  @Test("a file name that is not an identifier is refused")
  func fileName() {
    #expect(
      Self.diagnostics("tasks: { a: {} }\n", file: "2fast.tasks.yaml").first?.contains(
        "file name '2fast.tasks.yaml' gives the protocol name '2fastTasks'") == true)
  }

}

@Suite("procrastinate-generate")
struct GeneratorCLITests {
  @Test("procrastinate-generate prints diagnostics, exits 1, and rewrites only what changed")
  func cli() async throws {
    let binary = TracesPingTests.binary.replacingOccurrences(
      of: "procrastinate-swift", with: "procrastinate-generate")
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "gen-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let bad = directory.appendingPathComponent("bad.tasks.yaml").path
    try "tasks:\n  fetch:\n    args: { n: Integer }\n".write(
      toFile: bad, atomically: true, encoding: .utf8)
    let failed = try await runProcessCapturing(
      binary, [bad, "--output-directory", directory.path], allowFailure: true)
    #expect(failed.status == 1)
    #expect(failed.stderr.contains("\(bad):3:16: error: task 'fetch': argument 'n': unknown type"))

    let output = directory.appendingPathComponent("everything.tasks.swift").path
    _ = try await runProcessCapturing(
      binary, [GeneratorUnitTests.fixture, "--output-directory", directory.path])
    #expect(
      try String(contentsOfFile: output, encoding: .utf8)
        == String(contentsOfFile: GeneratorUnitTests.golden, encoding: .utf8))
    let old = Date(timeIntervalSince1970: 1_000_000)
    try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: output)
    _ = try await runProcessCapturing(
      binary, [GeneratorUnitTests.fixture, "--output-file", output])
    let modified = try FileManager.default.attributesOfItem(atPath: output)[.modificationDate]
    #expect(modified as? Date == old)
  }
}
