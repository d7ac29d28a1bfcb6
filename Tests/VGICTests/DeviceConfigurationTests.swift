import GICArchitecture
import Testing
@testable import VGIC

/// `request` must be refused with `rule`, and leave the device exactly as it was.
func refuse(_ device: inout VGICDevice, _ rule: VGICDeviceRule, _ what: Comment,
            sourceLocation: SourceLocation = #_sourceLocation,
            _ request: (inout VGICDevice) throws -> Void) {
    let before = device
    do {
        try request(&device)
        Issue.record("accepted: \(what)", sourceLocation: sourceLocation)
    } catch {
        #expect(error as? VGICError == .device(rule), "\(what)", sourceLocation: sourceLocation)
    }
    #expect(device == before, "state changed by a refused request: \(what)", sourceLocation: sourceLocation)
}

/// KVM's REDIST_REGION_ATTR_ADDR(count, base, flags, index).
func regionAttr(_ count: UInt64, _ base: UInt64, _ flags: UInt64, _ index: UInt64) -> UInt64 {
    count << 52 | base | flags << 12 | index
}

let ipa40: UInt64 = 1 << 40

/// The rules of KVM's vgic_init selftest that apply, each refused with its
/// error and without a change.
@Suite("Device configuration (KVM vgic_init rules)")
struct DeviceConfigurationTests {
    /// subtest_dist_rdist, GICv3: 4 vCPUs, the single redistributor base.
    @Test func v3DistributorAndSingleRedistributorBase() throws {
        var d = try VGICDevice(version: .v3, vcpuCount: 4)
        refuse(&d, .misaligned, "GIC dist base not aligned") { d in
            try d.setDistributorBase(0x1000)
        }
        refuse(&d, .misaligned, "GIC redist base not aligned") { d in
            try d.setRedistributorBase(0x1000)
        }
        refuse(&d, .beyondIPASpace, "dist address beyond IPA limit") { d in
            try d.setDistributorBase(ipa40)
        }
        refuse(&d, .beyondIPASpace, "redist address beyond IPA limit") { d in
            try d.setRedistributorBase(ipa40)
        }
        refuse(&d, .beyondIPASpace, "half of the redist is beyond IPA limit") { d in
            try d.setRedistributorBase(ipa40 - 0x10000)
        }
        refuse(&d, .addressWraps, "the frame's end wraps") { d in
            try d.setDistributorBase(0xFFFF_FFFF_FFFF_0000)
        }
        try d.setRedistributorBase(0)
        refuse(&d, .addressAlreadySet, "GIC redist base set again") { d in
            try d.setRedistributorBase(0xE0000)
        }
        refuse(&d, .mixedRedistributorAPIs, "attempt to mix GICv3 REDIST and REDIST_REGION") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(4, 0x100000, 0, 0))
        }
        // KVM accepts the overlap and fails the first vCPU run; the vCPU count
        // is known here, so it is refused at once.
        refuse(&d, .overlap, "dist overlapping the redistributors") { d in
            try d.setDistributorBase(4 * 0x20000 - 0x10000)
        }
        refuse(&d, .notForThisGICVersion, "GICv3 has no memory-mapped CPU interface") { d in
            try d.setCPUInterfaceBase(0x100000)
        }
        refuse(&d, .distributorBaseNotSet, "init before the distributor is placed") { d in
            _ = try d.initialize(platform: FakePlatform(cpus: 4))
        }
        try d.setDistributorBase(0x80000)
        refuse(&d, .addressAlreadySet, "dist base set again") { d in
            try d.setDistributorBase(0x100000)
        }
        #expect(d.addressMap.distributorBase == 0x80000)
        #expect(try d.redistributorRegion(index: 0) == RedistributorRegion(index: 0, base: 0, count: 4))
        let g = try d.initialize(platform: FakePlatform(cpus: 4))
        #expect(g.addressMap == d.addressMap && d.isInitialized)
    }

    /// subtest_dist_rdist, GICv2: distributor 4 KiB, CPU interface 8 KiB, both 4 KiB aligned.
    @Test func v2DistributorAndCPUInterface() throws {
        var d = try VGICDevice(version: .v2, vcpuCount: 4)
        refuse(&d, .misaligned, "GIC dist base not aligned") { d in
            try d.setDistributorBase(0x100)
        }
        refuse(&d, .misaligned, "GIC cpu base not aligned") { d in
            try d.setCPUInterfaceBase(0x100)
        }
        refuse(&d, .beyondIPASpace, "dist address beyond IPA limit") { d in
            try d.setDistributorBase(ipa40)
        }
        refuse(&d, .beyondIPASpace, "half of the CPU interface is beyond IPA limit") { d in
            try d.setCPUInterfaceBase(ipa40 - 0x1000)
        }
        refuse(&d, .notForThisGICVersion, "GICv2 has no redistributors") { d in
            try d.setRedistributorBase(0x100000)
        }
        refuse(&d, .notForThisGICVersion, "GICv2 has no redistributor regions") { d in
            try d.addRedistributorRegion(index: 0, base: 0x100000, count: 4)
        }
        try d.setCPUInterfaceBase(0)
        refuse(&d, .addressAlreadySet, "GIC cpu base set again") { d in
            try d.setCPUInterfaceBase(0xE000)
        }
        refuse(&d, .overlap, "dist inside the 8 KiB CPU interface") { d in
            try d.setDistributorBase(0x1000)
        }
        refuse(&d, .distributorBaseNotSet, "init before the distributor is placed") { d in
            _ = try d.initialize(platform: FakePlatform(cpus: 4))
        }
        try d.setDistributorBase(0x2000)  // right after the CPU interface: no overlap
        _ = try d.initialize(platform: FakePlatform(cpus: 4))

        var e = try VGICDevice(version: .v2, vcpuCount: 1)
        try e.setDistributorBase(0x1000)
        refuse(&e, .cpuInterfaceBaseNotSet, "init before the CPU interface is placed") { d in
            _ = try d.initialize(platform: FakePlatform(cpus: 1))
        }
    }

    /// subtest_v3_redist_regions and test_v3_new_redist_regions.
    @Test func v3RedistributorRegions() throws {
        var d = try VGICDevice(version: .v3, vcpuCount: 4)
        refuse(&d, .redistributorRegionFlags, "redist region attr value with flags != 0") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(4, 0x100000, 2, 0))
        }
        refuse(&d, .redistributorCountZero, "redist region attr value with count == 0") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(0, 0x100000, 0, 0))
        }
        refuse(&d, .redistributorCountZero, "count == 0 through the direct call") { d in
            try d.addRedistributorRegion(index: 0, base: 0x100000, count: 0)
        }
        refuse(&d, .redistributorRegionIndex, "the first rdist region with index != 0") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(2, 0x200000, 0, 1))
        }
        refuse(&d, .misaligned, "rdist region with misaligned address") { d in
            try d.addRedistributorRegion(index: 0, base: 0x201000, count: 2)
        }
        refuse(&d, .addressWraps, "a count whose size overflows") { d in
            try d.addRedistributorRegion(index: 0, base: 0x200000, count: 1 << 50)
        }
        try d.setRedistributorRegion(kvmAttribute: regionAttr(2, 0x200000, 0, 0))
        refuse(&d, .redistributorRegionIndex, "an rdist region with an already used index") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(2, 0x200000, 0, 0))
        }
        refuse(&d, .overlap, "an rdist region overlapping with another one") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(1, 0x210000, 0, 1))
        }
        refuse(&d, .redistributorRegionIndex, "redist region with index not +1") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(1, 0x240000, 0, 2))
        }
        try d.setRedistributorRegion(kvmAttribute: regionAttr(1, 0x240000, 0, 1))
        refuse(&d, .beyondIPASpace, "redist region with base address beyond IPA range") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(1, ipa40, 0, 2))
        }
        refuse(&d, .beyondIPASpace, "redist region with top address beyond IPA range") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(2, ipa40 - 0x30000, 0, 2))
        }
        refuse(&d, .mixedRedistributorAPIs, "Mix KVM_VGIC_V3_ADDR_TYPE_REDIST and REDIST_REGION") { d in
            try d.setRedistributorBase(0x260000)
        }
        // Reading the regions back.
        #expect(try d.redistributorRegion(index: 0).kvmAttribute == regionAttr(2, 0x200000, 0, 0))
        #expect(try d.redistributorRegion(index: 1).kvmAttribute == regionAttr(1, 0x240000, 0, 1))
        #expect(throws: VGICError.device(.noSuchRedistributorRegion)) { try d.redistributorRegion(index: 2) }
        try d.setDistributorBase(0x260000)
        refuse(&d, .overlap, "register redist region colliding with dist") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(1, 0x260000, 0, 2))
        }
        // Three redistributors for four vCPUs (KVM: -ENXIO at the first run).
        refuse(&d, .notEnoughRedistributors, "running without sufficient number of rdists") { d in
            _ = try d.initialize(platform: FakePlatform(cpus: 4))
        }
        try d.setRedistributorRegion(kvmAttribute: regionAttr(2, 0x280000, 0, 2))
        let g = try d.initialize(platform: FakePlatform(cpus: 4))
        #expect(g.addressMap.redistributorCapacity == 5)
    }

    /// The number of IRQs: from 64 to 1024 in steps of 32, once, before init.
    @Test func irqCount() throws {
        var d = try VGICDevice(version: .v3, vcpuCount: 1)
        #expect(d.irqCount == 256 && !d.irqCountIsSet)
        for bad in [0, 32, 63, 100, 1025, 1056, -64] {
            refuse(&d, .irqCountOutOfRange, "nr_irqs \(bad)") { d in
                try d.setIRQCount(bad)
            }
        }
        try d.setIRQCount(64)
        refuse(&d, .irqCountAlreadySet, "nr_irqs set twice") { d in
            try d.setIRQCount(128)
        }
        var e = try VGICDevice(version: .v2, vcpuCount: 1)
        try e.setIRQCount(1024)
        try e.setDistributorBase(0)
        try e.setCPUInterfaceBase(0x10000)
        let g = try e.initialize(platform: FakePlatform(cpus: 1))
        #expect(g.configuration.irqCount == 1024)
        #expect(try g.vmmRead(region: .distributor, offset: GICD.typer, width: 4) & 0x1F == 31)
    }

    /// After init nothing the architecture fixes can change (KVM: -EBUSY).
    @Test func nothingChangesAfterInit() throws {
        var d = try VGICDevice(version: .v3, vcpuCount: 2)
        try d.setDistributorBase(0x0800_0000)
        try d.addRedistributorRegion(index: 0, base: 0x080A_0000, count: 2)
        _ = try d.initialize(platform: FakePlatform(cpus: 2))
        refuse(&d, .alreadyInitialized, "nr_irqs after init") { d in
            try d.setIRQCount(128)
        }
        refuse(&d, .alreadyInitialized, "dist base after init") { d in
            try d.setDistributorBase(0x0900_0000)
        }
        refuse(&d, .alreadyInitialized, "a new redist region after init") { d in
            try d.addRedistributorRegion(index: 1, base: 0x0900_0000, count: 1)
        }
        refuse(&d, .alreadyInitialized, "a new redist region (KVM attribute) after init") { d in
            try d.setRedistributorRegion(kvmAttribute: regionAttr(1, 0x0900_0000, 0, 1))
        }
        refuse(&d, .alreadyInitialized, "redist base after init") { d in
            try d.setRedistributorBase(0x0900_0000)
        }
        refuse(&d, .alreadyInitialized, "init twice") { d in
            _ = try d.initialize(platform: FakePlatform(cpus: 2))
        }
        var v2 = try VGICDevice(version: .v2, vcpuCount: 1)
        try v2.setDistributorBase(0)
        try v2.setCPUInterfaceBase(0x1000)
        _ = try v2.initialize(platform: FakePlatform(cpus: 1))
        refuse(&v2, .alreadyInitialized, "cpu base after init") { d in
            try d.setCPUInterfaceBase(0x4000)
        }
    }

    /// The destination of a migration: configured like the source, then
    /// initialized from its snapshot; a snapshot of another configuration is
    /// refused without initializing.
    @Test func initializeFromASnapshot() throws {
        func configured(vcpus: Int, irqs: Int) throws -> VGICDevice {
            var d = try VGICDevice(version: .v3, vcpuCount: vcpus)
            try d.setIRQCount(irqs)
            try d.setDistributorBase(0x0800_0000)
            try d.setRedistributorBase(0x080A_0000)
            return d
        }
        var source = try configured(vcpus: 2, irqs: 128)
        let g = try source.initialize(platform: FakePlatform(cpus: 2))
        g.guestMMIOWrite(vcpu: 0, address: 0x0800_0104, width: 4, value: 1 << 8)
        let bytes = try g.snapshot()

        var other = try configured(vcpus: 2, irqs: 64)
        refuse(&other, .snapshotDoesNotMatchDevice, "a snapshot of a vGIC with 128 IRQs") { d in
            _ = try d.initialize(restoring: bytes, platform: FakePlatform(cpus: 2))
        }
        var bare = try VGICDevice(version: .v3, vcpuCount: 2)
        try bare.setIRQCount(128)
        refuse(&bare, .distributorBaseNotSet, "restoring needs the frames placed too") { d in
            _ = try d.initialize(restoring: bytes, platform: FakePlatform(cpus: 2))
        }
        var destination = try configured(vcpus: 2, irqs: 128)
        let h = try destination.initialize(restoring: bytes, platform: FakePlatform(cpus: 2))
        #expect(destination.isInitialized && h.addressMap == source.addressMap)
        #expect(h.guestMMIORead(vcpu: 0, address: 0x0800_0104, width: 4) == 1 << 8)
        #expect(try h.snapshot() == bytes)
    }

    @Test func creationLimits() {
        #expect(throws: VGICError.device(.ipaSizeOutOfRange)) { try VGICDevice(version: .v3, vcpuCount: 1, ipaBits: 31) }
        #expect(throws: VGICError.device(.ipaSizeOutOfRange)) { try VGICDevice(version: .v3, vcpuCount: 1, ipaBits: 53) }
        #expect(throws: VGICError.self) { try VGICDevice(version: .v2, vcpuCount: 9) }
        #expect(throws: VGICError.self) { try VGICDevice(version: .v3, vcpuCount: 0) }
    }

    /// Every rule's message names it, and maps to KVM's errno.
    @Test func ruleMessagesAndErrnos() {
        for rule in VGICDeviceRule.allCases {
            let m = VGICError.device(rule).message.description
            #expect(m.count > 10, "\(rule)")
            #expect([2, 6, 7, 16, 17, 22].contains(rule.kvmErrno), "\(rule)")
        }
        #expect(VGICDeviceRule.misaligned.message.description.contains("aligned"))
        #expect(VGICDeviceRule.overlap.message.description.contains("overlap"))
        #expect(VGICDeviceRule.beyondIPASpace.kvmErrno == 7)
        #expect(VGICDeviceRule.addressAlreadySet.kvmErrno == 17)
        #expect(VGICDeviceRule.alreadyInitialized.kvmErrno == 16)
        for rule in VGICRegisterRule.allCases {
            #expect(VGICError.register(rule).message.description.count > 10, "\(rule)")
        }
    }
}

/// `GICR_TYPER.Last` and address-based dispatch.
@Suite("Redistributor regions: GICR_TYPER and dispatch")
struct RedistributorRegionTests {
    func typer(_ g: TestVGIC, _ v: Int) throws -> UInt64 {
        try g.vmmRead(region: .redistributor(v), offset: GICR.typer, width: 4)
    }

    /// test_v3_last_bit_redist_regions, with the vCPUs in index order:
    /// region 0 @0x100000 holds vCPUs 0, 1 (1 Last); region 1 @0x240000 holds
    /// 2, 3 (3 Last); region 2 @0x200000 holds 4, 5 and ends where region 1
    /// starts, so 5 is not Last.
    @Test func lastBitPerContiguousRun() throws {
        var d = try VGICDevice(version: .v3, vcpuCount: 6)
        try d.setRedistributorRegion(kvmAttribute: regionAttr(2, 0x100000, 0, 0))
        try d.setRedistributorRegion(kvmAttribute: regionAttr(2, 0x240000, 0, 1))
        try d.setRedistributorRegion(kvmAttribute: regionAttr(2, 0x200000, 0, 2))
        try d.setDistributorBase(0x0800_0000)
        let g = try d.initialize(platform: FakePlatform(cpus: 6))
        let expected: [UInt64] = [0x000, 0x110, 0x200, 0x310, 0x400, 0x500]
        for v in 0..<6 {
            #expect(try typer(g, v) == expected[v], "vCPU \(v)")
            // The guest sees the same at the frame's address.
            let a = try #require(g.baseAddress(of: .redistributor(v)))
            #expect(g.guestMMIORead(vcpu: 0, address: a + UInt64(GICR.typer), width: 4) == expected[v])
        }
    }

    /// test_v3_last_bit_single_rdist: one base, the last vCPU is Last.
    @Test func lastBitSingleBase() throws {
        var d = try VGICDevice(version: .v3, vcpuCount: 6)
        try d.setRedistributorBase(0x10000)
        try d.setDistributorBase(0x0800_0000)
        let g = try d.initialize(platform: FakePlatform(cpus: 6))
        for v in 0..<6 { #expect(try typer(g, v) == UInt64(v) << 8 | (v == 5 ? 0x10 : 0)) }
        // Without a device: as before, the last vCPU's.
        let h = try TestVGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 3), platform: FakePlatform(cpus: 3))
        for v in 0..<3 { #expect(try typer(h, v) & 0x10 == (v == 2 ? 0x10 : 0)) }
    }

    /// A region with more frames than vCPUs left: its last used frame is
    /// Last; the frames beyond are nobody's.
    @Test func partlyUsedRegion() throws {
        var d = try VGICDevice(version: .v3, vcpuCount: 3)
        try d.addRedistributorRegion(index: 0, base: 0x100000, count: 2)
        try d.addRedistributorRegion(index: 1, base: 0x140000, count: 4)  // contiguous with region 0
        try d.setDistributorBase(0)
        let g = try d.initialize(platform: FakePlatform(cpus: 3))
        #expect(try typer(g, 0) & 0x10 == 0)
        #expect(try typer(g, 1) & 0x10 == 0, "region 0 is full and region 1 continues it")
        #expect(try typer(g, 2) & 0x10 == 0x10)
        #expect(g.location(ofAddress: 0x140000 + 0x20000) == nil, "a frame with no vCPU")
        #expect(g.guestMMIORead(vcpu: 0, address: 0x160008, width: 4) == nil)
    }

    @Test func dispatchByAddressV3() throws {
        var d = try VGICDevice(version: .v3, vcpuCount: 2)
        try d.setIRQCount(64)
        try d.setDistributorBase(0x0800_0000)
        try d.addRedistributorRegion(index: 0, base: 0x080A_0000, count: 1)
        try d.addRedistributorRegion(index: 1, base: 0x0900_0000, count: 1)
        let p = FakePlatform(cpus: 2)
        let g = try d.initialize(platform: p)
        #expect(g.location(ofAddress: 0x0800_0104) == VGICLocation(region: .distributor, offset: 0x104))
        #expect(g.location(ofAddress: 0x0800_FFFF) == VGICLocation(region: .distributor, offset: 0xFFFF))
        #expect(g.location(ofAddress: 0x0801_0000) == nil)
        #expect(g.location(ofAddress: 0x080A_0000) == VGICLocation(region: .redistributor(0), offset: 0))
        #expect(g.location(ofAddress: 0x080B_0100) == VGICLocation(region: .redistributor(0), offset: 0x10100))
        #expect(g.location(ofAddress: 0x0900_0014) == VGICLocation(region: .redistributor(1), offset: 0x14))
        #expect(g.location(ofAddress: 0x0902_0000) == nil)
        #expect(g.location(ofAddress: 0x07FF_FFFF) == nil)
        #expect(g.baseAddress(of: .distributor) == 0x0800_0000)
        #expect(g.baseAddress(of: .redistributor(1)) == 0x0900_0000)
        #expect(g.baseAddress(of: .cpuInterface) == nil)

        // The guest enables SPI 33 through the distributor's address and PPI
        // 20 through vCPU 1's SGI_base, and reads them back by region.
        #expect(g.guestMMIOWrite(vcpu: 0, address: 0x0800_0104, width: 4, value: 2))
        #expect(g.guestMMIOWrite(vcpu: 1, address: 0x0901_0100, width: 4, value: 1 << 20))
        #expect(g.guestMMIORead(vcpu: 0, region: .distributor, offset: 0x104, width: 4) == 2)
        #expect(g.guestMMIORead(vcpu: 1, region: .redistributor(1), offset: 0x10100, width: 4) == 0x10_FFFF)
        #expect(g.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: 0x10100, width: 4) == 0xFFFF)
        #expect(!g.guestMMIOWrite(vcpu: 0, address: 0x0A00_0000, width: 4, value: 1))
        #expect(g.guestMMIORead(vcpu: 0, address: 0x0A00_0000, width: 4) == nil)
        #expect(g.accessNeedsOtherVCPUsOut(region: .distributor, offset: 0x304))
        #expect(!g.accessNeedsOtherVCPUsOut(region: .distributor, offset: 0x104))
        #expect(g.accessNeedsOtherVCPUsOut(region: .redistributor(1), offset: 0x10200))
    }

    @Test func dispatchByAddressV2() throws {
        var d = try VGICDevice(version: .v2, vcpuCount: 1)
        try d.setDistributorBase(0x0800_0000)
        try d.setCPUInterfaceBase(0x0801_0000)
        let g = try d.initialize(platform: FakePlatform(cpus: 1))
        #expect(g.location(ofAddress: 0x0800_0FFC) == VGICLocation(region: .distributor, offset: 0xFFC))
        #expect(g.location(ofAddress: 0x0800_1000) == nil, "the GICv2 distributor is 4 KiB")
        #expect(g.location(ofAddress: 0x0801_1000) == VGICLocation(region: .cpuInterface, offset: GICC.dir))
        #expect(g.location(ofAddress: 0x0801_2000) == nil, "the CPU interface is 8 KiB")
        #expect(g.baseAddress(of: .cpuInterface) == 0x0801_0000)
        #expect(g.guestMMIORead(vcpu: 0, address: 0x0800_0008, width: 4) == 0x5600_343B)
    }
}
