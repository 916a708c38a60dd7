import Foundation
import Procrastinate
import ProcrastinateTesting
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `Benchmarks/HarnessAdapter`'s release binary, built by `scripts/test`.
enum HarnessAdapterBinary {
  static let path = Python.repository.appendingPathComponent(
    "Benchmarks/HarnessAdapter/.build/release/harness-adapter"
  ).path
  static var testable: Bool {
    TracingDemoBinary.required || FileManager.default.isExecutableFile(atPath: path)
  }
}

struct AdapterOutputError: Error, CustomStringConvertible {
  var line: String
  var description: String { "a stdout line is not a JSON object: \(line)" }
}

/// What the reading and writing threads share with the test.
final class AdapterPipes: Sendable {
  let lines = Mutex<[String]>([])
  let stdinBytesWritten = Atomic<Int>(0)
}

/// The adapter as the harness runs it: launched directly, stdin and stdout pipes.
final class RunningAdapter {
  let process: Process
  let errorLog: String
  private let pipes = AdapterPipes()

  init(environment: [String: String]) throws {
    process = Process()
    process.executableURL = URL(fileURLWithPath: HarnessAdapterBinary.path)
    process.environment = environment
    errorLog =
      TestScratch.url.appendingPathComponent(
        "harness-adapter-\(UUID().uuidString).log"
      ).path
    _ = FileManager.default.createFile(atPath: errorLog, contents: nil)
    process.standardError = FileHandle(forWritingAtPath: errorLog)
    let output = Pipe()
    let input = Pipe()
    process.standardOutput = output
    process.standardInput = input
    try process.run()
    let reading = output.fileHandleForReading
    let pipes = self.pipes
    Thread {
      var pending = Data()
      while case let data = reading.availableData, !data.isEmpty {
        pending.append(data)
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
          let line = String(decoding: pending[..<newline], as: UTF8.self)
          pending.removeSubrange(...newline)
          pipes.lines.withLock { $0.append(line) }
        }
      }
    }.start()
    // More than a pipe holds: if the adapter did not read stdin, this would stall.
    let writing = input.fileHandleForWriting
    Thread {
      let line = Data("ENQUEUE 10\n".utf8)
      for _ in 0..<30_000 {
        guard (try? writing.write(contentsOf: line)) != nil else { return }
        pipes.stdinBytesWritten.add(line.count, ordering: .relaxed)
      }
    }.start()
  }

  var stdinWritten: Int { pipes.stdinBytesWritten.load(ordering: .relaxed) }

  /// Every stdout line so far, parsed; a line that is not a JSON object fails the test.
  func objects() throws -> [[String: Any]] {
    try pipes.lines.withLock { $0 }.map { line in
      guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      else { throw AdapterOutputError(line: line) }
      return object
    }
  }

  /// The metric lines of `name`, in order.
  func samples(_ name: String) throws -> [(time: String, value: Double)] {
    try objects().filter { $0["kind"] as? String == "adapter" && $0["metric"] as? String == name }
      .map { ($0["t"] as? String ?? "", ($0["value"] as? NSNumber)?.doubleValue ?? -1) }
  }

  var log: String { (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? "" }

  /// Waits (up to a minute) for the adapter to exit, polling: `Process.waitUntilExit` would
  /// block a thread of the cooperative pool.
  func waitUntilExit() async throws {
    try await eventually("the adapter to exit", seen: { self.log }) { !process.isRunning }
  }

  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
  }
}

@Suite(
  "Public benchmark harness adapter",
  .enabled(if: HarnessAdapterBinary.testable, "build Benchmarks/HarnessAdapter (scripts/test does)")
)
struct HarnessAdapterTests {
  @Test(
    "the release adapter prints the descriptor and metrics, works jobs, follows the rate file, survives a server restart and exits 0 on SIGTERM"
  )
  func adapterContract() async throws {
    let server = try await EmbeddedPostgres.start(options: .init(fsync: false))
    defer { server.stop() }
    let url = try await server.createDatabase("harness_bench")
    let rateFile = TestScratch.url.appendingPathComponent(
      "harness-rate-\(UUID().uuidString)"
    ).path
    try "200".write(toFile: rateFile, atomically: true, encoding: .utf8)
    let adapter = try RunningAdapter(environment: [
      "DATABASE_URL": url, "WORKER_COUNT": "4", "PRODUCER_MODE": "fixed", "PRODUCER_RATE": "150",
      "PRODUCER_BATCH_MAX": "5", "PRODUCER_BATCH_MS": "10", "JOB_PAYLOAD_BYTES": "300",
      "JOB_WORK_MS": "1", "SAMPLE_EVERY_S": "1", "BENCH_INSTANCE_ID": "0",
      "PRODUCER_RATE_CONTROL_FILE": rateFile, "PATH": "/usr/bin:/bin",
    ])

    // The descriptor first, then metrics.
    try await eventually(timeout: .seconds(60), "the descriptor") {
      try adapter.objects().contains { $0["kind"] as? String == "descriptor" }
    }
    let descriptor = try #require(try adapter.objects().first)
    #expect(descriptor["kind"] as? String == "descriptor", "the first line is the descriptor")
    #expect(descriptor["system"] as? String == "swift-procrastinate")
    #expect(descriptor["schema_version"] as? String == "3.10")
    #expect(descriptor["db_name"] as? String == "harness_bench")
    #expect(descriptor["instance_id"] as? Int == 0)
    #expect(
      descriptor["event_tables"] as? [String] == [
        "public.procrastinate_jobs", "public.procrastinate_events",
      ])
    #expect(descriptor["extensions"] as? [String] == [])
    let iso = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/#
    #expect((descriptor["started_at"] as? String)?.wholeMatch(of: iso) != nil)

    try await eventually(timeout: .seconds(120), "jobs completing") {
      try adapter.samples("completion_rate").contains { $0.value > 0 }
    }
    // The indexes the descriptor names exist once the schema is in place (a harness reading
    // their statistics logs an ERROR for each one that does not); adapter.json names the same.
    let indexes = try #require(descriptor["event_indexes"] as? [String])
    let existing = try await psql(
      url,
      "SELECT name FROM unnest(ARRAY['\(indexes.joined(separator: "','"))']) AS name WHERE to_regclass(name) IS NOT NULL"
    )
    #expect(!indexes.isEmpty && existing == indexes, "named: \(indexes); existing: \(existing)")
    let manifest = try JSONSerialization.jsonObject(
      with: Data(
        contentsOf: Python.repository.appendingPathComponent(
          "Benchmarks/HarnessAdapter/adapter.json")))
    #expect((manifest as? [String: Any])?["event_indexes"] as? [String] == indexes)
    for name in [
      "claim_p50_ms", "claim_p95_ms", "claim_p99_ms", "end_to_end_p99_ms", "enqueue_rate",
      "completion_rate", "queue_depth", "producer_target_rate",
    ] {
      #expect(try !adapter.samples(name).isEmpty, "no \(name) line")
    }
    let metric = try #require(try adapter.objects().first { $0["kind"] as? String == "adapter" })
    #expect((metric["t"] as? String)?.wholeMatch(of: iso) != nil)
    #expect(metric["subject_kind"] as? String == "adapter")
    #expect(metric["instance_id"] as? Int == 0)
    let claims = try adapter.samples("claim_p99_ms")
    // Claim latency is queue wait, which grows on a machine that falls behind: only that it
    // is a sane figure in milliseconds (under 10 minutes) is checked.
    #expect(claims.allSatisfy { $0.value >= 0 && $0.value < 600_000 }, "\(claims)")
    // Samples fall on the wall clock's whole seconds.
    #expect(try adapter.samples("enqueue_rate").allSatisfy { $0.time.hasSuffix(".000Z") })
    // The rate file wins over PRODUCER_RATE, and is re-read.
    #expect(try adapter.samples("producer_target_rate").contains { $0.value == 200 })
    try "400".write(toFile: rateFile, atomically: true, encoding: .utf8)
    try await eventually(timeout: .seconds(60), "the new rate") {
      try adapter.samples("producer_target_rate").contains { $0.value == 400 }
    }

    // The server restarts under it: it reconnects and completes jobs again.
    try await server.restart()
    let restarted = Timestamp.now()
    try await eventually(timeout: .seconds(120), "jobs completing after the restart") {
      try adapter.samples("completion_rate").contains { $0.time > restarted && $0.value > 0 }
    }
    #expect(adapter.process.isRunning, "the adapter exited on its own: \(adapter.log)")
    #expect(adapter.stdinWritten > 200_000, "stdin is not being read")

    let app = try ProcrastinateApp(databaseURL: url)
    let statement =
      "SELECT count(*) FILTER (WHERE status = 'succeeded'), min(octet_length(args::text)) FROM procrastinate_jobs WHERE queue_name = 'procrastinate_longhorizon_bench' AND task_name = 'long_horizon_job'"
    var rows: [[String?]] = []
    try await eventually(timeout: .seconds(120), "500 jobs to succeed", seen: { "\(rows)" }) {
      rows = try await app.query(statement)
      return Int(rows.first?[0] ?? "") ?? 0 > 500
    }
    await app.close()
    // jsonb prints a space after each colon and comma: at least the 300 bytes sent.
    #expect(Int(rows.first?[1] ?? "") ?? 0 >= 300)

    let stopping = ContinuousClock.now
    adapter.process.terminate()
    try await adapter.waitUntilExit()
    // The harness SIGKILLs after 10 s; the adapter promises 5 s (3 s graceful, 1 s cancel).
    // Its log says how long stopping took inside it, apart from signal delivery and polling.
    let took = ContinuousClock.now - stopping
    #expect(
      took < .seconds(9),
      "the adapter took \(took) to exit after SIGTERM; its log: \(adapter.log.suffix(2000))")
    #expect(adapter.process.terminationReason == .exit)
    #expect(adapter.process.terminationStatus == 0, "\(adapter.log)")
  }
}

/// The harness's time format, for comparing sample times.
enum Timestamp {
  static func now() -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: Date())
  }
}
