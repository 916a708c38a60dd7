import Dispatch

/// Runs CPU-heavy work (inflating and decoding a request body of megabytes, a file's lines)
/// on a dispatch queue, so that Swift's cooperative pool, two threads on two cores, keeps
/// serving pages meanwhile.
enum OffPool {
  static func run<Value: Sendable, Failure: Error>(
    _ work: @escaping @Sendable () throws(Failure) -> Value
  ) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
      DispatchQueue.global().async {
        continuation.resume(with: Result { try work() })
      }
    }
  }
}
