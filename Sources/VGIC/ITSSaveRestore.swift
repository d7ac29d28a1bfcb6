import GICArchitecture

// Saving and restoring the ITS through KVM's ITS ABI, revision 0
// (Documentation/virt/kvm/devices/arm-vgic-its.rst; docs/its.md): the
// device table, the ITTs and the collection table written into the guest's
// own tables in 8-byte entries (`ITSABI`), the LPIs' pending state into the
// redistributors' pending tables. A VMM migrates a VM this way with the
// GITS_* and GICR_* registers (vmmRead/vmmWrite) and the guest's RAM.
//
// Save order: every vCPU out; saveLPIPendingTables(); saveITSTables(); the
// registers; the RAM. Restore order (KVM's): the RAM; the redistributors'
// registers (PROPBASER, PENDBASER, then GICR_CTLR); GITS_IIDR, GITS_CBASER,
// the other GITS_* registers but GITS_CTLR; restoreITSTables(); GITS_CTLR.

extension VGIC {
    /// KVM_DEV_ARM_ITS_CTRL_RESET: the ITS as created (disabled, its tables
    /// registers cleared of Valid, nothing mapped). The LPIs the ITS mapped
    /// lose their mappings, and with them their pending state.
    public func vmmResetITS() throws(VGICError) {
        guard its.present else { throw .its(.noITS) }
        lock.lock()
        defer { lock.unlock() }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
        its.enabled = false
        its.cbaser = 0
        its.creadr = 0
        its.cwriter = 0
        freeAllDevices()
        its.collections.removeAll()
        its.deviceBaser &= ~GITS.baserValid
        its.collectionBaser &= ~GITS.baserValid
        invalidateTranslationCache()
    }

    /// KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES: each LPI's pending state into
    /// its target vCPU's pending table (bits of LPIs without a target are
    /// left alone). Every vCPU must be out of the guest.
    public func saveLPIPendingTables() throws(VGICError) {
        guard hasLPIs else { throw .its(.noITS) }
        lock.lock()
        defer { lock.unlock() }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
        var failed = false
        forEachLPI { i in
            let s = irqs[i]
            guard s.routedVCPU >= 0, !failed else { return }
            let address = (lpi.pendbaser[Int(s.routedVCPU)] & GICR.pendbaserAddressMask) &+ UInt64(s.intid / 8)
            guard let byte = readGuest8(address) else {
                failed = true
                return
            }
            let bit = UInt8(1) << UInt8(s.intid % 8)
            let new = s.pendingLatch ? byte | bit : byte & ~bit
            if new != byte && !writeGuest8(address, new) { failed = true }
        }
        if failed { throw .its(.tableNotInGuestMemory) }
    }

    /// KVM_DEV_ARM_ITS_SAVE_TABLES: every mapped device's entry into the
    /// device table (flat or two-level, as GITS_BASER0 says) and its ITT,
    /// every mapped collection into the collection table (entries from its
    /// start, then an invalid one if there is room), in ABI revision 0.
    /// Every vCPU must be out of the guest. A DeviceID the table cannot hold
    /// throws `.its(.inconsistentTables)`; memory that is not there
    /// `.its(.tableNotInGuestMemory)` (what was written stays written, as
    /// with KVM).
    public func saveITSTables() throws(VGICError) {
        guard its.present else { throw .its(.noITS) }
        lock.lock()
        defer { lock.unlock() }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
        if its.deviceBaser & GITS.baserValid != 0 {
            var devices: [(id: UInt32, slot: Int32)] = []
            its.deviceByID.forEach { id, slot in devices.append((UInt32(id), slot)) }
            devices.sort { $0.id < $1.id }
            for (k, d) in devices.enumerated() {
                guard let entry = itsTableEntry(its.deviceBaser, id: d.id) else { throw .its(.inconsistentTables) }
                let device = its.devices[Int(d.slot)]
                var events: [(event: UInt32, ite: Int32)] = []
                var e = device.firstITE
                while e >= 0 {
                    events.append((its.ites[Int(e)].eventID, e))
                    e = its.ites[Int(e)].next
                }
                events.sort { $0.event < $1.event }
                for (j, t) in events.enumerated() {
                    let ite = its.ites[Int(t.ite)]
                    let next = j + 1 < events.count ? events[j + 1].event - t.event : 0
                    let value = ITSABI.interruptEntry(next: next, lpi: irqs[Int(ite.irq)].intid, icid: ite.icid)
                    guard writeGuest64(device.ittAddress &+ UInt64(t.event) * ITSABI.entrySize, value) else {
                        throw .its(.tableNotInGuestMemory)
                    }
                }
                let next = k + 1 < devices.count ? devices[k + 1].id - d.id : 0
                let value = ITSABI.deviceEntry(next: next, ittAddress: device.ittAddress,
                                               eventIDBits: UInt32(device.eventIDBits))
                guard writeGuest64(entry, value) else { throw .its(.tableNotInGuestMemory) }
            }
        }
        if its.collectionBaser & GITS.baserValid != 0 {
            var collections: [(icid: UInt16, target: Int32)] = []
            its.collections.forEach { icid, target in collections.append((UInt16(icid), target)) }
            collections.sort { $0.icid < $1.icid }
            let base = GITS.baserAddress(its.collectionBaser)
            let capacity = GITS.baserTableSize(its.collectionBaser) / ITSABI.entrySize
            guard UInt64(collections.count) <= capacity else { throw .its(.inconsistentTables) }
            for (k, c) in collections.enumerated() {
                let value = ITSABI.collectionEntry(target: UInt32(c.target), icid: c.icid)
                guard writeGuest64(base &+ UInt64(k) * ITSABI.entrySize, value) else {
                    throw .its(.tableNotInGuestMemory)
                }
            }
            if UInt64(collections.count) < capacity {
                guard writeGuest64(base &+ UInt64(collections.count) * ITSABI.entrySize, 0) else {
                    throw .its(.tableNotInGuestMemory)
                }
            }
        }
    }

    /// KVM_DEV_ARM_ITS_RESTORE_TABLES: the collections, devices and ITEs
    /// from the guest's tables (as GITS_BASER0/1, restored before, describe
    /// them), each LPI's configuration and pending bit from the
    /// redistributors' tables. All or nothing: the tables are read and
    /// checked completely first; a refusal changes nothing. The ITS must
    /// have nothing mapped (`.its(.itsNotEmpty)`: restore into a new or
    /// reset ITS), every vCPU must be out of the guest.
    public func restoreITSTables() throws(VGICError) {
        guard its.present else { throw .its(.noITS) }
        lock.lock()
        defer { lock.unlock() }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
        guard its.deviceByID.count == 0, its.collections.count == 0 else { throw .its(.itsNotEmpty) }
        let tables = try readITSTables()
        // Nothing can fail from here on: every pool has room, every table
        // byte the LPIs need was read.
        for c in tables.collections { its.collections.insert(UInt64(c.icid), Int32(c.target)) }
        for d in tables.devices {
            let slot = its.freeDevices.take()
            its.devices[Int(slot)] = ITSDeviceEntry(deviceID: d.id, ittAddress: d.itt, eventIDBits: d.bits,
                                                    firstITE: -1, live: true)
            its.deviceByID.insert(UInt64(d.id), slot)
        }
        for t in tables.entries {
            let d = its.deviceByID.find(UInt64(t.device))
            let e = its.freeITEs.take()
            let i = referenceLPI(t.lpi, target: collectionTarget(t.icid))
            let head = its.devices[Int(d)].firstITE
            its.ites[Int(e)] = ITSInterruptEntry(device: d, eventID: t.event, icid: t.icid, irq: Int32(i), next: head,
                                                 prev: -1)
            if head >= 0 { its.ites[Int(head)].prev = e }
            its.devices[Int(d)].firstITE = e
            its.iteByKey.insert(VGIC.cacheKey(device: t.device, event: t.event), e)
        }
        invalidateTranslationCache()
    }

    struct SavedITSTables {
        var collections: [(icid: UInt16, target: UInt32)] = []
        var devices: [(id: UInt32, itt: UInt64, bits: UInt8)] = []
        var entries: [(device: UInt32, event: UInt32, lpi: UInt32, icid: UInt16)] = []
    }

    /// Reads and checks the tables without changing anything (lock held).
    func readITSTables() throws(VGICError) -> SavedITSTables {
        var t = SavedITSTables()
        if its.collectionBaser & GITS.baserValid != 0 {
            let base = GITS.baserAddress(its.collectionBaser)
            let count = GITS.baserTableSize(its.collectionBaser) / ITSABI.entrySize
            var icids = IDMap(capacity: its.collections.capacity)
            var k: UInt64 = 0
            while k < count {
                guard let e = readGuest64(base &+ k * ITSABI.entrySize) else { throw .its(.tableNotInGuestMemory) }
                let c = ITSABI.decodeCollectionEntry(e)
                guard c.valid else { break }
                k += 1
                // A collection KVM saved without a target (created by a MAPTI) maps nothing.
                if c.target == UInt32.max { continue }
                guard c.target < UInt32(vcpuCount), icids.find(UInt64(c.icid)) < 0 else {
                    throw .its(.inconsistentTables)
                }
                guard icids.insert(UInt64(c.icid), 0) else { throw .its(.poolExhausted) }
                t.collections.append((c.icid, c.target))
            }
        }
        if its.deviceBaser & GITS.baserValid != 0 {
            let base = GITS.baserAddress(its.deviceBaser)
            let size = GITS.baserTableSize(its.deviceBaser)
            if its.deviceBaser & GITS.baserIndirect == 0 {
                _ = try scanDeviceTable(base, entries: size / ITSABI.entrySize, firstID: 0, into: &t)
            } else {
                let perPage = 0x1_0000 / ITSABI.entrySize
                var index: UInt64 = 0
                while index < size / 8 {
                    guard let l1 = readGuest64(base &+ index * 8) else { throw .its(.tableNotInGuestMemory) }
                    if l1 & GITS.level1Valid != 0 {
                        let last = try scanDeviceTable(l1 & GITS.level1AddressMask, entries: perPage,
                                                       firstID: index * perPage, into: &t)
                        if last { break }
                    }
                    index += 1
                }
            }
        }
        // The LPIs: each new one needs a slot, its configuration byte and,
        // with a mapped collection, its pending bit.
        var targets = IDMap(capacity: t.collections.count)
        for c in t.collections { targets.insert(UInt64(c.icid), Int32(c.target)) }
        var seen = IDMap(capacity: t.entries.count)
        var newLPIs = 0
        for e in t.entries where seen.find(UInt64(e.lpi)) < 0 {
            seen.insert(UInt64(e.lpi), 0)
            guard lpiIndex(e.lpi) < 0 else { continue }
            newLPIs += 1
            guard readLPIProperty(e.lpi) != nil else { throw .its(.tableNotInGuestMemory) }
            let target = targets.find(UInt64(e.icid))
            if target >= 0 {
                let address = (lpi.pendbaser[Int(target)] & GICR.pendbaserAddressMask) &+ UInt64(e.lpi / 8)
                guard readGuest8(address) != nil else { throw .its(.tableNotInGuestMemory) }
            }
        }
        guard newLPIs <= lpi.free.count else { throw .its(.poolExhausted) }
        return t
    }

    /// Scans device table entries from `base` (IDs from `firstID`), each
    /// valid one with its ITT; true when an entry said it was the last.
    func scanDeviceTable(_ base: UInt64, entries: UInt64, firstID: UInt64,
                         into t: inout SavedITSTables) throws(VGICError) -> Bool {
        var k: UInt64 = 0
        while k < entries {
            guard let raw = readGuest64(base &+ k * ITSABI.entrySize) else { throw .its(.tableNotInGuestMemory) }
            let d = ITSABI.decodeDeviceEntry(raw)
            guard d.valid else {
                k += 1
                continue
            }
            let id = firstID + k
            // IDs only grow along a scan: no device comes twice.
            guard id < 1 << 16, d.eventIDBits <= LPI.intidBits else { throw .its(.inconsistentTables) }
            guard t.devices.count < its.devices.count else { throw .its(.poolExhausted) }
            t.devices.append((UInt32(id), d.ittAddress, UInt8(d.eventIDBits)))
            try scanITT(device: UInt32(id), itt: d.ittAddress, bits: d.eventIDBits, into: &t)
            if d.next == 0 { return true }
            k += UInt64(d.next)
        }
        return false
    }

    /// Scans one device's ITT from EventID 0 along the entries' next offsets.
    func scanITT(device: UInt32, itt: UInt64, bits: UInt32, into t: inout SavedITSTables) throws(VGICError) {
        let events = UInt64(1) << UInt64(bits)
        var event: UInt64 = 0
        while event < events {
            guard let raw = readGuest64(itt &+ event * ITSABI.entrySize) else { throw .its(.tableNotInGuestMemory) }
            let e = ITSABI.decodeInterruptEntry(raw)
            guard e.lpi != 0 else {
                event += 1
                continue
            }
            guard e.lpi >= LPI.firstINTID && e.lpi < LPI.intidLimit,
                  event + UInt64(e.next) < events || e.next == 0 else { throw .its(.inconsistentTables) }
            guard t.entries.count < its.ites.count else { throw .its(.poolExhausted) }
            t.entries.append((device, UInt32(event), e.lpi, e.icid))
            if e.next == 0 { return }
            event += UInt64(e.next)
        }
    }
}
