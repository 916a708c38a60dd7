import CCurl
import Foundation
import ProcrastinateConcurrency
import ProcrastinateConventions
import Synchronization

/// The answer to one HTTP request.
struct HTTPResponse: Sendable {
  var status: Int
  var body: [UInt8]
  /// `Retry-After` in seconds, when the server sent one as a number.
  var retryAfter: Double?
}

/// A transfer that did not get an HTTP answer (no connection, timeout, …).
package struct HTTPTransportError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// curl's code, e.g. 7 for "couldn't connect".
  package let code: Int
  package let message: String
  package var description: String { "curl error \(code): \(message)" }
}

/// A small blocking HTTP/1.1 client over one libcurl easy handle, run on its own thread so
/// that a slow collector never blocks Swift's cooperative pool. Connections are kept alive
/// between requests.
final class HTTPClient: Sendable {
  private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

  private let thread = BlockingThread(name: "procrastinate.http")
  // The easy handle is only used on `thread`; the Mutex makes that explicit to the compiler.
  private let handle: Mutex<UnsafeMutableRawPointer?>

  init() {
    _ = Self.globalInit
    handle = Mutex(curl_easy_init())
  }

  deinit {
    handle.withLock { handle in
      if let handle { curl_easy_cleanup(handle) }
    }
    thread.stop()
  }

  /// POSTs `body` and returns the response, or throws ``HTTPTransportError``.
  func post(url: String, headers: [(String, String)], body: [UInt8], timeout: Duration) async throws
    -> HTTPResponse
  {
    try await withCheckedThrowingContinuation { continuation in
      thread.submit {
        continuation.resume(
          with: Result {
            try self.handle.withLock { try Self.perform($0, url, headers, body, timeout) }
          })
      }
    }
  }

  private final class Collected {
    var body: [UInt8] = []
    var retryAfter: Double?
  }

  private static func perform(
    _ handle: UnsafeMutableRawPointer?, _ url: String, _ headers: [(String, String)],
    _ body: [UInt8], _ timeout: Duration
  ) throws -> HTTPResponse {
    guard let handle else { throw HTTPTransportError(code: -1, message: "curl_easy_init failed") }
    curl_easy_reset(handle)
    var list: UnsafeMutablePointer<curl_slist>?
    for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
    list = curl_slist_append(list, "Expect:")
    defer { curl_slist_free_all(list) }
    let collected = Collected()
    let context = Unmanaged.passUnretained(collected).toOpaque()
    let milliseconds = Int(
      timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
    var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE))
    let code = body.withUnsafeBytes { bodyBytes in
      errorBuffer.withUnsafeMutableBufferPointer { errors in
        _ = ccurl_setopt_string(handle, CURLOPT_URL, url)
        _ = ccurl_setopt_long(handle, CURLOPT_POST, 1)
        _ = ccurl_setopt_pointer(handle, CURLOPT_POSTFIELDS, bodyBytes.baseAddress)
        _ = ccurl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        _ = ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        _ = ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, max(1, milliseconds))
        _ = ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
        _ = ccurl_setopt_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
          let collected = Unmanaged<Collected>.fromOpaque(context!).takeUnretainedValue()
          let length = size * count
          if let data {
            collected.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
          }
          return length
        }
        _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
        _ = ccurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
          let collected = Unmanaged<Collected>.fromOpaque(context!).takeUnretainedValue()
          let length = size * count
          if let data {
            let line = String(
              decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
            if line.lowercased().hasPrefix("retry-after:") {
              collected.retryAfter = Double(
                line.dropFirst("retry-after:".count).trimmingCharacters(in: .whitespacesAndNewlines)
              )
            }
          }
          return length
        }
        _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
        return curl_easy_perform(handle)
      }
    }
    guard code == CURLE_OK else {
      let detail = String(
        decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      throw HTTPTransportError(
        code: Int(code.rawValue),
        message: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
    }
    return HTTPResponse(
      status: ccurl_response_code(handle), body: collected.body, retryAfter: collected.retryAfter)
  }
}
