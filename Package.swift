// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "swift-procrastinate",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "Procrastinate", targets: ["Procrastinate"]),
    .library(name: "ProcrastinateTesting", targets: ["ProcrastinateTesting"]),
    .executable(name: "procrastinate-swift", targets: ["ProcrastinateCLI"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
  ],
  targets: [
    .systemLibrary(
      name: "CLibPQ",
      pkgConfig: "libpq",
      providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
    ),
    .target(
      name: "Procrastinate",
      dependencies: [
        "CLibPQ",
        .product(name: "Logging", package: "swift-log"),
      ]
    ),
    .target(
      name: "ProcrastinateTesting",
      dependencies: ["Procrastinate"]
    ),
    .executableTarget(
      name: "ProcrastinateCLI",
      dependencies: [
        "Procrastinate",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(
      name: "ProcrastinateTests",
      dependencies: ["Procrastinate", "ProcrastinateTesting"]
    ),
  ]
)
