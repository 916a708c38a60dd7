import Foundation

/// The Python virtualenv `scripts/setup` creates (`.venv` at the repository root), which
/// the benchmarks need for procrastinate 3.10 and the OTLP receiver.
public enum PythonEnvironment {
  /// The venv's interpreter, after checking that it imports `modules`. When it is missing
  /// or incomplete, says so and exits 2 before anything is started.
  public static func require(modules: [String]) -> String {
    let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
    guard FileManager.default.isExecutableFile(atPath: python) else {
      refuse("\(python) does not exist")
    }
    let check = Process()
    check.executableURL = URL(fileURLWithPath: python)
    check.arguments = ["-c", "import " + modules.joined(separator: ", ")]
    check.standardOutput = FileHandle.nullDevice
    check.standardError = FileHandle.nullDevice
    do {
      try check.run()
      check.waitUntilExit()
    } catch {
      refuse("\(python) does not start: \(error)")
    }
    guard check.terminationStatus == 0 else {
      refuse("\(python) cannot import \(modules.joined(separator: ", "))")
    }
    return python
  }

  private static func refuse(_ problem: String) -> Never {
    FileHandle.standardError.write(
      Data(
        "benchmark needs the Python virtualenv: \(problem).\nRun scripts/setup (from the repository root) first; it creates .venv with procrastinate 3.10 and opentelemetry-proto.\n"
          .utf8))
    exit(2)
  }
}
