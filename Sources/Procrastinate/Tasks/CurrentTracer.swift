import ProcrastinateJobSpans
import Synchronization
import Tracing

/// `InstrumentationSystem.tracer`, looked up once per instrument instead of once per job.
///
/// The system's getter finds the tracer among the instruments with protocol casts: about
/// 1 µs a call on the benchmark machine, paid by every traced job. This keeps the last
/// answer with the instrument it came from, and gives it again while
/// `InstrumentationSystem.instrument` (a task-local read and a read lock, no cast) is that
/// same instrument. A `withTracer` scope or another bootstrap is another instrument, and asks
/// the system again, so the answer is always the system's. The last instrument and tracer
/// stay alive here until another pair replaces them. The tracer's ``JobSpanStarting`` side,
/// if it has one, is kept with it, sparing the run wrapper a protocol cast per job.
enum CurrentTracer {
  /// The tracer, and the same tracer as a ``JobSpanStarting`` when it is one and is the
  /// whole instrument.
  struct Lookup: Sendable {
    var tracer: any Tracer
    var jobSpans: (any JobSpanStarting)?

    /// `jobSpans` only when `instrument` is the tracer itself: inside a
    /// `MultiplexInstrument`, the other instruments must also read each job's carrier,
    /// which only `extract` through the instrument gives them.
    init(_ tracer: any Tracer, instrument: any Instrument) {
      self.tracer = tracer
      self.jobSpans = instrument as? any JobSpanStarting
    }
  }

  /// A class, so that reading it under the lock copies one reference, not two existentials.
  private final class Entry: Sendable {
    /// Kept alive here: while it is, nothing it refers to can be freed and reused, so an
    /// instrument with the same bytes is this one (see ``same(_:_:)``).
    let instrument: any Instrument
    let lookup: Lookup

    init(instrument: any Instrument, lookup: Lookup) {
      (self.instrument, self.lookup) = (instrument, lookup)
    }
  }

  private static let last = Mutex<Entry?>(nil)

  /// The tracer `InstrumentationSystem.tracer` returns here and now.
  static var tracer: any Tracer { current.tracer }

  /// The tracer `InstrumentationSystem.tracer` returns here and now, with its
  /// ``JobSpanStarting`` side.
  static var current: Lookup {
    let instrument = InstrumentationSystem.instrument
    if let entry = last.withLock({ $0 }), same(entry.instrument, instrument) {
      return entry.lookup
    }
    let tracer = Lookup(InstrumentationSystem.tracer, instrument: instrument)
    // Kept only when the instrument did not change while the tracer was looked up (a test
    // bootstrapping again), so the pair always belongs together. (A change there and back,
    // A→B→A, in that moment would pair A with B's tracer; only swift-distributed-tracing's
    // internal `bootstrapInternal` can do that, as the public `bootstrap` runs once.)
    if same(InstrumentationSystem.instrument, instrument) {
      last.withLock { $0 = Entry(instrument: instrument, lookup: tracer) }
    }
    return tracer
  }

  /// Whether `a` and `b` are the same instrument: the same type and the same bytes. For a
  /// class that is the same object; for a value, an equal value whose references are the
  /// same objects (kept alive by ``last``, so their addresses cannot have been reused).
  /// Padding bytes that happen to differ only cost a lookup through the system.
  static func same(_ a: any Instrument, _ b: any Instrument) -> Bool {
    guard type(of: a) == type(of: b) else { return false }
    /// The value's own bytes, opened out of its existential (not the container's).
    func bytes<Value: Instrument>(
      _ value: Value, _ body: (UnsafeRawBufferPointer) -> Bool
    ) -> Bool {
      withUnsafeBytes(of: value, body)
    }
    return bytes(a) { a in bytes(b) { b in a.elementsEqual(b) } }
  }
}
