import Foundation

/// The harness's environment, read and checked once at start.
struct AdapterSettings: Sendable {
  enum ProducerMode: String, Sendable {
    case fixed
    case depthTarget = "depth-target"
  }

  var databaseURL: String
  var databaseName: String
  var workerCount: Int
  var producerMode: ProducerMode
  /// Jobs per second of this replica (fixed mode).
  var producerRate: Double
  var targetDepth: Int
  /// The most jobs one insert carries; 1 means single defers.
  var batchMax: Int
  /// How often the producer wakes.
  var batchInterval: Duration
  var payloadBytes: Int
  var workMilliseconds: Int
  var sampleEvery: Int
  var instanceID: Int
  /// Re-read on every producer tick: the current rate.
  var rateControlFile: String?

  static let queue = "procrastinate_longhorizon_bench"
  static let task = "long_horizon_job"

  /// A setting that is missing where required, or is not what it must be.
  struct Invalid: Error, CustomStringConvertible {
    var description: String
  }

  init(environment: [String: String]) throws {
    func text(_ name: String) -> String? {
      environment[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
    }
    func integer(_ name: String, default value: Int, minimum: Int) throws -> Int {
      guard let raw = text(name) else { return value }
      guard let parsed = Int(raw.trimmingCharacters(in: .whitespaces)), parsed >= minimum else {
        throw Invalid(description: "\(name) must be an integer ≥ \(minimum), got '\(raw)'")
      }
      return parsed
    }
    func number(_ name: String, default value: Double) throws -> Double {
      guard let raw = text(name) else { return value }
      guard let parsed = Double(raw.trimmingCharacters(in: .whitespaces)), parsed >= 0,
        parsed.isFinite
      else {
        throw Invalid(description: "\(name) must be a number ≥ 0, got '\(raw)'")
      }
      return parsed
    }
    guard let url = text("DATABASE_URL") else {
      throw Invalid(
        description:
          "DATABASE_URL is not set; the harness passes postgres://user:password@host:port/dbname"
      )
    }
    databaseURL = url
    databaseName = Self.databaseName(in: url)
    workerCount = try integer("WORKER_COUNT", default: 32, minimum: 1)
    let mode = text("PRODUCER_MODE") ?? "fixed"
    guard let producerMode = ProducerMode(rawValue: mode) else {
      throw Invalid(description: "PRODUCER_MODE must be 'fixed' or 'depth-target', got '\(mode)'")
    }
    self.producerMode = producerMode
    producerRate = try number("PRODUCER_RATE", default: 800)
    targetDepth = try integer("TARGET_DEPTH", default: 1000, minimum: 0)
    batchMax = try integer("PRODUCER_BATCH_MAX", default: 1, minimum: 1)
    batchInterval = .milliseconds(try integer("PRODUCER_BATCH_MS", default: 10, minimum: 1))
    payloadBytes = try integer("JOB_PAYLOAD_BYTES", default: 256, minimum: 0)
    workMilliseconds = try integer("JOB_WORK_MS", default: 1, minimum: 0)
    sampleEvery = try integer("SAMPLE_EVERY_S", default: 5, minimum: 1)
    instanceID = try integer("BENCH_INSTANCE_ID", default: 0, minimum: 0)
    rateControlFile = text("PRODUCER_RATE_CONTROL_FILE")
  }

  /// The rate to produce at now: the control file's number when it has one (a value ≤ 0
  /// pauses the producer), else `PRODUCER_RATE`.
  func currentRate() -> Double {
    guard let rateControlFile,
      let raw = try? String(contentsOfFile: rateControlFile, encoding: .utf8),
      let rate = Double(raw.trimmingCharacters(in: .whitespacesAndNewlines)), rate.isFinite
    else { return producerRate }
    return rate
  }

  /// The database name of a URL, or its `dbname=` keyword; "" when neither says.
  static func databaseName(in url: String) -> String {
    if let components = URLComponents(string: url), components.scheme != nil {
      return String(components.path.drop { $0 == "/" })
    }
    for pair in url.split(separator: " ") where pair.hasPrefix("dbname=") {
      return String(pair.dropFirst("dbname=".count))
    }
    return ""
  }
}
