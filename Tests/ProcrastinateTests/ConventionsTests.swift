import Procrastinate
import ProcrastinateConventions
import Testing

@Suite("Conventions")
struct ConventionsTests {
  @Test("the runtime's public names and defaults are the shared conventions")
  func runtimeUsesConventions() {
    #expect(TraceRelation.allCases.map(\.rawValue) == Conventions.traceRelations)
    #expect(TaskTraceOptions().relation.rawValue == Conventions.defaultTraceRelation)
    #expect(TaskTraceOptions().carrier == Conventions.traceCarrier)
    #expect(TracingKeys.defaultCarrier == Conventions.traceCarrier)
    #expect(DeferOptions().queue == Conventions.defaultQueue)
    #expect(DeferOptions.maximumQueueNameBytes == Conventions.maximumQueueNameBytes)
  }

  @Test("a queue name over the limit is refused by the runtime, one at the limit is not")
  func queueNameLimit() throws {
    let limit = Conventions.maximumQueueNameBytes
    try DeferOptions.validateQueueName(String(repeating: "q", count: limit))
    #expect(throws: DeferError.self) {
      try DeferOptions.validateQueueName(String(repeating: "q", count: limit + 1))
    }
  }
}
