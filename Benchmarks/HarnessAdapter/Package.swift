// swift-tools-version:6.0
// `harness-adapter`: swift-procrastinate as a system of the public queue benchmark harness
// (hardbyte/postgresql-job-queue-benchmarking). Its own package, so neither the main build
// nor the other benchmarks pull the histogram library.
import PackageDescription

let package = Package(
  name: "procrastinate-harness-adapter",
  products: [
    .executable(name: "harness-adapter", targets: ["HarnessAdapter"])
  ],
  dependencies: [
    .package(name: "swift-procrastinate", path: "../.."),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
  ],
  targets: [
    .executableTarget(
      name: "HarnessAdapter",
      dependencies: [
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "Histogram", package: "hdrhistogram-swift"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]
    )
  ]
)
