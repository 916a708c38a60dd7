import Logging
import ProcrastinateConcurrency
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
  import Glibc
#endif

/// Serves a Prometheus registry at `GET /metrics` over plain HTTP/1.1, for a process that
/// has no web server of its own (the `worker` command's `--metrics-port`).
///
/// It listens on `host` (an IP address; loopback unless you choose another) and answers one
/// request at a time on a thread of its own, closing each connection after its answer:
/// Prometheus scrapes every few seconds, nothing more is needed. A client gets 5 s to send
/// its request head (at most 8 KiB). Other paths get `404`, other methods `405`. A service:
/// it stops on graceful shutdown or cancellation.
public struct PrometheusEndpoint: Service {
  /// The address it listens on.
  public let host: String
  /// The port asked for (0: any free port; ``onListening`` is told which).
  public let port: Int
  private let registry: PrometheusCollectorRegistry
  private let logger: Logger
  private let onListening: @Sendable (Int) -> Void

  /// An endpoint for `registry` on `host:port`; `onListening` gets the bound port.
  public init(
    registry: PrometheusCollectorRegistry, host: String = "127.0.0.1", port: Int,
    logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }
  ) {
    self.registry = registry
    self.host = host
    self.port = port
    self.logger = logger
    self.onListening = onListening
  }

  /// Listens, then answers scrapes until graceful shutdown or cancellation.
  ///
  /// - Throws: ``MetricsBootstrapError`` when `host` is not an IP address or the port
  ///   cannot be bound (in use, not allowed).
  public func run() async throws {
    let listener = try MetricsListener(host: host, port: port)
    logger.info("metrics at http://\(host):\(listener.port)/metrics")
    onListening(listener.port)
    let registry = self.registry
    await withGracefulShutdownHandler {
      await withTaskCancellationHandler {
        _ = try? await BlockingThread.run("procrastinate.metrics") {
          listener.serve { registry.emitToBuffer() }
        }
      } onCancel: {
        listener.stop()
      }
    } onGracefulShutdown: {
      listener.stop()
    }
  }
}
