import GICArchitecture
import GuestSupport

@_cdecl("guest_main")
func guestMain(_ cpu: Int, _ deviceTree: UInt64) {
    if cpu == 0 {
        say { $0.s("demo: hello from vCPU 0 at EL"); $0.dec(Int((read_currentel() >> 2) & 3)); $0.s(", device tree at "); $0.hex(deviceTree) }
        var n = 1
        while n < 8 {
            let r = Int64(bitPattern: guest_hvc(0xC400_0003, UInt64(n), entryAddress(), UInt64(n)))
            if r != 0 { break }
            n += 1
        }
        atomic_store32(guest_shared(), UInt32(n))
        while atomic_load32(guest_shared() + 1) < UInt32(n - 1) {}
        say { $0.s("demo: "); $0.dec(n); $0.s(" vCPUs: 1 passed, 0 failed") }
        _ = guest_hvc(0x8400_0008, 0, 0, 0)
    } else {
        say { $0.s("demo: hello from vCPU "); $0.dec(cpu); $0.s(" MPIDR "); $0.hex(read_mpidr()) }
        _ = atomic_add32(guest_shared() + 1, 1)
        while true { guest_wfi() }
    }
}

func entryAddress() -> UInt64 {
    UInt64(UInt(bitPattern: unsafeBitCast(guest_secondary_entry as @convention(c) () -> Void, to: UnsafeRawPointer.self)))
}

@_cdecl("guest_sync")
func guestSync(_ frame: UnsafeMutablePointer<UInt64>) {
    say { $0.s("demo: unexpected synchronous exception, ESR_EL1 "); $0.hex(read_esr_el1()); $0.s(" FAR "); $0.hex(read_far_el1()); $0.s(" ELR "); $0.hex(read_elr_el1()) }
    while true { guest_wfi() }
}

@_cdecl("guest_irq")
func guestIRQ(_ frame: UnsafeMutablePointer<UInt64>) {}

@_cdecl("guest_fault")
func guestFault(_ frame: UnsafeMutablePointer<UInt64>) {
    say { $0.s("demo: unexpected exception vector, ESR_EL1 "); $0.hex(read_esr_el1()) }
    while true { guest_wfi() }
}
