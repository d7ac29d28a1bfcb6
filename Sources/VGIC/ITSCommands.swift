import GICArchitecture

// The ITS commands (IHI 0069 5.3 and 6.3), as KVM's vgic-its runs them. A
// command whose arguments are bad is ignored (counted in
// `its.commandsIgnored`) and changes nothing; so is one whose pool is full.
// Each rule below names KVM's error code for the same case.

/// Why an MSI (or an `INT`) made nothing pending: the guest's mappings or
/// enables drop it. KVM_SIGNAL_MSI returns 0 or -EBUSY for these.
public enum MSIBlock: UInt8, Equatable, Sendable {
    /// `GITS_CTLR.Enabled` is 0.
    case itsDisabled
    /// No ITE for the (DeviceID, EventID), or its collection is not mapped.
    case unmapped
    /// The target redistributor's `GICR_CTLR.EnableLPIs` is 0.
    case lpisDisabled
}

/// What became of an MSI.
public enum MSIOutcome: Equatable, Sendable {
    /// The LPI is pending (it may still be disabled in the configuration table).
    case delivered
    case blocked(MSIBlock)

    /// KVM_SIGNAL_MSI's return value for the same outcome: 1, 0 (blocked by
    /// the mappings), -EBUSY (the ITS or the target's LPIs are off).
    public var kvmReturnValue: Int32 {
        switch self {
        case .delivered: 1
        case .blocked(.unmapped): 0
        case .blocked(.itsDisabled), .blocked(.lpisDisabled): -16
        }
    }
}

extension VGIC {
    // MARK: The queue

    /// Runs the commands from `GITS_CREADR` to `GITS_CWRITER` while the ITS
    /// is enabled (KVM's vgic_its_process_commands). One that cannot be read
    /// from guest memory is skipped. Ends within one pass of the queue.
    func processITSCommands() {
        guard its.enabled else { return }
        let size = GITS.commandQueueSize(its.cbaser)
        let base = its.cbaser & GITS.cbaserAddressMask
        var budget = size / GITS.commandSize
        while its.cwriter != its.creadr && budget > 0 {
            budget -= 1
            if let command = readGuestCommand(base &+ its.creadr) {
                if runITSCommand(command) { its.commandsProcessed &+= 1 } else { its.commandsIgnored &+= 1 }
            } else {
                its.commandsIgnored &+= 1
            }
            its.creadr += GITS.commandSize
            if its.creadr >= size { its.creadr = 0 }
        }
    }

    /// One command; false when it was ignored.
    @discardableResult
    func runITSCommand(_ c: ITSCommand) -> Bool {
        guard let code = ITSCommandCode(rawValue: c.code) else { return false }
        switch code {
        case .mapd: return commandMAPD(c)
        case .mapc: return commandMAPC(c)
        case .mapti, .mapi: return commandMAPTI(c, code: code)
        case .movi: return commandMOVI(c)
        case .discard: return commandDISCARD(c)
        case .clear: return commandCLEAR(c)
        case .inv: return commandINV(c)
        case .invall: return commandINVALL(c)
        case .movall: return commandMOVALL(c)
        case .int: return translateAndRaise(device: c.deviceID, event: c.eventID) == .delivered
        case .sync:
            // Every command takes effect before the next: always in sync.
            return true
        }
    }

    // MARK: Lookups

    @inline(__always) func findITE(device: UInt32, event: UInt32) -> Int32 {
        its.iteByKey.find(VGIC.cacheKey(device: device, event: event))
    }

    /// The vCPU collection `icid` is mapped to, or -1.
    @inline(__always) func collectionTarget(_ icid: UInt16) -> Int32 { its.collections.find(UInt64(icid)) }

    /// The guest address of `id`'s entry in the table `baser` describes, or
    /// nil when the table cannot hold it (KVM's vgic_its_check_id): the ID
    /// beyond the table or the 16 ID bits, a two-level table whose
    /// first-level entry is invalid or unreadable, or an entry that is not
    /// guest memory.
    func itsTableEntry(_ baser: UInt64, id: UInt32) -> UInt64? {
        let type = (baser & GITS.baserTypeMask) >> GITS.baserTypeShift
        guard type == GITS.baserTypeDevice || type == GITS.baserTypeCollection, id < 1 << 16 else { return nil }
        let entrySize = ((baser & GITS.baserEntrySizeMask) >> GITS.baserEntrySizeShift) + 1
        let tableSize = GITS.baserTableSize(baser)
        let base = GITS.baserAddress(baser)
        var address: UInt64
        if baser & GITS.baserIndirect == 0 {
            guard UInt64(id) < tableSize / entrySize else { return nil }
            address = base &+ UInt64(id) * entrySize
        } else {
            let perPage = 0x1_0000 / entrySize
            let index = UInt64(id) / perPage
            guard index < tableSize / 8, let l1 = readGuest64(base &+ index * 8), l1 & GITS.level1Valid != 0 else {
                return nil
            }
            address = (l1 & GITS.level1AddressMask) &+ (UInt64(id) % perPage) * entrySize
        }
        guard readGuest64(address) != nil else { return nil }
        return address
    }

    // MARK: Devices and entries

    /// Frees ITE `e`: out of its device's list and the map; its LPI loses a reference.
    func freeITE(_ e: Int32) {
        let t = its.ites[Int(e)]
        guard t.device >= 0 else { return }
        if t.prev >= 0 { its.ites[Int(t.prev)].next = t.next } else { its.devices[Int(t.device)].firstITE = t.next }
        if t.next >= 0 { its.ites[Int(t.next)].prev = t.prev }
        its.iteByKey.remove(VGIC.cacheKey(device: its.devices[Int(t.device)].deviceID, event: t.eventID))
        its.ites[Int(e)] = ITSInterruptEntry()
        its.freeITEs.give(e)
        unreferenceLPI(Int(t.irq))
    }

    /// Unmaps device slot `d` with every entry it has (MAPD: "unmapping a
    /// device with valid ITEs is UNPREDICTABLE"; KVM removes them).
    func freeDevice(_ d: Int32) {
        while its.devices[Int(d)].firstITE >= 0 { freeITE(its.devices[Int(d)].firstITE) }
        its.deviceByID.remove(UInt64(its.devices[Int(d)].deviceID))
        its.devices[Int(d)] = ITSDeviceEntry()
        its.freeDevices.give(d)
        invalidateTranslationCache()
    }

    func freeAllDevices() {
        for d in 0..<its.devices.count where its.devices[d].live { freeDevice(Int32(d)) }
    }

    /// The LPI of every entry in collection `icid` targets vCPU `target`
    /// (KVM's update_affinity_collection).
    func retargetCollection(_ icid: UInt16, to target: Int32) {
        for e in 0..<its.ites.count where its.ites[e].device >= 0 && its.ites[e].icid == icid {
            let i = Int(its.ites[e].irq)
            irqs[i].routedVCPU = target
            queue(i)
        }
    }

    // MARK: Commands

    /// MAPD: DeviceID inside the device table (E_ITS_MAPD_DEVICE_OOR), at
    /// most 16 EventID bits (E_ITS_MAPD_ITTSIZE_OOR). A device mapped
    /// again loses its entries first.
    func commandMAPD(_ c: ITSCommand) -> Bool {
        let id = c.deviceID
        guard itsTableEntry(its.deviceBaser, id: id) != nil else { return false }
        if c.valid && c.eventIDBits > LPI.intidBits { return false }
        let old = its.deviceByID.find(UInt64(id))
        if old >= 0 { freeDevice(old) }
        guard c.valid else { return true }
        let d = its.freeDevices.take()
        guard d >= 0 else { return false }
        its.devices[Int(d)] = ITSDeviceEntry(deviceID: id, ittAddress: c.ittAddress, eventIDBits: UInt8(c.eventIDBits),
                                             firstITE: -1, live: true)
        its.deviceByID.insert(UInt64(id), d)
        return true
    }

    /// MAPC: RDbase a vCPU (E_ITS_MAPC_PROCNUM_OOR, checked for V = 0 too),
    /// ICID inside the collection table (E_ITS_MAPC_COLLECTION_OOR). The
    /// entries of the collection follow it to its new vCPU; unmapped, they
    /// keep their ICID and work again once it is mapped again (the
    /// architecture's ITE holds the ICID; KVM forgets the collection).
    func commandMAPC(_ c: ITSCommand) -> Bool {
        let target = c.targetAddress
        guard target < UInt32(vcpuCount) else { return false }
        let icid = c.icid
        if !c.valid {
            its.collections.remove(UInt64(icid))
            invalidateTranslationCache()
            return true
        }
        guard itsTableEntry(its.collectionBaser, id: UInt32(icid)) != nil else { return false }
        let old = collectionTarget(icid)
        guard its.collections.insert(UInt64(icid), Int32(target)) else { return false }
        if old != Int32(target) {
            retargetCollection(icid, to: Int32(target))
            invalidateTranslationCache()
        }
        return true
    }

    /// MAPTI / MAPI: the device mapped (E_ITS_MAPTI_UNMAPPED_DEVICE), the
    /// EventID inside its ITT (E_ITS_MAPTI_ID_OOR), the LPI INTID inside the
    /// configuration table (E_ITS_MAPTI_PHYSICALID_OOR), an unmapped ICID
    /// inside the collection table; an existing mapping of the pair is
    /// left alone (UNPREDICTABLE; KVM ignores the command).
    func commandMAPTI(_ c: ITSCommand, code: ITSCommandCode) -> Bool {
        let d = its.deviceByID.find(UInt64(c.deviceID))
        guard d >= 0 else { return false }
        let event = c.eventID
        guard UInt64(event) < 1 << UInt64(its.devices[Int(d)].eventIDBits) else { return false }
        let intid = code == .mapti ? c.physicalID : event
        guard intid >= LPI.firstINTID && intid < LPI.limit(propbaser: lpi.propbaser) else { return false }
        let key = VGIC.cacheKey(device: c.deviceID, event: event)
        guard its.iteByKey.find(key) < 0 else { return false }
        let icid = c.icid
        let target = collectionTarget(icid)
        if target < 0 && itsTableEntry(its.collectionBaser, id: UInt32(icid)) == nil { return false }
        let e = its.freeITEs.take()
        guard e >= 0 else { return false }
        let i = referenceLPI(intid, target: target)
        guard i >= 0 else {
            its.freeITEs.give(e)
            return false
        }
        let head = its.devices[Int(d)].firstITE
        its.ites[Int(e)] = ITSInterruptEntry(device: d, eventID: event, icid: icid, irq: Int32(i), next: head, prev: -1)
        if head >= 0 { its.ites[Int(head)].prev = e }
        its.devices[Int(d)].firstITE = e
        its.iteByKey.insert(key, e)
        return true
    }

    /// MOVI: the entry exists (E_ITS_MOVI_UNMAPPED_INTERRUPT), its
    /// collection and the new one are mapped (E_ITS_MOVI_UNMAPPED_COLLECTION).
    /// A pending LPI moves with it.
    func commandMOVI(_ c: ITSCommand) -> Bool {
        let e = findITE(device: c.deviceID, event: c.eventID)
        guard e >= 0, collectionTarget(its.ites[Int(e)].icid) >= 0 else { return false }
        let target = collectionTarget(c.icid)
        guard target >= 0 else { return false }
        its.ites[Int(e)].icid = c.icid
        let i = Int(its.ites[Int(e)].irq)
        irqs[i].routedVCPU = target
        queue(i)
        invalidateTranslationCache()
        return true
    }

    /// DISCARD: the entry exists and its collection is mapped
    /// (E_ITS_DISCARD_UNMAPPED_INTERRUPT). Its LPI's pending state goes
    /// with the last entry naming it.
    func commandDISCARD(_ c: ITSCommand) -> Bool {
        let e = findITE(device: c.deviceID, event: c.eventID)
        guard e >= 0, collectionTarget(its.ites[Int(e)].icid) >= 0 else { return false }
        invalidateTranslationCache()
        freeITE(e)
        return true
    }

    /// CLEAR: the entry exists (E_ITS_CLEAR_UNMAPPED_INTERRUPT).
    func commandCLEAR(_ c: ITSCommand) -> Bool {
        let e = findITE(device: c.deviceID, event: c.eventID)
        guard e >= 0 else { return false }
        let i = Int(its.ites[Int(e)].irq)
        irqs[i].pendingLatch = false
        irqs[i].repended = false
        queue(i)
        return true
    }

    /// INV: the entry exists (E_ITS_INV_UNMAPPED_INTERRUPT); its LPI's
    /// configuration is read again.
    func commandINV(_ c: ITSCommand) -> Bool {
        let e = findITE(device: c.deviceID, event: c.eventID)
        guard e >= 0 else { return false }
        refreshLPIConfiguration(Int(its.ites[Int(e)].irq))
        return true
    }

    /// INVALL: the collection is mapped (E_ITS_INVALL_UNMAPPED_COLLECTION);
    /// every LPI targeting its vCPU reads its configuration again.
    func commandINVALL(_ c: ITSCommand) -> Bool {
        let target = collectionTarget(c.icid)
        guard target >= 0 else { return false }
        forEachLPI { i in
            if irqs[i].routedVCPU == target { refreshLPIConfiguration(i) }
        }
        return true
    }

    /// MOVALL: both RDbases vCPUs (E_ITS_MOVALL_PROCNUM_OOR); every LPI
    /// targeting the first now targets the second, pending state included.
    /// The collections are not changed (software remaps them).
    func commandMOVALL(_ c: ITSCommand) -> Bool {
        let from = c.targetAddress, to = c.targetAddress2
        guard from < UInt32(vcpuCount) && to < UInt32(vcpuCount) else { return false }
        guard from != to else { return true }
        forEachLPI { i in
            if irqs[i].routedVCPU == Int32(from) {
                irqs[i].routedVCPU = Int32(to)
                queue(i)
            }
        }
        invalidateTranslationCache()
        return true
    }

    // MARK: Translation

    /// An MSI or `INT` for (device, event): through the translation cache,
    /// or the ITS's mappings, to a pending LPI (KVM's vgic_its_trigger_msi).
    @inline(__always)
    func translateAndRaise(device: UInt32, event: UInt32) -> MSIOutcome {
        let key = VGIC.cacheKey(device: device, event: event)
        let cached = cachedTranslation(key)
        if cached >= 0 {
            raiseLPI(Int(cached))
            return .delivered
        }
        return translateSlowly(key)
    }

    func translateSlowly(_ key: UInt64) -> MSIOutcome {
        guard its.enabled else { return .blocked(.itsDisabled) }
        let e = its.iteByKey.find(key)
        guard e >= 0 else { return .blocked(.unmapped) }
        let target = collectionTarget(its.ites[Int(e)].icid)
        guard target >= 0 else { return .blocked(.unmapped) }
        guard lpi.enabled[Int(target)] else { return .blocked(.lpisDisabled) }
        let i = Int(its.ites[Int(e)].irq)
        // The collection decides where it goes, also after a MOVALL moved
        // the LPI's pending state elsewhere (KVM would follow the LPI).
        irqs[i].routedVCPU = target
        cacheTranslation(key, irq: i)
        raiseLPI(i)
        return .delivered
    }
}
