import GICArchitecture
import GICModel
import Testing
@testable import VGIC
import VGICModelPlatform

/// Migration through KVM's ITS ABI, revision 0: the tables in the guest's
/// RAM, the registers through the VMM's accessors.
@Suite("ITS save and restore through KVM's ABI")
struct ITSABITests {
    /// The registers a VMM saves, in KVM's restore order.
    static let redistributorRegisters: [UInt32] = [GICR.propbaser, GICR.pendbaser]
    static let itsRegisters: [(UInt32, Int)] = [(GITS.iidr, 4), (GITS.cbaser, 8), (GITS.baser, 8), (GITS.baser + 8, 8),
                                                (GITS.cwriter, 8), (GITS.creadr, 8)]

    /// Save on `m`, restore on its twin through the ABI: pending tables,
    /// ITS tables, then the registers; returns the destination.
    static func migrate(_ m: LPIMachine) throws -> LPIMachine {
        let g = m.g
        try g.saveLPIPendingTables()
        try g.saveITSTables()
        let d = try m.twin()  // the RAM, with the tables in it
        for v in 0..<g.configuration.vcpuCount {
            for r in redistributorRegisters {
                let value = try g.vmmRead(region: .redistributor(v), offset: r, width: 8)
                try d.g.vmmWrite(region: .redistributor(v), offset: r, width: 8, value: value)
            }
            let ctlr = try g.vmmRead(region: .redistributor(v), offset: GICR.ctlr, width: 4)
            try d.g.vmmWrite(region: .redistributor(v), offset: GICR.ctlr, width: 4, value: ctlr)
        }
        let gicd = try g.vmmRead(region: .distributor, offset: GICD.ctlr, width: 4)
        try d.g.vmmWrite(region: .distributor, offset: GICD.ctlr, width: 4, value: gicd)
        for (r, w) in itsRegisters {
            try d.g.vmmWrite(region: .its, offset: r, width: w, value: try g.vmmRead(region: .its, offset: r, width: w))
        }
        try d.g.restoreITSTables()
        let ctlr = try g.vmmRead(region: .its, offset: GITS.ctlr, width: 4)
        try d.g.vmmWrite(region: .its, offset: GITS.ctlr, width: 4, value: ctlr)
        for v in 0..<g.configuration.vcpuCount {
            try d.g.vmmWriteSystemRegister(vcpu: v, .pmr, try g.vmmReadSystemRegister(vcpu: v, .pmr))
            try d.g.vmmWriteSystemRegister(vcpu: v, .igrpen1, try g.vmmReadSystemRegister(vcpu: v, .igrpen1))
        }
        return d
    }

    @Test func theTablesAreWrittenInRevision0Format() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 3, event: 2, intid: 8200, icid: 4, target: 1)
        m.commands(.mapti(device: 3, event: 9, lpi: 8201, icid: 4), .mapc(icid: 1, target: 0),
                   .mapd(device: 5, ittAddress: LPIMachine.itt(5), eventIDBits: 3))
        try m.g.saveITSTables()
        let dte = LPIMachine.deviceTable + 3 * 8
        #expect(m.memory.load(dte) == 1 << 63 | 2 << 49 | (LPIMachine.itt(3) >> 8) << 5 | 3, "valid, next 2, ITT, 4 bits")
        #expect(m.memory.load(LPIMachine.deviceTable + 5 * 8) == 1 << 63 | (LPIMachine.itt(5) >> 8) << 5 | 2, "last")
        #expect(m.memory.load(LPIMachine.itt(3) + 2 * 8) == 7 << 48 | 8200 << 16 | 4, "next 7, LPI 8200, ICID 4")
        #expect(m.memory.load(LPIMachine.itt(3) + 9 * 8) == 8201 << 16 | 4)
        #expect(m.memory.load(LPIMachine.collectionTable) == UInt64(1) << 63 | 0 << 16 | 1)
        #expect(m.memory.load(LPIMachine.collectionTable + 8) == UInt64(1) << 63 | 1 << 16 | 4)
        #expect(m.memory.load(LPIMachine.collectionTable + 16) == 0, "an invalid entry ends the table")
    }

    @Test func aVMMigratesThroughTheABI() throws {
        let m = try LPIMachine()
        try m.busyITS()
        m.endOfInterrupt(1, 8193)  // the ABI does not carry an active state
        let d = try ITSABITests.migrate(m)
        #expect(d.g.its.deviceByID.count == 3 && d.g.its.iteByKey.count == 4 && d.g.its.collections.count == 2)
        #expect(d.state(8300)?.pendingLatch == true, "the pending table carried it")
        #expect(d.state(8300)?.enabled == false && d.state(8193)?.priority == 0x30)
        #expect(d.memory.load(LPIMachine.pendTable(1) + 8300 / 8, width: 1)! & (1 << (8300 % 8)) == 0,
                "the bit was consumed")
        #expect(d.drain(0) == [8192])
        for (dev, ev, cpu, lpi) in [(1, 3, 1, 8193), (700, 201, 0, 8193), (1, 0, 0, 8192)] as [(UInt32, UInt32, Int, UInt64)] {
            #expect(try d.g.signalMSI(deviceID: dev, eventID: ev) == .delivered)
            #expect(d.drain(cpu) == [lpi])
        }
        #expect(d.itsRead(GITS.ctlr) == UInt64(GITS.ctlrEnabled | GITS.ctlrQuiescent))
        #expect(d.model.violations.isEmpty)
    }

    @Test func aTwoLevelDeviceTableRoundTrips() throws {
        let m = try LPIMachine()
        m.boot()
        let level2 = LPIMachine.ram + 0xA_0000
        m.memory.store(LPIMachine.deviceTable + 8, level2 | GITS.level1Valid)
        m.itsWrite(GITS.baser, LPIMachine.deviceTable | GITS.baserValid | GITS.baserIndirect, width: 8)
        m.itsWrite(GITS.baser + 8, LPIMachine.collectionTable | GITS.baserValid, width: 8)
        m.itsWrite(GITS.cbaser, LPIMachine.commandQueue | GITS.cbaserValid, width: 8)
        m.itsWrite(GITS.ctlr, 1)
        m.mapEvent(device: 8200, event: 1, intid: 8192)
        m.configure(8193, priority: 0x50)
        m.commands(.mapd(device: 8300, ittAddress: LPIMachine.itt(2), eventIDBits: 2),
                   .mapti(device: 8300, event: 3, lpi: 8193, icid: 0))
        let d = try ITSABITests.migrate(m)
        #expect(try d.g.signalMSI(deviceID: 8200, eventID: 1) == .delivered)
        #expect(try d.g.signalMSI(deviceID: 8300, eventID: 3) == .delivered)
        #expect(d.drain(0) == [8192, 8193])
    }

    @Test func restoreChecksEverythingFirstAndChangesNothingOnRefusal() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192)
        try m.g.saveITSTables()
        func refused(_ rule: ITSRule, sourceLocation: SourceLocation = #_sourceLocation,
                     _ edit: (LPIMachine) -> Void) throws {
            let d = try m.twin()
            d.boot()
            d.itsWrite(GITS.baser, LPIMachine.deviceTable | GITS.baserValid, width: 8)
            d.itsWrite(GITS.baser + 8, LPIMachine.collectionTable | GITS.baserValid, width: 8)
            edit(d)
            let before = try d.g.snapshot()
            #expect(throws: VGICError.its(rule), "\(rule)", sourceLocation: sourceLocation) { try d.g.restoreITSTables() }
            #expect(try d.g.snapshot() == before, "nothing changed", sourceLocation: sourceLocation)
        }
        try refused(.inconsistentTables) { d in d.memory.store(LPIMachine.itt(1), 100 << 16) }
        try refused(.inconsistentTables) { d in d.memory.store(LPIMachine.collectionTable, 1 << 63 | 9 << 16) }
        try refused(.inconsistentTables) { d in
            d.memory.store(LPIMachine.deviceTable + 8, 1 << 63 | (LPIMachine.itt(1) >> 8) << 5 | 20)
        }
        try refused(.tableNotInGuestMemory) { d in
            d.memory.store(LPIMachine.deviceTable + 8, 1 << 63 | (0xF_0000_0000 >> 8) << 5 | 1)
        }
        try refused(.tableNotInGuestMemory) { d in
            d.itsWrite(GITS.baser, 0x00F0_0000_0000 | GITS.baserValid, width: 8)
        }
        try refused(.tableNotInGuestMemory) { d in
            d.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.ctlr, width: 4, value: 0)
            d.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.ctlr, width: 4, value: 0)
            d.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 8,
                               value: 0x0F00_0000_0000 | 15)
        }
        try refused(.itsNotEmpty) { d in
            d.itsWrite(GITS.cbaser, LPIMachine.commandQueue | GITS.cbaserValid, width: 8)
            d.itsWrite(GITS.ctlr, 1)
            d.commands(.mapc(icid: 0, target: 0))
            d.itsWrite(GITS.ctlr, 0)
        }
        let small = try LPIMachine(its: ITSConfiguration(lpis: 1, devices: 1, events: 1, collections: 1))
        small.memory.replaceContents(m.memory.contents)
        small.boot()
        small.memory.store(LPIMachine.itt(1) + 8, 8193 << 16)  // a second event of device 1, after event 0
        small.memory.store(LPIMachine.itt(1), 1 << 48 | 8192 << 16)
        small.itsWrite(GITS.baser, LPIMachine.deviceTable | GITS.baserValid, width: 8)
        small.itsWrite(GITS.baser + 8, LPIMachine.collectionTable | GITS.baserValid, width: 8)
        #expect(throws: VGICError.its(.poolExhausted)) { try small.g.restoreITSTables() }
        #expect(ITSRule.poolExhausted.kvmErrno == 12 && ITSRule.tableNotInGuestMemory.kvmErrno == 14)
    }

    @Test func saveNeedsTheVCPUsOutAndTablesInMemory() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192)
        m.g.vcpuEnter(1)
        #expect(throws: VGICError.vcpuRunning(1)) { try m.g.saveITSTables() }
        #expect(throws: VGICError.vcpuRunning(1)) { try m.g.saveLPIPendingTables() }
        #expect(throws: VGICError.vcpuRunning(1)) { try m.g.restoreITSTables() }
        m.g.vcpuExit(1)
        m.commands(.mapd(device: 1, ittAddress: 0xF_0000_0000, eventIDBits: 2))  // accepted: the ITT is never read
        m.commands(.mapti(device: 1, event: 0, lpi: 8192, icid: 0))
        #expect(throws: VGICError.its(.tableNotInGuestMemory)) { try m.g.saveITSTables() }
        let plain = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 1),
                             platform: ModelPlatform(model: GICModel(version: .v3, cpus: 1, listRegisters: 4,
                                                                     priorityBits: 5)))
        #expect(throws: VGICError.its(.noITS)) { try plain.saveITSTables() }
        #expect(throws: VGICError.its(.noITS)) { try plain.saveLPIPendingTables() }
        #expect(throws: VGICError.its(.noITS)) { try plain.vmmResetITS() }
    }

    @Test func pendingTablesGetEveryLPIsState() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(device: 1, event: 0, intid: 8192, target: 1)
        m.configure(8199, priority: 0x40)
        m.commands(.mapti(device: 1, event: 1, lpi: 8199, icid: 0))
        m.memory.store(LPIMachine.pendTable(1) + 1024, 0x80, width: 1)  // 8199 set in the table, not pending
        m.g.lock.lock()
        m.g.irqs[m.g.lpiIndex(8192)].pendingLatch = true
        m.g.lock.unlock()
        try m.g.saveLPIPendingTables()
        #expect(m.memory.load(LPIMachine.pendTable(1) + 1024, width: 1) == 0x01)
    }

    @Test func resetUnmapsEverything() throws {
        let m = try LPIMachine()
        m.boot()
        m.bootITS()
        m.mapEvent(intid: 8192)
        #expect(try m.g.signalMSI(deviceID: 1, eventID: 0) == .delivered)
        try m.g.vmmResetITS()
        #expect(m.itsRead(GITS.ctlr) == UInt64(GITS.ctlrQuiescent))
        #expect(m.itsRead(GITS.baser, width: 8) & GITS.baserValid == 0 && m.itsRead(GITS.cbaser, width: 8) == 0)
        #expect(m.g.its.deviceByID.count == 0 && m.g.lpi.byINTID.count == 0)
        #expect(m.drain(0).isEmpty)
    }
}
