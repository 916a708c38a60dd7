import ArgumentParser
import GuideTasks
import ProcrastinateCommands

/// The guide's architecture on Hummingbird 2: `serve` runs the HTTP service (and, unless
/// `--no-worker`, a worker in the same `ServiceGroup`); `worker` and `defer` are the
/// embeddable commands, for a worker or a producer in another process.
@main
struct WebService: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "web-service",
    abstract: "A Hummingbird service that defers traced jobs: the request span is the job's root.",
    subcommands: [Serve.self, WorkerCommand<DemoApp>.self, DeferCommand<DemoApp>.self],
    defaultSubcommand: Serve.self)
}
