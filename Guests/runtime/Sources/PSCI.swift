import GuestSupport

/// PSCI through HVC, as the guest's device tree says.
enum PSCICall {
    static let version: UInt64 = 0x8400_0000
    static let cpuOff: UInt64 = 0x8400_0002
    static let cpuOn: UInt64 = 0xC400_0003
    static let affinityInfo: UInt64 = 0xC400_0004
    static let migrateInfoType: UInt64 = 0x8400_0006
    static let systemOff: UInt64 = 0x8400_0008
    static let features: UInt64 = 0x8400_000A

    static func call(_ fid: UInt64, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0) -> Int64 {
        Int64(bitPattern: guest_hvc(fid, a1, a2, a3))
    }
}

/// This vCPU's index (Aff0 of MPIDR_EL1: the hypervisor's VMPIDR_EL2).
@inline(__always) func myCPU() -> Int { Int(read_mpidr() & 0xFF) }

/// Where PSCI CPU_ON starts a secondary vCPU (boot.S).
func entryAddress() -> UInt64 {
    UInt64(UInt(bitPattern: unsafeBitCast(guest_secondary_entry as @convention(c) () -> Void,
                                          to: UnsafeRawPointer.self)))
}
