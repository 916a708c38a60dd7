import Foundation
import Logging
import ProcrastinateTesting
import Prometheus
import Synchronization
import Testing

@testable import ProcrastinateMetrics

@Suite("Prometheus endpoint")
struct PrometheusEndpointTests {
  @Test(
    "GET /metrics serves the registry in the text format; HEAD no body; other paths 404, other methods 405, a port in use a clear error"
  )
  func servesTheRegistry() async throws {
    let registry = PrometheusCollectorRegistry()
    registry.makeCounter(name: "jobs_done_total", labels: [("queue", "emails")]).increment(
      by: Int64(3))
    registry.makeGauge(name: "workers_live").set(Double(2))
    let bound = Mutex<Int?>(nil)
    let endpoint = PrometheusEndpoint(
      registry: registry, port: 0, logger: Logger(label: "test"),
      onListening: { port in bound.withLock { $0 = port } })
    let serving = Task { try await endpoint.run() }
    try await eventually("the endpoint to listen") { bound.withLock { $0 } != nil }
    let base = "http://127.0.0.1:\(bound.withLock { $0 } ?? 0)"

    let scrape = try await httpRequest("GET", base + "/metrics?name[]=x")
    #expect(scrape.status == 200)
    #expect(scrape.headers["content-type"] == PrometheusMetrics.contentType)
    #expect(scrape.body.contains(#"jobs_done_total{queue="emails"} 3"#), "\(scrape.body)")
    #expect(scrape.body.contains("# TYPE workers_live gauge"))
    #expect(scrape.body.contains("workers_live 2"))
    let head = try await httpRequest("HEAD", base + "/metrics")
    // (curl --head writes the headers where the body would go.)
    #expect(head.status == 200 && !head.body.contains("jobs_done_total"))
    #expect(try await httpRequest("GET", base + "/").status == 404)
    let post = try await httpRequest("POST", base + "/metrics", body: Data("x".utf8))
    #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")

    // A second endpoint on the same port says which port and why.
    let clash = PrometheusEndpoint(
      registry: registry, port: bound.withLock { $0 } ?? 0, logger: Logger(label: "test"))
    await #expect {
      try await clash.run()
    } throws: { error in
      "\(error)".contains("cannot listen on 127.0.0.1:\(bound.withLock { $0 } ?? 0)")
        && "\(error)".contains("in use")
    }
    let notAnAddress = PrometheusEndpoint(
      registry: registry, host: "metrics.example", port: 0, logger: Logger(label: "test"))
    await #expect {
      try await notAnAddress.run()
    } throws: { error in
      "\(error)".contains("'metrics.example' is not an IP address")
    }

    // Cancelling the service stops it, and the port is free again.
    serving.cancel()
    try await serving.value
    await #expect(throws: (any Error).self, "the port still answers after the service ended") {
      try await httpRequest("GET", base + "/metrics")
    }
  }

  @Test("request lines: a bad one gets 400; a query string is ignored; HTTP/1.0 is answered")
  func requestLines() {
    func answer(_ head: String) -> String {
      String(decoding: MetricsHTTP.answer(head: head) { Array("m 1\n".utf8) }, as: UTF8.self)
    }
    #expect(answer("NONSENSE\r\n\r\n").hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    #expect(answer("GET /metrics SPDY/3\r\n\r\n").hasPrefix("HTTP/1.1 400 "))
    let ok = answer("GET /metrics?x=1 HTTP/1.0\r\nHost: h\r\n\r\n")
    #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\nContent-Type: \(PrometheusMetrics.contentType)\r\n"))
    #expect(ok.hasSuffix("Content-Length: 4\r\nConnection: close\r\n\r\nm 1\n"))
    #expect(MetricsHTTP.endOfHead(Array("GET / HTTP/1.1\r\n\r\nrest".utf8)) == 18)
    #expect(MetricsHTTP.endOfHead(Array("GET / HTTP/1.1\r\n".utf8)) == nil)
  }
}
