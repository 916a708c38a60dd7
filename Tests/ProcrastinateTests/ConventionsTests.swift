import Procrastinate
import ProcrastinateConventions
import Testing

@Suite("Conventions")
struct ConventionsUnitTests {
  // DeferOptions' default queue and limit and TracingKeys.defaultCarrier are defined as
  // the conventions themselves, so only what the runtime spells on its own is checked here.
  @Test("the runtime's own spellings of the relations agree with the shared conventions")
  func runtimeUsesConventions() {
    #expect(TraceRelation.allCases.map(\.rawValue) == Conventions.traceRelations)
    #expect(TaskTraceOptions().relation.rawValue == Conventions.defaultTraceRelation)
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
