// The hypervisor side of the model: what a hypervisor programs and reads as
// it would the real ICH_*_EL2 system registers (GICv3) or the GICH_* frame
// (GICv2) -- list registers, HCR, VMCR, the active priorities -- and the
// registers derived from them (MISR, EISR, ELRSR). Each method takes the
// model's lock; a rule broken here is recorded as a violation.

import GICArchitecture

extension GICModel {
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
}
