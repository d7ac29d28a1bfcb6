// GICModel: a software model of the physical GIC a hypervisor runs on.
//
// It holds the physical interrupt state (per-CPU SGIs/PPIs, global SPIs) and,
// per physical CPU, the GIC virtualization extension: list registers, HCR,
// VMCR, the active-priority registers, the derived MISR/EISR/ELRSR, and the
// virtual CPU interface a guest uses (GICv3 ICV_* system registers, GICv2
// GICV_* frame). The hypervisor side programs it as it would program real
// ICH_*_EL2 / GICH_* registers; the model checks what it is given against the
// architecture (IHI 0069, IHI 0048B) and records violations.
//
// Thread safety: all state is guarded by one SpinLock, taken only inside each
// public method and never held across a call out of the model.
// Lock order: the vGIC's locks come before the GICModel lock; the model never calls out.
//
// Allocation: every array is sized at init; no method allocates afterwards
// except when recording a violation (the error path).
//
// Choices where the architecture leaves room (mostly as QEMU's
// hw/intc/arm_gicv3_cpuif.c makes them):
// - The highest-priority pending virtual interrupt is chosen among LRs in the
//   Pending state (not Pending+Active) whose group is enabled in VMCR; a
//   priority of 0xFF is never reported; ties go to the lowest LR index.
// - EOIR drops priority before any check; with no active priority it is
//   ignored. With EOImode 0 it deactivates the matching LR only if the LR's
//   group (GICv3) and group priority match the priority dropped.
// - EOIcount is incremented only when a write would have deactivated
//   (EOIR with EOImode 0, DIR with EOImode 1) and no LR matches. (QEMU's
//   virtual interface also counts an unmatched EOIR in EOImode 1; the vGIC
//   ignores the count while EOImode is 1, so it works with either.)
// - A virtual LPI's EOI deactivates its list register in either EOImode
//   and is never counted in EOIcount; DIR ignores LPIs (QEMU 7.2 still
//   counts an unmatched LPI EOI and keeps an LPI active in EOImode 1: the
//   model follows the architecture, which later QEMUs do too).
// - preemptionBits is min(priorityBits, 7): BPR0 is at least 0, so at most 7
//   group-priority bits exist (ICH_AP0R0..3 hold 128 levels).
// - GICv2: the list registers carry 5 priority bits, so priorityBits is 5.
//   There is one GICH_APR shared by both groups; it is APR group 0 index 0,
//   every other (group, index) is RAZ/WI.

import GICArchitecture

/// The GIC hardware a hypervisor runs on: physical interrupt state plus, per
/// physical CPU, the virtualization extension (hypervisor side: LRs, HCR,
/// VMCR, APRs, MISR/EISR/ELRSR) and the virtual CPU interface (guest side).
/// Hypervisor-side rule breaks are recorded in `violations`.
///
/// Configuration is clamped to what the architecture allows: 1...16 list
/// registers (GICv2: 1...64), 5...8 priority bits (GICv2: always 5),
/// `vtr.preemptionBits = min(priorityBits, 7)`.
public final class GICModel: @unchecked Sendable {
    public let version: GICVersion
    public let cpuCount: Int
    public let vtr: VTR

    let lock = SpinLock()
    // `internal`, not `private`: the hypervisor side, the virtual CPU
    // interface and the physical interrupts (GICModel+*.swift) share them.
    internal let lrCount: Int
    internal let priorityMask: UInt8
    internal let aprCount: Int
    /// Shift from an 8-bit group priority to its active-priority bit number.
    internal let aprShift: Int

    // The state below is only touched with `lock` held, one access at a
    // time: `@exclusivity(unchecked)` drops the runtime's dynamic
    // exclusivity check on each access, which was most of the model's cost
    // per list-register or system-register access (docs/performance.md).

    /// Raw list registers, `cpu * lrCount + n` (GICv2: zero-extended GICH_LR).
    @exclusivity(unchecked) internal var lrs: [UInt64]
    @exclusivity(unchecked) internal var hcrs: [UInt64]
    @exclusivity(unchecked) internal var vmcrs: [VMCR]
    /// Active priorities, `(cpu * 2 + group) * 4 + index`.
    @exclusivity(unchecked) internal var aprs: [UInt32]
    /// Per-CPU private interrupts, `cpu * 32 + intid`: flag bits below.
    @exclusivity(unchecked) internal var privateFlags: [UInt8]
    /// SPIs indexed by INTID (0..<32 unused).
    @exclusivity(unchecked) internal var spiFlags: [UInt8]
    @exclusivity(unchecked) internal var recorded: [ArchitectureViolation]

    static let flagLine: UInt8 = 1
    static let flagLatch: UInt8 = 2
    static let flagActive: UInt8 = 4
    /// Edge-triggered: a rising line sets the latch; the line itself is not pending.
    static let flagEdge: UInt8 = 8

    public init(version: GICVersion, cpus: Int, listRegisters: Int, priorityBits: Int) {
        self.version = version
        let cpuCount = cpus < 1 ? 1 : cpus
        self.cpuCount = cpuCount
        let maxLRs = version == .v3 ? 16 : 64
        let nLR = listRegisters < 1 ? 1 : (listRegisters > maxLRs ? maxLRs : listRegisters)
        var pri = priorityBits < 5 ? 5 : (priorityBits > 8 ? 8 : priorityBits)
        if version == .v2 { pri = 5 }
        let pre = pri > 7 ? 7 : pri
        let vtr = VTR(listRegisters: nLR, priorityBits: pri, preemptionBits: pre)
        self.vtr = vtr
        lrCount = nLR
        priorityMask = Priority.mask(bits: pri)
        aprCount = vtr.activePriorityRegisters
        aprShift = 8 - pre
        lrs = [UInt64](repeating: 0, count: cpuCount * nLR)
        hcrs = [UInt64](repeating: 0, count: cpuCount)
        vmcrs = [VMCR](repeating: VMCR(), count: cpuCount)
        aprs = [UInt32](repeating: 0, count: cpuCount * 8)
        privateFlags = [UInt8](repeating: 0, count: cpuCount * 32)
        spiFlags = [UInt8](repeating: 0, count: Int(INTID.spiLimit))
        recorded = []
        recorded.reserveCapacity(16)
    }

    // MARK: - Violations

    public var violations: [ArchitectureViolation] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    public func clearViolations() {
        lock.lock()
        defer { lock.unlock() }
        recorded.removeAll(keepingCapacity: true)
    }

    func flag(_ cpu: Int, _ intid: UInt32, _ message: StaticString) {
        recorded.append(ArchitectureViolation(cpu: cpu, intid: intid, message: message))
    }

    func cpuOK(_ cpu: Int) -> Bool { cpu >= 0 && cpu < cpuCount }

    /// Hypervisor-side CPU check: records a violation for a bad index.
    func hypCPU(_ cpu: Int) -> Bool {
        if cpuOK(cpu) { return true }
        flag(cpu, 0, ArchitectureViolation.badCPU)
        return false
    }

    // MARK: - List-register helpers (lock held)

    @inline(__always) func decode(_ raw: UInt64) -> ListRegister {
        version == .v3 ? ICH_LR.decode(raw) : GICH_LR.decode(UInt32(truncatingIfNeeded: raw))
    }

    @inline(__always) func lr(_ cpu: Int, _ n: Int) -> ListRegister {
        decode(lrs[cpu * lrCount + n])
    }

    func setState(_ cpu: Int, _ n: Int, _ state: ListRegisterState) {
        let i = cpu * lrCount + n
        if version == .v3 {
            lrs[i] = (lrs[i] & ~(UInt64(3) << ICH_LR.stateShift)) | UInt64(state.rawValue) << ICH_LR.stateShift
        } else {
            let shift = UInt64(GICH_LR.stateShift)
            lrs[i] = (lrs[i] & ~(UInt64(3) << shift)) | UInt64(state.rawValue) << shift
        }
    }

    /// Two list registers name the same virtual interrupt (GICv2 SGIs: and the
    /// same source CPU).
    @inline(__always) func sameInterrupt(_ a: ListRegister, _ b: ListRegister) -> Bool {
        guard a.vINTID == b.vINTID else { return false }
        if version == .v2 && a.vINTID < INTID.sgiCount { return a.sourceCPU == b.sourceCPU }
        return true
    }

    func checkWrittenLR(_ cpu: Int, _ n: Int) {
        let l = lr(cpu, n)
        guard l.state != .invalid else { return }
        if l.hw && l.state == .pendingActive {
            flag(cpu, l.vINTID, ArchitectureViolation.hwPendingActive)
        }
        if l.hw && (l.pINTID < INTID.sgiCount || l.pINTID >= INTID.spiLimit) {
            flag(cpu, l.pINTID, ArchitectureViolation.hwBadPhysicalINTID)
        }
        if l.vINTID >= INTID.spiLimit && l.vINTID < 8192 {
            flag(cpu, l.vINTID, ArchitectureViolation.reservedVirtualINTID)
        }
        var m = 0
        while m < lrCount {
            if m != n {
                let o = lr(cpu, m)
                if o.state != .invalid && sameInterrupt(o, l) {
                    flag(cpu, l.vINTID, ArchitectureViolation.duplicateVirtualINTID)
                    break
                }
            }
            m += 1
        }
    }
}
