import GICArchitecture

// The ITS section of a snapshot (format version 3; docs/snapshot.md). A
// vGIC with an ITS writes version 3: the version 2 body, then this section;
// one without writes version 2 as before. Like the rest, the section is
// canonical: every field is what `snapshot()` writes for some state the vGIC
// can reach, records in a fixed order, so whatever restore accepts
// serialises back to the same bytes.
//
//   ITS configuration  lpis u32, devices u32, events u32, collections u32,
//                      translation cache entries u32, CPU TRANSLATER device
//                      flag u8 (1: present) + DeviceID u32 (0 when absent)
//   GICR_PROPBASER u64
//   per vCPU           GICR_PENDBASER u64 (PTZ as written), flags u8 (bit 0 EnableLPIs)
//   ITS registers      flags u8 (bit 0 Enabled), GITS_CBASER, CREADR,
//                      CWRITER, BASER0, BASER1 (u64 each)
//   collections        count u32, each ICID u16 + vCPU u16, by ICID
//   devices            count u32, each DeviceID u32, ITT address u64,
//                      EventID bits u8, by DeviceID
//   entries            count u32, each DeviceID u32, EventID u32, ICID u16,
//                      LPI INTID u32, by (DeviceID, EventID)
//   LPIs               count u32, each INTID u32, flags u8 (0 enabled,
//                      1 pending, 3 active, 6 acknowledged), priority u8,
//                      target vCPU u16, active-on vCPU u16 (0xFFFF: none),
//                      by INTID
//
// The translation cache is not saved (a restore starts it empty).

/// A mapped collection.
public struct ITSCollectionSnapshot: Equatable, Sendable {
    public var icid: UInt16
    public var vcpu: Int
    public init(icid: UInt16, vcpu: Int) {
        self.icid = icid
        self.vcpu = vcpu
    }
}

/// A mapped device.
public struct ITSDeviceSnapshot: Equatable, Sendable {
    public var deviceID: UInt32
    public var ittAddress: UInt64
    public var eventIDBits: UInt8
    public init(deviceID: UInt32, ittAddress: UInt64, eventIDBits: UInt8) {
        self.deviceID = deviceID
        self.ittAddress = ittAddress
        self.eventIDBits = eventIDBits
    }
}

/// An interrupt translation entry.
public struct ITSEntrySnapshot: Equatable, Sendable {
    public var deviceID: UInt32
    public var eventID: UInt32
    public var icid: UInt16
    public var lpi: UInt32
    public init(deviceID: UInt32, eventID: UInt32, icid: UInt16, lpi: UInt32) {
        self.deviceID = deviceID
        self.eventID = eventID
        self.icid = icid
        self.lpi = lpi
    }
}

/// An LPI's state: every LPI an entry names, and those no entry names that
/// the guest has not ended yet (active).
public struct LPISnapshot: Equatable, Sendable {
    public var intid: UInt32
    public var enabled = false
    public var pending = false
    public var active = false
    public var acknowledged = false
    public var priority: UInt8 = 0
    /// The vCPU it is routed to; -1: none (its collection was never mapped).
    public var target = -1
    /// The vCPU it is active on; -1: none.
    public var activeOn = -1
    public init(intid: UInt32) { self.intid = intid }
}

/// The redistributors' LPI registers, the ITS's registers and mappings, and
/// the LPIs.
public struct ITSSnapshot: Equatable, Sendable {
    public var propbaser: UInt64 = LPIState.initialBaser
    public var pendbaser: [UInt64] = []
    public var lpisEnabled: [Bool] = []
    public var enabled = false
    public var cbaser: UInt64 = 0
    public var creadr: UInt64 = 0
    public var cwriter: UInt64 = 0
    public var deviceBaser: UInt64 = 0
    public var collectionBaser: UInt64 = 0
    public var collections: [ITSCollectionSnapshot] = []
    public var devices: [ITSDeviceSnapshot] = []
    public var entries: [ITSEntrySnapshot] = []
    public var lpis: [LPISnapshot] = []
    public init() {}

    // MARK: Encoding

    func encode(_ w: inout SnapshotWriter, configuration c: ITSConfiguration) {
        w.u32(UInt32(truncatingIfNeeded: c.lpis))
        w.u32(UInt32(truncatingIfNeeded: c.devices))
        w.u32(UInt32(truncatingIfNeeded: c.events))
        w.u32(UInt32(truncatingIfNeeded: c.collections))
        w.u32(UInt32(truncatingIfNeeded: c.translationCacheEntries))
        w.u8(c.cpuTranslaterDeviceID == nil ? 0 : 1)
        w.u32(c.cpuTranslaterDeviceID ?? 0)
        w.u64(propbaser)
        for v in 0..<pendbaser.count {
            w.u64(pendbaser[v])
            w.u8(lpisEnabled[v] ? 1 : 0)
        }
        w.u8(enabled ? 1 : 0)
        for r in [cbaser, creadr, cwriter, deviceBaser, collectionBaser] { w.u64(r) }
        w.u32(UInt32(truncatingIfNeeded: collections.count))
        for col in collections {
            w.u16(col.icid)
            w.u16(UInt16(truncatingIfNeeded: col.vcpu))
        }
        w.u32(UInt32(truncatingIfNeeded: devices.count))
        for d in devices {
            w.u32(d.deviceID)
            w.u64(d.ittAddress)
            w.u8(d.eventIDBits)
        }
        w.u32(UInt32(truncatingIfNeeded: entries.count))
        for e in entries {
            w.u32(e.deviceID)
            w.u32(e.eventID)
            w.u16(e.icid)
            w.u32(e.lpi)
        }
        w.u32(UInt32(truncatingIfNeeded: lpis.count))
        for l in lpis {
            w.u32(l.intid)
            var f: UInt8 = 0
            if l.enabled { f |= 1 }
            if l.pending { f |= 2 }
            if l.active { f |= 8 }
            if l.acknowledged { f |= 64 }
            w.u8(f)
            w.u8(l.priority)
            w.u16(l.target >= 0 ? UInt16(truncatingIfNeeded: l.target) : 0xFFFF)
            w.u16(l.activeOn >= 0 ? UInt16(truncatingIfNeeded: l.activeOn) : 0xFFFF)
        }
    }

    // MARK: Decoding

    /// Reads the ITS configuration that starts the section.
    static func decodeConfiguration(_ r: inout SnapshotReader) throws(VGICError) -> ITSConfiguration {
        var c = ITSConfiguration(lpis: Int(try r.u32()), devices: Int(try r.u32()), events: Int(try r.u32()),
                                 collections: Int(try r.u32()), translationCacheEntries: Int(try r.u32()))
        let flag = try r.u8()
        let device = try r.u32()
        guard flag <= 1, flag == 1 || device == 0 else { throw .invalidSnapshot(.invalidITSConfiguration) }
        c.cpuTranslaterDeviceID = flag == 1 ? device : nil
        do {
            try c.validate()
        } catch {
            throw .invalidSnapshot(.invalidITSConfiguration)
        }
        return c
    }

    /// Reads and checks the rest of the section for `config` (its ITS set).
    static func decode(_ r: inout SnapshotReader, config: VGICConfiguration) throws(VGICError) -> ITSSnapshot {
        let c = config.its!
        let vcpuCount = config.vcpuCount
        var s = ITSSnapshot()
        s.propbaser = try r.u64()
        guard s.propbaser == canonicalPropbaser(s.propbaser) else { throw .invalidSnapshot(.nonCanonicalLPIRegister) }
        for _ in 0..<vcpuCount {
            let p = try r.u64()
            let flags = try r.u8()
            guard p == canonicalPendbaser(p), flags <= 1 else { throw .invalidSnapshot(.nonCanonicalLPIRegister) }
            s.pendbaser.append(p)
            s.lpisEnabled.append(flags == 1)
        }
        let flags = try r.u8()
        guard flags <= 1 else { throw .invalidSnapshot(.nonCanonicalITSRegister) }
        s.enabled = flags == 1
        s.cbaser = try r.u64()
        s.creadr = try r.u64()
        s.cwriter = try r.u64()
        s.deviceBaser = try r.u64()
        s.collectionBaser = try r.u64()
        let queue = GITS.commandQueueSize(s.cbaser)
        guard s.cbaser == canonicalCBASER(s.cbaser), s.deviceBaser == canonicalBaser(s.deviceBaser, table: 0),
              s.collectionBaser == canonicalBaser(s.collectionBaser, table: 1),
              s.creadr & ~GITS.queueOffsetMask == 0, s.creadr < queue,
              s.cwriter & ~GITS.queueOffsetMask == 0, s.cwriter < queue else {
            throw .invalidSnapshot(.nonCanonicalITSRegister)
        }
        if s.enabled {
            // Enabling needs the tables, and an enabled ITS runs its queue at once.
            guard s.cbaser & GITS.cbaserValid != 0, s.deviceBaser & GITS.baserValid != 0,
                  s.collectionBaser & GITS.baserValid != 0 else { throw .invalidSnapshot(.nonCanonicalITSRegister) }
            guard s.creadr == s.cwriter else { throw .invalidSnapshot(.itsQueueNotDrained) }
        }

        let collections = Int(try r.u32())
        guard collections <= c.collections else { throw .invalidSnapshot(.itsPoolExceeded) }
        for k in 0..<collections {
            let col = ITSCollectionSnapshot(icid: try r.u16(), vcpu: Int(try r.u16()))
            guard col.vcpu < vcpuCount else { throw .invalidSnapshot(.itsTargetBeyondVCPUs) }
            if k > 0 && s.collections[k - 1].icid >= col.icid { throw .invalidSnapshot(.itsRecordOutOfOrder) }
            s.collections.append(col)
        }
        let devices = Int(try r.u32())
        guard devices <= c.devices else { throw .invalidSnapshot(.itsPoolExceeded) }
        for k in 0..<devices {
            let d = ITSDeviceSnapshot(deviceID: try r.u32(), ittAddress: try r.u64(), eventIDBits: try r.u8())
            guard d.deviceID < 1 << 16, d.eventIDBits >= 1, UInt32(d.eventIDBits) <= LPI.intidBits,
                  d.ittAddress & ~0x000F_FFFF_FFFF_FF00 == 0 else { throw .invalidSnapshot(.itsIDOutOfRange) }
            if k > 0 && s.devices[k - 1].deviceID >= d.deviceID { throw .invalidSnapshot(.itsRecordOutOfOrder) }
            s.devices.append(d)
        }
        let entries = Int(try r.u32())
        guard entries <= c.events else { throw .invalidSnapshot(.itsPoolExceeded) }
        var device = 0
        for k in 0..<entries {
            let e = ITSEntrySnapshot(deviceID: try r.u32(), eventID: try r.u32(), icid: try r.u16(), lpi: try r.u32())
            if k > 0 {
                let p = s.entries[k - 1]
                if (p.deviceID, p.eventID) >= (e.deviceID, e.eventID) { throw .invalidSnapshot(.itsRecordOutOfOrder) }
            }
            // Entries come in device order: find this one's device from the last.
            while device < s.devices.count && s.devices[device].deviceID < e.deviceID { device += 1 }
            guard device < s.devices.count && s.devices[device].deviceID == e.deviceID else {
                throw .invalidSnapshot(.itsEntryWithoutDevice)
            }
            guard UInt64(e.eventID) < 1 << UInt64(s.devices[device].eventIDBits),
                  LPI.isLPI(e.lpi) && e.lpi < LPI.intidLimit else { throw .invalidSnapshot(.itsIDOutOfRange) }
            s.entries.append(e)
        }
        var referenced = IDMap(capacity: entries)
        for e in s.entries { referenced.insert(UInt64(e.lpi), 1) }
        let lpis = Int(try r.u32())
        guard lpis <= c.lpis else { throw .invalidSnapshot(.itsPoolExceeded) }
        let priorityMask = Priority.mask(bits: config.priorityBits) & 0xFC
        var named = 0
        for k in 0..<lpis {
            var l = LPISnapshot(intid: try r.u32())
            let f = try r.u8()
            l.priority = try r.u8()
            let target = try r.u16()
            let on = try r.u16()
            guard LPI.isLPI(l.intid) && l.intid < LPI.intidLimit else { throw .invalidSnapshot(.itsIDOutOfRange) }
            if k > 0 && s.lpis[k - 1].intid >= l.intid { throw .invalidSnapshot(.itsRecordOutOfOrder) }
            guard f & ~(1 | 2 | 8 | 64) == 0 else { throw .invalidSnapshot(.reservedLPIBits) }
            l.enabled = f & 1 != 0
            l.pending = f & 2 != 0
            l.active = f & 8 != 0
            l.acknowledged = f & 64 != 0
            guard l.priority & ~priorityMask == 0 else { throw .invalidSnapshot(.unimplementedPriorityBits) }
            l.target = target == 0xFFFF ? -1 : Int(target)
            l.activeOn = on == 0xFFFF ? -1 : Int(on)
            guard l.target < vcpuCount else { throw .invalidSnapshot(.itsTargetBeyondVCPUs) }
            if l.activeOn >= 0 {
                guard l.active else { throw .invalidSnapshot(.activeOnInactiveInterrupt) }
                guard l.activeOn < vcpuCount else { throw .invalidSnapshot(.activeOnNonexistentVCPU) }
            } else if l.active && l.target >= 0 {
                throw .invalidSnapshot(.activeWithoutVCPU)
            }
            if l.acknowledged && l.activeOn < 0 { throw .invalidSnapshot(.acknowledgedWithoutVCPU) }
            if referenced.find(UInt64(l.intid)) >= 0 {
                named += 1
            } else {
                // An LPI no entry names keeps its slot only while the guest
                // has it active, and has no pending state.
                guard !l.pending else { throw .invalidSnapshot(.pendingUnmappedLPI) }
                guard l.active else { throw .invalidSnapshot(.idleUnmappedLPI) }
            }
            s.lpis.append(l)
        }
        guard named == referenced.count else { throw .invalidSnapshot(.itsEntryWithoutLPI) }
        return s
    }

    // The registers as the vGIC keeps them after any write.

    static func canonicalPropbaser(_ v: UInt64) -> UInt64 {
        MemoryAttributes.sanitiseRedistributorTable(v & GICR.propbaserWritable)
    }

    static func canonicalPendbaser(_ v: UInt64) -> UInt64 {
        MemoryAttributes.sanitiseRedistributorTable(v & GICR.pendbaserWritable)
    }

    /// 0 is GITS_CBASER's reset value (KVM's), which no write produces.
    static func canonicalCBASER(_ v: UInt64) -> UInt64 { v == 0 ? 0 : MemoryAttributes.sanitiseITSTable(v) & ~0xF000 }

    static func canonicalBaser(_ v: UInt64, table n: Int) -> UInt64 {
        var b = v & ~(GITS.baserTypeMask | GITS.baserEntrySizeMask | GITS.baserPageSizeMask)
        if n == 1 { b &= ~GITS.baserIndirect }
        let type = n == 0 ? GITS.baserTypeDevice : GITS.baserTypeCollection
        b |= type << GITS.baserTypeShift | (ITSABI.entrySize - 1) << GITS.baserEntrySizeShift | GITS.baserPageSize64K
        return MemoryAttributes.sanitiseITSTable(b)
    }
}

extension VGIC {
    /// The ITS section of a snapshot (lock held), or nil without an ITS.
    func itsSnapshotLocked() -> ITSSnapshot? {
        guard its.present else { return nil }
        var s = ITSSnapshot()
        s.propbaser = lpi.propbaser
        s.pendbaser = lpi.pendbaser
        s.lpisEnabled = lpi.enabled
        s.enabled = its.enabled
        s.cbaser = its.cbaser
        s.creadr = its.creadr
        s.cwriter = its.cwriter
        s.deviceBaser = its.deviceBaser
        s.collectionBaser = its.collectionBaser
        its.collections.forEach { icid, v in s.collections.append(ITSCollectionSnapshot(icid: UInt16(icid), vcpu: Int(v))) }
        s.collections.sort { $0.icid < $1.icid }
        its.deviceByID.forEach { _, d in
            let e = its.devices[Int(d)]
            s.devices.append(ITSDeviceSnapshot(deviceID: e.deviceID, ittAddress: e.ittAddress,
                                               eventIDBits: e.eventIDBits))
        }
        s.devices.sort { $0.deviceID < $1.deviceID }
        for t in its.ites where t.device >= 0 {
            s.entries.append(ITSEntrySnapshot(deviceID: its.devices[Int(t.device)].deviceID, eventID: t.eventID,
                                              icid: t.icid, lpi: irqs[Int(t.irq)].intid))
        }
        s.entries.sort { ($0.deviceID, $0.eventID) < ($1.deviceID, $1.eventID) }
        forEachLPI { i in
            let q = irqs[i]
            var l = LPISnapshot(intid: q.intid)
            l.enabled = q.enabled
            l.pending = q.pendingLatch
            l.active = q.active
            l.priority = q.priority
            l.target = Int(q.routedVCPU)
            l.activeOn = q.active && q.apOwner >= 0 ? Int(q.apOwner) : -1
            l.acknowledged = l.activeOn >= 0 && q.acknowledged
            s.lpis.append(l)
        }
        s.lpis.sort { $0.intid < $1.intid }
        return s
    }

    /// Loads a checked ITS section (lock held, every vCPU out, after
    /// `resetLPIs` and the other interrupts).
    func applyITS(_ s: ITSSnapshot) {
        lpi.propbaser = s.propbaser
        for v in 0..<vcpuCount {
            lpi.pendbaser[v] = s.pendbaser[v]
            lpi.enabled[v] = s.lpisEnabled[v]
        }
        its.enabled = s.enabled
        its.cbaser = s.cbaser
        its.creadr = s.creadr
        its.cwriter = s.cwriter
        its.deviceBaser = s.deviceBaser
        its.collectionBaser = s.collectionBaser
        for c in s.collections { its.collections.insert(UInt64(c.icid), Int32(c.vcpu)) }
        for l in s.lpis {
            let slot = lpi.free.take()
            var q = IRQState()
            q.intid = l.intid
            q.edge = true
            q.group = 1
            q.enabled = l.enabled
            q.pendingLatch = l.pending
            q.active = l.active
            q.acknowledged = l.acknowledged
            q.priority = l.priority
            q.routedVCPU = Int32(l.target)
            irqs[lpiBase + Int(slot)] = q
            lpi.byINTID.insert(UInt64(l.intid), slot)
        }
        for d in s.devices {
            let slot = its.freeDevices.take()
            its.devices[Int(slot)] = ITSDeviceEntry(deviceID: d.deviceID, ittAddress: d.ittAddress,
                                                    eventIDBits: d.eventIDBits, firstITE: -1, live: true)
            its.deviceByID.insert(UInt64(d.deviceID), slot)
        }
        for t in s.entries {
            let d = its.deviceByID.find(UInt64(t.deviceID))
            let e = its.freeITEs.take()
            let i = lpiIndex(t.lpi)
            let head = its.devices[Int(d)].firstITE
            its.ites[Int(e)] = ITSInterruptEntry(device: d, eventID: t.eventID, icid: t.icid, irq: Int32(i), next: head,
                                                 prev: -1)
            if head >= 0 { its.ites[Int(head)].prev = e }
            its.devices[Int(d)].firstITE = e
            its.iteByKey.insert(VGIC.cacheKey(device: t.deviceID, event: t.eventID), e)
            lpi.references[i - lpiBase] += 1
        }
        for l in s.lpis {
            let i = lpiIndex(l.intid)
            if l.activeOn >= 0 { apInsert(i, vcpu: Int32(l.activeOn)) } else { queue(i) }
        }
        invalidateTranslationCache()
    }
}
