import GICArchitecture

// The virtual ITS (docs/its.md)
// =============================
//
// One ITS per vGIC, as KVM's vgic-its: its registers, the devices, the
// interrupt translation entries (ITEs) and the collections live in the
// vGIC, in pools sized by `ITSConfiguration`; guest memory holds the command
// queue, and the device, collection and ITT tables only as far as the
// architecture makes them guest-visible: their size bounds the IDs a
// command may use (`vgic_its_check_id`, which also reads a two-level
// table's first level), and the VMM's save writes them in KVM's ABI
// revision 0 format (ITSSaveRestore.swift).
//
// Commands run synchronously when the guest writes GITS_CWRITER (or enables
// the ITS), each under the vGIC lock. A command with bad arguments, or one
// that cannot be read from guest memory, is ignored and the queue moves on:
// KVM's choice (GITS_CREADR.Stalled never reads 1, no SError). The
// architecture allows either; IHI 0069 calls most of them UNPREDICTABLE.

/// A mapped device: `MAPD` with V = 1.
struct ITSDeviceEntry {
    var deviceID: UInt32 = 0
    /// ITT address (256-byte aligned) and EventID bits, as MAPD gave them.
    var ittAddress: UInt64 = 0
    var eventIDBits: UInt8 = 0
    /// Head of the list of its ITEs (`ITSInterruptEntry.next`).
    var firstITE: Int32 = -1
    /// The slot holds a mapped device.
    var live = false
}

/// An interrupt translation entry: (device, EventID) -> LPI, collection.
struct ITSInterruptEntry {
    /// The device's slot, -1 when the entry is free.
    var device: Int32 = -1
    var eventID: UInt32 = 0
    /// The collection, by ICID (a collection mapped again later applies).
    var icid: UInt16 = 0
    /// The LPI's `irqs` index.
    var irq: Int32 = -1
    /// The device's list of entries.
    var next: Int32 = -1
    var prev: Int32 = -1
}

/// One translation cache entry: (DeviceID, EventID) -> LPI `irqs` index,
/// valid while `epoch` is the cache's.
struct TranslationCacheEntry {
    var key: UInt64 = .max
    var irq: Int32 = -1
    var epoch: UInt32 = 0
}

/// The ITS's registers, mappings and translation cache.
struct ITSState {
    let present: Bool
    let cpuTranslaterDeviceID: UInt32?
    var enabled = false
    var cbaser: UInt64 = 0
    var creadr: UInt64 = 0
    var cwriter: UInt64 = 0
    var deviceBaser: UInt64 = ITSState.initialBaser(type: GITS.baserTypeDevice)
    var collectionBaser: UInt64 = ITSState.initialBaser(type: GITS.baserTypeCollection)

    /// DeviceID -> device slot.
    var deviceByID: IDMap
    var devices: [ITSDeviceEntry]
    var freeDevices: FreeList
    /// DeviceID << 32 | EventID -> ITE slot.
    var iteByKey: IDMap
    var ites: [ITSInterruptEntry]
    var freeITEs: FreeList
    /// ICID -> target vCPU of the mapped collections.
    var collections: IDMap

    var cache: [TranslationCacheEntry]
    let cacheMask: Int
    var cacheEpoch: UInt32 = 1

    /// Commands run and commands ignored since creation (for the VMM and tests).
    var commandsProcessed: UInt64 = 0
    var commandsIgnored: UInt64 = 0

    /// KVM's reset value: inner Read-allocate Write-back, outer as inner,
    /// Inner Shareable, 64 KiB pages, the type, 8-byte entries (ABI 0).
    static func initialBaser(type: UInt64) -> UInt64 {
        3 << 59 | 1 << 10 | GITS.baserPageSize64K | type << GITS.baserTypeShift
            | (ITSABI.entrySize - 1) << GITS.baserEntrySizeShift
    }

    init(configuration: ITSConfiguration?) {
        let c = configuration
        present = c != nil
        cpuTranslaterDeviceID = c?.cpuTranslaterDeviceID
        deviceByID = IDMap(capacity: c?.devices ?? 0)
        devices = [ITSDeviceEntry](repeating: ITSDeviceEntry(), count: c?.devices ?? 0)
        freeDevices = FreeList(capacity: c?.devices ?? 0)
        iteByKey = IDMap(capacity: c?.events ?? 0)
        ites = [ITSInterruptEntry](repeating: ITSInterruptEntry(), count: c?.events ?? 0)
        freeITEs = FreeList(capacity: c?.events ?? 0)
        collections = IDMap(capacity: c?.collections ?? 0)
        var n = 1
        while n < (c?.translationCacheEntries ?? 1) { n <<= 1 }
        cache = [TranslationCacheEntry](repeating: TranslationCacheEntry(), count: c == nil ? 0 : n)
        cacheMask = n - 1
    }
}

extension VGIC {
    /// The ITS as created: disabled, no table, nothing mapped (part of `resetLPIs`).
    func resetITS() {
        guard its.present else { return }
        its.enabled = false
        its.cbaser = 0
        its.creadr = 0
        its.cwriter = 0
        its.deviceBaser = ITSState.initialBaser(type: GITS.baserTypeDevice)
        its.collectionBaser = ITSState.initialBaser(type: GITS.baserTypeCollection)
        its.deviceByID.removeAll()
        for k in 0..<its.devices.count { its.devices[k] = ITSDeviceEntry() }
        its.freeDevices.reset()
        its.iteByKey.removeAll()
        for k in 0..<its.ites.count { its.ites[k] = ITSInterruptEntry() }
        its.freeITEs.reset()
        its.collections.removeAll()
        for k in 0..<its.cache.count { its.cache[k] = TranslationCacheEntry() }
        its.cacheEpoch = 1
    }

    // MARK: Translation cache

    @inline(__always)
    static func cacheKey(device: UInt32, event: UInt32) -> UInt64 { UInt64(device) << 32 | UInt64(event) }

    @inline(__always)
    func cacheSlot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 40) & its.cacheMask
    }

    /// The LPI a cached translation names, or -1 (O(1): one direct-mapped slot).
    @inline(__always)
    func cachedTranslation(_ key: UInt64) -> Int32 {
        guard !its.cache.isEmpty else { return -1 }
        let e = its.cache[cacheSlot(key)]
        return e.key == key && e.epoch == its.cacheEpoch ? e.irq : -1
    }

    @inline(__always)
    func cacheTranslation(_ key: UInt64, irq: Int) {
        guard !its.cache.isEmpty else { return }
        its.cache[cacheSlot(key)] = TranslationCacheEntry(key: key, irq: Int32(irq), epoch: its.cacheEpoch)
    }

    /// Forget every cached translation (O(1): a new epoch). The
    /// architecture's points: DISCARD, MAPD, MOVI, MOVALL, a MAPC that
    /// changes a mapping, the ITS disabled, a redistributor's LPIs disabled,
    /// a table register cleared, and every VMM restore.
    func invalidateTranslationCache() {
        guard its.present else { return }
        its.cacheEpoch &+= 1
        if its.cacheEpoch == 0 {
            // Wrapped: no stale entry may look current.
            for k in 0..<its.cache.count { its.cache[k].epoch = 0 }
            its.cacheEpoch = 1
        }
    }
}
