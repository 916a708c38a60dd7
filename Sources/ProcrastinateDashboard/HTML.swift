import Foundation
import ProcrastinateConventions

/// Builds the dashboard's pages. Every value that comes from jobs or spans goes through
/// ``escape(_:)``; the pages load their style and script from the dashboard itself (no CDN).
enum HTML {
  static func escape(_ text: String) -> String { TextEscaping.html(text) }

  /// Percent-encodes a query parameter's value.
  static func query(_ text: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
  }

  /// A whole page: navigation, `body` in `<main>`, and the refresh script when `refresh`.
  static func page(
    title: String, prefix: String, current: String, csrfToken: String, refreshSeconds: Int?,
    body: String
  ) -> String {
    let navigation = [("Overview", "/"), ("Jobs", "/jobs")].map { name, path in
      "<a href=\"\(escape(prefix + path))\"\(current == path ? " class=\"current\"" : "")>\(name)</a>"
    }.joined()
    let refresh = refreshSeconds.map { " data-refresh=\"\($0)\"" } ?? ""
    return """
      <!doctype html>
      <html lang="en"><head><meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta name="csrf-token" content="\(escape(csrfToken))">
      <title>\(escape(title)) · procrastinate</title>
      <link rel="stylesheet" href="\(escape(prefix))/assets/dashboard.css">
      <script src="\(escape(prefix))/assets/dashboard.js" defer></script>
      </head><body\(refresh)>
      <header><span class="brand">procrastinate</span><nav>\(navigation)</nav>\
      <span class="updated" id="updated"></span></header>
      <main id="main">
      \(body)
      </main></body></html>
      """
  }

  /// A POST form for an action button, carrying the CSRF token.
  static func actionForm(action: String, label: String, csrfToken: String, style: String = "")
    -> String
  {
    """
    <form method="post" action="\(escape(action))" class="action">\
    <input type="hidden" name="csrf" value="\(escape(csrfToken))">\
    <button type="submit" class="\(style)">\(escape(label))</button></form>
    """
  }

  static func statusBadge(_ status: String) -> String {
    "<span class=\"status status-\(escape(status))\">\(escape(status))</span>"
  }

  static func time(_ date: Date?) -> String {
    guard let date else { return "—" }
    let text = date.ISO8601Format()
    return "<time datetime=\"\(text)\">\(text.replacingOccurrences(of: "T", with: " "))</time>"
  }

  /// "3.2 s", "12 ms", "4 min", for durations and ages.
  static func duration(seconds: Double) -> String {
    switch abs(seconds) {
    case ..<0.001: String(format: "%.0f µs", seconds * 1e6)
    case ..<1: String(format: seconds < 0.01 ? "%.2f ms" : "%.1f ms", seconds * 1000)
    case ..<120: String(format: "%.1f s", seconds)
    case ..<7200: String(format: "%.0f min", seconds / 60)
    default: String(format: "%.1f h", seconds / 3600)
    }
  }
}
