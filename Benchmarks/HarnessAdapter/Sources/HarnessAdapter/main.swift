// harness-adapter: swift-procrastinate as a system of the public PostgreSQL job queue
// benchmark harness (hardbyte/postgresql-job-queue-benchmarking). Launched directly by the
// harness; configured by its environment (see AdapterSettings); stdout is JSON telemetry,
// one object per line; stderr is logs; SIGTERM or SIGINT end it with status 0 within 5 s.
import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
  import Glibc
#endif

let settings: AdapterSettings
do {
  settings = try AdapterSettings(environment: ProcessInfo.processInfo.environment)
} catch {
  FileHandle.standardError.write(Data("harness-adapter: \(error)\n".utf8))
  exit(2)
}

LoggingSystem.bootstrap(StreamLogHandler.standardError)
var logger = Logger(label: "harness-adapter")
logger.logLevel = .info

// The harness may write `ENQUEUE <n>` lines to stdin; read and discard them, so its pipe
// never fills. (This adapter paces its own producer.)
let stdinReader = Thread {
  var buffer = [UInt8](repeating: 0, count: 65_536)
  while read(0, &buffer, buffer.count) > 0 {}
}
stdinReader.start()

var configuration = ServiceGroupConfiguration(
  services: [.init(service: Adapter(settings: settings, logger: logger))],
  gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
// The harness waits 10 s before SIGKILL; the contract is exit 0 within 5 s.
configuration.maximumGracefulShutdownDuration = .seconds(3)
configuration.maximumCancellationDuration = .seconds(1)
do {
  try await ServiceGroup(configuration: configuration).run()
} catch {
  logger.warning("shutdown did not finish cleanly: \(error)")
}
exit(0)
