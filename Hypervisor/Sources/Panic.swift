import HypSupport
import Synchronization

/// Set once by the first panic: every CPU that sees it stops.
let panicking = Atomic<Bool>(false)

/// Stop this CPU for good (interrupts masked; WFI in a loop).
func halt() -> Never {
    while true { hyp_wfi() }
}

/// A hypervisor bug or an impossible state: print what happened with the EL2
/// syndrome registers, stop every other CPU, stop.
@inline(never)
func panic(_ message: StaticString) -> Never {
    let first = !panicking.exchange(true, ordering: .sequentiallyConsistent)
    if first { HostGIC.stopOtherCPUs() }
    let esr = read_esr_el2(), far = read_far_el2(), elr = read_elr_el2()
    logUrgent {
        $0.s("hyp: PANIC on CPU ")
        $0.dec(currentCPU())
        $0.s(": ")
        $0.s(message)
    }
    logUrgent {
        $0.s("hyp:   ESR_EL2=")
        $0.hex(esr)
        $0.s(" FAR_EL2=")
        $0.hex(far)
        $0.s(" ELR_EL2=")
        $0.hex(elr)
    }
    halt()
}

@_cdecl("hyp_panic_c")
func panicFromC(_ message: UnsafePointer<CChar>) -> Never {
    logUrgent {
        $0.s("hyp: C runtime: ")
        var p = message
        while p.pointee != 0 {
            $0.c(UInt8(bitPattern: p.pointee))
            p += 1
        }
    }
    panic("C runtime failure")
}

/// An exception taken at EL2 (boot.S saved x0..x30 in `frame`).
@_cdecl("hyp_exception")
func hypException(_ kind: UInt64, _ frame: UnsafePointer<UInt64>) -> Never {
    logUrgent {
        $0.s("hyp: exception at EL2, vector ")
        $0.dec(Int(kind))
        $0.s(" (0-3 SP0, 4 sync, 5 IRQ, 6 FIQ, 7 SError) x30=")
        $0.hex(frame[30])
    }
    panic("unexpected exception at EL2")
}

/// Index of the physical CPU running this code (QEMU virt: Aff0 + 16 * Aff1).
@inline(__always)
func currentCPU() -> Int {
    let m = read_mpidr()
    return Int(m & 0xFF) + 16 * Int((m >> 8) & 0xFF)
}
