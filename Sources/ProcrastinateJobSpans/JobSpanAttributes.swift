import ProcrastinateConventions

/// The attributes of a job's CONSUMER span (design §5) as one value, built by the run wrapper
/// for every traced job.
///
/// A span that adopts ``JobAttributeRecording`` (the spans of `ProcrastinateTracer`) keeps
/// the value as it is until export, where its fields are written straight into the OTLP
/// request: no dictionary of hashed keys per job. Any other span gets the same attributes
/// one by one through ``forEach(_:)``.
package struct JobSpanAttributes: Sendable, Equatable {
  /// An attribute's value: the three kinds a job span uses.
  package enum Value: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case double(Double)
  }

  package var queue: String
  package var jobID: Int64
  package var task: String
  package var attempts: Int64
  package var priority: Int64
  package var workerID: Int64
  package var lock: String?
  package var queueingLock: String?
  /// ISO 8601, when the job was scheduled.
  package var scheduledAt: String?
  package var queueWaitMilliseconds: Double?
  /// `procrastinate.job.outcome`, set when the run ends.
  package var outcome: String?

  package init(
    queue: String, jobID: Int64, task: String, attempts: Int64, priority: Int64,
    workerID: Int64, lock: String? = nil, queueingLock: String? = nil,
    scheduledAt: String? = nil, queueWaitMilliseconds: Double? = nil, outcome: String? = nil
  ) {
    (self.queue, self.jobID, self.task) = (queue, jobID, task)
    (self.attempts, self.priority, self.workerID) = (attempts, priority, workerID)
    (self.lock, self.queueingLock) = (lock, queueingLock)
    (self.scheduledAt, self.queueWaitMilliseconds, self.outcome) =
      (scheduledAt, queueWaitMilliseconds, outcome)
  }

  /// How many attributes ``forEach(_:)`` gives.
  package var count: Int {
    10 + (lock == nil ? 0 : 1) + (queueingLock == nil ? 0 : 1) + (scheduledAt == nil ? 0 : 1)
      + (queueWaitMilliseconds == nil ? 0 : 1) + (outcome == nil ? 0 : 1)
  }

  /// Each attribute, key and value, in a fixed order.
  package func forEach(_ body: (String, Value) -> Void) {
    forEachKeyed { key, value in body(key.name, value) }
  }

  /// Each attribute in the same order, its key as a ``Key``: what an encoder that prepares
  /// each key's bytes once reads.
  package func forEachKeyed(_ body: (Key, Value) -> Void) {
    body(.messagingSystem, .string(TracingKeys.messagingSystemValue))
    body(.messagingOperationType, .string("process"))
    body(.messagingOperationName, .string("run"))
    body(.messagingDestinationName, .string(queue))
    body(.messagingMessageID, .string(String(jobID)))
    body(.taskName, .string(task))
    body(.jobID, .int(jobID))
    body(.jobAttempts, .int(attempts))
    body(.jobPriority, .int(priority))
    body(.workerID, .int(workerID))
    if let lock { body(.jobLock, .string(lock)) }
    if let queueingLock { body(.jobQueueingLock, .string(queueingLock)) }
    if let scheduledAt { body(.jobScheduledAt, .string(scheduledAt)) }
    if let queueWaitMilliseconds { body(.jobQueueWait, .double(queueWaitMilliseconds)) }
    if let outcome { body(.jobOutcome, .string(outcome)) }
  }

  /// The key of each attribute a job span has.
  package enum Key: Int, CaseIterable, Sendable {
    case messagingSystem, messagingOperationType, messagingOperationName
    case messagingDestinationName, messagingMessageID, taskName
    case jobID, jobAttempts, jobPriority, workerID
    case jobLock, jobQueueingLock, jobScheduledAt, jobQueueWait, jobOutcome

    /// The attribute's name (``TracingKeys``).
    package var name: String {
      switch self {
      case .messagingSystem: TracingKeys.messagingSystem
      case .messagingOperationType: TracingKeys.messagingOperationType
      case .messagingOperationName: TracingKeys.messagingOperationName
      case .messagingDestinationName: TracingKeys.messagingDestinationName
      case .messagingMessageID: TracingKeys.messagingMessageID
      case .taskName: TracingKeys.taskName
      case .jobID: TracingKeys.jobID
      case .jobAttempts: TracingKeys.jobAttempts
      case .jobPriority: TracingKeys.jobPriority
      case .workerID: TracingKeys.workerID
      case .jobLock: TracingKeys.jobLock
      case .jobQueueingLock: TracingKeys.jobQueueingLock
      case .jobScheduledAt: TracingKeys.jobScheduledAt
      case .jobQueueWait: TracingKeys.jobQueueWait
      case .jobOutcome: TracingKeys.jobOutcome
      }
    }
  }
}

/// A span that takes a job's attributes as one ``JobSpanAttributes`` value and keeps them
/// so until export. Reading the span's attributes shows them like any other; changing its
/// attributes any other way first turns them into ordinary attributes.
package protocol JobAttributeRecording: AnyObject, Sendable {
  /// Sets the job's attributes, replacing any the span has under the same keys.
  func setJobAttributes(_ attributes: JobSpanAttributes)
  /// Sets `procrastinate.job.outcome`.
  func setJobOutcome(_ outcome: String)
}
