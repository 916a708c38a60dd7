// swift-tools-version:6.0
// The guide's simple example, built the way a user builds: a path dependency on
// swift-procrastinate, tasks declared in Sources/SimpleTracing/simple.tasks.yaml and turned
// into typed, traced Swift by the ProcrastinateTasks build-tool plugin.
import PackageDescription

let package = Package(
  name: "SimpleTracing",
  dependencies: [
    .package(name: "swift-procrastinate", path: "../.."),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
  ],
  targets: [
    .executableTarget(
      name: "SimpleTracing",
      dependencies: [
        .product(name: "Procrastinate", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTracing", package: "swift-procrastinate"),
        .product(name: "ProcrastinateTesting", package: "swift-procrastinate"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      plugins: [.plugin(name: "ProcrastinateTasks", package: "swift-procrastinate")]
    )
  ]
)
