import Metrics

/// The span receiver's swift-metrics, in one place; `GET /metrics` serves them with
/// ``DashboardOptions/metrics``.
///
/// | label | kind |
/// |---|---|
/// | `procrastinate_dashboard_spans_received_total` | counter: spans received over OTLP or from a traces file |
/// | `procrastinate_dashboard_spans_evicted_total` | counter: spans dropped to stay within `spanCapacity` |
/// | `procrastinate_dashboard_spans_kept` | gauge: spans held now |
/// | `procrastinate_dashboard_otlp_requests_rejected_total` | counter: OTLP request bodies refused (`400`) |
public enum DashboardMetrics {
  /// Counter of spans received.
  public static let spansReceived = "procrastinate_dashboard_spans_received_total"
  /// Counter of spans evicted, the oldest first, to stay within the span capacity.
  public static let spansEvicted = "procrastinate_dashboard_spans_evicted_total"
  /// Gauge of the spans held.
  public static let spansKept = "procrastinate_dashboard_spans_kept"
  /// Counter of OTLP request bodies refused.
  public static let rejectedRequests = "procrastinate_dashboard_otlp_requests_rejected_total"

  /// Creates every series at its starting value, so that a scrape shows them before the
  /// first span or refused request: a counter that first appears already above 0 shows
  /// Prometheus no increase, and an alert on its rate would not fire.
  static func publishInitialValues() {
    Counter(label: spansReceived).increment(by: 0)
    Counter(label: spansEvicted).increment(by: 0)
    Counter(label: rejectedRequests).increment(by: 0)
    Gauge(label: spansKept).record(0)
  }

  static func received(_ count: Int, evicted: Int, kept: Int) {
    Counter(label: spansReceived).increment(by: count)
    if evicted > 0 { Counter(label: spansEvicted).increment(by: evicted) }
    Gauge(label: spansKept).record(kept)
  }

  static func rejectedBody() { Counter(label: rejectedRequests).increment() }
}
