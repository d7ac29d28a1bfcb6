import GICArchitecture

// Locking
// =======
//
// Lock order, outermost first (docs/locking.md says the same):
//
//   0. the platform's stop  `VGICPlatform.stopOtherVCPUs`: the hypervisor's
//                           stop-the-world lock, taken by the vGIC's guest
//                           entry points before (1) for an access that needs
//                           the other vCPUs out of the guest, released after.
//   1. VGIC.lock            one per VM: every interrupt's state, every
//                           vCPU's ap_list and list-register bookkeeping.
//   2. the platform's locks the hardware model's lock (GICModel), or the
//                           hypervisor's per-CPU kick state; taken inside
//                           VGICPlatform calls while VGIC.lock is held.
//
// Nothing under (2) calls back into the vGIC or takes (0) or (1). The
// scenario runner, the stress test and the hypervisor's vCPU loops take (1)
// only through the vGIC's public methods, one call at a time; guest accesses
// that the hardware handles (ICV_* registers, the GICV frame) take only (2).
//
// One VM-wide lock keeps every operation a plain critical section with no
// retry dance (KVM's vgic_queue_irq_unlock). Critical sections are bounded
// by the ap_list length and never allocate.

/// How a VM's interrupt controller is built.
public struct VGICConfiguration: Equatable, Sendable {
    public var version: GICVersion
    public var vcpuCount: Int
    /// INTIDs below 1020 that exist, counting the 32 private ones: a multiple
    /// of 32 from 64 to 1024 (KVM's NR_IRQS).
    public var irqCount: Int
    /// Implemented priority bits, 5...8.
    public var priorityBits: Int
    /// List registers per physical CPU (from ICH_VTR_EL2 on hardware).
    public var listRegisters: Int
    /// LPI and ITS hook: the ITS and its LPI pools (GICv3), or nil for a GIC
    /// without LPIs (docs/its.md).
    public var its: ITSConfiguration?

    public init(version: GICVersion, vcpuCount: Int, irqCount: Int = 256, priorityBits: Int = 5,
                listRegisters: Int = 4, its: ITSConfiguration? = nil) {
        self.version = version
        self.vcpuCount = vcpuCount
        self.irqCount = irqCount
        self.priorityBits = priorityBits
        self.listRegisters = listRegisters
        self.its = its
    }

    func validate() throws(VGICError) {
        if vcpuCount < 1 { throw .invalidConfiguration("a VM needs at least one vCPU") }
        if version == .v2 && vcpuCount > 8 { throw .invalidConfiguration("GICv2 allows at most 8 vCPUs") }
        if version == .v3 && vcpuCount > 512 { throw .invalidConfiguration("GICv3 allows at most 512 vCPUs") }
        if irqCount < 64 || irqCount > 1024 || irqCount % 32 != 0 {
            throw .invalidConfiguration("irqs must be a multiple of 32 from 64 to 1024")
        }
        if priorityBits < 5 || priorityBits > 8 { throw .invalidConfiguration("priority bits must be 5 to 8") }
        if listRegisters < 1 || listRegisters > 16 { throw .invalidConfiguration("list registers must be 1 to 16") }
        if let its {
            if version != .v3 { throw .invalidConfiguration("an ITS needs GICv3") }
            try its.validate()
        }
    }
}

/// Per-vCPU state that lives outside the list registers.
struct VCPUState {
    var inGuest = false
    /// Head of the ap_list: interrupts pending or active for this vCPU.
    var apHead: Int32 = -1
    /// CPU-interface state while the vCPU is out of the guest.
    var vmcr = VMCR()
    /// The VMCR/APRs must be written on the next entry (reset, VMM write, restore).
    var cpuInterfaceDirty = true
    /// List registers written by the last flush.
    var lrsUsed = 0
    /// ICH_HCR.TDIR (or, on GICv2, the DIR page unmapped) at the last flush.
    var dirTraps = false
    /// GICR_WAKER.ProcessorSleep: nothing is forwarded to this CPU interface.
    var processorSleep = false
    /// Folded out of the guest by the vGIC itself for another vCPU's access
    /// (`withOtherVCPUsOut`), to be flushed back in after it.
    var foldedForAccess = false
    /// Bit w set: word w of this vCPU's deactivation record is not empty
    /// (Deactivations.swift).
    var deactivatedWords: UInt32 = 0
}

/// A virtual GIC (GICv3 with affinity routing and one security state, or
/// GICv2) for one VM, on a platform that provides list registers and physical
/// interrupts.
public final class VGIC<Platform: VGICPlatform>: @unchecked Sendable {
    public let configuration: VGICConfiguration
    public let platform: Platform

    let lock = SpinLock()
    let version: GICVersion
    let vcpuCount: Int
    /// INTIDs that exist: 0 ..< intidLimit (at most 1020).
    let intidLimit: UInt32
    let priorityMask: UInt8
    let lrCount: Int
    let apRegisters: Int

    // The mutable state below is only touched with `lock` held. The tables
    // are FixedStorage: allocated once, written in place (an Array in a
    // class costs a uniqueness check per write and a dynamic exclusivity
    // check per access, which measured, were most of the instructions of
    // every vGIC operation: docs/performance.md). The scalars are
    // `@exclusivity(unchecked)`: no code path holds an access to one across
    // a call that accesses it again; the compiler's static checks still apply.
    let irqs: FixedStorage<IRQState>
    let vcpus: FixedStorage<VCPUState>
    /// `vcpuCount * 16` slots: what flush put in each list register.
    let slots: FixedStorage<LRSlot>
    /// `vcpuCount * 8`: AP0R0..3 then AP1R0..3 while the vCPU is out.
    let aprs: FixedStorage<UInt32>
    /// Scratch for flush: candidate IRQ indices in list-register order.
    let chosen: FixedStorage<Int32>
    let chosenKeys: FixedStorage<UInt64>
    /// Scratch for sync: interrupts whose active state a list register carried.
    let representedScratch: FixedStorage<Int32>
    /// Per vCPU, `deactivationWords` words: the deactivations it saw that the
    /// VMM asked to hear of (Deactivations.swift).
    let deactivated: FixedStorage<UInt64>
    /// Bit i % 32 of word i / 32: whether interrupt index i (below
    /// `lpiBase`) is enabled. A mirror of `IRQState.enabled`, written only by
    /// `setEnabled` and `mirrorEnable`, so that an ISENABLER read is one load.
    let enabledWords: FixedStorage<UInt32>
    /// This version's distributor map and its block index (RegisterMap.swift),
    /// copied in at creation: a trapped access decodes its row without the
    /// lazy initialization check and reference counting of a global array.
    let distributorRows: FixedStorage<RegisterRange>
    let distributorBlocks: FixedStorage<UInt8>

    /// GICD_CTLR group enables.
    @exclusivity(unchecked) var distributorGroup0 = false
    @exclusivity(unchecked) var distributorGroup1 = false

    /// Where the guest sees the vGIC's frames (set by `VGICDevice` before the
    /// vGIC is handed out, never changed afterwards; empty for a vGIC built
    /// with `init(configuration:platform:)`, which is reached by region only).
    public internal(set) var addressMap = VGICAddressMap()
    /// Per vCPU: whether its redistributor frame has `GICR_TYPER.Last` (the
    /// last frame of a contiguous run of redistributor regions).
    var redistributorLast: [Bool]
    /// `GICD_IIDR.Revision` as the VMM selected it (`supportedIIDRRevisions`).
    var iidrRevision: UInt8 = latestIIDRRevision

    // LPI and ITS hook (LPI.swift, ITS.swift): LPIs live in `irqs` too, in
    // the slots from `lpiBase` on (none without an ITS), so that the
    // ap_lists, flush and sync treat them as they treat SPIs.
    /// Index of the first LPI slot in `irqs`: the number of SGI, PPI and SPI records.
    let lpiBase: Int
    @exclusivity(unchecked) var lpi: LPIState
    @exclusivity(unchecked) var its: ITSState

    public convenience init(configuration: VGICConfiguration, platform: Platform) throws(VGICError) {
        try configuration.validate()
        self.init(validated: configuration, platform: platform)
    }

    /// A configuration `validate()` accepted. (Throwing before the stored
    /// properties are initialized would tear down the half-built lock, which
    /// the compiler's ownership verifier rejects once the initializer crosses
    /// the module boundary with cross-module optimization.)
    init(validated configuration: VGICConfiguration, platform: Platform) {
        self.configuration = configuration
        self.platform = platform
        version = configuration.version
        vcpuCount = configuration.vcpuCount
        intidLimit = UInt32(min(configuration.irqCount, 1020))
        priorityMask = Priority.mask(bits: configuration.priorityBits)
        lrCount = configuration.listRegisters
        // At most 7 preemption bits: 4 active-priority registers per group.
        apRegisters = 1 << (min(configuration.priorityBits, 7) - 5)

        let total = vcpuCount * 32 + Int(intidLimit) - 32
        lpiBase = total
        lpi = LPIState(base: total, configuration: configuration.its, vcpuCount: configuration.vcpuCount)
        its = ITSState(configuration: configuration.its)
        irqs = FixedStorage(repeating: IRQState(), count: total + lpi.capacity)
        vcpus = FixedStorage(repeating: VCPUState(), count: vcpuCount)
        slots = FixedStorage(repeating: LRSlot(), count: vcpuCount * 16)
        aprs = FixedStorage(repeating: 0, count: vcpuCount * 8)
        chosen = FixedStorage(repeating: -1, count: 17)
        chosenKeys = FixedStorage(repeating: 0, count: 17)
        representedScratch = FixedStorage(repeating: -1, count: 16)
        deactivated = FixedStorage(repeating: 0, count: vcpuCount * ((Int(intidLimit) + 63) / 64))
        enabledWords = FixedStorage(repeating: 0, count: (total + 31) / 32)
        let rows = configuration.version == .v3 ? distributorMapV3 : distributorMapV2
        let blocks = configuration.version == .v3 ? distributorBlocksV3 : distributorBlocksV2
        distributorRows = FixedStorage(repeating: rows[0], count: rows.count)
        for k in 0..<rows.count { distributorRows[k] = rows[k] }
        distributorBlocks = FixedStorage(repeating: 0, count: blocks.count)
        for k in 0..<blocks.count { distributorBlocks[k] = blocks[k] }
        redistributorLast = VGICAddressMap().redistributorLastFlags(vcpuCount: vcpuCount)
        resetState()
    }

    deinit {
        irqs.free()
        vcpus.free()
        slots.free()
        aprs.free()
        chosen.free()
        chosenKeys.free()
        representedScratch.free()
        deactivated.free()
        enabledWords.free()
        distributorRows.free()
        distributorBlocks.free()
    }

    /// Enable or disable interrupt `i` (not an LPI).
    @inline(__always) func setEnabled(_ i: Int, _ on: Bool) {
        irqs[i].enabled = on
        mirrorEnable(i)
    }

    /// Copy interrupt `i`'s enable into `enabledWords` (after its whole
    /// state was replaced).
    @inline(__always) func mirrorEnable(_ i: Int) {
        let bit = UInt32(1) << UInt32(i & 31)
        if irqs[i].enabled { enabledWords[i >> 5] |= bit } else { enabledWords[i >> 5] &= ~bit }
    }

    /// The creation state of every interrupt and CPU interface (docs/scenarios.md,
    /// "The machine"; KVM's vgic_init defaults).
    func resetState() {
        for v in 0..<vcpuCount {
            for id in 0..<32 {
                var s = IRQState()
                s.intid = UInt32(id)
                s.privateOwner = Int32(v)
                s.routedVCPU = Int32(v)
                s.edge = id < 16
                s.enabled = id < 16
                s.group = version == .v3 ? 1 : 0
                irqs[v * 32 + id] = s
                mirrorEnable(v * 32 + id)
            }
            var c = VCPUState()
            c.vmcr = resetVMCR
            vcpus[v] = c
        }
        var id: UInt32 = 32
        while id < intidLimit {
            var s = IRQState()
            s.intid = id
            s.group = version == .v3 ? 1 : 0
            s.routedVCPU = version == .v3 ? 0 : -1
            irqs[spiIndex(id)] = s
            mirrorEnable(spiIndex(id))
            id += 1
        }
        resetLPIs()  // LPI and ITS hook
    }

    /// A CPU interface out of reset: group enables off, PMR 0, EOImode 0,
    /// BPRs at their minimum (7 - preemption bits, at most 7 of them;
    /// GICv2's virtual interface has 5).
    var resetVMCR: VMCR {
        var m = VMCR()
        m.bpr0 = version == .v3 ? UInt8(7 - min(configuration.priorityBits, 7)) : 2
        m.bpr1 = m.bpr0 + 1
        return m
    }

    /// Reset vCPU `vcpu`'s CPU interface as a PE reset does (PSCI CPU_ON of
    /// a vCPU that was off): the VMCR to `resetVMCR`, no active priority.
    /// Loaded on its next entry; the vCPU must be out of the guest. The
    /// distributor and redistributor state is not touched, but for its
    /// hardware-mapped PPIs: the devices behind them (its timers) are reset
    /// with the PE, so they are inactive and not pending, and their physical
    /// twins are released (KVM's kvm_vgic_reset_mapped_irq).
    public func resetCPUInterface(vcpu: Int) throws(VGICError) {
        guard vcpu >= 0 && vcpu < vcpuCount else { throw .noSuchVCPU(vcpu) }
        lock.lock()
        defer { lock.unlock() }
        if vcpus[vcpu].inGuest { throw .vcpuRunning(vcpu) }
        resetMappedPrivateInterrupts(vcpu: vcpu)
        vcpus[vcpu].vmcr = resetVMCR
        for r in 0..<8 { aprs[vcpu * 8 + r] = 0 }
        // Its active priorities are gone: what it acknowledged stays active
        // (the distributor's state) but no EOI of its can end it.
        var j = vcpus[vcpu].apHead
        while j >= 0 {
            irqs[Int(j)].acknowledged = false
            j = irqs[Int(j)].apNext
        }
        vcpus[vcpu].cpuInterfaceDirty = true
    }

    // MARK: Indexing

    @inline(__always) func spiIndex(_ intid: UInt32) -> Int { vcpuCount * 32 + Int(intid) - 32 }

    /// Index of `intid` as seen by vCPU `vcpu` (private interrupts are banked).
    @inline(__always) func index(_ intid: UInt32, vcpu: Int) -> Int {
        intid < 32 ? vcpu * 32 + Int(intid) : spiIndex(intid)
    }

    @inline(__always) func physicalCPU(ofVCPU v: Int) -> Int { v }

    // MARK: Pending state

    @inline(__always) func isPending(_ i: Int) -> Bool {
        irqs[i].pending(v2SGIs: version == .v2)
    }

    @inline(__always)
    func groupEnabledAtDistributor(_ group: UInt8) -> Bool {
        group == 0 ? distributorGroup0 : distributorGroup1
    }

    /// The vCPU whose ap_list the interrupt belongs on now, or -1 (KVM's
    /// vgic_target_oracle): an active interrupt stays where it is active; a
    /// pending, enabled one whose group the distributor forwards goes where
    /// its routing says.
    @inline(__always)
    func targetOracle(_ i: Int) -> Int32 {
        let s = irqs[i]
        return target(of: s, i, forwarded: forwarded(s))
    }

    /// Pending, enabled and in a group the distributor forwards.
    @inline(__always) func forwarded(_ s: IRQState) -> Bool {
        s.enabled && s.pending(v2SGIs: version == .v2) && groupEnabledAtDistributor(s.group)
    }

    /// The target oracle of interrupt `i` whose state is `s`, given
    /// `forwarded(s)` (flush computes it once for the oracle and its key).
    @inline(__always) func target(of s: IRQState, _ i: Int, forwarded: Bool) -> Int32 {
        if s.active {
            return s.apOwner >= 0 ? s.apOwner : s.routedVCPU
        }
        if forwarded {
            if s.oneOfN { return oneOfNTarget(i) }
            // A redistributor whose CPU sleeps (GICR_WAKER.ProcessorSleep)
            // has nothing forwarded: the interrupt waits in the distributor.
            if s.routedVCPU >= 0 && vcpus[Int(s.routedVCPU)].processorSleep { return -1 }
            return s.routedVCPU
        }
        return -1
    }

    /// A vCPU participates in 1-of-N distribution (IROUTER.IRM) while its
    /// redistributor is awake and its CPU interface has the group enabled
    /// (as last seen at an exit).
    @inline(__always) func participates(_ v: Int, group: UInt8) -> Bool {
        !vcpus[v].processorSleep && (group == 0 ? vcpus[v].vmcr.enableGroup0 : vcpus[v].vmcr.enableGroup1)
    }

    /// Where a pending 1-of-N SPI goes: the vCPU that has it now if that one
    /// still participates, else the lowest-numbered one that does, else
    /// vCPU 0 (which picks it up when it enables the group).
    func oneOfNTarget(_ i: Int) -> Int32 {
        let group = irqs[i].group
        let owner = irqs[i].apOwner
        if owner >= 0 && participates(Int(owner), group: group) { return owner }
        for v in 0..<vcpuCount where participates(v, group: group) { return Int32(v) }
        return 0
    }

    // MARK: ap_list

    func apInsert(_ i: Int, vcpu v: Int32) {
        let head = vcpus[Int(v)].apHead
        irqs[i].apOwner = v
        irqs[i].apPrev = -1
        irqs[i].apNext = head
        if head >= 0 { irqs[Int(head)].apPrev = Int32(i) }
        vcpus[Int(v)].apHead = Int32(i)
    }

    func apRemove(_ i: Int) {
        let v = irqs[i].apOwner
        guard v >= 0 else { return }
        let p = irqs[i].apPrev, n = irqs[i].apNext
        if p >= 0 { irqs[Int(p)].apNext = n } else { vcpus[Int(v)].apHead = n }
        if n >= 0 { irqs[Int(n)].apPrev = p }
        irqs[i].apOwner = -1
        irqs[i].apNext = -1
        irqs[i].apPrev = -1
    }

    /// After a change of interrupt `i`'s state: put it on the right ap_list
    /// and kick the vCPU that must see the change (KVM's vgic_queue_irq_unlock).
    /// An interrupt held in a running vCPU's list register stays on that
    /// vCPU's list until it exits; the kick makes it exit.
    func queue(_ i: Int) {
        let target = targetOracle(i)
        let owner = irqs[i].apOwner
        if owner == target {
            if target >= 0 { platform.kick(vcpu: Int(target)) }
            return
        }
        if owner >= 0 {
            if irqs[i].lr >= 0 {
                platform.kick(vcpu: Int(owner))
                return
            }
            apRemove(i)
        }
        if target >= 0 {
            apInsert(i, vcpu: target)
            platform.kick(vcpu: Int(target))
        }
    }

    /// The interrupt is held in the list register of a vCPU that is in the guest.
    @inline(__always) func heldByRunningVCPU(_ i: Int) -> Bool {
        irqs[i].lr >= 0 && irqs[i].apOwner >= 0 && vcpus[Int(irqs[i].apOwner)].inGuest
    }

    // MARK: Routing

    /// Recompute where an SPI goes from its ITARGETSR or IROUTER.
    func updateRouting(_ i: Int) {
        guard irqs[i].privateOwner < 0 else { return }
        if version == .v2 {
            let t = irqs[i].targets
            irqs[i].routedVCPU = t == 0 ? -1 : Int32(t.trailingZeroBitCount)
        } else {
            let r = irqs[i].route
            irqs[i].oneOfN = r & irouterIRM != 0
            if irqs[i].oneOfN {
                // 1-of-N: the target oracle picks a participating vCPU.
                irqs[i].routedVCPU = 0
            } else if let v = Affinity(irouter: r).vcpuIndex, v < vcpuCount {
                irqs[i].routedVCPU = Int32(v)
            } else {
                irqs[i].routedVCPU = -1
            }
        }
    }

    // MARK: VMM: lines and mappings

    func checkInjectable(_ intid: UInt32, vcpu: Int?) throws(VGICError) -> Int {
        if intid >= intidLimit { throw .intidOutOfRange(intid) }
        if intid < 16 { throw .sgiCannotBeALine(intid) }
        if intid < 32 {
            guard let v = vcpu else { throw .vcpuRequiredForPPI(intid) }
            if v < 0 || v >= vcpuCount { throw .noSuchVCPU(v) }
            return v * 32 + Int(intid)
        }
        if vcpu != nil { throw .vcpuNotAllowedForSPI(intid) }
        return spiIndex(intid)
    }

    /// Drive the input line of SPI `intid`, or of PPI `intid` of `vcpu`. An
    /// edge-triggered interrupt latches pending on a 0 → 1 change; a
    /// level-sensitive one is pending while the line is high.
    public func setLine(_ intid: UInt32, level: Bool, vcpu: Int? = nil) throws(VGICError) {
        let i = try checkInjectable(intid, vcpu: vcpu)
        lock.lock()
        defer { lock.unlock() }
        setLineLocked(i, level: level)
    }

    /// `setLine(1)` then `setLine(0)`.
    public func pulse(_ intid: UInt32, vcpu: Int? = nil) throws(VGICError) {
        let i = try checkInjectable(intid, vcpu: vcpu)
        lock.lock()
        defer { lock.unlock() }
        setLineLocked(i, level: true)
        setLineLocked(i, level: false)
    }

    func setLineLocked(_ i: Int, level: Bool) {
        let was = irqs[i].lineLevel
        irqs[i].lineLevel = level
        if irqs[i].edge {
            guard level && !was else { return }
            if irqs[i].pendingLatch && heldByRunningVCPU(i) { irqs[i].repended = true }
            irqs[i].pendingLatch = true
            queue(i)
        } else if level != was {
            // A mapped interrupt whose line the VMM lowered may leave its
            // twin without a reason to be held.
            if !level && irqs[i].hw { settleTwin(i) }
            queue(i)
        }
    }

    // MARK: Queries

    /// Whether the guest's `ICC_DIR_EL1` (GICv2: `GICV_DIR`) traps to the
    /// hypervisor on vCPU `vcpu`'s next run (set by the last flush).
    public func dirTraps(vcpu: Int) -> Bool {
        guard vcpu >= 0 && vcpu < vcpuCount else { return false }
        lock.lock()
        defer { lock.unlock() }
        return vcpus[vcpu].dirTraps
    }

    /// Whether vCPU `vcpu` is between `vcpuEnter` and `vcpuExit`.
    public func isInGuest(vcpu: Int) -> Bool {
        guard vcpu >= 0 && vcpu < vcpuCount else { return false }
        lock.lock()
        defer { lock.unlock() }
        return vcpus[vcpu].inGuest
    }

    /// Whether an interrupt is pending and deliverable to `vcpu` by the vGIC's
    /// state (used by a hypervisor to end WFI).
    public func hasPendingInterrupt(vcpu: Int) -> Bool {
        guard vcpu >= 0 && vcpu < vcpuCount else { return false }
        lock.lock()
        defer { lock.unlock() }
        var i = vcpus[vcpu].apHead
        let vmcr = vcpus[vcpu].vmcr
        while i >= 0 {
            let s = irqs[Int(i)]
            if isPending(Int(i)) && s.enabled && s.priority < vmcr.pmr
                && (s.group == 0 ? vmcr.enableGroup0 : vmcr.enableGroup1) {
                return true
            }
            i = s.apNext
        }
        return false
    }
}
