// swift-tools-version:6.1
// The tracing benchmark compares our tracer with swift-otel 1.6.0, so it lives in its own
// package: neither the main build nor the queue benchmark pulls swift-otel.
import PackageDescription

let package = Package(
  name: "procrastinate-tracing-benchmark",
  dependencies: [
    .package(name: "swift-procrastinate", path: "../.."),
    .package(name: "procrastinate-benchmarks", path: ".."),
    .package(url: "https://github.com/swift-otel/swift-otel.git", exact: "1.6.0", traits: ["OTLPHTTP"]),
    .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
  ],
  targets: [
    .executableTarget(
      name: "TracingBenchmark",
      dependencies: [
        .product(name: "BenchmarkSupport", package: "procrastinate-benchmarks"),
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "OTel", package: "swift-otel"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    )
  ]
)
