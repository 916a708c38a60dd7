import Histogram
import Synchronization

/// Latencies over the last 30 s, in bounded memory: six HDR histograms of 5 s each (three
/// significant digits, microseconds up to an hour), the oldest reset as time moves on.
final class LatencyWindow: Sendable {
  static let seconds = 30.0
  private static let slice = 5.0
  private static let slices = 6

  private struct Slice {
    var start: Int64 = -1  // which 5 s slice of the epoch it holds
    var histogram = Histogram<UInt64>(
      highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
  }

  private let state = Mutex([Slice](repeating: Slice(), count: LatencyWindow.slices))

  /// Records a latency observed at `now` (seconds since 1970).
  func record(milliseconds: Double, now: Double) {
    let microseconds = UInt64(min(max(milliseconds, 0) * 1000, 3_600_000_000))
    let sliceNumber = Int64(now / Self.slice)
    state.withLock { slices in
      let index = Int(sliceNumber % Int64(Self.slices))
      if slices[index].start != sliceNumber {
        slices[index].histogram.reset()
        slices[index].start = sliceNumber
      }
      _ = slices[index].histogram.record(microseconds)
    }
  }

  /// The given percentiles (0–100) in milliseconds over the last 30 s, or nil with no data.
  func percentiles(_ wanted: [Double], now: Double) -> [Double]? {
    let current = Int64(now / Self.slice)
    let merged = state.withLock { slices -> Histogram<UInt64>? in
      var merged: Histogram<UInt64>?
      for slice in slices where slice.start > current - Int64(Self.slices) && slice.start <= current
      {
        if merged == nil { merged = slice.histogram } else { merged!.add(slice.histogram) }
      }
      return merged
    }
    guard let merged, merged.totalCount > 0 else { return nil }
    return wanted.map { Double(merged.valueAtPercentile($0)) / 1000 }
  }
}
