import Procrastinate
import ProcrastinateCommands
import ProcrastinateTracing
import ServiceLifecycle
import Tracing

/// The demo's tasks, for the embedded `worker` command.
public enum DemoApp: TaskProvider {
  public static let serviceName = "procrastinate-demo"

  /// The table `traced_fetch_joke` stores jokes in.
  public static let createTable = """
    CREATE TABLE IF NOT EXISTS demo_jokes (
      id bigserial PRIMARY KEY, job_id bigint, category text, joke text,
      stored_at timestamptz NOT NULL DEFAULT now())
    """

  public static func register(into tasks: inout TaskRegistry) throws {
    try tasks.register(DemoTasksImplementation(jokes: JokeSourceBox()))
  }

  /// The demo's commands run under this package's tracer.
  public static func bootstrapObservability(serviceName: String) throws -> (any Service)? {
    try bootstrapLoggingAndTracing(serviceName: serviceName)
  }
}

/// Resolves the joke source once, on first use (one probe and at most one local service,
/// however many jobs ask at the same time), so `worker` and `run` share the logic.
final class JokeSourceBox: Sendable {
  private let source = Task { await JokeSource.resolve() }
  func get() async -> JokeSource { await source.value }
}

/// `DemoTasks` is generated from demo.tasks.yaml.
struct DemoTasksImplementation: DemoTasks {
  let jokes: JokeSourceBox

  func tracedFetchJoke(category: String, context: JobContext) async throws {
    let joke = try await jokes.get().fetchJoke(category: category)
    try await withSpan("db.store_joke", ofKind: .client) { span in
      span.attributes["db.system"] = "postgresql"
      span.attributes["db.operation.name"] = "INSERT"
      span.attributes["db.collection.name"] = "demo_jokes"
      let rows = try await context.app.query(
        "INSERT INTO demo_jokes (job_id, category, joke) VALUES ($1, $2, $3) RETURNING id",
        [String(context.jobID), category, joke])
      span.attributes["demo.joke.id"] = rows.first?.first??.description ?? ""
    }
    context.logger.info("stored a \(category) joke: \(joke)")
  }

  func tracedProcessData(data: [Int], multiplier: Int, context: JobContext) async throws {
    let result = data.map { $0 * multiplier }
    context.span?.attributes["demo.data.count"] = data.count
    context.span?.attributes["demo.result.sum"] = result.reduce(0, +)
    context.logger.info("processed \(data) × \(multiplier) = \(result)")
  }
}
