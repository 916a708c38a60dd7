// swift-tools-version:6.1
// Benchmarks live in their own package so the main build never pulls their dependencies.
import PackageDescription

let package = Package(
  name: "procrastinate-benchmarks",
  products: [
    // Medians and spreads, child-process cleanup and the venv check, shared with the
    // tracing benchmark's package.
    .library(name: "BenchmarkSupport", targets: ["BenchmarkSupport"])
  ],
  dependencies: [
    .package(name: "swift-procrastinate", path: ".."),
    .package(
      url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
  ],
  targets: [
    .target(name: "BenchmarkSupport"),
    // Timed runs of Swift and Python workers over a pre-filled queue.
    .target(
      name: "QueueRuns",
      dependencies: [
        "BenchmarkSupport",
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
      ]
    ),
    .executableTarget(
      name: "QueueBenchmark",
      dependencies: [
        "BenchmarkSupport", "QueueRuns",
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
      ]
    ),
    .executableTarget(
      name: "ScalingBenchmark",
      dependencies: [
        "BenchmarkSupport", "QueueRuns",
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
      ]
    ),
    .executableTarget(
      name: "DashboardBenchmark",
      dependencies: [
        "BenchmarkSupport", "QueueRuns",
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateDashboard", package: "swift-procrastinate"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .executableTarget(
      name: "TaskBenchmark",
      dependencies: [
        "BenchmarkSupport",
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
        .product(name: "ProcrastinateGenerator", package: "swift-procrastinate"),
      ],
      plugins: [.plugin(name: "ProcrastinateTasks", package: "swift-procrastinate")]
    ),
  ]
)
