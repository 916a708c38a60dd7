import ProcrastinateTracing
import Testing
import Tracing

@testable import Procrastinate

/// The worker's tracer lookup keeps its last answer: it must still answer what
/// `InstrumentationSystem.tracer` answers, scope by scope and task by task.
@Suite("Current tracer")
struct CurrentTracerUnitTests {
  /// A value-type instrument, too large to sit inline in an existential (boxed).
  struct ValueInstrument: InertInstrument {
    var words: (Int, Int, Int, Int) = (1, 2, 3, 4)
  }

  /// A value-type instrument of two words, inline in an existential.
  struct SmallInstrument: InertInstrument {
    var words: (Int, Int)
  }

  static func identity(_ tracer: any Tracer) -> ObjectIdentifier? {
    (tracer as? ProcrastinateTracer).map(ObjectIdentifier.init)
  }

  @Test("each withTracer scope gets its own tracer, and the outer one again after it")
  func scopes() {
    let (a, b) = (
      ProcrastinateTracer(processor: InMemorySpanExporter()),
      ProcrastinateTracer(processor: InMemorySpanExporter())
    )
    withTracer(a) {
      #expect(Self.identity(CurrentTracer.tracer) == ObjectIdentifier(a))
      #expect(Self.identity(CurrentTracer.tracer) == ObjectIdentifier(a))
      withTracer(b) {
        #expect(Self.identity(CurrentTracer.tracer) == ObjectIdentifier(b))
      }
      #expect(Self.identity(CurrentTracer.tracer) == ObjectIdentifier(a))
    }
  }

  @Test("tasks under different tracers at once never get each other's")
  func concurrent() async {
    let tracers = (0..<4).map { _ in ProcrastinateTracer(processor: InMemorySpanExporter()) }
    let mixedUp = await withTaskGroup(of: Int.self) { group in
      for tracer in tracers {
        group.addTask {
          await withTracer(tracer) {
            var wrong = 0
            for _ in 0..<2_000 {
              if Self.identity(CurrentTracer.tracer) != ObjectIdentifier(tracer) { wrong += 1 }
              await Task.yield()
            }
            return wrong
          }
        }
      }
      return await group.reduce(0, +)
    }
    #expect(mixedUp == 0)
  }

  @Test("the same instrument is recognised by identity or by value, never across instances")
  func sameInstrument() {
    let (a, b) = (
      ProcrastinateTracer(processor: InMemorySpanExporter()),
      ProcrastinateTracer(processor: InMemorySpanExporter())
    )
    #expect(CurrentTracer.same(a, a))
    #expect(!CurrentTracer.same(a, b))
    #expect(CurrentTracer.same(NoOpTracer(), NoOpTracer()))
    #expect(!CurrentTracer.same(NoOpTracer(), a))
    let value: any Instrument = ValueInstrument()
    let copy = value
    #expect(CurrentTracer.same(value, copy))
    #expect(CurrentTracer.same(value, ValueInstrument()))
    #expect(!CurrentTracer.same(value, ValueInstrument(words: (1, 2, 3, 5))))
    #expect(!CurrentTracer.same(value, ValueInstrument(words: (0, 2, 3, 4))))
    let small: any Instrument = SmallInstrument(words: (7, 8))
    #expect(CurrentTracer.same(small, SmallInstrument(words: (7, 8))))
    #expect(!CurrentTracer.same(small, SmallInstrument(words: (7, 9))))
    #expect(!CurrentTracer.same(small, value))
  }

  @Test(
    "our tracer starts job spans from the carrier only when it is the whole instrument, not inside a multiplex"
  )
  func jobSpansOnlyAlone() {
    let ours = ProcrastinateTracer(processor: InMemorySpanExporter())
    #expect(CurrentTracer.Lookup(ours, instrument: ours).jobSpans != nil)
    // The other instrument must read the carrier too: the run wrapper extracts through all.
    let multiplex = MultiplexInstrument([ours, ValueInstrument()])
    #expect(CurrentTracer.Lookup(ours, instrument: multiplex).jobSpans == nil)
    #expect(CurrentTracer.Lookup(NoOpTracer(), instrument: NoOpTracer()).jobSpans == nil)
  }
}

/// An instrument that reads and writes nothing: only its identity matters here.
protocol InertInstrument: Instrument {}

extension InertInstrument {
  func extract<Carrier, Extract: Extractor>(
    _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
  ) where Extract.Carrier == Carrier {}
  func inject<Carrier, Inject: Injector>(
    _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
  ) where Inject.Carrier == Carrier {}
}
