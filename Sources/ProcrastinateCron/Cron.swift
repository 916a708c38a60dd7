import Foundation
import ProcrastinateConventions

/// A cron schedule as procrastinate (croniter) reads it: five fields (minute, hour, day of
/// month, month, day of week) and an optional sixth for seconds, in UTC.
///
/// Each field takes `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` or `a/n`, and lists
/// `a,b,c`; months and weekdays also take names (`jan`, `mon`); weekday 7 is Sunday too.
/// When both day of month and day of week are restricted, a day matching either fires, as
/// in cron.
public struct Cron: Sendable, Equatable, CustomStringConvertible {
  /// The expression as given.
  public let expression: String
  let seconds: Set<Int>
  let minutes: Set<Int>
  let hours: Set<Int>
  let daysOfMonth: Set<Int>
  let months: Set<Int>
  let daysOfWeek: Set<Int>
  let dayOfMonthRestricted: Bool
  let dayOfWeekRestricted: Bool
  /// Seconds after midnight of every tick of a matching day, ascending.
  let sortedTimes: [Int]

  /// The expression as given.
  public var description: String { expression }

  /// - Throws: ``CronError`` naming the field and what is wrong with it.
  public init(_ expression: String) throws {
    self.expression = expression
    let fields = expression.split(whereSeparator: \.isWhitespace).map(String.init)
    guard fields.count == 5 || fields.count == 6 else {
      throw CronError(
        expression,
        "it has \(fields.count) field(s); write 5 (minute hour day month weekday) or 6 (… seconds), e.g. '*/5 * * * *'"
      )
    }
    minutes = try Self.field(fields[0], "minute", 0...59, expression)
    hours = try Self.field(fields[1], "hour", 0...23, expression)
    daysOfMonth = try Self.field(fields[2], "day of month", 1...31, expression)
    months = try Self.field(fields[3], "month", 1...12, expression, names: Self.monthNames)
    var weekdays = try Self.field(fields[4], "day of week", 0...7, expression, names: Self.dayNames)
    if weekdays.remove(7) != nil { weekdays.insert(0) }
    daysOfWeek = weekdays
    seconds = fields.count == 6 ? try Self.field(fields[5], "second", 0...59, expression) : [0]
    // A field covering every value counts as '*' (as croniter: `1-31`, `0-6`, `*/1`).
    dayOfMonthRestricted = daysOfMonth.count < 31
    dayOfWeekRestricted = daysOfWeek.count < 7
    var times: [Int] = []
    for hour in hours.sorted() {
      for minute in minutes.sorted() {
        for second in seconds.sorted() { times.append(hour * 3600 + minute * 60 + second) }
      }
    }
    sortedTimes = times
  }

  static let monthNames = [
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12,
  ]
  static let dayNames = ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]

  private static func field(
    _ text: String, _ name: String, _ range: ClosedRange<Int>, _ expression: String,
    names: [String: Int] = [:]
  ) throws -> Set<Int> {
    func value(_ token: Substring) throws -> Int {
      if let number = Int(token), range.contains(number) { return number }
      if let named = names[token.lowercased()] { return named }
      throw CronError(
        expression,
        "\(name) '\(token)' is not in \(range.lowerBound)-\(range.upperBound)\(names.isEmpty ? "" : " or a name such as \(names.keys.sorted().first!)")"
      )
    }
    var result = Set<Int>()
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
      guard pieces.count <= 2, let base = pieces.first, !base.isEmpty else {
        throw CronError(expression, "\(name) field '\(text)' is malformed")
      }
      var step = 1
      if pieces.count == 2 {
        guard let parsed = Int(pieces[1]), parsed > 0 else {
          throw CronError(expression, "\(name) step '\(pieces[1])' must be a positive number")
        }
        step = parsed
      }
      var lower = range.lowerBound
      var upper = range.upperBound
      if base != "*" {
        let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count <= 2 else {
          throw CronError(expression, "\(name) range '\(base)' is malformed")
        }
        lower = try value(bounds[0])
        upper =
          bounds.count == 2 ? try value(bounds[1]) : (pieces.count == 2 ? range.upperBound : lower)
        guard lower <= upper else {
          throw CronError(expression, "\(name) range '\(base)' goes backwards")
        }
      }
      result.formUnion(stride(from: lower, through: upper, by: step))
    }
    return result
  }

  private static var calendar: Calendar {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar
  }

  private func matchesDay(_ components: DateComponents) -> Bool {
    guard let month = components.month, months.contains(month), let day = components.day,
      let weekday = components.weekday
    else { return false }
    let domMatch = daysOfMonth.contains(day)
    let dowMatch = daysOfWeek.contains(weekday - 1)
    if dayOfMonthRestricted && dayOfWeekRestricted { return domMatch || dowMatch }
    return domMatch && dowMatch
  }

  /// The first tick strictly after `date` (within five years), or nil.
  public func next(after date: Date) -> Date? {
    let calendar = Self.calendar
    var day = calendar.startOfDay(for: date)
    for _ in 0..<(366 * 5) {
      if matchesDay(calendar.dateComponents([.month, .day, .weekday], from: day)),
        let tick = sortedTimes.lazy.map({ day.addingTimeInterval(Double($0)) })
          .first(where: { $0 > date })
      {
        return tick
      }
      day = calendar.date(byAdding: .day, value: 1, to: day)!
    }
    return nil
  }

  /// The last tick at or before `date` (within five years), or nil.
  public func previous(atOrBefore date: Date) -> Date? {
    let calendar = Self.calendar
    var day = calendar.startOfDay(for: date)
    for _ in 0..<(366 * 5) {
      if matchesDay(calendar.dateComponents([.month, .day, .weekday], from: day)),
        let tick = sortedTimes.reversed().lazy.map({ day.addingTimeInterval(Double($0)) })
          .first(where: { $0 <= date })
      {
        return tick
      }
      day = calendar.date(byAdding: .day, value: -1, to: day)!
    }
    return nil
  }
}

/// A cron expression procrastinate could not read.
public struct CronError: ProcrastinateError, Sendable, Equatable, CustomStringConvertible {
  /// The expression that was refused.
  public let expression: String
  /// What is wrong with it, naming the field at fault when there is one.
  public let problem: String
  init(_ expression: String, _ problem: String) {
    self.expression = expression
    self.problem = problem
  }
  /// The message: the expression and what is wrong with it.
  public var description: String { "invalid cron '\(expression)': \(problem)" }
}
