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

    private let lock = SpinLock()
    private let lrCount: Int
    private let priorityMask: UInt8
    private let aprCount: Int
    /// Shift from an 8-bit group priority to its active-priority bit number.
    private let aprShift: Int

    // The state below is only touched with `lock` held, one access at a
    // time: `@exclusivity(unchecked)` drops the runtime's dynamic
    // exclusivity check on each access, which was most of the model's cost
    // per list-register or system-register access (docs/performance.md).

    /// Raw list registers, `cpu * lrCount + n` (GICv2: zero-extended GICH_LR).
    @exclusivity(unchecked) private var lrs: [UInt64]
    @exclusivity(unchecked) private var hcrs: [UInt64]
    @exclusivity(unchecked) private var vmcrs: [VMCR]
    /// Active priorities, `(cpu * 2 + group) * 4 + index`.
    @exclusivity(unchecked) private var aprs: [UInt32]
    /// Per-CPU private interrupts, `cpu * 32 + intid`: flag bits below.
    @exclusivity(unchecked) private var privateFlags: [UInt8]
    /// SPIs indexed by INTID (0..<32 unused).
    @exclusivity(unchecked) private var spiFlags: [UInt8]
    @exclusivity(unchecked) private var recorded: [ArchitectureViolation]

    private static let flagLine: UInt8 = 1
    private static let flagLatch: UInt8 = 2
    private static let flagActive: UInt8 = 4
    /// Edge-triggered: a rising line sets the latch; the line itself is not pending.
    private static let flagEdge: UInt8 = 8

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

    private func flag(_ cpu: Int, _ intid: UInt32, _ message: StaticString) {
        recorded.append(ArchitectureViolation(cpu: cpu, intid: intid, message: message))
    }

    private func cpuOK(_ cpu: Int) -> Bool { cpu >= 0 && cpu < cpuCount }

    /// Hypervisor-side CPU check: records a violation for a bad index.
    private func hypCPU(_ cpu: Int) -> Bool {
        if cpuOK(cpu) { return true }
        flag(cpu, 0, ArchitectureViolation.badCPU)
        return false
    }

    // MARK: - List-register helpers (lock held)

    @inline(__always) private func decode(_ raw: UInt64) -> ListRegister {
        version == .v3 ? ICH_LR.decode(raw) : GICH_LR.decode(UInt32(truncatingIfNeeded: raw))
    }

    @inline(__always) private func lr(_ cpu: Int, _ n: Int) -> ListRegister {
        decode(lrs[cpu * lrCount + n])
    }

    private func setState(_ cpu: Int, _ n: Int, _ state: ListRegisterState) {
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
    @inline(__always) private func sameInterrupt(_ a: ListRegister, _ b: ListRegister) -> Bool {
        guard a.vINTID == b.vINTID else { return false }
        if version == .v2 && a.vINTID < INTID.sgiCount { return a.sourceCPU == b.sourceCPU }
        return true
    }

    private func checkWrittenLR(_ cpu: Int, _ n: Int) {
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

    // MARK: - Priority helpers (lock held)

    /// Mask keeping the group-priority bits of a priority in `group`
    /// (the VGroupBits() pseudocode; QEMU icv_gprio_mask).
    private func groupPriorityMask(_ cpu: Int, _ group: UInt8) -> UInt8 {
        let v = vmcrs[cpu]
        var bpr: Int
        if group == 0 || v.cbpr {
            bpr = Int(v.bpr0)
        } else {
            bpr = Int(v.bpr1)
            bpr = bpr < 1 ? 0 : bpr - 1
        }
        return UInt8(truncatingIfNeeded: UInt32(0xFF) << UInt32(bpr + 1))
    }

    @inline(__always) private func aprIndex(_ cpu: Int, _ group: Int, _ index: Int) -> Int {
        (cpu * 2 + group) * 4 + index
    }

    /// Running priority: the priority of the lowest set bit over AP0R|AP1R.
    private func runningPriority(_ cpu: Int) -> UInt8 {
        var i = 0
        while i < aprCount {
            let a = aprs[aprIndex(cpu, 0, i)] | aprs[aprIndex(cpu, 1, i)]
            if a != 0 {
                return UInt8(truncatingIfNeeded: (i * 32 + a.trailingZeroBitCount) << aprShift)
            }
            i += 1
        }
        return Priority.idle
    }

    /// Priority drop: clears the lowest set active-priority bit (group 0 wins
    /// a tie) and returns its priority, or 0xFF if none was set.
    private func dropPriority(_ cpu: Int) -> UInt8 {
        var i = 0
        while i < aprCount {
            let i0 = aprIndex(cpu, 0, i)
            let i1 = aprIndex(cpu, 1, i)
            let a0 = aprs[i0]
            let a1 = aprs[i1]
            if a0 != 0 || a1 != 0 {
                let c0 = a0.trailingZeroBitCount
                let c1 = a1.trailingZeroBitCount
                let bit: Int
                if c0 <= c1 {
                    aprs[i0] = a0 & (a0 &- 1)
                    bit = c0
                } else {
                    aprs[i1] = a1 & (a1 &- 1)
                    bit = c1
                }
                return UInt8(truncatingIfNeeded: (i * 32 + bit) << aprShift)
            }
            i += 1
        }
        return Priority.idle
    }

    @inline(__always) private func groupEnabled(_ cpu: Int, _ group: UInt8) -> Bool {
        group == 0 ? vmcrs[cpu].enableGroup0 : vmcrs[cpu].enableGroup1
    }

    /// Index of the highest-priority pending virtual interrupt, or -1.
    private func hppiIndex(_ cpu: Int) -> Int {
        let v = vmcrs[cpu]
        guard v.enableGroup0 || v.enableGroup1 else { return -1 }
        var best = -1
        var bestPriority = Priority.idle
        var n = 0
        while n < lrCount {
            let l = lr(cpu, n)
            if l.state == .pending && groupEnabled(cpu, l.group) {
                let p = l.priority & priorityMask
                if p < bestPriority {
                    bestPriority = p
                    best = n
                }
            }
            n += 1
        }
        return best
    }

    /// CanSignalVirtualInterrupt for the (pending, enabled) LR `n`.
    private func canSignal(_ cpu: Int, _ n: Int) -> Bool {
        guard hcrs[cpu] & HCR.en != 0 else { return false }
        let l = lr(cpu, n)
        let p = l.priority & priorityMask
        guard p < vmcrs[cpu].pmr else { return false }
        let running = runningPriority(cpu)
        if running == Priority.idle { return true }
        let mask = groupPriorityMask(cpu, l.group)
        return p & mask < running & mask
    }

    /// The value IAR/HPPIR return for LR `n`: vINTID (GICv2 SGIs: | CPUID << 10).
    private func interruptID(_ l: ListRegister) -> UInt32 {
        if version == .v2 && l.vINTID < INTID.sgiCount {
            return l.vINTID | UInt32(l.sourceCPU & 7) << 10
        }
        return l.vINTID
    }

    /// Acknowledge the HPPI if it is in one of the groups accepted.
    /// `group1Reports1022`: GICv2 GICV_IAR with AckCtl == 0 and a Group 1 HPPI.
    private func acknowledge(_ cpu: Int, acceptGroup0: Bool, acceptGroup1: Bool,
                             group1Reports1022: Bool) -> UInt32 {
        let n = hppiIndex(cpu)
        guard n >= 0 else { return INTID.spurious }
        let l = lr(cpu, n)
        let accepted = l.group == 0 ? acceptGroup0 : acceptGroup1
        guard accepted else {
            if l.group == 1 && group1Reports1022 && canSignal(cpu, n) { return INTID.spuriousGroup1 }
            return INTID.spurious
        }
        guard canSignal(cpu, n) else { return INTID.spurious }
        if l.vINTID >= INTID.spiLimit && l.vINTID < 8192 {
            // Special INTID in an LR: Pending -> Invalid, the bogus ID is returned.
            setState(cpu, n, .invalid)
            return l.vINTID
        }
        let gprio = (l.priority & priorityMask) & groupPriorityMask(cpu, l.group)
        let bit = Int(gprio) >> aprShift
        let aprGroup = version == .v2 ? 0 : Int(l.group)
        let ai = aprIndex(cpu, aprGroup, bit / 32)
        aprs[ai] |= UInt32(1) << UInt32(bit % 32)
        setState(cpu, n, .active)
        return interruptID(l)
    }

    private func highestPending(_ cpu: Int, group: UInt8, group1Reports1022: Bool = false,
                                anyGroup: Bool = false) -> UInt32 {
        let n = hppiIndex(cpu)
        guard n >= 0 else { return INTID.spurious }
        let l = lr(cpu, n)
        if anyGroup || l.group == group { return interruptID(l) }
        if l.group == 1 && group1Reports1022 { return INTID.spuriousGroup1 }
        return INTID.spurious
    }

    /// FindActiveVirtualInterrupt: a list register in Active or Pending+Active
    /// state for this interrupt, or -1.
    private func findActive(_ cpu: Int, _ intid: UInt32, _ sourceCPU: UInt8) -> Int {
        var n = 0
        while n < lrCount {
            let l = lr(cpu, n)
            if l.state.isActive && l.vINTID == intid {
                if version == .v3 || intid >= INTID.sgiCount || l.sourceCPU == sourceCPU { return n }
            }
            n += 1
        }
        return -1
    }

    private func incrementEOICount(_ cpu: Int) {
        var h = HCR(rawValue: hcrs[cpu])
        h.eoiCount = h.eoiCount &+ 1
        hcrs[cpu] = h.rawValue
    }

    private func deactivate(_ cpu: Int, _ n: Int) {
        let l = lr(cpu, n)
        if l.hw {
            let p = l.pINTID
            if let slot = physicalSlot(p, cpu) {
                if flags(slot) & GICModel.flagActive != 0 {
                    setFlag(slot, GICModel.flagActive, false)
                } else {
                    flag(cpu, p, ArchitectureViolation.hwDeactivateInactive)
                }
            }
        }
        setState(cpu, n, l.state == .pendingActive ? .pending : .invalid)
    }

    /// Write to EOIR / AEOIR (GICv3 ICV_EOIR0/1: `group` is the register's group;
    /// GICv2: `group` is nil, the shared APR makes the groups indistinguishable).
    private func endOfInterrupt(_ cpu: Int, _ value: UInt64, group: UInt8?) {
        let (intid, source) = splitID(value)
        // A virtual LPI (GICv3) has no active state to deactivate later: its
        // EOI deactivates its list register whatever EOImode says, and one
        // that no list register holds only drops the priority, without
        // counting in EOIcount (VirtualWriteEOIR0/1).
        let lpi = version == .v3 && LPI.isLPI(intid)
        guard intid < INTID.spiLimit || lpi else { return }
        let dropped = dropPriority(cpu)
        guard dropped != Priority.idle else { return }
        guard !vmcrs[cpu].eoiMode || lpi else { return }
        let n = findActive(cpu, intid, source)
        guard n >= 0 else {
            if !lpi { incrementEOICount(cpu) }
            return
        }
        let l = lr(cpu, n)
        if let g = group, l.group != g { return }
        let gprio = (l.priority & priorityMask) & groupPriorityMask(cpu, l.group)
        guard gprio == dropped else { return }
        deactivate(cpu, n)
    }

    private func deactivateInterrupt(_ cpu: Int, _ value: UInt64) {
        let (intid, source) = splitID(value)
        guard intid < INTID.spiLimit else { return }
        guard vmcrs[cpu].eoiMode else { return }
        let n = findActive(cpu, intid, source)
        if n < 0 {
            incrementEOICount(cpu)
        } else {
            deactivate(cpu, n)
        }
    }

    @inline(__always) private func splitID(_ value: UInt64) -> (UInt32, UInt8) {
        if version == .v3 { return (UInt32(value & 0xFF_FFFF), 0) }
        return (UInt32(value & 0x3FF), UInt8((value >> 10) & 7))
    }

    // MARK: - Derived registers (lock held)

    private func eisr(_ cpu: Int) -> UInt64 {
        var bits: UInt64 = 0
        var n = 0
        while n < lrCount {
            let l = lr(cpu, n)
            if l.state == .invalid && !l.hw && l.eoi { bits |= UInt64(1) << UInt64(n) }
            n += 1
        }
        return bits
    }

    private func elrsr(_ cpu: Int) -> UInt64 {
        var bits: UInt64 = 0
        var n = 0
        while n < lrCount {
            let l = lr(cpu, n)
            if l.state == .invalid && (l.hw || !l.eoi) { bits |= UInt64(1) << UInt64(n) }
            n += 1
        }
        return bits
    }

    private func misr(_ cpu: Int) -> UInt64 {
        let h = HCR(rawValue: hcrs[cpu])
        var valid = 0
        var seenPending = false
        var n = 0
        while n < lrCount {
            let s = lr(cpu, n).state
            if s != .invalid { valid += 1 }
            if s == .pending { seenPending = true }
            n += 1
        }
        let v = vmcrs[cpu]
        var m: UInt64 = 0
        if eisr(cpu) != 0 { m |= MISR.eoi }
        if h.has(HCR.uie) && valid <= 1 { m |= MISR.u }
        if h.has(HCR.lrenpie) && h.eoiCount != 0 { m |= MISR.lrenp }
        if h.has(HCR.npie) && !seenPending { m |= MISR.np }
        if h.has(HCR.vgrp0eie) && v.enableGroup0 { m |= MISR.vgrp0e }
        if h.has(HCR.vgrp0die) && !v.enableGroup0 { m |= MISR.vgrp0d }
        if h.has(HCR.vgrp1eie) && v.enableGroup1 { m |= MISR.vgrp1e }
        if h.has(HCR.vgrp1die) && !v.enableGroup1 { m |= MISR.vgrp1d }
        return m
    }

    /// VMCR as the hardware keeps it: unimplemented PMR bits RAZ, BPRs at
    /// least their minimum.
    private func normalized(_ v: VMCR) -> VMCR {
        var v = v
        v.pmr &= priorityMask
        let min0 = vtr.minimumBPR0
        if v.bpr0 < min0 { v.bpr0 = min0 }
        if v.bpr1 < min0 + 1 { v.bpr1 = min0 + 1 }
        return v
    }

    // MARK: - Hypervisor side

    public func readLR(cpu: Int, _ n: Int) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return 0 }
        guard n >= 0 && n < lrCount else {
            flag(cpu, 0, ArchitectureViolation.badListRegister)
            return 0
        }
        return lrs[cpu * lrCount + n]
    }

    public func writeLR(cpu: Int, _ n: Int, _ value: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return }
        guard n >= 0 && n < lrCount else {
            flag(cpu, 0, ArchitectureViolation.badListRegister)
            return
        }
        lrs[cpu * lrCount + n] = version == .v3 ? value : value & 0xFFFF_FFFF
        checkWrittenLR(cpu, n)
    }

    public func readHCR(cpu: Int) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return 0 }
        return hcrs[cpu]
    }

    public func writeHCR(cpu: Int, _ value: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return }
        var keep: UInt64 = 0xFF | HCR.eoiCountMask << HCR.eoiCountShift
        if version == .v3 { keep |= HCR.tc | HCR.tall0 | HCR.tall1 | HCR.tdir }
        hcrs[cpu] = value & keep
    }

    public func readVMCR(cpu: Int) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return 0 }
        return version == .v3 ? vmcrs[cpu].v3 : UInt64(vmcrs[cpu].v2)
    }

    public func writeVMCR(cpu: Int, _ value: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return }
        let v = version == .v3 ? VMCR(v3: value) : VMCR(v2: UInt32(truncatingIfNeeded: value))
        vmcrs[cpu] = normalized(v)
    }

    public func readMISR(cpu: Int) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return 0 }
        return misr(cpu)
    }

    public func readEISR(cpu: Int) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return 0 }
        return eisr(cpu)
    }

    public func readELRSR(cpu: Int) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu) else { return 0 }
        return elrsr(cpu)
    }

    /// `ICH_AP0R<index>_EL2` (group 0) / `ICH_AP1R<index>_EL2` (group 1);
    /// GICv2: group 0 index 0 is GICH_APR, the rest RAZ/WI. Registers beyond
    /// `vtr.activePriorityRegisters` are RAZ/WI.
    public func readAPR(cpu: Int, group: Int, index: Int) -> UInt32 {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu), aprExists(group, index) else { return 0 }
        return aprs[aprIndex(cpu, group, index)]
    }

    public func writeAPR(cpu: Int, group: Int, index: Int, _ value: UInt32) {
        lock.lock()
        defer { lock.unlock() }
        guard hypCPU(cpu), aprExists(group, index) else { return }
        aprs[aprIndex(cpu, group, index)] = value
    }

    private func aprExists(_ group: Int, _ index: Int) -> Bool {
        if version == .v2 { return group == 0 && index == 0 }
        return (group == 0 || group == 1) && index >= 0 && index < aprCount
    }

    /// HCR.En && MISR != 0.
    public func maintenanceInterruptPending(cpu: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard cpuOK(cpu) else { return false }
        return hcrs[cpu] & HCR.en != 0 && misr(cpu) != 0
    }

    // MARK: - Guest side

    public func virtualInterruptSignalled(cpu: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard cpuOK(cpu) else { return false }
        let n = hppiIndex(cpu)
        return n >= 0 && canSignal(cpu, n)
    }

    /// GICv3 only: the guest's ICC_* access as the ICV_* registers behave.
    public func readSystemRegister(cpu: Int, _ reg: CPUInterfaceRegister) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        guard version == .v3, cpuOK(cpu) else { return 0 }
        let v = vmcrs[cpu]
        switch reg {
        case .iar0:
            return UInt64(acknowledge(cpu, acceptGroup0: true, acceptGroup1: false, group1Reports1022: false))
        case .iar1:
            return UInt64(acknowledge(cpu, acceptGroup0: false, acceptGroup1: true, group1Reports1022: false))
        case .hppir0: return UInt64(highestPending(cpu, group: 0))
        case .hppir1: return UInt64(highestPending(cpu, group: 1))
        case .rpr: return UInt64(runningPriority(cpu))
        case .pmr: return UInt64(v.pmr)
        case .bpr0: return UInt64(v.bpr0)
        case .bpr1:
            if v.cbpr { return UInt64(v.bpr0 >= 7 ? 7 : v.bpr0 + 1) }
            return UInt64(v.bpr1)
        case .ctlr:
            var c: UInt64 = UInt64(vtr.priorityBits - 1) << 8 | 1 << 15
            if v.eoiMode { c |= 1 << 1 }
            if v.cbpr { c |= 1 }
            return c
        case .igrpen0: return v.enableGroup0 ? 1 : 0
        case .igrpen1: return v.enableGroup1 ? 1 : 0
        case .ap0r0, .ap0r1, .ap0r2, .ap0r3:
            let i = Int(reg.rawValue - CPUInterfaceRegister.ap0r0.rawValue)
            return i < aprCount ? UInt64(aprs[aprIndex(cpu, 0, i)]) : 0
        case .ap1r0, .ap1r1, .ap1r2, .ap1r3:
            let i = Int(reg.rawValue - CPUInterfaceRegister.ap1r0.rawValue)
            return i < aprCount ? UInt64(aprs[aprIndex(cpu, 1, i)]) : 0
        case .sre: return 0x7
        case .eoir0, .eoir1, .dir, .sgi0r, .sgi1r, .asgi1r: return 0
        }
    }

    public func writeSystemRegister(cpu: Int, _ reg: CPUInterfaceRegister, _ value: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard version == .v3, cpuOK(cpu) else { return }
        switch reg {
        case .eoir0: endOfInterrupt(cpu, value, group: 0)
        case .eoir1: endOfInterrupt(cpu, value, group: 1)
        case .dir: deactivateInterrupt(cpu, value)
        case .pmr: vmcrs[cpu].pmr = UInt8(truncatingIfNeeded: value) & priorityMask
        case .bpr0: writeBPR(cpu, group: 0, value)
        case .bpr1: writeBPR(cpu, group: 1, value)
        case .ctlr:
            vmcrs[cpu].eoiMode = value & (1 << 1) != 0
            vmcrs[cpu].cbpr = value & 1 != 0
        case .igrpen0: vmcrs[cpu].enableGroup0 = value & 1 != 0
        case .igrpen1: vmcrs[cpu].enableGroup1 = value & 1 != 0
        case .ap0r0, .ap0r1, .ap0r2, .ap0r3:
            let i = Int(reg.rawValue - CPUInterfaceRegister.ap0r0.rawValue)
            if i < aprCount { aprs[aprIndex(cpu, 0, i)] = UInt32(truncatingIfNeeded: value) }
        case .ap1r0, .ap1r1, .ap1r2, .ap1r3:
            let i = Int(reg.rawValue - CPUInterfaceRegister.ap1r0.rawValue)
            if i < aprCount { aprs[aprIndex(cpu, 1, i)] = UInt32(truncatingIfNeeded: value) }
        case .iar0, .iar1, .hppir0, .hppir1, .rpr, .sgi0r, .sgi1r, .asgi1r, .sre: break
        }
    }

    /// BPR write: raised to the minimum; group 1 writes are ignored with CBPR.
    private func writeBPR(_ cpu: Int, group: Int, _ value: UInt64) {
        var b = UInt8(value & 7)
        let min0 = vtr.minimumBPR0
        if group == 0 {
            if b < min0 { b = min0 }
            vmcrs[cpu].bpr0 = b
        } else {
            if vmcrs[cpu].cbpr { return }
            if b < min0 + 1 { b = min0 + 1 }
            vmcrs[cpu].bpr1 = b
        }
    }

    /// GICv2 only: the GICV frame.
    public func readGICV(cpu: Int, offset: UInt32, width: Int) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        guard version == .v2, cpuOK(cpu), width == 4, offset & 3 == 0, offset < GICC.size else { return 0 }
        let v = vmcrs[cpu]
        switch offset {
        case GICC.ctlr: return UInt64(v.v2 & 0x3FF)
        case GICC.pmr: return UInt64(v.pmr)
        case GICC.bpr: return UInt64(v.bpr0)
        case GICC.iar:
            return UInt64(acknowledge(cpu, acceptGroup0: true, acceptGroup1: v.ackCtl, group1Reports1022: true))
        case GICC.rpr: return UInt64(runningPriority(cpu))
        case GICC.hppir:
            return UInt64(highestPending(cpu, group: 0, group1Reports1022: true, anyGroup: v.ackCtl))
        case GICC.abpr: return UInt64(v.bpr1)
        case GICC.aiar:
            return UInt64(acknowledge(cpu, acceptGroup0: false, acceptGroup1: true, group1Reports1022: false))
        case GICC.ahppir: return UInt64(highestPending(cpu, group: 1))
        case GICC.apr0: return UInt64(aprs[aprIndex(cpu, 0, 0)])
        case GICC.iidr: return 0x0002_043B
        default: return 0
        }
    }

    public func writeGICV(cpu: Int, offset: UInt32, width: Int, _ value: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        guard version == .v2, cpuOK(cpu), width == 4, offset & 3 == 0, offset < GICC.size else { return }
        let w = UInt32(truncatingIfNeeded: value)
        switch offset {
        case GICC.ctlr:
            var v = VMCR(v2: w & 0x3FF)
            v.pmr = vmcrs[cpu].pmr
            v.bpr0 = vmcrs[cpu].bpr0
            v.bpr1 = vmcrs[cpu].bpr1
            vmcrs[cpu] = v
        case GICC.pmr: vmcrs[cpu].pmr = UInt8(truncatingIfNeeded: w) & priorityMask
        case GICC.bpr: writeBPR(cpu, group: 0, UInt64(w))
        case GICC.abpr:
            var b = UInt8(w & 7)
            if b < vtr.minimumBPR0 + 1 { b = vtr.minimumBPR0 + 1 }
            vmcrs[cpu].bpr1 = b
        case GICC.eoir: endOfInterrupt(cpu, UInt64(w), group: nil)
        case GICC.aeoir: endOfInterrupt(cpu, UInt64(w), group: nil)
        case GICC.dir: deactivateInterrupt(cpu, UInt64(w))
        case GICC.apr0: aprs[aprIndex(cpu, 0, 0)] = w
        default: break
        }
    }

    // MARK: - Physical interrupts

    private enum Slot {
        case privateSlot(Int)
        case spi(Int)
    }

    private func physicalSlot(_ intid: UInt32, _ cpu: Int) -> Slot? {
        if intid < INTID.privateCount {
            guard cpuOK(cpu) else { return nil }
            return .privateSlot(cpu * 32 + Int(intid))
        }
        if intid < INTID.spiLimit { return .spi(Int(intid)) }
        return nil
    }

    private func flags(_ s: Slot) -> UInt8 {
        switch s {
        case .privateSlot(let i): return privateFlags[i]
        case .spi(let i): return spiFlags[i]
        }
    }

    private func setFlag(_ s: Slot, _ bit: UInt8, _ on: Bool) {
        switch s {
        case .privateSlot(let i):
            if on { privateFlags[i] |= bit } else { privateFlags[i] &= ~bit }
        case .spi(let i):
            if on { spiFlags[i] |= bit } else { spiFlags[i] &= ~bit }
        }
    }

    private func readFlag(_ intid: UInt32, _ cpu: Int, _ bit: UInt8) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let s = physicalSlot(intid, cpu) else { return false }
        return flags(s) & bit != 0
    }

    private func writeFlag(_ intid: UInt32, _ cpu: Int, _ bit: UInt8, _ on: Bool) {
        lock.lock()
        defer { lock.unlock() }
        guard let s = physicalSlot(intid, cpu) else { return }
        setFlag(s, bit, on)
    }

    /// The device's line. An edge-triggered interrupt latches a rising edge.
    public func setPhysicalLine(_ intid: UInt32, cpu: Int, _ level: Bool) {
        lock.lock()
        defer { lock.unlock() }
        guard let s = physicalSlot(intid, cpu) else { return }
        let f = flags(s)
        if level && f & GICModel.flagEdge != 0 && f & GICModel.flagLine == 0 { setFlag(s, GICModel.flagLatch, true) }
        setFlag(s, GICModel.flagLine, level)
    }

    /// GICD_ICFGR of a physical SPI (private interrupts' triggers are fixed here).
    public func setPhysicalEdgeTriggered(_ intid: UInt32, _ edge: Bool) {
        guard intid >= INTID.privateCount else { return }
        writeFlag(intid, 0, GICModel.flagEdge, edge)
    }

    public func physicalEdgeTriggered(_ intid: UInt32, cpu: Int) -> Bool {
        readFlag(intid, cpu, GICModel.flagEdge)
    }

    public func physicalLineLevel(_ intid: UInt32, cpu: Int) -> Bool {
        readFlag(intid, cpu, GICModel.flagLine)
    }

    /// Pending = pending latch || (level-sensitive and the line high).
    public func physicalPending(_ intid: UInt32, cpu: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let s = physicalSlot(intid, cpu) else { return false }
        let f = flags(s)
        return f & GICModel.flagLatch != 0 || (f & GICModel.flagLine != 0 && f & GICModel.flagEdge == 0)
    }

    public func physicalActive(_ intid: UInt32, cpu: Int) -> Bool {
        readFlag(intid, cpu, GICModel.flagActive)
    }

    /// Sets or clears the pending latch (the line level is unaffected).
    public func setPhysicalPending(_ intid: UInt32, cpu: Int, _ pending: Bool) {
        writeFlag(intid, cpu, GICModel.flagLatch, pending)
    }

    public func setPhysicalActive(_ intid: UInt32, cpu: Int, _ active: Bool) {
        writeFlag(intid, cpu, GICModel.flagActive, active)
    }
}
