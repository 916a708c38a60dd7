import Foundation

/// The loopback OTLP/HTTP receiver (`Tests/Interop/otlp_receiver.py`) in count-only mode: it
/// decodes every request with the official opentelemetry-proto classes and keeps the running
/// span count in a file. Stopped by ``Cleanup``.
public struct OTLPReceiver: Sendable {
  public let port: Int
  private let countFile: String

  public init(python: String) throws {
    let base = NSTemporaryDirectory() + "otlp-receiver-\(UUID().uuidString)"
    countFile = base + ".count"
    _ = try spawn(
      python,
      [
        repositoryRoot.appendingPathComponent("Tests/Interop/otlp_receiver.py").path,
        "--port-file", base + ".port", "--output", countFile, "--count-only",
      ], standardError: FileHandle.nullDevice)
    let deadline = Date().addingTimeInterval(20)
    var port: Int?
    while port == nil && Date() < deadline {
      port = (try? String(contentsOfFile: base + ".port", encoding: .utf8)).flatMap { Int($0) }
      if port == nil { Thread.sleep(forTimeInterval: 0.05) }
    }
    guard let port else { throw BenchmarkFailure("the OTLP receiver did not start within 20 s") }
    self.port = port
  }

  /// Spans decoded so far.
  public var count: Int {
    (try? String(contentsOfFile: countFile, encoding: .utf8)).flatMap { Int($0) } ?? 0
  }

  /// The traces endpoint; the base URL is `http://127.0.0.1:<port>`.
  public var endpoint: String { "http://127.0.0.1:\(port)/v1/traces" }

  /// Waits until the receiver has decoded `expected` spans in all.
  public func waitFor(_ expected: Int, timeout: Duration = .seconds(60)) async throws {
    let deadline = ContinuousClock.now + timeout
    while count < expected {
      guard ContinuousClock.now < deadline else {
        throw BenchmarkFailure(
          "the receiver decoded \(count) of \(expected) spans within \(timeout)")
      }
      try await Task.sleep(for: .milliseconds(20))
    }
  }
}
