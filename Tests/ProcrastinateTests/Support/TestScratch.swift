import Foundation

/// The folder for the files tests write (receiver logs and outputs, generated modules, trace
/// files, Prometheus data): one per test process, removed when the process exits, so that
/// the suite leaves nothing behind in the system's temporary folder. A process that crashes
/// leaves its folder, named with its process id.
enum TestScratch {
  static let url: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "procrastinate-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: TestScratch.url) }
    return url
  }()
}
