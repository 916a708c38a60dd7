// swift-tools-version:6.0
// Benchmarks live in their own package so the main build never pulls their dependencies.
import PackageDescription

let package = Package(
  name: "procrastinate-benchmarks",
  dependencies: [
    .package(name: "swift-procrastinate", path: "..")
  ],
  targets: [
    .executableTarget(
      name: "QueueBenchmark",
      dependencies: [
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
      ]
    ),
    .executableTarget(
      name: "TaskBenchmark",
      dependencies: [
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
        .product(name: "ProcrastinateGenerator", package: "swift-procrastinate"),
      ],
      plugins: [.plugin(name: "ProcrastinateTasks", package: "swift-procrastinate")]
    ),
  ]
)
