import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A test-and-set lock for very short critical sections on one object, such as a span's
/// attributes. Unlike `Mutex` it can be held across a `_modify` accessor's `yield`, so
/// `span.attributes[key] = value` changes the dictionary in place instead of copying it
/// out and back. A span is nearly always changed by one task at a time, so the lock is
/// almost never contended; when it is, the waiter yields its thread after a few spins.
struct SpinLock: ~Copyable, Sendable {
  private let held = Atomic<Bool>(false)

  init() {}

  func lock() {
    var spins = 0
    while !held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
      spins += 1
      if spins >= 64 {
        sched_yield()
        spins = 0
      }
    }
  }

  func unlock() {
    held.store(false, ordering: .releasing)
  }
}
