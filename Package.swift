// swift-tools-version:6.1
import PackageDescription

let package = Package(
  name: "swift-procrastinate",
  // Linux only: built and tested on Debian 12 (x86_64). No Apple platform is claimed; the
  // embedded PostgreSQL, the fault tests and the demo's joke server use Linux facilities.
  products: [
    // The queue, the worker and the traced defer/run the generated code calls, over the
    // swift-distributed-tracing API only: no tracer of ours, no libcurl.
    .library(name: "Procrastinate", targets: ["Procrastinate"]),
    // Our tracer, its exporters (OTLP/HTTP over libcurl, Jaeger, console, file),
    // `setupTracing` and the trace view. Services that run swift-otel do without it.
    .library(name: "ProcrastinateTracing", targets: ["ProcrastinateTracing"]),
    .library(name: "ProcrastinateTesting", targets: ["ProcrastinateTesting"]),
    .library(name: "ProcrastinateGenerator", targets: ["ProcrastinateGenerator"]),
    .library(name: "ProcrastinateCommands", targets: ["ProcrastinateCommands"]),
    // swift-metrics in Prometheus's format: the backend, and a `/metrics` endpoint for a
    // process without a web server (swift-prometheus and swift-atomics; no NIO).
    .library(name: "ProcrastinateMetrics", targets: ["ProcrastinateMetrics"]),
    // A web admin of Hummingbird 2 routes, with each job's trace and an OTLP/HTTP receiver.
    .library(name: "ProcrastinateDashboard", targets: ["ProcrastinateDashboard"]),
    .executable(name: "procrastinate-swift", targets: ["ProcrastinateCLI"]),
    .executable(name: "procrastinate-generate", targets: ["ProcrastinateGenerate"]),
    .plugin(name: "ProcrastinateTasks", targets: ["ProcrastinateTasks"]),
  ],
  // The web dashboard and the procrastinate-swift CLI that serves it need Hummingbird and
  // SwiftNIO; everything else needs neither. They sit behind the `Dashboard` trait, on by
  // default (so `swift run procrastinate-swift` works from a checkout). A service that takes
  // only the queue, the tracer, the commands or the plugin depends on this package with
  // `traits: []`, and SwiftPM then resolves none of Hummingbird's packages
  // (`scripts/check-consumer` proves it).
  traits: [
    .trait(
      name: "Dashboard",
      description: "The web dashboard (Hummingbird) and the procrastinate-swift CLI."),
    .default(enabledTraits: ["Dashboard"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    .package(url: "https://github.com/swift-otel/swift-w3c-trace-context.git", from: "1.0.0"),
    .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
    .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    // No default traits: the dashboard needs neither swift-configuration nor full Foundation.
    .package(
      url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CLibPQ",
      pkgConfig: "libpq",
      providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
    ),
    .systemLibrary(
      name: "CCurl",
      pkgConfig: "libcurl",
      providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
    ),
    .systemLibrary(
      name: "CZlib",
      pkgConfig: "zlib",
      providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
    ),
    // The cron parser, shared by the runtime (periodic tasks) and the generator (spec checks).
    .target(name: "ProcrastinateCron", dependencies: ["ProcrastinateConventions"]),
    // The contract's limits and names (queue and task name lengths, the trace carrier key,
    // the trace relations, the periodic timestamp), shared by the runtime and the generator,
    // and `ProcrastinateError`, the root of every error the package throws.
    .target(name: "ProcrastinateConventions"),
    // What the run wrapper hands our tracer for a job's span, without either module knowing
    // the other: the span's attributes as one value (`JobSpanAttributes`), the spans that
    // keep it so until export, and the tracer that starts the span straight from the
    // carrier's W3C headers (`JobSpanStarting`).
    .target(
      name: "ProcrastinateJobSpans",
      dependencies: [
        "ProcrastinateConventions",
        .product(name: "Tracing", package: "swift-distributed-tracing"),
      ]),
    // A dedicated thread for blocking calls (libpq, libcurl, waiting on a process) and a
    // wake-up signal for async waiters: what the queue and the tracer share, without libpq.
    .target(name: "ProcrastinateConcurrency"),
    .target(
      name: "Procrastinate",
      dependencies: [
        "CLibPQ",
        "ProcrastinateConcurrency",
        "ProcrastinateCron",
        "ProcrastinateConventions",
        "ProcrastinateJobSpans",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .target(
      name: "ProcrastinateTracing",
      dependencies: [
        "ProcrastinateConcurrency",
        "ProcrastinateConventions",
        "ProcrastinateJobSpans",
        "ProcrastinateTraceData",
        "CCurl",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "DequeModule", package: "swift-collections"),
      ]
    ),
    // The one trace-data module: the spans our tracer records (SpanRecord) and those
    // received from anyone (TraceSpan), encoded to and decoded from OTLP protobuf and
    // OTLP/JSON (strict for the receiver, lenient for `traces show`), the trace tree every
    // view draws, and gzip both ways over zlib. No libcurl, no libpq, no tracer.
    .target(
      name: "ProcrastinateTraceData",
      dependencies: [
        "ProcrastinateConventions", "ProcrastinateJobSpans", "CZlib",
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
      ]),
    .target(
      name: "ProcrastinateDashboard",
      dependencies: [
        "Procrastinate",
        "ProcrastinateConventions",
        "ProcrastinateCron",
        "ProcrastinateTraceData",
        "ProcrastinateMetrics",
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(
          name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Dashboard"])),
        .product(name: "NIOCore", package: "swift-nio", condition: .when(traits: ["Dashboard"])),
        .product(
          name: "HTTPTypes", package: "swift-http-types", condition: .when(traits: ["Dashboard"])),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "DequeModule", package: "swift-collections"),
      ]
    ),
    .target(
      name: "ProcrastinateMetrics",
      dependencies: [
        "ProcrastinateConcurrency",
        "ProcrastinateConventions",
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    ),
    .target(
      name: "ProcrastinateTesting",
      dependencies: ["Procrastinate", "ProcrastinateConcurrency"]
    ),
    .target(
      name: "ProcrastinateCommands",
      dependencies: [
        "Procrastinate",
        "ProcrastinateMetrics",
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "ProcrastinateCLI",
      dependencies: [
        "Procrastinate",
        "ProcrastinateTracing",
        "ProcrastinateCommands",
        "ProcrastinateDashboard",
        "ProcrastinateMetrics",
        .product(
          name: "Hummingbird", package: "hummingbird", condition: .when(traits: ["Dashboard"])),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // The generator's templates (Swift and Python), at the top of the repository. They travel
    // with the generator as this target's resources, in the bundle SwiftPM puts next to the
    // executable: install procrastinate-generate with that folder, and it needs no source
    // checkout.
    .target(
      name: "ProcrastinateTemplates",
      path: "Templates",
      resources: [.copy("tasks.swift.mustache"), .copy("tasks.py.mustache")]
    ),
    .target(
      name: "ProcrastinateGenerator",
      dependencies: [
        "ProcrastinateCron",
        "ProcrastinateConventions",
        "ProcrastinateTemplates",
        .product(name: "Yams", package: "Yams"),
        .product(name: "Mustache", package: "swift-mustache"),
      ]
    ),
    .executableTarget(
      name: "ProcrastinateGenerate",
      dependencies: [
        "ProcrastinateGenerator",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .plugin(
      name: "ProcrastinateTasks",
      capability: .buildTool(),
      dependencies: ["ProcrastinateGenerate"]
    ),
    // A worker process the fault tests kill and restart (not a product).
    .executableTarget(
      name: "ProcrastinateFaultWorker",
      dependencies: ["Procrastinate", .product(name: "Logging", package: "swift-log")],
      path: "Tests/FaultWorker"
    ),
    .testTarget(
      name: "ProcrastinateTests",
      dependencies: [
        "Procrastinate", "ProcrastinateTracing", "ProcrastinateTesting", "ProcrastinateGenerator",
        "ProcrastinateCron", "ProcrastinateConventions", "ProcrastinateDashboard",
        "ProcrastinateJobSpans",
        "ProcrastinateTraceData", "ProcrastinateConcurrency", "ProcrastinateMetrics",
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "MetricsTestKit", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
      ]
    ),
  ]
)
