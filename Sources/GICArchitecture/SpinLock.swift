import Synchronization

/// A test-and-test-and-set spin lock on `Synchronization.Atomic`: the one lock
/// primitive the portable modules use, hosted and at EL2 alike (Embedded Swift
/// has no mutex type).
///
/// Critical sections under it are short and never block: no allocation, no
/// I/O, no call out to a host that could take another lock of the vGIC. Where
/// each lock stands in the project's lock order is documented in
/// `docs/locking.md` and at the top of `VGIC.swift`.
public struct SpinLock: ~Copyable, @unchecked Sendable {
    private let state = Atomic<UInt32>(0)

    public init() {}

    @inline(__always)
    public func lock() {
        while true {
            if state.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged {
                return
            }
            var spins = 0
            while state.load(ordering: .relaxed) != 0 {
                spins += 1
                if spins & 0x3F == 0 { spinLoopHint() }
            }
        }
    }

    @inline(__always)
    public func tryLock() -> Bool {
        state.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged
    }

    @inline(__always)
    public func unlock() {
        state.store(0, ordering: .releasing)
    }

    @inline(__always)
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}

#if os(Linux)
@_silgen_name("sched_yield")
func _schedYield() -> Int32
#endif

/// Hosted: give the CPU away now and then, so that a lock holder that was
/// preempted can run (threads outnumber cores in tests). Bare metal: nothing;
/// every lock holder runs on its own physical CPU with interrupts masked.
@inline(__always)
func spinLoopHint() {
    #if os(Linux)
    _ = _schedYield()
    #endif
}
