// A worker process for the fault tests:
// `ProcrastinateFaultWorker DATABASE_URL [--retry-stalled-every S] [--one-shot-then-wait]`.
// Task "slow" sleeps `ms` milliseconds (and, when `gated`, waits for a row in fault_gate),
// then records one execution in fault_executions.
// The tests kill it with SIGKILL mid-job, restart PostgreSQL under it, and so on.
// `--one-shot-then-wait`: the worker stops when the queue is empty; the process then prints
// "worker returned" and lives 60 s more, for a signal sent after the worker returned.
import Foundation
import Logging
import Procrastinate

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
  FileHandle.standardError.write(
    Data("usage: ProcrastinateFaultWorker DATABASE_URL [--retry-stalled-every S]\n".utf8))
  exit(2)
}
var logger = Logger(label: "fault-worker")
logger.logLevel =
  ProcessInfo.processInfo.environment["PROCRASTINATE_LOG_LEVEL"].flatMap {
    Logger.Level(rawValue: $0)
  } ?? .info
let app = try ProcrastinateApp(databaseURL: arguments[1], logger: logger)
try await app.query(
  "CREATE TABLE IF NOT EXISTS fault_executions (job_id bigint NOT NULL, pid int NOT NULL, at timestamptz DEFAULT now())"
)
try await app.query("CREATE TABLE IF NOT EXISTS fault_gate (opened_at timestamptz DEFAULT now())")
var tasks = TaskRegistry()
try tasks.register("slow") { jobArguments, context in
  // `gated` jobs also wait for a row in fault_gate: the test opens the gate when it wants
  // them to finish, so that jobs are surely running when it kills this process.
  struct Arguments: Decodable {
    var ms: Int
    var gated: Bool?
  }
  let arguments = try jobArguments.decode(Arguments.self)
  try await Task.sleep(for: .milliseconds(arguments.ms))
  while arguments.gated == true,
    try await context.app.query("SELECT count(*) FROM fault_gate").first?.first ?? "0" == "0"
  {
    try await Task.sleep(for: .milliseconds(50))
  }
  try await context.app.query(
    "INSERT INTO fault_executions (job_id, pid) VALUES ($1, $2)",
    [String(context.jobID), String(getpid())])
}
var options = WorkerOptions(concurrency: 4)
options.heartbeatInterval = .milliseconds(200)
options.pollingInterval = .milliseconds(200)
options.stalledWorkerTimeout = .seconds(1)
if let index = arguments.firstIndex(of: "--retry-stalled-every"),
  let seconds = Double(arguments[index + 1])
{
  options.retryStalledJobsEvery = .milliseconds(Int(seconds * 1000))
}
let thenWait = arguments.contains("--one-shot-then-wait")
options.oneShot = thenWait
options.installSignalHandlers = true  // standalone: SIGTERM stops it gracefully
try await Worker(app: app, tasks: tasks, options: options).run()
if thenWait {
  logger.info("worker returned")
  try await Task.sleep(for: .seconds(60))
}
