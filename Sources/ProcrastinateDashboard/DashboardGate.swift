import Foundation
import HTTPTypes
import Hummingbird

/// In front of every dashboard route: HTTP basic authentication when credentials are set,
/// and headers that keep the pages from running anything but their own script.
struct DashboardGate<Context: RequestContext>: RouterMiddleware {
  let credentials: DashboardOptions.Credentials?

  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
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
