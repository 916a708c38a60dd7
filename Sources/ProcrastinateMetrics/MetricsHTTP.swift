/// The HTTP/1.1 of ``PrometheusEndpoint``: which answer a request head gets, as bytes.
enum MetricsHTTP {
  /// The index just past the request head's blank line, if `bytes` holds it.
  static func endOfHead(_ bytes: [UInt8]) -> Int? {
    let blank: [UInt8] = [13, 10, 13, 10]
    guard bytes.count >= 4 else { return nil }
    for start in 0...(bytes.count - 4) where bytes[start..<start + 4].elementsEqual(blank) {
      return start + 4
    }
    return nil
  }

  /// The answer to a request head: the metrics for `GET` or `HEAD /metrics` (a query is
  /// ignored), `404` for another path, `405` for another method, `400` for no request line.
  static func answer(head: String, metrics: () -> [UInt8]) -> [UInt8] {
    let requestLine = head.split(separator: "\r\n", maxSplits: 1).first ?? ""
    let parts = requestLine.split(separator: " ")
    guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
      return response(status: "400 Bad Request", body: "bad request line\n")
    }
    let method = parts[0]
    let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
    guard path == "/metrics" else {
      return response(status: "404 Not Found", body: "metrics are at /metrics\n")
    }
    guard method == "GET" || method == "HEAD" else {
      return response(
        status: "405 Method Not Allowed", body: "use GET\n", extraHeaders: ["Allow: GET, HEAD"])
    }
    let body = metrics()
    return response(
      status: "200 OK", body: body, contentType: PrometheusMetrics.contentType,
      includeBody: method == "GET")
  }

  static func response(
    status: String, body: String, extraHeaders: [String] = []
  ) -> [UInt8] {
    response(
      status: status, body: Array(body.utf8), contentType: "text/plain; charset=utf-8",
      extraHeaders: extraHeaders)
  }

  static func response(
    status: String, body: [UInt8], contentType: String, extraHeaders: [String] = [],
    includeBody: Bool = true
  ) -> [UInt8] {
    let headers =
      ["HTTP/1.1 \(status)", "Content-Type: \(contentType)", "Content-Length: \(body.count)"]
      + extraHeaders + ["Connection: close", "", ""]
    return Array(headers.joined(separator: "\r\n").utf8) + (includeBody ? body : [])
  }
}
