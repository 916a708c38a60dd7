import Procrastinate
import Prometheus

/// How a ``ProcrastinateDashboard`` behaves.
public struct DashboardOptions: Sendable {
  /// A user name and password that every request must present (HTTP basic authentication).
  public struct Credentials: Sendable, Equatable {
    /// The user name a browser or client sends.
    public var user: String
    /// The password; compared in constant time, never logged.
    public var password: String

    /// Credentials as given.
    public init(user: String, password: String) {
      self.user = user
      self.password = password
    }

    /// Reads `user:password`, as `--auth` and `PROCRASTINATE_DASHBOARD_AUTH` give it.
    ///
    /// - Throws: ``DashboardConfigurationError`` when there is no colon or the user is empty.
    public init(parsing text: String) throws {
      guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
        throw DashboardConfigurationError(
          "authentication must be 'user:password' with a non-empty user; got \(text.isEmpty ? "nothing" : "a value without one")"
        )
      }
      self.init(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }
  }

  /// The most recent spans kept for the waterfalls; the oldest go first. 100,000 by default.
  public var spanCapacity: Int = 100_000
  /// HTTP basic authentication for every page, API call and the span receiver; nil for none.
  public var credentials: Credentials?
  /// Without ``credentials`` the dashboard answers only requests that name a loopback host
  /// (`localhost`, `127.x.x.x`, `[::1]`), so that a web page that rebinds its DNS name to
  /// 127.0.0.1 cannot use it; set this to serve it without authentication under another
  /// name (`procrastinate-swift dashboard --host` does).
  public var acceptAnyHost = false
  /// How often the pages refresh themselves, in seconds; 0 turns it off.
  public var refreshSeconds: Int = 3
  /// The schedules of the app's periodic tasks (`TaskRegistry.periodic`), so that the
  /// overview shows their next tick; without them it shows the ticks the database recorded.
  public var periodicTasks: [PeriodicTask] = []
  /// A worker whose last heartbeat is older than this is marked silent (procrastinate's
  /// stalled-worker threshold, 30 s, by default).
  public var silentWorkerAfter: Duration = .seconds(30)
  /// How old the counts by queue and status may be before they are taken again. Counting
  /// reads the whole jobs table, so pages serve the last counts and take new ones in the
  /// background: with a million jobs that takes about 100 ms. 2 s by default.
  public var countsMaximumAge: Duration = .seconds(2)
  /// The largest request body the span receiver takes, after inflating (16 MiB by default).
  public var maximumBodyBytes: Int = 16 * 1024 * 1024

  /// A Prometheus registry (``PrometheusMetrics/bootstrap()``) to serve at `GET /metrics`,
  /// behind the same authentication as the pages; nil serves none. Run `QueueStateMetrics`
  /// beside the dashboard for the queue's gauges; the span receiver's counters
  /// (`procrastinate_dashboard_spans_received_total`, …) are recorded in any case.
  public var metrics: PrometheusCollectorRegistry?

  /// The defaults: 100,000 spans, no authentication, a refresh every 3 s.
  public init() {}
}

/// The dashboard's configuration is not usable: what is wrong, in a sentence.
public struct DashboardConfigurationError: ProcrastinateError, Sendable, CustomStringConvertible {
  /// What is wrong, and with which value.
  public let description: String

  init(_ description: String) { self.description = description }
}
