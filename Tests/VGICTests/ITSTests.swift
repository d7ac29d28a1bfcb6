import GICArchitecture
import GICModel
import Testing
@testable import VGIC
import VGICModelPlatform

/// The guest's ITS driver, on `LPIMachine`'s RAM: device table at +0x4_0000
/// (one 64 KiB page: 8192 DeviceIDs), collection table at +0x5_0000, command
/// queue at +0x6_0000 (one 4 KiB page: 128 commands), ITTs from +0x8_0000.
extension LPIMachine {
    static let deviceTable = ram + 0x4_0000
    static let collectionTable = ram + 0x5_0000
    static let commandQueue = ram + 0x6_0000
    static func itt(_ n: Int) -> UInt64 { ram + 0x8_0000 + 0x1000 * UInt64(n) }

    func itsRead(_ offset: UInt32, width: Int = 4) -> UInt64 {
        g.guestMMIORead(vcpu: 0, region: .its, offset: offset, width: width)
    }

    func itsWrite(_ offset: UInt32, _ value: UInt64, width: Int = 4) {
        g.guestMMIOWrite(vcpu: 0, region: .its, offset: offset, width: width, value: value)
    }

    /// Tables and queue programmed, the ITS enabled (after `boot`).
    func bootITS(enable: Bool = true) {
        itsWrite(GITS.baser, LPIMachine.deviceTable | GITS.baserValid, width: 8)
        itsWrite(GITS.baser + 8, LPIMachine.collectionTable | GITS.baserValid, width: 8)
        itsWrite(GITS.cbaser, LPIMachine.commandQueue | GITS.cbaserValid, width: 8)
        if enable { itsWrite(GITS.ctlr, 1) }
    }

    /// The guest queues commands and writes GITS_CWRITER once.
    func commands(_ list: ITSCommand...) {
        var w = itsRead(GITS.cwriter, width: 8)
        let size = GITS.commandQueueSize(itsRead(GITS.cbaser, width: 8))
        for c in list {
            let a = LPIMachine.commandQueue + w
            memory.store(a, c.dw0)
            memory.store(a + 8, c.dw1)
            memory.store(a + 16, c.dw2)
            memory.store(a + 24, c.dw3)
            w = (w + 32) % size
        }
        itsWrite(GITS.cwriter, w, width: 8)
    }

    /// Device `device` with `bits` EventID bits, collection `icid` on vCPU
    /// `target`, event `event` -> LPI `intid` (enabled, priority 0x40).
    func mapEvent(device: UInt32 = 1, event: UInt32 = 0, intid: UInt32, icid: UInt16 = 0, target: UInt32 = 0,
                  bits: UInt32 = 4, priority: UInt8 = 0x40) {
        configure(intid, priority: priority)
        commands(.mapd(device: device, ittAddress: LPIMachine.itt(Int(device % 16)), eventIDBits: bits),
                 .mapc(icid: icid, target: target),
                 .mapti(device: device, event: event, lpi: intid, icid: icid))
    }

    var ignored: UInt64 { g.itsCommandCounts.ignored }
}

@Suite("The ITS")
struct ITSTests {
    @Test func identificationAndTypeAreKVMs() throws {
        let m = try LPIMachine()
        let typer = m.itsRead(GITS.typer, width: 8)
        #expect(typer & 1 == 1, "physical LPIs")
        #expect((typer >> 4) & 0xF == 7, "8-byte ITT entries")
        #expect((typer >> 8) & 0x1F == 15 && (typer >> 13) & 0x1F == 15, "16 EventID and DeviceID bits")
        #expect((typer >> 19) & 1 == 0 && (typer >> 24) & 0xFF == 0 && (typer >> 36) & 1 == 0, "PTA, HCC, CIL 0")
        #expect(m.itsRead(GITS.typer + 4) == typer >> 32)
        #expect(m.itsRead(GITS.iidr) == 0x5600_043B)
        #expect(m.itsRead(GITS.pidr2) == 0x3B)
        #expect(m.itsRead(GITS.ctlr) == UInt64(GITS.ctlrQuiescent))
        #expect(m.itsRead(0x10) == 0 && m.itsRead(GITS.translater) == 0)
    }

    @Test func baserTypesAndEntrySizesAreFixedAndPagesAre64K() throws {
        let m = try LPIMachine()
        m.itsWrite(GITS.baser, 0x0700_0000_4004_0000 | GITS.baserIndirect | 1 << 8 | 3, width: 8)
        let b0 = m.itsRead(GITS.baser, width: 8)
        #expect((b0 >> 56) & 7 == 1 && (b0 >> 48) & 0x1F == 7 && (b0 >> 8) & 3 == 2)
        #expect(b0 & GITS.baserIndirect != 0 && b0 & 0xFF == 3 && GITS.baserAddress(b0) == 0x4004_0000)
        m.itsWrite(GITS.baser + 8, GITS.baserIndirect | 0x4005_0000, width: 8)
        let b1 = m.itsRead(GITS.baser + 8, width: 8)
        #expect((b1 >> 56) & 7 == 4 && b1 & GITS.baserIndirect == 0, "the collection table is flat")
        m.itsWrite(GITS.baser + 16, 0x4006_0000 | GITS.baserValid, width: 8)
        #expect(m.itsRead(GITS.baser + 16, width: 8) == 0, "BASER2..7 RAZ/WI")
    }

    @Test func enablingNeedsValidTablesAndFreezesThem() throws {
        let m = try LPIMachine()
        m.boot()
        m.itsWrite(GITS.baser, LPIMachine.deviceTable | GITS.baserValid, width: 8)
        m.itsWrite(GITS.cbaser, LPIMachine.commandQueue | GITS.cbaserValid, width: 8)
        m.itsWrite(GITS.ctlr, 1)
        #expect(m.itsRead(GITS.ctlr) & 1 == 0, "no valid collection table: the write is ignored")
        m.bootITS()
        #expect(m.itsRead(GITS.ctlr) == UInt64(GITS.ctlrQuiescent | 1))
        m.itsWrite(GITS.cbaser, 0x4007_0000 | GITS.cbaserValid, width: 8)
        m.itsWrite(GITS.baser, 0x4007_0000 | GITS.baserValid, width: 8)
        #expect(m.itsRead(GITS.cbaser, width: 8) & GITS.cbaserAddressMask == LPIMachine.commandQueue)
        #expect(GITS.baserAddress(m.itsRead(GITS.baser, width: 8)) == LPIMachine.deviceTable)
    }

    @Test func mapThenINTIsDeliveredOnTheCollectionsVCPU() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 3, event: 5, intid: 8195, icid: 2, target: 1)
        #expect(m.ignored == 0)
        m.commands(.event(.int, device: 3, event: 5))
        #expect(m.drain(0).isEmpty)
        #expect(m.drain(1) == [8195])
        #expect(m.itsRead(GITS.creadr, width: 8) == m.itsRead(GITS.cwriter, width: 8))
        #expect(m.model.violations.isEmpty)
    }

    @Test func msisAreDeliveredOrBlockedAsKVMSays() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS(enable: false)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .blocked(.itsDisabled))
        m.itsWrite(GITS.ctlr, 1)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .blocked(.unmapped))
        m.mapEvent(device: 1, event: 0, intid: 8192, target: 1)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 1) == .blocked(.unmapped))
        m.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.ctlr, width: 4, value: 0)
        let off = try m.g.signalMSI(deviceID: 1, eventID: 0)
        #expect(off == .blocked(.lpisDisabled) && off.kvmReturnValue == -16)
        m.enableLPIsOn(1)
        let ok = try m.g.signalMSI(deviceID: 1, eventID: 0)
        #expect(ok == .delivered && ok.kvmReturnValue == 1)
        #expect(m.drain(1) == [8192])
        #expect(MSIOutcome.blocked(.unmapped).kvmReturnValue == 0)
    }

    @Test func theDoorbellMustBeTheITSs() throws {
        var device = try VGICDevice(version: .v3, vcpuCount: 1)
        try device.setDistributorBase(0x0800_0000)
        try device.setRedistributorBase(0x080A_0000)
        try device.addITS(base: 0x0808_0000)
        let g = try device.initialize(platform: ModelPlatform(model: GICModel(version: .v3, cpus: 1,
                                                                              listRegisters: 4, priorityBits: 5)))
        #expect(try g.signalMSI(doorbell: 0x0809_0040, deviceID: 0, eventID: 0) == .blocked(.itsDisabled))
        #expect(throws: VGICError.its(.notTheITSDoorbell)) {
            _ = try g.signalMSI(doorbell: 0x080A_0040, deviceID: 0, eventID: 0)
        }
        #expect(g.location(ofAddress: 0x0809_0040) == VGICLocation(region: .its, offset: GITS.translater))
        #expect(g.baseAddress(of: .its) == 0x0808_0000)
        let plain = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 1),
                             platform: ModelPlatform(model: GICModel(version: .v3, cpus: 1, listRegisters: 4,
                                                                     priorityBits: 5)))
        #expect(throws: VGICError.its(.noITS)) { _ = try plain.signalMSI(deviceID: 0, eventID: 0) }
    }

    @Test func moviMovesAPendingLPIAndTheCacheFollows() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192, icid: 0, target: 0)
        m.commands(.mapc(icid: 1, target: 1))
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .delivered)  // cached now
        m.commands(.movi(device: 1, event: 0, icid: 1))
        #expect(m.drain(0).isEmpty && m.drain(1) == [8192], "the pending state moved")
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .delivered)
        #expect(m.drain(0).isEmpty && m.drain(1) == [8192], "no stale translation")
        // MOVI to an unmapped collection is ignored.
        let before = m.ignored
        m.commands(.movi(device: 1, event: 0, icid: 9))
        #expect(m.ignored == before + 1)
    }

    @Test func movallMovesEveryLPIOfARedistributor() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192, icid: 0, target: 0)
        m.configure(8193, priority: 0x30)
        m.commands(.mapti(device: 1, event: 1, lpi: 8193, icid: 0),
                   .event(.int, device: 1, event: 0), .event(.int, device: 1, event: 1),
                   .movall(from: 0, to: 1))
        #expect(m.drain(0).isEmpty)
        #expect(m.drain(1) == [8193, 8192])
        // The collection still names vCPU 0 (software remaps it): a new INT
        // goes there, as the architecture says (KVM's would follow the LPI).
        m.commands(.event(.int, device: 1, event: 0))
        #expect(m.drain(0) == [8192])
        let before = m.ignored
        m.commands(.movall(from: 0, to: 7))
        #expect(m.ignored == before + 1, "RDbase beyond the vCPUs")
    }

    @Test func discardRemovesTheMappingAndThePendingState() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 2, intid: 8200)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 2) == .delivered)
        m.commands(.event(.discard, device: 1, event: 2))
        #expect(m.drain(0).isEmpty)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 2) == .blocked(.unmapped), "the cache was invalidated")
        #expect(m.g.lpi.free.count == m.g.lpi.capacity)
        let before = m.ignored
        m.commands(.event(.discard, device: 1, event: 2))
        #expect(m.ignored == before + 1)
    }

    @Test func invAndInvallReadTheConfigurationAgain() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192)
        m.configure(8193, priority: 0x40, enabled: false)
        m.commands(.mapti(device: 1, event: 1, lpi: 8193, icid: 0))
        m.configure(8192, priority: 0x40, enabled: false)
        m.commands(.event(.int, device: 1, event: 0), .event(.int, device: 1, event: 1))
        #expect(m.drain(0) == [8192], "8192's configuration is still the cached one")
        m.commands(.event(.inv, device: 1, event: 0), .event(.int, device: 1, event: 0))
        #expect(m.drain(0).isEmpty, "disabled after INV")
        m.configure(8192, priority: 0x60)
        m.configure(8193, priority: 0x50)
        m.commands(.invall(icid: 0))
        #expect(m.drain(0) == [8193, 8192])
    }

    @Test func clearRemovesThePendingState() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.configure(8192, priority: 0x40, enabled: false)
        m.commands(.mapd(device: 1, ittAddress: LPIMachine.itt(1), eventIDBits: 2), .mapc(icid: 0, target: 0),
                   .mapti(device: 1, event: 0, lpi: 8192, icid: 0), .event(.int, device: 1, event: 0),
                   .event(.clear, device: 1, event: 0))
        m.configure(8192, priority: 0x40)
        m.commands(.event(.inv, device: 1, event: 0), .sync(target: 0))
        #expect(m.drain(0).isEmpty)
    }

    @Test func badCommandsAreIgnoredAndChangeNothing() throws {
        let m = try LPIMachine()
        m.boot()
        // A one-page flat device table of 8-byte entries holds DeviceIDs < 8192.
        m.bootITS()
        var ignored: UInt64 = 0
        func expectIgnored(_ c: ITSCommand, _ why: Comment) {
            m.commands(c)
            ignored += 1
            #expect(m.ignored == ignored, why)
        }
        expectIgnored(.mapd(device: 8192, ittAddress: LPIMachine.itt(0), eventIDBits: 2), "DeviceID beyond the table")
        expectIgnored(.mapd(device: 1, ittAddress: LPIMachine.itt(0), eventIDBits: 17), "more than 16 EventID bits")
        expectIgnored(.mapc(icid: 0, target: 2), "RDbase beyond the vCPUs")
        expectIgnored(.mapc(icid: 8192, target: 0), "ICID beyond the collection table")
        expectIgnored(.mapti(device: 1, event: 0, lpi: 8192, icid: 0), "device not mapped")
        m.commands(.mapd(device: 1, ittAddress: LPIMachine.itt(1), eventIDBits: 2), .mapc(icid: 0, target: 0))
        expectIgnored(.mapti(device: 1, event: 4, lpi: 8192, icid: 0), "EventID beyond the ITT's 2 bits")
        expectIgnored(.mapti(device: 1, event: 0, lpi: 8191, icid: 0), "not an LPI")
        expectIgnored(.mapti(device: 1, event: 0, lpi: 65536, icid: 0), "beyond PROPBASER's 16 INTID bits")
        expectIgnored(.mapti(device: 1, event: 0, lpi: 9000, icid: 8192), "unmapped ICID beyond the table")
        m.commands(.mapti(device: 1, event: 0, lpi: 9000, icid: 0))
        expectIgnored(.mapti(device: 1, event: 0, lpi: 9001, icid: 0), "the pair is mapped already")
        expectIgnored(ITSCommand(dw0: 0x2A), "unknown command")
        expectIgnored(.event(.int, device: 1, event: 1), "INT of an unmapped event")
        expectIgnored(.event(.clear, device: 2, event: 0), "CLEAR of an unmapped device")
        expectIgnored(.event(.inv, device: 1, event: 3), "INV of an unmapped event")
        expectIgnored(.invall(icid: 5), "INVALL of an unmapped collection")
        expectIgnored(.movi(device: 1, event: 1, icid: 0), "MOVI of an unmapped event")
        #expect(m.g.lpi.byINTID.count == 1 && m.g.its.iteByKey.count == 1 && m.g.its.deviceByID.count == 1)
        #expect(m.g.its.collections.count == 1)
        // A smaller PROPBASER (IDbits 13: 14 INTID bits) bounds the LPIs
        // (written where LPIs are off).
        m.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.ctlr, width: 4, value: 0)
        m.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.propbaser, width: 8,
                           value: LPIMachine.propTable | 13)
        expectIgnored(.mapti(device: 1, event: 1, lpi: 16384, icid: 0), "beyond PROPBASER's 14 INTID bits")
        m.commands(.mapti(device: 1, event: 1, lpi: 16383, icid: 0))
        #expect(m.ignored == ignored)
    }

    @Test func aQueueOrTablesOutsideGuestMemoryAreHarmless() throws {
        let m = try LPIMachine()
        m.boot()
        m.itsWrite(GITS.baser, 0x000F_FFFF_0000_0000 | GITS.baserValid, width: 8)
        m.itsWrite(GITS.baser + 8, LPIMachine.collectionTable | GITS.baserValid, width: 8)
        m.itsWrite(GITS.cbaser, 0x000F_FFFF_FFFF_F000 | GITS.cbaserValid | 0xFF, width: 8)
        m.itsWrite(GITS.ctlr, 1)
        m.itsWrite(GITS.cwriter, 0xF_FFE0, width: 8)
        #expect(m.itsRead(GITS.creadr, width: 8) == 0xF_FFE0, "every command skipped, the queue drained")
        #expect(m.ignored == 0xF_FFE0 / 32)
        // A device table outside memory: no DeviceID fits.
        m.itsWrite(GITS.ctlr, 0)
        m.itsWrite(GITS.cbaser, LPIMachine.commandQueue | GITS.cbaserValid, width: 8)
        m.itsWrite(GITS.ctlr, 1)
        m.commands(.mapd(device: 0, ittAddress: LPIMachine.itt(0), eventIDBits: 2))
        #expect(m.g.its.deviceByID.count == 0)
        #expect(m.model.violations.isEmpty)
    }

    @Test func aTwoLevelDeviceTableChecksItsFirstLevel() throws {
        let m = try LPIMachine()
        m.boot()
        // One first-level page: entry 1 covers DeviceIDs 8192..16383 and points at a second-level page.
        let level2 = LPIMachine.ram + 0xA_0000
        m.memory.store(LPIMachine.deviceTable + 8, level2 | GITS.level1Valid)
        m.itsWrite(GITS.baser, LPIMachine.deviceTable | GITS.baserValid | GITS.baserIndirect, width: 8)
        m.itsWrite(GITS.baser + 8, LPIMachine.collectionTable | GITS.baserValid, width: 8)
        m.itsWrite(GITS.cbaser, LPIMachine.commandQueue | GITS.cbaserValid, width: 8)
        m.itsWrite(GITS.ctlr, 1)
        m.commands(.mapd(device: 5, ittAddress: LPIMachine.itt(0), eventIDBits: 2))
        #expect(m.ignored == 1, "first-level entry 0 is invalid")
        m.commands(.mapd(device: 8200, ittAddress: LPIMachine.itt(0), eventIDBits: 2))
        #expect(m.ignored == 1 && m.g.its.deviceByID.find(8200) >= 0)
        m.commands(.mapd(device: 65536 * 8, ittAddress: LPIMachine.itt(0), eventIDBits: 2))
        #expect(m.ignored == 2, "beyond the first level")
    }

    @Test func cwriterBeyondTheQueueIsIgnoredAndCBASERResetsIt() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.itsWrite(GITS.cwriter, 0x1000, width: 8)
        #expect(m.itsRead(GITS.cwriter, width: 8) == 0)
        m.mapEvent(intid: 8192)
        #expect(m.itsRead(GITS.cwriter, width: 8) == 96)
        m.itsWrite(GITS.ctlr, 0)
        m.itsWrite(GITS.cbaser, LPIMachine.commandQueue | GITS.cbaserValid, width: 8)
        #expect(m.itsRead(GITS.cwriter, width: 8) == 0 && m.itsRead(GITS.creadr, width: 8) == 0)
        // Commands queued while disabled run when the ITS is enabled.
        m.commands(.event(.int, device: 1, event: 0))
        #expect(m.itsRead(GITS.ctlr) == 0, "not quiescent: one command waits")
        m.itsWrite(GITS.ctlr, 1)
        #expect(m.drain(0) == [8192])
    }

    @Test func theQueueWrapsAround() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(intid: 8192)
        for _ in 0..<50 { m.commands(.event(.int, device: 1, event: 0), .sync(target: 0), .sync(target: 0)) }
        #expect(m.itsRead(GITS.creadr, width: 8) == (3 + 150) % 128 * 32)
        #expect(m.ignored == 0 && m.g.itsCommandCounts.processed == 153)
        #expect(m.drain(0) == [8192])
    }

    @Test func theGuestsOwnTranslaterWriteIsDeviceZero() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 0, event: 7, intid: 8300)
        m.itsWrite(GITS.translater, 7)
        #expect(m.drain(0) == [8300])
        m.g.guestMMIOWrite(vcpu: 0, region: .its, offset: GITS.translater, width: 2, value: 7)
        #expect(m.drain(0) == [8300], "a 16-bit write")
        let kvm = try LPIMachine(its: ITSConfiguration(lpis: 8, devices: 2, events: 8, collections: 2,
                                                       cpuTranslaterDeviceID: nil))
        kvm.boot()
        kvm.bootITS()
        kvm.mapEvent(device: 0, event: 7, intid: 8300)
        kvm.itsWrite(GITS.translater, 7)
        #expect(kvm.drain(0).isEmpty, "KVM ignores a CPU's write")
    }

    @Test func mapdAgainOrUnmappedFreesTheDevicesEntries() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192)
        m.commands(.mapti(device: 1, event: 1, lpi: 8193, icid: 0), .event(.int, device: 1, event: 1))
        #expect(m.g.its.iteByKey.count == 2)
        m.commands(.mapd(device: 1, ittAddress: LPIMachine.itt(2), eventIDBits: 4))
        #expect(m.g.its.iteByKey.count == 0 && m.g.lpi.byINTID.count == 0, "remapping a device drops its entries")
        #expect(m.drain(0).isEmpty)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .blocked(.unmapped))
        m.commands(.mapd(device: 1, ittAddress: 0, eventIDBits: 1, valid: false))
        #expect(m.g.its.deviceByID.count == 0)
    }

    @Test func aCollectionMappedAgainServesItsEntriesAgain() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192, icid: 3, target: 0)
        m.commands(.mapc(icid: 3, target: 0, valid: false))
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .blocked(.unmapped))
        m.commands(.mapc(icid: 3, target: 1))
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .delivered)
        #expect(m.drain(1) == [8192])
    }

    @Test func remappingACollectionRetargetsItsLPIs() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192, icid: 0, target: 0)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .delivered)
        m.commands(.mapc(icid: 0, target: 1))
        #expect(m.drain(0).isEmpty && m.drain(1) == [8192])
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .delivered)
        #expect(m.drain(1) == [8192])
    }

    @Test func disablingTheITSOrClearingATableDropsWhatItServes() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(intid: 8192)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .delivered)
        m.itsWrite(GITS.ctlr, 0)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .blocked(.itsDisabled))
        m.itsWrite(GITS.baser + 8, LPIMachine.collectionTable, width: 8)
        #expect(m.g.its.collections.count == 0)
        m.itsWrite(GITS.baser, LPIMachine.deviceTable, width: 8)
        #expect(m.g.its.deviceByID.count == 0 && m.g.its.iteByKey.count == 0)
        #expect(m.drain(0).isEmpty, "an LPI that no entry names has no pending state")
    }

    @Test func theTranslationCacheHitsUntilInvalidated() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 4, event: 9, intid: 8400)
        let key = VGIC<ModelPlatform>.cacheKey(device: 4, event: 9)
        #expect(m.g.cachedTranslation(key) < 0)
        #expect(try m.g.signalMSI(deviceID: 4, eventID: 9) == .delivered)
        #expect(m.g.cachedTranslation(key) == Int32(m.g.lpiIndex(8400)))
        m.commands(.sync(target: 0), .event(.inv, device: 4, event: 9), .event(.clear, device: 4, event: 9))
        #expect(m.g.cachedTranslation(key) >= 0, "SYNC, INV and CLEAR keep translations")
        m.commands(.mapc(icid: 0, target: 0))
        #expect(m.g.cachedTranslation(key) >= 0, "a MAPC that changes nothing keeps them")
        m.commands(.mapc(icid: 0, target: 1))
        #expect(m.g.cachedTranslation(key) < 0)
        #expect(try m.g.signalMSI(deviceID: 4, eventID: 9) == .delivered)
        m.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.ctlr, width: 4, value: 0)
        #expect(m.g.cachedTranslation(key) < 0, "a redistributor's LPIs disabled")
        #expect(try m.g.signalMSI(deviceID: 4, eventID: 9) == .blocked(.lpisDisabled))
    }

    @Test func theCacheSurvivesAnEpochWrap() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(intid: 8192)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .delivered)
        m.g.lock.lock()
        m.g.its.cacheEpoch = UInt32.max
        m.g.lock.unlock()
        m.commands(.event(.discard, device: 1, event: 0))
        #expect(m.g.its.cacheEpoch == 1)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .blocked(.unmapped))
    }

    @Test func fullPoolsMakeCommandsIgnored() throws {
        let m = try LPIMachine(its: ITSConfiguration(lpis: 2, devices: 1, events: 3, collections: 1))
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192)
        m.commands(.mapd(device: 2, ittAddress: LPIMachine.itt(2), eventIDBits: 2))
        #expect(m.ignored == 1, "no device slot")
        m.commands(.mapc(icid: 1, target: 1))
        #expect(m.ignored == 2, "no collection slot")
        m.commands(.mapti(device: 1, event: 1, lpi: 8193, icid: 0), .mapti(device: 1, event: 2, lpi: 8194, icid: 0))
        #expect(m.ignored == 3, "no LPI slot")
        m.commands(.mapti(device: 1, event: 2, lpi: 8193, icid: 0), .mapti(device: 1, event: 3, lpi: 8193, icid: 0))
        #expect(m.ignored == 4, "no ITE slot")
        #expect(m.g.lpi.free.count == 0 && m.g.its.freeITEs.count == 0)
    }

    @Test func theVMMReadsAndWritesITSRegistersAsKVMsUaccess() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS(enable: false)
        #expect(try m.g.vmmRead(region: .its, offset: GITS.typer, width: 8) == m.itsRead(GITS.typer, width: 8))
        #expect(throws: VGICError.invalidAccessWidth(4)) { _ = try m.g.vmmRead(region: .its, offset: GITS.typer, width: 4) }
        #expect(throws: VGICError.noSuchRegister(GITS.translater)) {
            _ = try m.g.vmmRead(region: .its, offset: GITS.translater, width: 4)
        }
        #expect(throws: VGICError.its(.abiRevisionNotSupported)) {
            try m.g.vmmWrite(region: .its, offset: GITS.iidr, width: 4, value: 0x5600_143B)
        }
        try m.g.vmmWrite(region: .its, offset: GITS.iidr, width: 4, value: 0x5600_043B)
        try m.g.vmmWrite(region: .its, offset: GITS.creadr, width: 8, value: 0x40)
        #expect(m.itsRead(GITS.creadr, width: 8) == 0x40)
        #expect(throws: VGICError.its(.commandOffsetBeyondQueue)) {
            try m.g.vmmWrite(region: .its, offset: GITS.creadr, width: 8, value: 0x1000)
        }
        m.itsWrite(GITS.cwriter, 0x40, width: 8)
        m.itsWrite(GITS.ctlr, 1)
        #expect(throws: VGICError.its(.itsEnabled)) {
            try m.g.vmmWrite(region: .its, offset: GITS.creadr, width: 8, value: 0)
        }
        m.itsWrite(GITS.creadr, 0x20, width: 8)
        #expect(m.itsRead(GITS.creadr, width: 8) == 0x40, "the guest cannot write CREADR")
    }
}
