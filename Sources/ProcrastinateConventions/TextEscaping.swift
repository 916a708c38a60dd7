/// Escaping text for the formats the package writes: a Swift or JSON string literal (the
/// generator's output, OTLP/JSON) and HTML (the dashboard). One loop over the text's
/// scalars, with the format's replacements.
package enum TextEscaping {
  /// `text` with each scalar that `replacement` maps to a string replaced by it.
  package static func escaping(_ text: String, _ replacement: (Unicode.Scalar) -> String?)
    -> String
  {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
      if let replaced = replacement(scalar) {
        out += replaced
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
    return out
  }

  /// `text` as a double-quoted literal with backslash escapes (`\"`, `\\`, `\n`, `\r`,
  /// `\t`), the other control characters written by `control` from their code.
  package static func quoted(_ text: String, control: (UInt32) -> String) -> String {
    let body = escaping(text) { scalar in
      switch scalar {
      case "\"": "\\\""
      case "\\": "\\\\"
      case "\n": "\\n"
      case "\r": "\\r"
      case "\t": "\\t"
      case _ where scalar.value < 0x20: control(scalar.value)
      default: nil
      }
    }
    return "\"" + body + "\""
  }

  /// `text` for HTML text or a double- or single-quoted attribute: `&`, `<`, `>`, `"` and
  /// `'` as entities. The one HTML escaper: the dashboard's pages and the trace view's file.
  package static func html(_ text: String) -> String {
    escaping(text) { scalar in
      switch scalar {
      case "&": "&amp;"
      case "<": "&lt;"
      case ">": "&gt;"
      case "\"": "&quot;"
      case "'": "&#39;"
      default: nil
      }
    }
  }
}
