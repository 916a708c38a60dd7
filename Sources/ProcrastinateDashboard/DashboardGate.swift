import Foundation
import HTTPTypes
import Hummingbird
import Procrastinate

/// In front of every dashboard route: HTTP basic authentication when credentials are set,
/// and headers that keep the pages from running anything but their own script.
struct DashboardGate<Context: RequestContext>: RouterMiddleware {
  let credentials: DashboardOptions.Credentials?
  let acceptAnyHost: Bool

  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    // Without credentials, only loopback names: a DNS-rebinding page (same origin by then)
    // must not reach an unauthenticated dashboard.
    if credentials == nil, !acceptAnyHost, !Self.isLoopback(authority: request.head.authority) {
      return Self.errorResponse(
        HTTPError(
          .forbidden,
          message:
            "this dashboard has no authentication, so it answers only to localhost, 127.0.0.1 and [::1]; the request named \(request.head.authority ?? "no host")"
        ), path: request.uri.path)
    }
    if let credentials, !Self.authorized(request.headers[.authorization], credentials) {
      var headers = HTTPFields()
      headers[.wwwAuthenticate] = "Basic realm=\"procrastinate dashboard\", charset=\"UTF-8\""
      return Response(status: .unauthorized, headers: headers)
    }
    var response: Response
    do {
      response = try await next(request, context)
    } catch let error as HTTPError {
      response = Self.errorResponse(error, path: request.uri.path)
    } catch let error as DatabaseError {
      // Down, or without the schema: say so instead of a bare 500. (Database errors never
      // carry the password.)
      response = Self.errorResponse(
        HTTPError(.serviceUnavailable, message: "the database could not answer: \(error)"),
        path: request.uri.path)
    }
    response.headers[.contentSecurityPolicy] =
      "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    response.headers[.xContentTypeOptions] = "nosniff"
    response.headers[DashboardHeaders.referrerPolicy] = "same-origin"
    response.headers[.cacheControl] = "no-store"
    return response
  }

  /// An error as the caller reads it: `{"error": "..."}` for the API and the receiver,
  /// the sentence as plain text for pages.
  static func errorResponse(_ error: HTTPError, path: String) -> Response {
    let message = error.body ?? "\(error.status.code) \(error.status.reasonPhrase)"
    if path.contains("/api/") || path.hasSuffix("/v1/traces") {
      return ProcrastinateDashboard.json(["error": message], status: error.status)
    }
    return ProcrastinateDashboard.response(
      message + "\n", contentType: "text/plain; charset=utf-8", status: error.status)
  }

  /// Whether `authority` (`host[:port]`) names this machine's loopback interface.
  static func isLoopback(authority: String?) -> Bool {
    guard let authority = authority?.lowercased() else { return false }
    let host: Substring
    if authority.hasPrefix("[") {
      host = authority.dropFirst().prefix { $0 != "]" }
    } else {
      host = authority.prefix { $0 != ":" }
    }
    return host == "localhost" || host == "::1" || host.hasPrefix("127.")
  }

  static func authorized(_ header: String?, _ credentials: DashboardOptions.Credentials) -> Bool {
    guard let header, header.lowercased().hasPrefix("basic "),
      let data = Data(
        base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces))
    else { return false }
    let expected = credentials.user + ":" + credentials.password
    return ProcrastinateDashboard.constantTimeEqual(String(decoding: data, as: UTF8.self), expected)
  }
}

/// Header names HTTPTypes does not define.
enum DashboardHeaders {
  static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
  static let csrfToken = HTTPField.Name("X-CSRF-Token")!
}
