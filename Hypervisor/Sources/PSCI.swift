import GICArchitecture
import HypSupport
import VGIC
import Synchronization

/// PSCI function IDs and return codes (Arm DEN 0022).
enum PSCI {
    static let version: UInt64 = 0x8400_0000
    static let cpuSuspend32: UInt64 = 0x8400_0001
    static let cpuSuspend64: UInt64 = 0xC400_0001
    static let cpuOff: UInt64 = 0x8400_0002
    static let cpuOn32: UInt64 = 0x8400_0003
    static let cpuOn64: UInt64 = 0xC400_0003
    static let affinityInfo32: UInt64 = 0x8400_0004
    static let affinityInfo64: UInt64 = 0xC400_0004
    static let migrateInfoType: UInt64 = 0x8400_0006
    static let systemOff: UInt64 = 0x8400_0008
    static let systemReset: UInt64 = 0x8400_0009
    static let features: UInt64 = 0x8400_000A

    static let success: Int64 = 0
    static let notSupported: Int64 = -1
    static let invalidParameters: Int64 = -2
    static let denied: Int64 = -3
    static let alreadyOn: Int64 = -4
    static let onPending: Int64 = -5

    /// PSCI 1.0.
    static let versionValue: UInt64 = 0x0001_0000
    /// MIGRATE_INFO_TYPE: no Trusted OS that needs migration.
    static let migrateNotRequired: UInt64 = 2
}


/// A guest's HVC (or SMC): PSCI 1.0 for its vCPUs. x0 = function ID,
/// x1..x3 arguments; the result goes back in x0.
func handlePSCI(_ slot: VCPUSlot) -> ExitAction {
    let c = slot.context
    let fid = hyp_ctx_get(c, 0) & 0xFFFF_FFFF
    let a1 = hyp_ctx_get(c, 1), a2 = hyp_ctx_get(c, 2), a3 = hyp_ctx_get(c, 3)
    var result: Int64 = PSCI.notSupported
    switch fid {
    case PSCI.version:
        result = Int64(PSCI.versionValue)
    case PSCI.features:
        result = psciFeature(a1 & 0xFFFF_FFFF) ? PSCI.success : PSCI.notSupported
    case PSCI.cpuOn32, PSCI.cpuOn64:
        let target = fid == PSCI.cpuOn32 ? a1 & 0xFFFF_FFFF : a1
        let entry = fid == PSCI.cpuOn32 ? a2 & 0xFFFF_FFFF : a2
        result = psciCPUOn(target: target, entry: entry, context: a3)
    case PSCI.cpuOff:
        slot.power.store(VCPUSlot.off, ordering: .releasing)
        if VM.verbose { log { $0.s("hyp: vCPU "); $0.dec(slot.index); $0.s(" off") } }
        return .powerOff
    case PSCI.affinityInfo32, PSCI.affinityInfo64:
        let target = fid == PSCI.affinityInfo32 ? a1 & 0xFFFF_FFFF : a1
        if a2 != 0 {
            result = PSCI.invalidParameters
        } else if let t = vcpuIndex(mpidr: target) {
            switch vcpuSlots[t].power.load(ordering: .acquiring) {
            case VCPUSlot.on: result = 0
            case VCPUSlot.onPending: result = 2
            default: result = 1
            }
        } else {
            result = PSCI.invalidParameters
        }
    case PSCI.cpuSuspend32, PSCI.cpuSuspend64:
        // Every power state is entered as standby: back when an interrupt
        // is pending for the vCPU (allowed for power-down states too).
        idleUntilInterrupt(slot)
        result = PSCI.success
    case PSCI.migrateInfoType:
        result = Int64(PSCI.migrateNotRequired)
    case PSCI.systemOff:
        log { $0.s("hyp: guest vCPU "); $0.dec(slot.index); $0.s(": PSCI SYSTEM_OFF") }
        auditPhysicalTwins(slot.index)
        reportExitStats()
        _ = hyp_smc(PSCI.systemOff, 0, 0, 0)
        panic("SYSTEM_OFF returned")
    case PSCI.systemReset:
        log { $0.s("hyp: guest vCPU "); $0.dec(slot.index); $0.s(": PSCI SYSTEM_RESET") }
        reportExitStats()
        _ = hyp_smc(PSCI.systemReset, 0, 0, 0)
        panic("SYSTEM_RESET returned")
    default:
        result = PSCI.notSupported
    }
    hyp_ctx_set(c, 0, UInt64(bitPattern: result))
    return .resume
}

func psciFeature(_ fid: UInt64) -> Bool {
    switch fid {
    case PSCI.version, PSCI.features, PSCI.cpuOn32, PSCI.cpuOn64, PSCI.cpuOff, PSCI.affinityInfo32,
         PSCI.affinityInfo64, PSCI.cpuSuspend32, PSCI.cpuSuspend64, PSCI.migrateInfoType,
         PSCI.systemOff, PSCI.systemReset:
        return true
    default:
        return false
    }
}

/// The vCPU whose MPIDR (Aff3..Aff0, as VMPIDR_EL2 gives it) is `mpidr`.
func vcpuIndex(mpidr: UInt64) -> Int? {
    let aff = Affinity(aff0: UInt8(truncatingIfNeeded: mpidr), aff1: UInt8(truncatingIfNeeded: mpidr >> 8),
                       aff2: UInt8(truncatingIfNeeded: mpidr >> 16), aff3: UInt8(truncatingIfNeeded: mpidr >> 32))
    guard mpidr & ~0xFF_00FF_FFFF == 0, let v = aff.vcpuIndex, v < VM.vcpuCount else { return nil }
    return v
}

func psciCPUOn(target: UInt64, entry: UInt64, context: UInt64) -> Int64 {
    guard let t = vcpuIndex(mpidr: target) else { return PSCI.invalidParameters }
    let slot = vcpuSlots[t]
    // Entry must be in the guest's RAM (INVALID_ADDRESS otherwise).
    if entry < VM.ramBase || entry >= VM.ramBase + VM.ramSize || entry & 3 != 0 { return -9 }
    slot.psciLock.lock()
    defer { slot.psciLock.unlock() }
    switch slot.power.load(ordering: .acquiring) {
    case VCPUSlot.on: return PSCI.alreadyOn
    case VCPUSlot.onPending: return PSCI.onPending
    default: break
    }
    slot.entryPoint = entry
    slot.contextID = context
    slot.power.store(VCPUSlot.onPending, ordering: .releasing)
    HardwarePlatform().kick(vcpu: t)
    return PSCI.success
}

/// At power-off, with every vCPU out of the guest: no physical twin of a
/// mapped interrupt may be active unless its virtual interrupt is active or
/// pending (a leak leaves the device dead to the guest). A leak is reported
/// as a panic line, which every test of the hypervisor fails on, and the
/// power-off goes on. A host activation may be between its acknowledge and
/// its report on another CPU: a leak must persist over a few looks.
func auditPhysicalTwins(_ me: Int) {
    guard let g = VM.vgic else { return }
    stopOtherVCPUs(me)
    var leak = g.firstLeakedTwin()
    var looks = 0
    while leak != nil && looks < 5 {
        looks += 1
        var spin = 0
        while spin < 100_000 { spin += 1; hyp_yield() }
        leak = g.firstLeakedTwin()
    }
    resumeOtherVCPUs()
    guard let l = leak else {
        log { $0.s("hyp: physical twins: none active without a virtual reason") }
        return
    }
    logUrgent {
        $0.s("hyp: PANIC: physical twin ")
        $0.dec(Int(l.physicalINTID))
        $0.s(" of INTID ")
        $0.dec(Int(l.intid))
        if let v = l.vcpu { $0.s(" (vCPU "); $0.dec(v); $0.s(")") }
        $0.s(" left active with no virtual reason")
    }
}
