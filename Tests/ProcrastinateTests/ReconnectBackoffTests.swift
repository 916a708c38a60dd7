import Logging
import Testing

@testable import Procrastinate

@Suite("Reconnect backoff")
struct ReconnectBackoffUnitTests {
  struct Refused: Error, CustomStringConvertible {
    var description: String { "connection refused" }
  }

  @Test("waits start at 50 ms, double, stop at the ceiling, and are shortened by at most a quarter")
  func waits() {
    let nominal = (1...8).map {
      ReconnectBackoff.nominalWait(
        afterFailures: $0, first: .milliseconds(50), ceiling: .seconds(1))
    }
    #expect(
      nominal == [50, 100, 200, 400, 800, 1000, 1000, 1000].map { Duration.milliseconds($0) })
    #expect(
      ReconnectBackoff.nominalWait(
        afterFailures: 1_000_000, first: .milliseconds(50), ceiling: .seconds(1))
        == .seconds(1))
    for failures in 1...20 {
      let wait = ReconnectBackoff.wait(
        afterFailures: failures, first: .milliseconds(50), ceiling: .seconds(1))
      let expected = ReconnectBackoff.nominalWait(
        afterFailures: failures, first: .milliseconds(50), ceiling: .seconds(1))
      #expect(wait <= expected && wait >= expected * 0.75, "\(wait) for \(expected)")
    }
    // A ceiling under 50 ms is the first wait too.
    let short = ReconnectBackoff("x", ceiling: .milliseconds(10), logger: Logger(label: "t"))
    #expect(short.first == .milliseconds(10))
  }

  @Test("an outage logs one error, retries at debug level, and one line when it ends")
  func logging() {
    let logs = LogRecorder()
    let backoff = ReconnectBackoff("fetching jobs", ceiling: .seconds(1), logger: logs.logger())
    backoff.succeeded()
    #expect(logs.all.isEmpty, "a success outside an outage logs nothing")
    for _ in 0..<5 { _ = backoff.failed(Refused()) }
    backoff.succeeded()
    backoff.succeeded()
    let lines = logs.all.map { "\($0.level): \($0.message)" }
    #expect(lines.count == 6, "\(lines)")
    #expect(
      lines.first
        == "error: fetching jobs failed: connection refused; retrying every 0.05 seconds doubling up to 1.0 seconds until it works (logged when it does)"
    )
    #expect(
      lines.dropFirst().prefix(4).allSatisfy { $0.hasPrefix("debug: fetching jobs failed again") })
    #expect(
      lines.last?.hasPrefix("info: fetching jobs works again, after 5 failed attempt(s) over")
        == true)
    // The next outage starts over: an error line, and the first wait again.
    _ = backoff.failed(Refused())
    #expect(logs.all.last?.level == .error)
  }
}
