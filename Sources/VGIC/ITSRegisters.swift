import GICArchitecture

// The ITS frame's registers (IHI 0069 12.19), as KVM's vgic-its presents
// them: GITS_TYPER says physical LPIs, 8-byte ITT entries, 16 EventID and
// 16 DeviceID bits, PTA = 0 (an RDbase is a vCPU number), HCC = 0 (every
// collection is in memory: GITS_BASER1 describes its table), CIL = 0 (16-bit
// ICIDs). GITS_BASER0 is the device table (flat or two-level), GITS_BASER1
// the collection table (flat), both with 64 KiB pages; BASER2..7 are RAZ/WI.
// GITS_TRANSLATER (second page) takes a guest CPU's 16- or 32-bit write as
// an MSI for `ITSConfiguration.cpuTranslaterDeviceID`.

/// GITS_IIDR: implementer 0x43B, revision = the ITS ABI revision (0),
/// product 'V' (the vGIC's GICD_IIDR product).
let itsImplementerID: UInt32 = 0x5600_043B

/// The ITS's identification registers (KVM's values: part number 0x492,
/// GICv3 architecture, one 64 KiB page; the component ID of any GIC).
func itsIdentificationRegister(_ offset: UInt32) -> UInt32 {
    switch offset {
    case 0xFFE0: 0x92  // PIDR0
    case 0xFFE4: 0xB4  // PIDR1
    case 0xFFE8: 0x3B  // PIDR2: architecture revision GICv3
    case 0xFFD0: 0x40  // PIDR4
    case 0xFFF0: 0x0D  // CIDR0
    case 0xFFF4: 0xF0  // CIDR1
    case 0xFFF8: 0x05  // CIDR2
    case 0xFFFC: 0xB1  // CIDR3
    default: 0
    }
}

/// A rule of the VMM's ITS accessors (KVM's GRP_ITS_REGS and ITS CTRL
/// errors); `VGICError.its(rule)` names the one a request broke.
public enum ITSRule: UInt8, Equatable, Sendable, CaseIterable {
    /// This vGIC has no ITS.
    case noITS
    /// The doorbell address is not in the ITS's frame.
    case notTheITSDoorbell
    /// `GITS_IIDR` names an ITS ABI revision this vGIC does not implement (0 only).
    case abiRevisionNotSupported
    /// `GITS_CREADR` can be restored only while the ITS is disabled.
    case itsEnabled
    /// `GITS_CREADR` beyond the command queue.
    case commandOffsetBeyondQueue
    /// The table restore read an entry that does not fit (an ID beyond a
    /// table, an unknown collection, an LPI INTID out of range, a repeated
    /// entry, a pool full).
    case inconsistentTables
    /// The table save or restore needed guest memory that is not there.
    case tableNotInGuestMemory
    /// The tables hold more than the configuration's pools (KVM: an
    /// allocation failed).
    case poolExhausted
    /// The table restore needs an ITS with nothing mapped (new or reset).
    case itsNotEmpty

    public var message: StaticString {
        switch self {
        case .noITS: "this vGIC has no ITS"
        case .notTheITSDoorbell: "the doorbell address is not in the ITS frame"
        case .abiRevisionNotSupported: "GITS_IIDR: ITS ABI revision not supported (0 only)"
        case .itsEnabled: "the ITS is enabled: GITS_CREADR cannot be restored"
        case .commandOffsetBeyondQueue: "GITS_CREADR beyond the command queue"
        case .inconsistentTables: "the ITS tables in guest memory are inconsistent"
        case .tableNotInGuestMemory: "an ITS table is not in guest memory"
        case .poolExhausted: "the ITS tables hold more than the ITS configuration's pools"
        case .itsNotEmpty: "the ITS has mappings: restore its tables into a new or reset ITS"
        }
    }

    /// The errno KVM returns for the same mistake.
    public var kvmErrno: Int32 {
        switch self {
        case .noITS: 19  // ENODEV
        case .notTheITSDoorbell, .abiRevisionNotSupported, .commandOffsetBeyondQueue, .inconsistentTables:
            22  // EINVAL
        case .itsEnabled, .itsNotEmpty: 16  // EBUSY
        case .tableNotInGuestMemory: 14  // EFAULT
        case .poolExhausted: 12  // ENOMEM
        }
    }
}

extension VGIC {
    /// GITS_TYPER.
    var itsTyper: UInt64 {
        GITS.typerPhysical | (ITSABI.entrySize - 1) << GITS.typerITTEntrySizeShift
            | UInt64(LPI.intidBits - 1) << GITS.typerIDbitsShift
            | UInt64(LPI.intidBits - 1) << GITS.typerDevbitsShift
    }

    /// GITS_CTLR: Enabled, and Quiescent when the queue is empty.
    var itsControl: UInt32 {
        (its.enabled ? GITS.ctlrEnabled : 0) | (its.creadr == its.cwriter ? GITS.ctlrQuiescent : 0)
    }

    /// One access to the ITS frame. `found` says whether a register the VMM
    /// may access is there (KVM's GRP_ITS_REGS: not the reserved space, not
    /// GITS_TRANSLATER); `widthOK` whether the width and alignment are the
    /// register's (the guest: 32-bit registers 32-bit, 64-bit ones 32 or 64;
    /// the VMM: exactly the register's size). Others are RAZ/WI.
    func itsAccess(offset: UInt32, width: Int, write: Bool, value: UInt64,
                   accessor: Accessor) -> (value: UInt64, found: Bool, widthOK: Bool) {
        guard its.present else { return (0, false, false) }
        let aligned = width > 0 && width <= 8 && offset & UInt32(width - 1) == 0
        // 32-bit registers.
        if offset < GITS.typer || (offset >= GITS.idRegisters && offset < GITS.translationPage) {
            let isRegister = offset == GITS.ctlr || offset == GITS.iidr || offset >= GITS.idRegisters
            guard isRegister else { return (0, false, false) }
            guard width == 4 && aligned else { return (0, true, false) }
            if offset >= GITS.idRegisters {
                return (write ? 0 : UInt64(itsIdentificationRegister(offset)), true, true)
            }
            if offset == GITS.iidr { return (write ? 0 : UInt64(itsImplementerID), true, true) }
            if write { writeITSControl(UInt32(truncatingIfNeeded: value)) }
            return (write ? 0 : UInt64(itsControl), true, true)
        }
        if offset == GITS.translater || offset == GITS.translater + 2 {
            // The guest's own MSI: a 16- or 32-bit write (not a VMM register).
            if write && accessor == .guest && (width == 4 || width == 2) && aligned && offset == GITS.translater,
               let device = its.cpuTranslaterDeviceID, its.enabled {
                let event = width == 2 ? UInt32(value & 0xFFFF) : UInt32(truncatingIfNeeded: value)
                _ = translateAndRaise(device: device, event: event)
            }
            return (0, false, false)
        }
        // 64-bit registers.
        let base = offset & ~7
        let isRegister = base == GITS.typer || base == GITS.cbaser || base == GITS.cwriter || base == GITS.creadr
            || (base >= GITS.baser && base < GITS.baser + 0x40)
        guard isRegister else { return (0, false, false) }
        let widthOK = aligned && (accessor == .vmm ? width == 8 : (width == 8 || width == 4))
        guard widthOK else { return (0, true, false) }
        switch base {
        case GITS.typer:
            return (write ? 0 : extract64(itsTyper, offset: offset, width: width), true, true)
        case GITS.cbaser:
            if write && !its.enabled {
                // RO while enabled. A new queue starts empty (KVM).
                let v = merge64(its.cbaser, offset: offset, width: width, value: value)
                its.cbaser = MemoryAttributes.sanitiseITSTable(v) & ~0xF000
                its.creadr = 0
                its.cwriter = 0
            }
            return (write ? 0 : extract64(its.cbaser, offset: offset, width: width), true, true)
        case GITS.cwriter:
            if write {
                let v = merge64(its.cwriter, offset: offset, width: width, value: value) & GITS.queueOffsetMask
                // Beyond the queue: ignored (KVM).
                if v < GITS.commandQueueSize(its.cbaser) {
                    its.cwriter = v
                    processITSCommands()
                }
                return (0, true, true)
            }
            return (extract64(its.cwriter, offset: offset, width: width), true, true)
        case GITS.creadr:
            // Read-only for the guest; the VMM's write is vmmWriteITS's.
            return (write ? 0 : extract64(its.creadr, offset: offset, width: width), true, true)
        default:
            let n = (base - GITS.baser) / 8
            if write { writeITSBaser(n, offset: offset, width: width, value: value) }
            let v = n == 0 ? its.deviceBaser : (n == 1 ? its.collectionBaser : 0)
            return (write ? 0 : extract64(v, offset: offset, width: width), true, true)
        }
    }

    /// GITS_CTLR write: enabling needs valid device, collection and command
    /// tables (else the write is ignored, as KVM: enabling then is
    /// UNPREDICTABLE); disabling forgets the cached translations. Queued
    /// commands run once enabled.
    func writeITSControl(_ value: UInt32) {
        let enable = value & GITS.ctlrEnabled != 0
        if enable && !its.enabled {
            guard its.deviceBaser & GITS.baserValid != 0, its.collectionBaser & GITS.baserValid != 0,
                  its.cbaser & GITS.cbaserValid != 0 else { return }
        }
        its.enabled = enable
        if !enable { invalidateTranslationCache() }
        processITSCommands()
    }

    /// GITS_BASER<n> write (n 0 or 1; RO while enabled): type and entry size
    /// are fixed, the collection table is flat, the pages 64 KiB. Clearing
    /// Valid unmaps every device (BASER0) or collection (BASER1), as KVM.
    func writeITSBaser(_ n: UInt32, offset: UInt32, width: Int, value: UInt64) {
        guard n < 2, !its.enabled else { return }
        let old = n == 0 ? its.deviceBaser : its.collectionBaser
        var v = merge64(old, offset: offset, width: width, value: value)
        v &= ~(GITS.baserTypeMask | GITS.baserEntrySizeMask | GITS.baserPageSizeMask)
        if n == 1 { v &= ~GITS.baserIndirect }
        let type = n == 0 ? GITS.baserTypeDevice : GITS.baserTypeCollection
        v |= type << GITS.baserTypeShift | (ITSABI.entrySize - 1) << GITS.baserEntrySizeShift | GITS.baserPageSize64K
        v = MemoryAttributes.sanitiseITSTable(v)
        if n == 0 { its.deviceBaser = v } else { its.collectionBaser = v }
        guard v & GITS.baserValid == 0 else { return }
        if n == 0 {
            freeAllDevices()
        } else if its.collections.count > 0 {
            its.collections.removeAll()
            invalidateTranslationCache()
        }
    }

    // MARK: The VMM's side (KVM_DEV_ARM_VGIC_GRP_ITS_REGS)

    /// A VMM write of an ITS register, with KVM's uaccess semantics:
    /// `GITS_IIDR` selects the ABI revision (0 only), `GITS_CREADR` is set
    /// while the ITS is disabled, within the queue; the others as the guest
    /// writes them (`GITS_CTLR` last: it runs the queue).
    func vmmWriteITS(offset: UInt32, width: Int, value: UInt64) throws(VGICError) {
        switch offset {
        case GITS.iidr:
            guard (UInt32(truncatingIfNeeded: value) >> 12) & 0xF == ITSABI.revision else {
                throw .its(.abiRevisionNotSupported)
            }
        case GITS.creadr:
            if its.enabled { throw .its(.itsEnabled) }
            let v = value & GITS.queueOffsetMask
            guard v < GITS.commandQueueSize(its.cbaser) else { throw .its(.commandOffsetBeyondQueue) }
            its.creadr = v
        default:
            _ = itsAccess(offset: offset, width: width, write: true, value: value, accessor: .vmm)
        }
    }

    // MARK: MSIs from devices (KVM_SIGNAL_MSI)

    /// An MSI from a device: `deviceID` (the bus's requester ID) wrote
    /// `eventID` to `doorbell`, an address in the ITS frame (normally
    /// `GITS_TRANSLATER`, `baseAddress(of: .its)! + 0x10040`). O(1) and
    /// allocation-free once the translation is cached. Throws only for what
    /// the VMM got wrong (no ITS, not its doorbell); the guest's mappings
    /// decide the outcome.
    public func signalMSI(doorbell: UInt64, deviceID: UInt32, eventID: UInt32) throws(VGICError) -> MSIOutcome {
        guard its.present else { throw .its(.noITS) }
        guard let base = addressMap.itsBase, doorbell >= base, doorbell - base < UInt64(GITS.frameSize) else {
            throw .its(.notTheITSDoorbell)
        }
        lock.lock()
        defer { lock.unlock() }
        return translateAndRaise(device: deviceID, event: eventID)
    }

    /// `signalMSI` for a vGIC reached by region, not address (one ITS).
    public func signalMSI(deviceID: UInt32, eventID: UInt32) throws(VGICError) -> MSIOutcome {
        guard its.present else { throw .its(.noITS) }
        lock.lock()
        defer { lock.unlock() }
        return translateAndRaise(device: deviceID, event: eventID)
    }

    /// Commands the ITS has run and ignored since creation.
    public var itsCommandCounts: (processed: UInt64, ignored: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        return (its.commandsProcessed, its.commandsIgnored)
    }
}
