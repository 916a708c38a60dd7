// swift-tools-version:6.1
// The Python guide's architecture on a real Swift HTTP server: a Hummingbird 2 service whose
// request span is the root of the job's trace ("Web Request → Create Root Span → Defer Job"),
// with the worker in the same swift-service-lifecycle ServiceGroup. It reuses the guide's
// tasks from Examples/TracingDemo's `GuideTasks` library.
import PackageDescription

let package = Package(
  name: "WebService",
  products: [.executable(name: "web-service", targets: ["WebService"])],
  dependencies: [
    .package(name: "swift-procrastinate", path: "../.."),
    .package(name: "TracingDemo", path: "../TracingDemo"),
    // No default traits: the service needs neither swift-configuration nor full Foundation.
    .package(
      url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
  ],
  targets: [
    .executableTarget(
      name: "WebService",
      dependencies: [
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "ProcrastinateCommands", package: "swift-procrastinate"),
        .product(name: "ProcrastinateMetrics", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
        .product(name: "GuideTasks", package: "TracingDemo"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    )
  ]
)
