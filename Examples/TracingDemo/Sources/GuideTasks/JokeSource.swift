import Foundation
import Procrastinate
import Tracing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Where jokes come from: the configured joke API (`JOKE_API_URL`, default the Chuck Norris
/// API) or, when it cannot be reached, a joke service on loopback started for the purpose.
struct JokeSource: Sendable {
  static let defaultAPI = "https://api.chucknorris.io/jokes/random"
  let baseURL: String
  let local: LocalJokeService?

  /// Tries the configured API once (2 s); falls back to the local service and says so.
  static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment)
    async -> JokeSource
  {
    let configured = environment["JOKE_API_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultAPI
    do {
      let (data, status) = try await get(configured + "?category=dev", timeout: 2)
      guard status == 200,
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["value"] is String
      else { throw JokeError(description: "HTTP \(status) without a joke") }
      print("Jokes come from \(configured).")
      return JokeSource(baseURL: configured, local: nil)
    } catch {
      do {
        let service = try LocalJokeService()
        print(
          "The joke API \(configured) is not reachable (\((error as NSError).localizedDescription)); using the local joke service at \(service.url)."
        )
        return JokeSource(baseURL: service.url, local: service)
      } catch {
        print("The joke API is not reachable and the local joke service did not start: \(error)")
        return JokeSource(baseURL: configured, local: nil)
      }
    }
  }

  /// GET `<base>?category=…` inside `api.chuck_norris.fetch_joke` (CLIENT), with the trace
  /// context in the request headers, as an instrumented HTTP client would send it.
  func fetchJoke(category: String) async throws -> String {
    try await withSpan("api.chuck_norris.fetch_joke", ofKind: .client) { span in
      let url =
        baseURL + "?category="
        + (category.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "dev")
      span.attributes["http.request.method"] = "GET"
      span.attributes["url.full"] = url
      var headers: [String: String] = [:]
      InstrumentationSystem.instrument.inject(
        ServiceContext.current ?? .topLevel, into: &headers, using: HeaderInjector())
      let (data, status) = try await Self.get(url, timeout: 10, headers: headers)
      span.attributes["http.response.status_code"] = status
      guard status == 200,
        let body = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let joke = body["value"] as? String
      else {
        throw JokeError(description: "the joke API answered HTTP \(status) without a joke")
      }
      span.attributes["joke.length"] = joke.count
      return joke
    }
  }

  static func get(_ url: String, timeout: TimeInterval, headers: [String: String] = [:])
    async throws -> (Data, Int)
  {
    guard let url = URL(string: url) else { throw JokeError(description: "bad URL \(url)") }
    var request = URLRequest(url: url, timeoutInterval: timeout)
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    return try await withCheckedThrowingContinuation { continuation in
      URLSession.shared.dataTask(with: request) { data, response, error in
        if let error {
          continuation.resume(throwing: error)
        } else {
          continuation.resume(
            returning: (data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
        }
      }.resume()
    }
  }
}

struct JokeError: Error, CustomStringConvertible { var description: String }

struct HeaderInjector: Injector {
  func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
    carrier[key] = value
  }
}

/// A tiny HTTP service on 127.0.0.1 answering `{"value": "<joke>"}` to every GET, for
/// machines without internet access: one thread and blocking sockets, for the life of the
/// process (the operating system closes the socket at exit).
final class LocalJokeService: Sendable {
  let url: String

  static let jokes = [
    "Chuck Norris writes code that optimizes itself.",
    "Chuck Norris can defer a job to yesterday.",
    "Chuck Norris's traces have no missing spans.",
    "Chuck Norris doesn't retry. The job succeeds out of respect.",
  ]

  init() throws {
    let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw JokeError(description: "socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var size = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
      close(fd)
      throw JokeError(description: "cannot listen on 127.0.0.1")
    }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) }
    }
    url = "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/jokes/random"
    let thread = Thread { [fd] in Self.serve(fd) }
    thread.name = "local-joke-service"
    thread.start()
  }

  private static func serve(_ fd: Int32) {
    var served = 0
    while true {
      let client = accept(fd, nil, nil)
      if client < 0 {
        if errno == EINTR || errno == ECONNABORTED { continue }
        usleep(10_000)  // e.g. EMFILE: try again rather than leave clients hanging
        continue
      }
      // Read the request up to the end of its headers (a GET has no body), so closing
      // does not reset the connection under unread bytes.
      var request: [UInt8] = []
      var buffer = [UInt8](repeating: 0, count: 4096)
      while request.count < 65_536 {
        let count = read(client, &buffer, buffer.count)
        if count <= 0 { break }
        request += buffer[0..<count]
        if request.suffix(4) == Array("\r\n\r\n".utf8) { break }
      }
      let joke = jokes[served % jokes.count]
      served += 1
      let body = "{\"value\": \"\(joke)\"}"
      let response = Array(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
          .utf8)
      // MSG_NOSIGNAL: a client that went away must not kill the process with SIGPIPE.
      _ = response.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      shutdown(client, Int32(SHUT_WR))
      close(client)
    }
  }
}
