import CoreMetrics
import ProcrastinateConventions
import Prometheus
import Synchronization

/// The process's swift-metrics backend for Prometheus: every counter, gauge and timer the
/// queue, the worker and the tracer record (and the app's own) land in one registry, which
/// ``PrometheusEndpoint`` or a `/metrics` route serves in Prometheus's text format.
///
/// ```swift
/// let registry = try PrometheusMetrics.bootstrap()
/// // a Hummingbird app that has a router:
/// router.get("/metrics") { _, _ in registry.emitToString() }
/// ```
public enum PrometheusMetrics {
  /// The content type of Prometheus's text exposition format.
  public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

  private static let installed = Mutex<PrometheusCollectorRegistry?>(nil)

  /// Installs a Prometheus backend for swift-metrics, once per process, and returns its
  /// registry; later calls return the same registry.
  ///
  /// - Throws: ``MetricsBootstrapError`` when the process already has another metrics
  ///   backend (swift-metrics accepts one): serve that backend's metrics instead.
  public static func bootstrap() throws -> PrometheusCollectorRegistry {
    try installed.withLock { installed in
      if let installed { return installed }
      guard MetricsSystem.factory is NOOPMetricsHandler else {
        throw MetricsBootstrapError(
          "the process already has a metrics backend (\(type(of: MetricsSystem.factory))); swift-metrics takes one per process, so serve that backend's metrics rather than asking for Prometheus here"
        )
      }
      let registry = PrometheusCollectorRegistry()
      MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
      installed = registry
      return registry
    }
  }
}

/// The Prometheus backend could not be installed, or its endpoint could not listen; the
/// message says why.
public struct MetricsBootstrapError: ProcrastinateError, Sendable {
  /// What went wrong and what to do instead.
  public let message: String
  init(_ message: String) { self.message = message }
  /// The message.
  public var description: String { message }
}
