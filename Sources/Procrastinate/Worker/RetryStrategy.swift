/// When and how soon a failed job runs again: procrastinate's `RetryStrategy`, with the
/// same delays and the same `attempts` counting.
///
/// The delay before the next attempt, in seconds, is
/// `wait + linearWait × attempts + exponentialWait ^ (attempts + 1)`, where `attempts` is
/// the job's attempts before this run (0 on the first run). A job is not retried once
/// `attempts >= maxAttempts`, so `maxAttempts: 2` means three runs in all, as in Python.
public struct RetryStrategy: Sendable {
  /// The most retries; `nil` retries forever.
  public var maxAttempts: Int?
  /// Constant seconds added to every delay.
  public var wait: Double
  /// Seconds added per previous attempt.
  public var linearWait: Double
  /// Base of the exponential term; 0 for none.
  public var exponentialWait: Double
  /// Which errors are retried; `nil` retries every error (Python's `retry_exceptions`).
  public var shouldRetry: (@Sendable (any Error) -> Bool)?

  /// A strategy with these delays; `retryIf` picks the errors retried (every one when `nil`).
  public init(
    maxAttempts: Int? = nil, wait: Double = 0, linearWait: Double = 0, exponentialWait: Double = 0,
    retryIf shouldRetry: (@Sendable (any Error) -> Bool)? = nil
  ) {
    (self.maxAttempts, self.wait, self.linearWait, self.exponentialWait, self.shouldRetry) =
      (maxAttempts, wait, linearWait, exponentialWait, shouldRetry)
  }

  /// Retries only errors whose dynamic type is one of `errorTypes`.
  public init(
    maxAttempts: Int? = nil, wait: Double = 0, linearWait: Double = 0, exponentialWait: Double = 0,
    retryOn errorTypes: [any Error.Type]
  ) {
    let identifiers = Set(errorTypes.map { ObjectIdentifier($0) })
    self.init(
      maxAttempts: maxAttempts, wait: wait, linearWait: linearWait,
      exponentialWait: exponentialWait,
      retryIf: { identifiers.contains(ObjectIdentifier(type(of: $0))) })
  }

  /// Python's `retry=N`: at most `n` retries, immediately.
  public static func attempts(_ n: Int) -> RetryStrategy { RetryStrategy(maxAttempts: n) }

  /// The delay in seconds before the next attempt, or `nil` when the job must not be retried.
  ///
  /// - Parameter attempts: the job's `attempts` before the run that failed.
  public func retryDelay(attempts: Int, error: any Error) -> Double? {
    if let maxAttempts, attempts >= maxAttempts { return nil }
    if let shouldRetry, !shouldRetry(error) { return nil }
    var exponential = 0.0
    if exponentialWait != 0 {
      exponential = 1
      for _ in 0...attempts { exponential *= exponentialWait }
    }
    return wait + linearWait * Double(attempts) + exponential
  }
}
