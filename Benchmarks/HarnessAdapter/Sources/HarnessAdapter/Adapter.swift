import Foundation
import Logging
import Procrastinate
import ServiceLifecycle
import Synchronization

/// The whole adapter as one service: applies the schema when it is missing, prints the
/// descriptor, then runs the worker, the producer, the sampler and the depth poller until
/// graceful shutdown. Nothing in it ends the process on its own: a database that restarts,
/// terminated backends or refused connections are retried until they work again.
struct Adapter: Service {
  let settings: AdapterSettings
  let logger: Logger

  func run() async throws {
    let startedAt = Date()
    let app = try ProcrastinateApp(
      databaseURL: settings.databaseURL, maximumConnections: 4, logger: logger)
    let counters = Counters()
    let telemetry = Telemetry(settings: settings)
    guard await applySchema(app) else { return }
    telemetry.descriptor(startedAt: startedAt)
    let producer = Producer(app: app, settings: settings, counters: counters, logger: logger)
    let sampler = Sampler(settings: settings, counters: counters, telemetry: telemetry)
    let poller = DepthPoller(app: app, counters: counters)
    let pollDepth = settings.instanceID == 0 || settings.producerMode == .depthTarget
    // When graceful shutdown began, so the log says how long stopping took in the adapter
    // itself (the harness SIGKILLs 10 s after SIGTERM; this adapter promises 5 s).
    let shutdownBegan = Mutex<ContinuousClock.Instant?>(nil)
    await withGracefulShutdownHandler {
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await runWorker(app: app, counters: counters) }
        group.addTask { try? await producer.run() }
        group.addTask { try? await sampler.run() }
        if pollDepth { group.addTask { try? await poller.run() } }
      }
      await app.close()
    } onGracefulShutdown: {
      shutdownBegan.withLock { $0 = ContinuousClock.now }
    }
    if let began = shutdownBegan.withLock({ $0 }) {
      logger.info("stopped \(ContinuousClock.now - began) after the shutdown signal")
    }
  }

  /// Tries until the schema is there; false when shutdown came first.
  private func applySchema(_ app: ProcrastinateApp) async -> Bool {
    var failing = false
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      do {
        let outcome = try await app.applySchema()
        logger.info("procrastinate 3.10 schema: \(outcome)")
        return true
      } catch {
        if !failing { logger.error("applying the schema failed, retrying every second: \(error)") }
        failing = true
        try? await Task.sleep(for: .seconds(1))
      }
    }
    return false
  }

  /// Runs the worker; if it ever stops with an error (not a shutdown), starts it again.
  private func runWorker(app: ProcrastinateApp, counters: Counters) async {
    var tasks = TaskRegistry()
    let work = settings.workMilliseconds
    do {
      try tasks.register(AdapterSettings.task) { arguments, _ in
        let started = Date().timeIntervalSince1970
        let payload = try arguments.decode(JobPayload.self)
        let created = Timestamp.parse(payload.created_at) ?? started
        counters.claim.record(milliseconds: (started - created) * 1000, now: started)
        if work > 0 { try await Task.sleep(for: .milliseconds(work)) }
        let finished = Date().timeIntervalSince1970
        counters.endToEnd.record(milliseconds: (finished - created) * 1000, now: finished)
        counters.completed.add(1, ordering: .relaxed)
      }
    } catch {
      logger.critical("registering \(AdapterSettings.task) failed: \(error)")
      return
    }
    var options = WorkerOptions(queues: [AdapterSettings.queue], concurrency: settings.workerCount)
    options.installSignalHandlers = false
    options.pollingInterval = .milliseconds(50)
    options.abortPollingInterval = .milliseconds(500)
    options.heartbeatInterval = .seconds(5)
    options.stalledWorkerTimeout = .seconds(15)
    // Jobs of a replica that was killed (a chaos phase) go back to the queue.
    options.retryStalledJobsEvery = .seconds(15)
    // Within the service group's 3 s of graceful shutdown, with room for closing connections,
    // so a loaded machine still exits before the group's cancellation.
    options.shutdownTimeout = .seconds(2)
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      do {
        try await Worker(app: app, tasks: tasks, options: options).run()
      } catch {
        logger.error("worker stopped: \(error); starting it again in a second")
        try? await Task.sleep(for: .seconds(1))
      }
    }
  }
}

/// A job's arguments, as the producer writes them.
struct JobPayload: Decodable {
  var seq: Int
  var created_at: String
}
