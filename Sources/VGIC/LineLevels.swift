import GICArchitecture

// The VMM's view of input lines (KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO,
// LINE_LEVEL): 32 interrupts at a time, for save and restore.

extension VGIC {
    // MARK: Line levels (KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO)

    /// The input levels of INTIDs `firstINTID ..< firstINTID + 32` (PPIs:
    /// those of `vcpu`), bit n for `firstINTID + n`: set for a
    /// level-sensitive interrupt whose line is high. SGIs and INTIDs that do
    /// not exist read as 0. Every vCPU must be out of the guest.
    public func vmmLineLevels(vcpu: Int, firstINTID: UInt32) throws(VGICError) -> UInt32 {
        lock.lock()
        defer { lock.unlock() }
        try lineLevelCheck(vcpu: vcpu, firstINTID: firstINTID)
        var bits: UInt32 = 0
        for n in 0..<UInt32(32) {
            let intid = firstINTID &+ n
            guard intid >= 16 && intid < intidLimit else { continue }
            let s = irqs[index(intid, vcpu: vcpu)]
            if !s.edge && s.lineLevel { bits |= 1 << n }
        }
        return bits
    }

    /// Set the input levels of INTIDs `firstINTID ..< firstINTID + 32`
    /// (PPIs: those of `vcpu`) as a VMM restores them: the line alone,
    /// whatever the configuration (so that it may be restored before
    /// ICFGR); an edge-triggered interrupt's pending latch is not touched.
    /// SGIs and INTIDs that do not exist are ignored.
    public func vmmSetLineLevels(vcpu: Int, firstINTID: UInt32, _ bits: UInt32) throws(VGICError) {
        lock.lock()
        defer { lock.unlock() }
        try lineLevelCheck(vcpu: vcpu, firstINTID: firstINTID)
        for n in 0..<UInt32(32) {
            let intid = firstINTID &+ n
            guard intid >= 16 && intid < intidLimit else { continue }
            let i = index(intid, vcpu: vcpu)
            let level = bits & (1 << n) != 0
            guard irqs[i].lineLevel != level else { continue }
            irqs[i].lineLevel = level
            if !level && irqs[i].hw { settleTwin(i) }
            queue(i)
        }
    }

    func lineLevelCheck(vcpu: Int, firstINTID: UInt32) throws(VGICError) {
        guard firstINTID % 32 == 0 else { throw .register(.levelInfoNotAligned) }
        guard vcpu >= 0 && vcpu < vcpuCount else { throw .noSuchVCPU(vcpu) }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
    }
}
