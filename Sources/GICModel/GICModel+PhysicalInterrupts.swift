// The physical interrupt state of the model's distributor and
// redistributors: per INTID (per CPU for SGIs and PPIs) a line level, a
// pending latch, an active bit and (SPIs) edge or level, which the
// hypervisor uses for the physical twins of hardware-mapped interrupts.
// Each method takes the model's lock.

import GICArchitecture

extension GICModel {
    // MARK: - Physical interrupts

    enum Slot {
        case privateSlot(Int)
        case spi(Int)
    }

    func physicalSlot(_ intid: UInt32, _ cpu: Int) -> Slot? {
        if intid < INTID.privateCount {
            guard cpuOK(cpu) else { return nil }
            return .privateSlot(cpu * 32 + Int(intid))
        }
        if intid < INTID.spiLimit { return .spi(Int(intid)) }
        return nil
    }

    func flags(_ s: Slot) -> UInt8 {
        switch s {
        case .privateSlot(let i): return privateFlags[i]
        case .spi(let i): return spiFlags[i]
        }
    }

    func setFlag(_ s: Slot, _ bit: UInt8, _ on: Bool) {
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
