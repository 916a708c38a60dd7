import ProcrastinateConventions

/// An exporter that sends each batch in HTTP requests (OTLP/HTTP, Jaeger Thrift): exporting
/// is sending, and shutting down has nothing to release.
package protocol HTTPSpanSender: SpanExporter {
  /// Sends one batch and returns the accepting HTTP status (what `traces ping` prints).
  ///
  /// - Throws: ``HTTPExportError``.
  @discardableResult
  func send(_ spans: [SpanRecord]) async throws -> Int
}

extension HTTPSpanSender {
  package func export(_ spans: [SpanRecord]) async throws {
    _ = try await send(spans)
  }

  package func shutdown() async {}
}

/// A collector did not accept a batch: it answered outside 2xx, or not at all.
package struct HTTPExportError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// What was exporting, e.g. `OTLP export` or `Jaeger export`.
  package let destination: String
  /// The HTTP status, or nil when no answer came (see ``transportError``).
  package let status: Int?
  package let transportError: HTTPTransportError?
  package let body: String

  /// An answer outside 2xx.
  init(_ destination: String, response: HTTPResponse) {
    self.destination = destination
    self.status = response.status
    self.transportError = nil
    self.body = String(decoding: response.body, as: UTF8.self)
  }

  /// No answer.
  init(_ destination: String, transportError: HTTPTransportError) {
    (self.destination, self.status, self.transportError, self.body) =
      (destination, nil, transportError, "")
  }

  package var description: String {
    if let transportError { return "\(destination) failed: \(transportError)" }
    return
      "\(destination) rejected with HTTP \(status ?? 0)\(body.isEmpty ? "" : ": \(body.prefix(300))")"
  }
}
