// Concurrency scaling: jobs/s at concurrency 1, 10, 50 and 100 for Swift (batched and
// per-job fetching) and Python procrastinate 3.10, with no-op jobs and with jobs that sleep
// 1 ms (as the public queue benchmark harness's jobs do), on one private PostgreSQL in one
// run. Each cell is measured in 5 rounds, the systems alternating which goes first, and
// reported as the median and spread (min–max). Prints a table, then one JSON line.
//
//   swift run -c release --package-path Benchmarks ScalingBenchmark [--quick]
import BenchmarkSupport
import Foundation
import Procrastinate
import QueueRuns

let quick = CommandLine.arguments.contains("--quick")
let rounds = quick ? 2 : 5
let swiftJobs = quick ? 300 : 1_000
let pythonJobs = quick ? 200 : 500
let concurrencies = [1, 10, 50, 100]
let workLevels = [0, 1]
let systems = ["swift_batched", "swift_per_job", "python"]

/// "system c=N work=W" → jobs/s per round.
nonisolated(unsafe) var cells: [String: Samples] = [:]

func key(_ system: String, _ concurrency: Int, _ work: Int) -> String {
  "\(system)_c\(concurrency)_work\(work)ms"
}

await benchmarkMain {
  let python = PythonEnvironment.require(modules: ["procrastinate", "psycopg"])
  // Per-job fetching at concurrency 100 holds a connection per slot.
  let (url, app) = try await benchDatabase(
    "scaling", maximumConnections: 2, settings: ["max_connections": "300"])
  for round in 0..<rounds {
    FileHandle.standardError.write(Data("round \(round + 1) of \(rounds)\n".utf8))
    for system in alternating(systems, round: round) {
      for work in workLevels {
        for concurrency in concurrencies {
          let perSecond: Double
          switch system {
          case "python":
            perSecond = try runPython(
              python: python, url: url, mode: "process", jobs: pythonJobs,
              concurrency: concurrency, workMilliseconds: work)
          default:
            perSecond = try await processSwift(
              app: app, url: url, jobs: swiftJobs,
              strategy: system == "swift_batched" ? .batched : .perJob, concurrency: concurrency,
              workMilliseconds: work)
          }
          cells[key(system, concurrency, work), default: Samples()].append(perSecond)
          FileHandle.standardError.write(
            Data("  \(key(system, concurrency, work)): \(Int(perSecond)) jobs/s\n".utf8))
        }
      }
    }
  }
  await app.close()

  print("jobs/s, median (min–max) of \(rounds) alternating rounds")
  for work in workLevels {
    print(work == 0 ? "no-op jobs" : "jobs sleeping \(work) ms")
    print(
      "system".padding(toLength: 16, withPad: " ", startingAt: 0)
        + concurrencies.map { "c=\($0)".padding(toLength: 24, withPad: " ", startingAt: 0) }
        .joined())
    for system in systems {
      print(
        system.padding(toLength: 16, withPad: " ", startingAt: 0)
          + concurrencies.map {
            (cells[key(system, $0, work)]?.summary() ?? "n/a")
              .padding(toLength: 24, withPad: " ", startingAt: 0)
          }.joined())
    }
  }
  let json: [String: Any] = [
    "benchmark": "scaling", "quick": quick, "rounds": rounds, "swift_jobs": swiftJobs,
    "python_jobs": pythonJobs, "cells": cells.mapValues { $0.json() },
  ]
  print(
    String(
      decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
      as: UTF8.self))
}
