import Foundation
import Logging
import Procrastinate

/// Sends spans to an OpenTelemetry collector over OTLP/HTTP (libcurl).
///
/// Protobuf by default, or OTLP/JSON; optional gzip; extra headers; a timeout per request;
/// retries with exponential backoff on 429, 502, 503 and 504 and on transport errors,
/// honouring `Retry-After`. Other answers fail the batch at once. Behind a
/// ``BatchSpanProcessor``, a down or slow collector costs dropped (and counted) spans,
/// never a slower job.
public final class OTLPHTTPExporter: SpanExporter {
  public enum WireProtocol: String, Sendable {
    case protobuf = "http/protobuf"
    case json = "http/json"
  }

  public struct Configuration: Sendable {
    /// The full traces URL, e.g. `http://localhost:4318/v1/traces`.
    public var endpoint: String
    public var wireProtocol: WireProtocol = .protobuf
    public var headers: [(String, String)] = []
    public var gzip = false
    public var timeout: Duration = .seconds(10)
    /// Attempts after the first one, for retryable answers.
    public var maximumRetries = 5
    /// The first backoff; it doubles each retry (capped at 30 s) unless `Retry-After` says otherwise.
    public var initialBackoff: Duration = .seconds(1)

    public init(endpoint: String) { self.endpoint = endpoint }
  }

  /// The collector did not accept a batch.
  public struct ExportError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status, or nil when no answer came (see ``transportError``).
    public let status: Int?
    public let transportError: HTTPTransportError?
    public let body: String
    public var description: String {
      if let transportError { return "OTLP export failed: \(transportError)" }
      return
        "OTLP export rejected with HTTP \(status ?? 0)\(body.isEmpty ? "" : ": \(body.prefix(300))")"
    }
  }

  public let configuration: Configuration
  public let resource: TracingResource
  private let client = HTTPClient()

  public init(configuration: Configuration, resource: TracingResource) {
    self.configuration = configuration
    self.resource = resource
  }

  public func export(_ spans: [SpanRecord]) async throws {
    _ = try await send(spans)
  }

  /// Sends one batch and returns the accepting status (used by `traces ping`).
  @discardableResult
  public func send(_ spans: [SpanRecord]) async throws -> Int {
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
    if configuration.gzip, let compressed = HTTPClient.gzip(body) {
      body = compressed
      headers.append(("Content-Encoding", "gzip"))
    }
    var backoff = configuration.initialBackoff
    var attempt = 0
    while true {
      var retryAfter: Double?
      var failure: ExportError
      do {
        let response = try await client.post(
          url: configuration.endpoint, headers: headers, body: body, timeout: configuration.timeout)
        if (200..<300).contains(response.status) { return response.status }
        failure = ExportError(
          status: response.status, transportError: nil,
          body: String(decoding: response.body, as: UTF8.self))
        guard [429, 502, 503, 504].contains(response.status) else { throw failure }
        retryAfter = response.retryAfter
      } catch let error as HTTPTransportError {
        failure = ExportError(status: nil, transportError: error, body: "")
      }
      attempt += 1
      guard attempt <= configuration.maximumRetries, !Task.isCancelled else { throw failure }
      let wait = retryAfter.map { Duration.milliseconds(Int64(max(0, $0) * 1000)) } ?? backoff
      try await Task.sleep(for: wait)
      backoff = min(backoff * 2, .seconds(30))
    }
  }

  public func shutdown() async {}
}
