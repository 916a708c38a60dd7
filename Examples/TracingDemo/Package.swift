// swift-tools-version:6.0
// The guide's full demo (tracing_demo.py) in Swift, service procrastinate-demo: tasks from
// Sources/GuideTasks/demo.tasks.yaml through the ProcrastinateTasks plugin, an HTTP call
// with a client span, a database insert with its own span, and the embeddable worker,
// defer, schema and healthchecks commands. The tasks are a library, `GuideTasks`, which
// Examples/WebService defers and runs too.
import PackageDescription

let package = Package(
  name: "TracingDemo",
  products: [
    .executable(name: "tracing-demo", targets: ["TracingDemo"]),
    .library(name: "GuideTasks", targets: ["GuideTasks"]),
    // A Swift producer and worker sharing fleet.tasks.yaml with a Python worker (python/).
    .executable(name: "mixed-fleet", targets: ["MixedFleet"]),
  ],
  dependencies: [
    .package(name: "swift-procrastinate", path: "../.."),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
  ],
  targets: [
    .target(
      name: "GuideTasks",
      dependencies: [
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateCommands", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
      ],
      plugins: [.plugin(name: "ProcrastinateTasks", package: "swift-procrastinate")]
    ),
    .executableTarget(
      name: "TracingDemo",
      dependencies: [
        "GuideTasks",
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "ProcrastinateCommands", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(
      name: "MixedFleet",
      dependencies: [
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
      ],
      plugins: [.plugin(name: "ProcrastinateTasks", package: "swift-procrastinate")]
    ),
  ]
)
