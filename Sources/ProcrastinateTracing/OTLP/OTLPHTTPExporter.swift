import Foundation
import Logging
import ProcrastinateConventions
import ProcrastinateTraceData

/// Sends spans to an OpenTelemetry collector over OTLP/HTTP (libcurl).
///
/// Protobuf by default, or OTLP/JSON; optional gzip; extra headers; a timeout per request;
/// retries with exponential backoff on 429, 502, 503 and 504 and on transport errors,
/// honouring `Retry-After`. Other answers fail the batch at once. Behind a
/// ``BatchSpanProcessor``, a down or slow collector costs dropped (and counted) spans,
/// never a slower job.
package final class OTLPHTTPExporter: HTTPSpanSender {
  package var componentType: String { "otlp_http_span_exporter" }
  package enum WireProtocol: String, Sendable {
    case protobuf = "http/protobuf"
    case json = "http/json"
  }

  package struct Configuration: Sendable {
    /// The full traces URL, e.g. `http://localhost:4318/v1/traces`.
    package var endpoint: String
    package var wireProtocol: WireProtocol = .protobuf
    package var headers: [(String, String)] = []
    package var gzip = false
    package var timeout: Duration = .seconds(10)
    /// Attempts after the first one, for retryable answers.
    package var maximumRetries = 5
    /// The first backoff; it doubles each retry (capped at 30 s) unless `Retry-After` says otherwise.
    package var initialBackoff: Duration = .seconds(1)

    package init(endpoint: String) { self.endpoint = endpoint }
  }

  package let configuration: Configuration
  package let resource: TracingResource
  private let client = HTTPClient()

  package init(configuration: Configuration, resource: TracingResource) {
    self.configuration = configuration
    self.resource = resource
  }

  /// Sends one batch, with retries, and returns the accepting status.
  @discardableResult
  package func send(_ spans: [SpanRecord]) async throws -> Int {
    var headers = configuration.headers
    var body: [UInt8]
    switch configuration.wireProtocol {
    case .protobuf:
      body = OTLPEncoding.protobuf(spans, resource: resource)
      headers.append(("Content-Type", "application/x-protobuf"))
    case .json:
      body = Array(OTLPEncoding.json(spans, resource: resource).utf8)
      headers.append(("Content-Type", "application/json"))
    }
    // A body zlib cannot compress (it runs out of memory) goes as it is.
    if configuration.gzip, let compressed = try? Gzip.compress(body) {
      body = compressed
      headers.append(("Content-Encoding", "gzip"))
    }
    var backoff = configuration.initialBackoff
    var attempt = 0
    while true {
      var retryAfter: Double?
      var failure: HTTPExportError
      do {
        let response = try await client.post(
          url: configuration.endpoint, headers: headers, body: body, timeout: configuration.timeout)
        if (200..<300).contains(response.status) { return response.status }
        failure = HTTPExportError("OTLP export", response: response)
        guard [429, 502, 503, 504].contains(response.status) else { throw failure }
        retryAfter = response.retryAfter
      } catch let error as HTTPTransportError {
        failure = HTTPExportError("OTLP export", transportError: error)
      }
      attempt += 1
      guard attempt <= configuration.maximumRetries, !Task.isCancelled else { throw failure }
      let wait = retryAfter.map { Duration.milliseconds(Int64(max(0, $0) * 1000)) } ?? backoff
      try await Task.sleep(for: wait)
      backoff = min(backoff * 2, .seconds(30))
    }
  }

}
