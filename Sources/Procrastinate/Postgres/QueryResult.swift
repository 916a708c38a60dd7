import Foundation

/// The rows of a statement's result, copied out of libpq in text format.
package struct QueryResult: Sendable {
  package var columns: [String]
  package var rows: [Row]

  package init(columns: [String], rows: [Row]) {
    self.columns = columns
    self.rows = rows
  }

  /// One row: each field is the server's text representation, or `nil` for SQL NULL.
  package struct Row: Sendable {
    package var values: [String?]

    package init(_ values: [String?]) { self.values = values }

    package subscript(_ index: Int) -> String? { values[index] }

    package func string(_ index: Int) -> String? { values[index] }

    package func int64(_ index: Int) -> Int64? { values[index].flatMap { Int64($0) } }

    package func int(_ index: Int) -> Int? { values[index].flatMap { Int($0) } }

    package func double(_ index: Int) -> Double? { values[index].flatMap { Double($0) } }

    package func bool(_ index: Int) -> Bool? {
      values[index].map { $0 == "t" || $0 == "true" }
    }

    /// A `timestamptz` selected as `extract(epoch from …)`.
    package func date(_ index: Int) -> Date? {
      double(index).map { Date(timeIntervalSince1970: $0) }
    }
  }
}

extension QueryResult {
  /// The rows, each read by column name: a reader cannot depend on the column order.
  package var namedRows: [NamedRow] {
    let index = Dictionary(columns.enumerated().map { ($1, $0) }) { first, _ in first }
    return rows.map { NamedRow(columns: index, row: $0) }
  }

  /// A row read by column name; a column the query does not have reads as NULL.
  package struct NamedRow: Sendable {
    let columns: [String: Int]
    package let row: Row

    package func string(_ column: String) -> String? { columns[column].flatMap { row.string($0) } }
    package func int64(_ column: String) -> Int64? { columns[column].flatMap { row.int64($0) } }
    package func int(_ column: String) -> Int? { columns[column].flatMap { row.int($0) } }
    package func double(_ column: String) -> Double? { columns[column].flatMap { row.double($0) } }
    package func bool(_ column: String) -> Bool? { columns[column].flatMap { row.bool($0) } }
    package func date(_ column: String) -> Date? { columns[column].flatMap { row.date($0) } }
  }
}

/// A named SQL statement: prepared once per connection, then executed by name.
package struct Statement: Sendable, Hashable {
  package let name: String
  package let sql: String

  package init(_ name: String, _ sql: String) { (self.name, self.sql) = (name, sql) }
}

/// Encodes values as PostgreSQL text-format array literals for binding to `$n::type[]`.
package enum PostgresArray {
  package static func literal(_ values: [String?]) -> String {
    var out = "{"
    for (index, value) in values.enumerated() {
      if index > 0 { out += "," }
      guard let value else {
        out += "NULL"
        continue
      }
      out += "\""
      for character in value.unicodeScalars {
        if character == "\"" || character == "\\" { out += "\\" }
        out.unicodeScalars.append(character)
      }
      out += "\""
    }
    return out + "}"
  }
}
