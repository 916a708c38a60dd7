// swift-tools-version:6.1
// Generated tasks under swift-otel instead of our tracer: the process bootstraps swift-otel
// 1.6 (OTLP/HTTP), depends on `Procrastinate` and `ProcrastinateCommands` (not
// `ProcrastinateTracing`: no libcurl), and its defer and job spans land in swift-otel's trace,
// with the W3C context in `trace_context`, whether deferred and run in one process or by the
// embedded `defer` and `worker` commands. `traits: []` leaves the dashboard's packages out.
import PackageDescription

let package = Package(
  name: "SwiftOTelExample",
  products: [.executable(name: "swift-otel-example", targets: ["SwiftOTelExample"])],
  dependencies: [
    .package(name: "swift-procrastinate", path: "../..", traits: []),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(
      url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
  ],
  targets: [
    .executableTarget(
      name: "SwiftOTelExample",
      dependencies: [
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateCommands", package: "swift-procrastinate"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        // Only for the private PostgreSQL when no database is configured.
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
        .product(name: "OTel", package: "swift-otel"),
        .product(name: "Tracing", package: "swift-distributed-tracing"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      plugins: [.plugin(name: "ProcrastinateTasks", package: "swift-procrastinate")]
    )
  ]
)
