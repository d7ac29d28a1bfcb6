import GICArchitecture

// The VMM's device API (docs/vmm-api.md), after KVM's vGIC device
// (Documentation/virt/kvm/devices/arm-vgic-v3.rst and arm-vgic.rst):
//
//   var device = try VGICDevice(version: .v3, vcpuCount: 4)   // KVM_CREATE_DEVICE
//   try device.setIRQCount(128)                                // GRP_NR_IRQS
//   try device.setDistributorBase(0x0800_0000)                 // GRP_ADDR, DIST
//   try device.addRedistributorRegion(index: 0, base: 0x080A_0000, count: 4)  // REDIST_REGION
//   let vgic = try device.initialize(platform: platform)       // GRP_CTRL, CTRL_INIT
//
// Every request is checked completely before anything changes: a refused one
// throws `VGICError.device(rule)` and leaves the device as it was.
//
// Where this differs from KVM, it is stricter and earlier: the vCPU count is
// fixed when the device is created, so every overlap (distributor against the
// single redistributor region, GICv2 distributor against CPU interface) is
// refused when the second frame is set, not at the first vCPU run; and the
// checks KVM makes at the first run (every frame placed, a redistributor for
// every vCPU) are made by `initialize`, after which nothing can be changed
// (KVM still accepts new redistributor regions between CTRL_INIT and the
// first run).

/// A rule of the device API; `VGICError.device(rule)` names the one a request broke.
public enum VGICDeviceRule: UInt8, Equatable, Sendable, CaseIterable {
    /// The attribute does not exist for this GIC version (GICv2 has no
    /// redistributors, GICv3 no memory-mapped CPU interface).
    case notForThisGICVersion
    /// A base address must be aligned: GICv3 frames to 64 KiB, GICv2 frames to 4 KiB.
    case misaligned
    /// The frame must lie inside the guest's IPA space.
    case beyondIPASpace
    /// The frame's end would wrap around the 64-bit address space.
    case addressWraps
    /// Each base address is set once.
    case addressAlreadySet
    /// No two frames may overlap.
    case overlap
    /// One redistributor base for all vCPUs, or indexed regions: not both.
    case mixedRedistributorAPIs
    /// A redistributor region holds at least one redistributor.
    case redistributorCountZero
    /// The flags of KVM's REDIST_REGION attribute are reserved: 0.
    case redistributorRegionFlags
    /// Regions are added in index order: 0 first, then each one the last plus 1.
    case redistributorRegionIndex
    /// No redistributor region with this index was added.
    case noSuchRedistributorRegion
    /// The number of IRQs is a multiple of 32 from 64 to 1024.
    case irqCountOutOfRange
    /// The number of IRQs is set once.
    case irqCountAlreadySet
    /// After `initialize`, nothing the architecture fixes can change.
    case alreadyInitialized
    /// `initialize` needs the distributor's base address.
    case distributorBaseNotSet
    /// `initialize` needs the GICv2 CPU interface's base address.
    case cpuInterfaceBaseNotSet
    /// `initialize` needs a redistributor frame for every vCPU.
    case notEnoughRedistributors
    /// The guest's IPA space is 32 to 52 bits.
    case ipaSizeOutOfRange
    /// The snapshot was taken of a vGIC built differently (version, vCPUs,
    /// IRQs, priority bits or list registers).
    case snapshotDoesNotMatchDevice

    public var message: StaticString {
        switch self {
        case .notForThisGICVersion:
            "this attribute does not exist for this GIC version (redistributors: GICv3; CPU interface: GICv2)"
        case .misaligned: "base addresses must be 64 KiB aligned (GICv3) or 4 KiB aligned (GICv2)"
        case .beyondIPASpace: "the frame must lie inside the guest's IPA space"
        case .addressWraps: "the frame's end wraps around the address space"
        case .addressAlreadySet: "each base address can be set only once"
        case .overlap: "frames must not overlap"
        case .mixedRedistributorAPIs: "a single redistributor base and redistributor regions cannot be mixed"
        case .redistributorCountZero: "a redistributor region needs a count of at least 1"
        case .redistributorRegionFlags: "redistributor region flags are reserved and must be 0"
        case .redistributorRegionIndex:
            "redistributor regions must be added in index order, starting from 0"
        case .noSuchRedistributorRegion: "no redistributor region with this index"
        case .irqCountOutOfRange: "the number of IRQs must be a multiple of 32 from 64 to 1024"
        case .irqCountAlreadySet: "the number of IRQs can be set only once"
        case .alreadyInitialized: "the vGIC is initialized: its configuration can no longer change"
        case .distributorBaseNotSet: "initialization needs the distributor base address"
        case .cpuInterfaceBaseNotSet: "initialization needs the GICv2 CPU interface base address"
        case .notEnoughRedistributors: "initialization needs a redistributor frame for every vCPU"
        case .ipaSizeOutOfRange: "the IPA size must be 32 to 52 bits"
        case .snapshotDoesNotMatchDevice: "the snapshot was taken of a vGIC configured differently"
        }
    }

    /// The errno KVM's device API returns for the same mistake (for a VMM
    /// that emulates KVM's ioctls on top of this one).
    public var kvmErrno: Int32 {
        switch self {
        case .notForThisGICVersion, .distributorBaseNotSet, .cpuInterfaceBaseNotSet, .notEnoughRedistributors:
            6  // ENXIO
        case .beyondIPASpace: 7  // E2BIG
        case .addressAlreadySet: 17  // EEXIST
        case .noSuchRedistributorRegion: 2  // ENOENT
        case .irqCountAlreadySet, .alreadyInitialized: 16  // EBUSY
        case .misaligned, .addressWraps, .overlap, .mixedRedistributorAPIs, .redistributorCountZero,
             .redistributorRegionFlags, .redistributorRegionIndex, .irqCountOutOfRange, .ipaSizeOutOfRange,
             .snapshotDoesNotMatchDevice:
            22  // EINVAL
        }
    }
}

/// GICv3 redistributor region: `count` redistributors of 128 KiB (RD_base
/// then SGI_base) from `base`, filled with vCPUs in region-index order.
public struct RedistributorRegion: Equatable, Sendable {
    public let index: Int
    public let base: UInt64
    public let count: Int

    public init(index: Int, base: UInt64, count: Int) {
        self.index = index
        self.base = base
        self.count = count
    }

    public var size: UInt64 { UInt64(count) * UInt64(GICR.frameSize) }
    public var end: UInt64 { base + size }

    /// KVM's `KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION` value: count [63:52],
    /// base [51:16], flags [15:12] (0), index [11:0].
    public var kvmAttribute: UInt64 {
        UInt64(truncatingIfNeeded: count) << 52 | base & redistributorRegionBaseMask
            | UInt64(truncatingIfNeeded: index) & 0xFFF
    }
}

let redistributorRegionBaseMask: UInt64 = 0x000F_FFFF_FFFF_0000

/// A vGIC being configured, as a VMM configures KVM's vGIC device: set the
/// number of IRQs and the base addresses, then `initialize` once. Each
/// setter checks the whole request first; a refused request throws
/// `VGICError.device(rule)` and changes nothing.
public struct VGICDevice: Equatable, Sendable {
    public let version: GICVersion
    public let vcpuCount: Int
    /// Size of the guest's physical address space, in bits.
    public let ipaBits: Int
    /// Implemented priority bits and list registers (from `ICH_VTR_EL2`).
    public let priorityBits: Int
    public let listRegisters: Int
    /// INTIDs that exist, counting the 32 private ones (KVM's NR_IRQS;
    /// 256 unless set).
    public private(set) var irqCount = 256
    public private(set) var irqCountIsSet = false
    public private(set) var addressMap = VGICAddressMap()
    public private(set) var isInitialized = false
    /// The ITS's pools, when `addITS` placed one (ITS hook).
    public private(set) var itsConfiguration: ITSConfiguration?

    /// KVM_CREATE_DEVICE with every vCPU already created.
    public init(version: GICVersion, vcpuCount: Int, ipaBits: Int = 40, priorityBits: Int = 5,
                listRegisters: Int = 4) throws(VGICError) {
        try VGICConfiguration(version: version, vcpuCount: vcpuCount, priorityBits: priorityBits,
                              listRegisters: listRegisters).validate()
        guard ipaBits >= 32 && ipaBits <= 52 else { throw .device(.ipaSizeOutOfRange) }
        self.version = version
        self.vcpuCount = vcpuCount
        self.ipaBits = ipaBits
        self.priorityBits = priorityBits
        self.listRegisters = listRegisters
    }

    /// The configuration `initialize` builds the vGIC with.
    public var configuration: VGICConfiguration {
        VGICConfiguration(version: version, vcpuCount: vcpuCount, irqCount: irqCount,
                          priorityBits: priorityBits, listRegisters: listRegisters, its: itsConfiguration)
    }

    /// Bytes of guest physical address space.
    public var ipaSize: UInt64 { 1 << UInt64(ipaBits) }

    // MARK: Number of IRQs (KVM_DEV_ARM_VGIC_GRP_NR_IRQS)

    public mutating func setIRQCount(_ n: Int) throws(VGICError) {
        try checkNotInitialized()
        if n < 64 || n > 1024 || n % 32 != 0 { throw .device(.irqCountOutOfRange) }
        if irqCountIsSet { throw .device(.irqCountAlreadySet) }
        irqCount = n
        irqCountIsSet = true
    }

    // MARK: Base addresses (KVM_DEV_ARM_VGIC_GRP_ADDR)

    /// `KVM_VGIC_V3_ADDR_TYPE_DIST` / `KVM_VGIC_V2_ADDR_TYPE_DIST`.
    public mutating func setDistributorBase(_ base: UInt64) throws(VGICError) {
        try checkNotInitialized()
        if addressMap.distributorBase != nil { throw .device(.addressAlreadySet) }
        let v3 = version == .v3
        try checkFrame(base: base, size: UInt64(v3 ? GICD.sizeV3 : GICD.sizeV2), alignment: v3 ? 0x10000 : 0x1000)
        addressMap.distributorBase = base
    }

    /// `KVM_VGIC_V2_ADDR_TYPE_CPU`: the 8 KiB GICv2 CPU interface (the
    /// guest's GICV frame), 4 KiB aligned.
    public mutating func setCPUInterfaceBase(_ base: UInt64) throws(VGICError) {
        try checkNotInitialized()
        guard version == .v2 else { throw .device(.notForThisGICVersion) }
        if addressMap.cpuInterfaceBase != nil { throw .device(.addressAlreadySet) }
        try checkFrame(base: base, size: UInt64(GICC.size), alignment: 0x1000)
        addressMap.cpuInterfaceBase = base
    }

    /// `KVM_VGIC_V3_ADDR_TYPE_REDIST`: every vCPU's redistributor,
    /// contiguous from `base` (region 0 of `vcpuCount` redistributors).
    public mutating func setRedistributorBase(_ base: UInt64) throws(VGICError) {
        try checkNotInitialized()
        guard version == .v3 else { throw .device(.notForThisGICVersion) }
        if addressMap.singleRedistributorBase { throw .device(.addressAlreadySet) }
        if !addressMap.redistributorRegions.isEmpty { throw .device(.mixedRedistributorAPIs) }
        let region = try checkedRegion(index: 0, base: base, count: vcpuCount)
        addressMap.redistributorRegions.append(region)
        addressMap.singleRedistributorBase = true
    }

    /// `KVM_VGIC_V3_ADDR_TYPE_REDIST_REGION`: `count` redistributors from
    /// `base`. Regions are added in index order from 0 and hold the vCPUs in
    /// that order; `GICR_TYPER.Last` marks the last redistributor of each
    /// contiguous run of regions.
    public mutating func addRedistributorRegion(index: Int, base: UInt64, count: Int) throws(VGICError) {
        try checkNotInitialized()
        guard version == .v3 else { throw .device(.notForThisGICVersion) }
        if addressMap.singleRedistributorBase { throw .device(.mixedRedistributorAPIs) }
        if count < 1 { throw .device(.redistributorCountZero) }
        let expected = addressMap.redistributorRegions.last.map { $0.index + 1 } ?? 0
        if index != expected { throw .device(.redistributorRegionIndex) }
        let region = try checkedRegion(index: index, base: base, count: count)
        addressMap.redistributorRegions.append(region)
    }

    /// `addRedistributorRegion` from KVM's packed attribute value (count
    /// [63:52], base [51:16], flags [15:12], index [11:0]).
    public mutating func setRedistributorRegion(kvmAttribute value: UInt64) throws(VGICError) {
        try checkNotInitialized()
        let count = Int(value >> 52)
        if count == 0 { throw .device(.redistributorCountZero) }
        if (value >> 12) & 0xF != 0 { throw .device(.redistributorRegionFlags) }
        try addRedistributorRegion(index: Int(value & 0xFFF), base: value & redistributorRegionBaseMask,
                                   count: count)
    }

    /// KVM_DEV_TYPE_ARM_VGIC_ITS with `KVM_VGIC_ITS_ADDR_TYPE` (ITS hook): the
    /// vGIC's ITS, its 128 KiB frame at `base` (64 KiB aligned), its pools
    /// sized by `configuration` (docs/its.md). One ITS per vGIC.
    public mutating func addITS(base: UInt64, configuration: ITSConfiguration = ITSConfiguration()) throws(VGICError) {
        try checkNotInitialized()
        guard version == .v3 else { throw .device(.notForThisGICVersion) }
        if addressMap.itsBase != nil { throw .device(.addressAlreadySet) }
        try checkFrame(base: base, size: UInt64(GITS.frameSize), alignment: 0x10000)
        try configuration.validate()
        addressMap.itsBase = base
        itsConfiguration = configuration
    }

    /// Reading KVM's REDIST_REGION attribute: the region with this index.
    public func redistributorRegion(index: Int) throws(VGICError) -> RedistributorRegion {
        for r in addressMap.redistributorRegions where r.index == index { return r }
        throw .device(.noSuchRedistributorRegion)
    }

    // MARK: Initialization (KVM_DEV_ARM_VGIC_CTRL_INIT)

    /// Build the vGIC. Every frame must be placed (GICv3: the distributor and
    /// a redistributor for every vCPU; GICv2: the distributor and the CPU
    /// interface). Afterwards the device refuses every change.
    public mutating func initialize<P: VGICPlatform>(platform: P) throws(VGICError) -> VGIC<P> {
        try checkReadyToInitialize()
        let g = try VGIC(configuration: configuration, platform: platform)
        g.attach(addressMap)
        isInitialized = true
        return g
    }

    /// Build the vGIC from a snapshot of one configured like this device (the
    /// destination of a migration configures its device as the source did,
    /// then initializes it from the source's snapshot).
    public mutating func initialize<P: VGICPlatform>(restoring snapshot: [UInt8], platform: P) throws(VGICError)
        -> VGIC<P> {
        try checkReadyToInitialize()
        let g = try VGIC<P>.restore(snapshot: snapshot, platform: platform)
        guard g.configuration == configuration else { throw .device(.snapshotDoesNotMatchDevice) }
        g.attach(addressMap)
        isInitialized = true
        return g
    }

    // MARK: Checks

    func checkNotInitialized() throws(VGICError) {
        if isInitialized { throw .device(.alreadyInitialized) }
    }

    func checkReadyToInitialize() throws(VGICError) {
        try checkNotInitialized()
        if addressMap.distributorBase == nil { throw .device(.distributorBaseNotSet) }
        if version == .v2 {
            if addressMap.cpuInterfaceBase == nil { throw .device(.cpuInterfaceBaseNotSet) }
        } else if addressMap.redistributorCapacity < vcpuCount {
            throw .device(.notEnoughRedistributors)
        }
    }

    func checkedRegion(index: Int, base: UInt64, count: Int) throws(VGICError) -> RedistributorRegion {
        let (size, overflow) = UInt64(count).multipliedReportingOverflow(by: UInt64(GICR.frameSize))
        if overflow { throw .device(.addressWraps) }
        try checkFrame(base: base, size: size, alignment: 0x10000)
        return RedistributorRegion(index: index, base: base, count: count)
    }

    /// Alignment, address-space and overlap rules for a new frame.
    func checkFrame(base: UInt64, size: UInt64, alignment: UInt64) throws(VGICError) {
        if base & (alignment - 1) != 0 { throw .device(.misaligned) }
        let (end, overflow) = base.addingReportingOverflow(size)
        if overflow { throw .device(.addressWraps) }
        if end > ipaSize { throw .device(.beyondIPASpace) }
        let m = addressMap
        if let d = m.distributorBase {
            let dSize = UInt64(version == .v3 ? GICD.sizeV3 : GICD.sizeV2)
            if base < d + dSize && d < end { throw .device(.overlap) }
        }
        if let c = m.cpuInterfaceBase, base < c + UInt64(GICC.size) && c < end { throw .device(.overlap) }
        if let t = m.itsBase, base < t + UInt64(GITS.frameSize) && t < end { throw .device(.overlap) }
        for r in m.redistributorRegions where base < r.end && r.base < end { throw .device(.overlap) }
    }
}

extension VGIC {
    /// Give the vGIC its address map (before it is handed to anyone).
    func attach(_ map: VGICAddressMap) {
        lock.lock()
        defer { lock.unlock() }
        addressMap = map
        redistributorLast = map.redistributorLastFlags(vcpuCount: vcpuCount)
    }
}
