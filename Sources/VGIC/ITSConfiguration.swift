import GICArchitecture

/// How a vGIC's ITS and its LPIs are built (docs/its.md). Every pool is
/// sized here, when the vGIC is created, so that no ITS command and no MSI
/// allocates: where KVM allocates a `vgic_irq`, a device, an ITE or a
/// collection per command, this vGIC takes one from a pool of the size the
/// VMM chose, and a command that finds its pool empty is ignored (as KVM
/// ignores a command whose allocation fails).
public struct ITSConfiguration: Equatable, Sendable {
    /// LPIs mapped at once: each distinct LPI INTID that some ITE names
    /// takes one slot (its interrupt state, as an SPI's).
    public var lpis: Int
    /// Devices mapped at once (`MAPD`).
    public var devices: Int
    /// (DeviceID, EventID) pairs mapped at once (`MAPTI`/`MAPI`): interrupt
    /// translation entries.
    public var events: Int
    /// Collections mapped at once (`MAPC`).
    public var collections: Int
    /// Entries of the translation cache (rounded up to a power of two).
    public var translationCacheEntries: Int
    /// The DeviceID a write of a guest CPU to `GITS_TRANSLATER` carries, or
    /// nil to ignore such writes. On QEMU's virt machine a CPU's requester
    /// ID is 0, and its ITS translates such a write for DeviceID 0 (the
    /// default here); KVM ignores them (nil).
    public var cpuTranslaterDeviceID: UInt32?

    public static let maximumLPIs = Int(LPIInterval.count)

    public init(lpis: Int = 1024, devices: Int = 64, events: Int = 1024, collections: Int = 64,
                translationCacheEntries: Int = 64, cpuTranslaterDeviceID: UInt32? = 0) {
        self.lpis = lpis
        self.devices = devices
        self.events = events
        self.collections = collections
        self.translationCacheEntries = translationCacheEntries
        self.cpuTranslaterDeviceID = cpuTranslaterDeviceID
    }

    func validate() throws(VGICError) {
        if lpis < 1 || lpis > ITSConfiguration.maximumLPIs {
            throw .invalidConfiguration("its lpis must be 1 to 57344 (the LPI INTIDs 8192..65535)")
        }
        if devices < 1 || devices > 65536 { throw .invalidConfiguration("its devices must be 1 to 65536") }
        if events < 1 || events > 1 << 20 { throw .invalidConfiguration("its events must be 1 to 1048576") }
        if collections < 1 || collections > 65536 {
            throw .invalidConfiguration("its collections must be 1 to 65536")
        }
        if translationCacheEntries < 1 || translationCacheEntries > 65536 {
            throw .invalidConfiguration("its translation cache entries must be 1 to 65536")
        }
    }
}

/// The LPI INTIDs this vGIC implements: 8192 ..< 65536 (16 INTID bits).
enum LPIInterval {
    static let first = LPI.firstINTID
    static let end = LPI.intidLimit
    static let count = end - first
}
