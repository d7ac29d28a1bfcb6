// The guest side of the model: the virtual CPU interface a guest uses
// without exiting (GICv3 ICV_* system registers, GICv2 GICV_* frame) --
// acknowledge, priority drop, deactivation, the running priority -- over the
// list registers the hypervisor side filled, with the priority helpers it
// needs. Each method takes the model's lock.

import GICArchitecture

extension GICModel {
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

    @inline(__always) func aprIndex(_ cpu: Int, _ group: Int, _ index: Int) -> Int {
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
}
