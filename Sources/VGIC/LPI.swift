import GICArchitecture

// LPIs (docs/its.md)
// ==================
//
// An LPI's interrupt state is an `IRQState` like an SPI's, in a slot of the
// same `irqs` array: the slots `lpiBase ..< lpiBase + lpis` follow the SGI,
// PPI and SPI records. So an LPI goes on the ap_list of the vCPU its
// collection names, and flush, sync, the kicks and the maintenance
// interrupts treat it as they treat an edge-triggered SPI of group 1, with no
// HW bit. Why a pool rather than one record per possible INTID: 57344 LPI
// INTIDs of about 90 bytes each would be 5 MB per VM, of which a guest maps a
// few hundred; a pool sized by the VMM (`ITSConfiguration.lpis`) with an
// INTID -> slot map (`IDMap`, O(1)) costs the same on the MSI path and
// allocates nothing after creation.
//
// A slot is taken when the first ITE names its INTID (MAPTI, MAPI, a
// restore) and counts the ITEs naming it (KVM's refcount on a vgic_irq).
// When the last one goes (DISCARD, MAPD), the LPI loses its pending state
// and the slot is freed as soon as nothing holds it any more: not active,
// in no list register, on no ap_list. Until then the guest can still end it.
//
// The redistributors, as KVM's: one `GICR_PROPBASER` shared by all (a write
// from any redistributor whose LPIs are off sets it), a `GICR_PENDBASER` and
// `GICR_CTLR.EnableLPIs` per vCPU. The configuration table is read when an
// LPI is mapped and on INV/INVALL/GICR_INVLPIR/GICR_INVALLR (the vGIC caches
// it, as the architecture allows); the pending table is read when a vCPU's
// LPIs are enabled (unless PTZ) and when an LPI is mapped, and written back
// only on the VMM's request (`saveLPIPendingTables`).

/// The redistributors' LPI registers and the LPI slot pool.
struct LPIState {
    /// `irqs` index of slot 0.
    let base: Int
    /// Slots (0 without an ITS: no LPIs).
    let capacity: Int
    /// LPI INTID -> slot number (0 ..< capacity).
    var byINTID: IDMap
    var free: FreeList
    /// Per slot: how many ITEs name its LPI.
    var references: [Int32]
    /// `GICR_PROPBASER`, one for every redistributor.
    var propbaser: UInt64 = LPIState.initialBaser
    /// Per vCPU: `GICR_PENDBASER` (PTZ as written; it reads as 0).
    var pendbaser: [UInt64]
    /// Per vCPU: `GICR_CTLR.EnableLPIs`.
    var enabled: [Bool]

    /// KVM's reset value of PROPBASER and PENDBASER: Inner Shareable,
    /// inner Read-allocate Write-back, outer the same as inner.
    static let initialBaser: UInt64 = 1 << 10 | 3 << 7

    init(base: Int, configuration: ITSConfiguration?, vcpuCount: Int) {
        self.base = base
        capacity = configuration?.lpis ?? 0
        byINTID = IDMap(capacity: capacity)
        free = FreeList(capacity: capacity)
        references = [Int32](repeating: 0, count: capacity)
        pendbaser = [UInt64](repeating: LPIState.initialBaser, count: capacity > 0 ? vcpuCount : 0)
        enabled = [Bool](repeating: false, count: capacity > 0 ? vcpuCount : 0)
    }
}

extension VGIC {
    /// Whether this vGIC has LPIs (it has an ITS).
    @inline(__always) var hasLPIs: Bool { lpi.capacity > 0 }

    /// Every LPI slot free, the redistributors' LPI registers and the ITS at
    /// reset (part of `resetState`).
    func resetLPIs() {
        for k in 0..<lpi.capacity {
            irqs[lpiBase + k] = IRQState()
            lpi.references[k] = 0
        }
        lpi.byINTID.removeAll()
        lpi.free.reset()
        lpi.propbaser = LPIState.initialBaser
        for v in 0..<lpi.enabled.count {
            lpi.pendbaser[v] = LPIState.initialBaser
            lpi.enabled[v] = false
        }
        resetITS()
    }

    // MARK: Slots

    /// The `irqs` index of LPI `intid`, or -1 when it has no slot.
    @inline(__always) func lpiIndex(_ intid: UInt32) -> Int {
        let s = lpi.byINTID.find(UInt64(intid))
        return s < 0 ? -1 : lpiBase + Int(s)
    }

    @inline(__always) func isLPISlot(_ i: Int) -> Bool { i >= lpiBase }

    /// An ITE names LPI `intid`, targeting vCPU `target` (-1: its collection
    /// is not mapped). Returns the LPI's `irqs` index, or -1 when the
    /// mapping must fail, as KVM's vgic_add_lpi fails: no slot is free, or
    /// the LPI is new and its configuration byte or (with a target) its
    /// pending bit cannot be read from guest memory. A new LPI takes its
    /// priority and enable from the configuration table and its pending
    /// state from the target's pending table (consuming the bit there).
    func referenceLPI(_ intid: UInt32, target: Int32) -> Int {
        let existing = lpiIndex(intid)
        if existing >= 0 {
            let k = existing - lpiBase
            if lpi.references[k] == 0 && target >= 0 {
                // Unmapped but still held by the guest: it is mapped again.
                irqs[existing].routedVCPU = target
            }
            lpi.references[k] += 1
            return existing
        }
        guard let property = readLPIProperty(intid) else { return -1 }
        let slot = lpi.free.take()
        guard slot >= 0 else { return -1 }
        let i = lpiBase + Int(slot)
        var s = IRQState()
        s.intid = intid
        s.edge = true
        s.group = 1
        s.routedVCPU = target
        s.priority = LPI.priority(ofProperty: property) & priorityMask
        s.enabled = LPI.enabled(ofProperty: property)
        irqs[i] = s
        if target >= 0 {
            guard let pending = consumePendingBit(intid, vcpu: Int(target)) else {
                irqs[i] = IRQState()
                lpi.free.give(slot)
                return -1
            }
            irqs[i].pendingLatch = pending
        }
        lpi.byINTID.insert(UInt64(intid), slot)
        lpi.references[Int(slot)] = 1
        queue(i)
        return i
    }

    /// An ITE naming LPI slot `i` goes. With the last one the LPI's pending
    /// state goes too (DISCARD), and the slot is freed once nothing holds it.
    func unreferenceLPI(_ i: Int) {
        let k = i - lpiBase
        guard k >= 0 && k < lpi.capacity && lpi.references[k] > 0 else { return }
        lpi.references[k] -= 1
        guard lpi.references[k] == 0 else { return }
        irqs[i].pendingLatch = false
        irqs[i].repended = false
        queue(i)
        releaseLPIIfIdle(i)
    }

    /// Frees the slot of an LPI no ITE names once it is idle: not pending,
    /// not active, in no list register and on no ap_list (flush and sync
    /// call this for every interrupt that leaves an ap_list).
    @inline(__always)
    func releaseLPIIfIdle(_ i: Int) {
        guard i >= lpiBase else { return }
        let k = i - lpiBase
        let s = irqs[i]
        guard lpi.references[k] == 0, s.intid != 0, !s.active, !s.pendingLatch, s.lr < 0, s.apOwner < 0 else {
            return
        }
        lpi.byINTID.remove(UInt64(s.intid))
        irqs[i] = IRQState()
        lpi.free.give(Int32(k))
    }

    /// The `irqs` indices of the LPIs that have a slot, in slot order.
    func forEachLPI(_ body: (Int) -> Void) {
        for k in 0..<lpi.capacity where irqs[lpiBase + k].intid != 0 { body(lpiBase + k) }
    }

    // MARK: The tables in guest memory

    /// LPI `intid`'s byte of the configuration table, or nil when it is not
    /// guest memory.
    func readLPIProperty(_ intid: UInt32) -> UInt8? {
        let table = lpi.propbaser & GICR.propbaserAddressMask
        return readGuest8(table &+ UInt64(intid - LPI.firstINTID))
    }

    /// Re-reads the configuration of LPI slot `i` (INV, INVALL, INVLPIR,
    /// INVALLR). A byte that is not guest memory changes nothing (KVM).
    func refreshLPIConfiguration(_ i: Int) {
        guard let p = readLPIProperty(irqs[i].intid) else { return }
        irqs[i].priority = LPI.priority(ofProperty: p) & priorityMask
        irqs[i].enabled = LPI.enabled(ofProperty: p)
        queue(i)
    }

    /// The pending bit of LPI `intid` in vCPU `vcpu`'s pending table,
    /// cleared there once read (KVM's vgic_v3_lpi_sync_pending_status); nil
    /// when the table is not guest memory.
    func consumePendingBit(_ intid: UInt32, vcpu: Int) -> Bool? {
        let address = (lpi.pendbaser[vcpu] & GICR.pendbaserAddressMask) &+ UInt64(intid / 8)
        guard let byte = readGuest8(address) else { return nil }
        let bit = UInt8(1) << UInt8(intid % 8)
        guard byte & bit != 0 else { return false }
        _ = writeGuest8(address, byte & ~bit)
        return true
    }

    /// A vCPU's LPIs are enabled: unless `PENDBASER.PTZ` says the table is
    /// zero, each mapped LPI targeting it takes its pending state from the
    /// table (KVM's its_sync_lpi_pending_table; the table is not changed).
    func loadPendingTable(vcpu: Int) {
        guard lpi.pendbaser[vcpu] & GICR.pendbaserPTZ == 0 else { return }
        let table = lpi.pendbaser[vcpu] & GICR.pendbaserAddressMask
        var lastAddress = UInt64.max
        var byte: UInt8? = nil
        forEachLPI { i in
            guard irqs[i].routedVCPU == Int32(vcpu), lpi.references[i - lpiBase] > 0 else { return }
            let address = table &+ UInt64(irqs[i].intid / 8)
            if address != lastAddress {
                byte = readGuest8(address)
                lastAddress = address
            }
            guard let b = byte else { return }
            let pending = b & (1 << UInt8(irqs[i].intid % 8)) != 0
            if pending != irqs[i].pendingLatch {
                irqs[i].pendingLatch = pending
                irqs[i].repended = false
                queue(i)
            }
        }
    }

    // MARK: Redistributor registers

    /// `GICR_CTLR.EnableLPIs` of vCPU `owner`'s redistributor: the bit to
    /// read, after applying a write. Setting it loads the pending table;
    /// clearing it (allowed: `GICR_CTLR.CES` is 1) drops the pending state of
    /// the LPIs on the vCPU's list and invalidates the translation cache
    /// (KVM's vgic_flush_pending_lpis and vgic_its_invalidate_all_caches).
    func lpiControl(owner: Int, write: Bool, value: UInt64) -> UInt32 {
        guard hasLPIs else { return 0 }
        if write {
            let on = value & UInt64(GICR.ctlrEnableLPIs) != 0
            if on && !lpi.enabled[owner] {
                lpi.enabled[owner] = true
                loadPendingTable(vcpu: owner)
            } else if !on && lpi.enabled[owner] {
                lpi.enabled[owner] = false
                var j = vcpus[owner].apHead
                while j >= 0 {
                    let next = irqs[Int(j)].apNext
                    if Int(j) >= lpiBase && irqs[Int(j)].pendingLatch {
                        irqs[Int(j)].pendingLatch = false
                        irqs[Int(j)].repended = false
                        queue(Int(j))
                        releaseLPIIfIdle(Int(j))
                    }
                    j = next
                }
                invalidateTranslationCache()
            }
        }
        return lpi.enabled[owner] ? GICR.ctlrEnableLPIs : 0
    }

    /// `GICR_PROPBASER`, `GICR_PENDBASER`, `GICR_INVLPIR`, `GICR_INVALLR`,
    /// `GICR_SYNCR` of vCPU `owner`'s redistributor (RAZ/WI without LPIs).
    func lpiRegisterAccess(_ kind: RegisterKind, offset: UInt32, width: Int, owner: Int, write: Bool,
                           value: UInt64) -> UInt64 {
        guard hasLPIs else { return 0 }
        switch kind {
        case .lpiPropertyBase:
            if write {
                // Writing it with this redistributor's LPIs on is UNPREDICTABLE: ignored (KVM).
                guard !lpi.enabled[owner] else { return 0 }
                let v = merge64(lpi.propbaser, offset: offset, width: width, value: value)
                lpi.propbaser = MemoryAttributes.sanitiseRedistributorTable(v & GICR.propbaserWritable)
                return 0
            }
            return extract64(lpi.propbaser, offset: offset, width: width)
        case .lpiPendingBase:
            if write {
                guard !lpi.enabled[owner] else { return 0 }
                let v = merge64(lpi.pendbaser[owner], offset: offset, width: width, value: value)
                lpi.pendbaser[owner] = MemoryAttributes.sanitiseRedistributorTable(v & GICR.pendbaserWritable)
                return 0
            }
            return extract64(lpi.pendbaser[owner] & ~GICR.pendbaserPTZ, offset: offset, width: width)
        case .lpiInvalidate:
            // The upper half is for vPEs; LPIs off: the write is dropped (KVM).
            guard write, offset & 4 == 0, lpi.enabled[owner] else { return 0 }
            let intid = UInt32(truncatingIfNeeded: value)
            guard LPI.isLPI(intid) else { return 0 }
            let i = lpiIndex(intid)
            if i >= 0 { refreshLPIConfiguration(i) }
            return 0
        case .lpiInvalidateAll:
            guard write, lpi.enabled[owner] else { return 0 }
            forEachLPI { i in
                if irqs[i].routedVCPU == Int32(owner) { refreshLPIConfiguration(i) }
            }
            return 0
        default:
            // GICR_SYNCR: nothing is ever in progress (Busy = 0).
            return 0
        }
    }

    /// GICD_TYPER's LPI fields: LPIS and 16 INTID bits.
    var lpiDistributorTypeBits: UInt32 {
        hasLPIs ? GICD.typerLPIS | (LPI.intidBits - 1) << GICD.typerIDbitsShift : 0
    }

    /// GICR_TYPER's LPI field: PLPIS.
    var lpiRedistributorTypeBits: UInt64 { hasLPIs ? GICR.typerPLPIS : 0 }
}

/// A 64-bit register after a write of `width` bytes at `offset` (a 32-bit
/// write replaces the half it names).
@inline(__always)
func merge64(_ old: UInt64, offset: UInt32, width: Int, value: UInt64) -> UInt64 {
    if width == 8 { return value }
    if offset & 4 != 0 { return old & 0xFFFF_FFFF | (value & 0xFFFF_FFFF) << 32 }
    return old & ~0xFFFF_FFFF | value & 0xFFFF_FFFF
}

/// What a read of `width` bytes at `offset` returns of a 64-bit register.
@inline(__always)
func extract64(_ v: UInt64, offset: UInt32, width: Int) -> UInt64 {
    width == 8 ? v : (offset & 4 != 0 ? v >> 32 : v & 0xFFFF_FFFF)
}

extension VGIC {
    /// Flush found no list register for active LPI `i`: it is no longer
    /// active for the vGIC (LPI hook in flushLocked). Off the list unless it
    /// is pending again; its slot goes if no ITE names it.
    func dropActiveLPI(_ i: Int) {
        irqs[i].active = false
        irqs[i].acknowledged = false
        if !irqs[i].pendingLatch {
            apRemove(i)
            releaseLPIIfIdle(i)
        }
    }
}

extension VGIC {
    /// LPI slot `i` becomes pending (an MSI, INT): edge semantics, as an SPI's.
    @inline(__always)
    func raiseLPI(_ i: Int) {
        if irqs[i].pendingLatch && heldByRunningVCPU(i) { irqs[i].repended = true }
        irqs[i].pendingLatch = true
        queue(i)
    }
}
