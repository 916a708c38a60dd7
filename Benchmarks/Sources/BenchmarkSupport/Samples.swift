/// One figure measured over several rounds: reported as the median and the spread
/// (min–max), never as the best round.
public struct Samples: Sendable {
  public private(set) var values: [Double] = []

  public init(_ values: [Double] = []) { self.values = values }

  public mutating func append(_ value: Double) { values.append(value) }

  public var count: Int { values.count }

  /// The middle value; for an even count, the mean of the two middle ones.
  public var median: Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  }

  public var min: Double { values.min() ?? .nan }
  public var max: Double { values.max() ?? .nan }

  /// `median (min–max)`, each with `decimals` digits after the point.
  public func summary(decimals: Int = 0) -> String {
    "\(format(median, decimals)) (\(format(min, decimals))–\(format(max, decimals)))"
  }

  /// `{"median": …, "min": …, "max": …, "rounds": …}` for the JSON line.
  public func json(decimals: Int = 0) -> [String: Any] {
    [
      "median": rounded(median, decimals), "min": rounded(min, decimals),
      "max": rounded(max, decimals), "rounds": values.count,
    ]
  }

  /// The ratio of two figures measured in the same rounds, round by round: round i of
  /// `self` over round i of `other`. Pairing keeps the machine's drift between rounds out
  /// of the ratio.
  public func pairedRatio(over other: Samples) -> Samples {
    Samples(zip(values, other.values).map { $0 / $1 })
  }
}

func rounded(_ value: Double, _ decimals: Int) -> Double {
  guard value.isFinite else { return value }
  var scale = 1.0
  for _ in 0..<decimals { scale *= 10 }
  return (value * scale).rounded() / scale
}

func format(_ value: Double, _ decimals: Int) -> String {
  guard value.isFinite else { return "n/a" }
  let text = String(rounded(value, decimals))
  if decimals == 0, text.hasSuffix(".0") { return String(text.dropLast(2)) }
  return text
}

/// The order of the modes in round `round`: alternating, so that no mode always runs first
/// (on a colder or warmer server).
public func alternating<Mode>(_ modes: [Mode], round: Int) -> [Mode] {
  round % 2 == 0 ? modes : modes.reversed()
}
