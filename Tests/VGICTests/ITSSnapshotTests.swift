import GICArchitecture
import GICModel
import Testing
@testable import VGIC
import VGICModelPlatform

extension LPIMachine {
    /// A machine with the same configuration on a fresh hardware model, and
    /// this machine's RAM copied (a migration's destination).
    func twin() throws -> LPIMachine {
        let m = try LPIMachine(vcpus: g.configuration.vcpuCount, lrs: g.configuration.listRegisters,
                               its: g.configuration.its!, ramSize: Int(memory.size))
        m.memory.replaceContents(memory.contents)
        return m
    }

    /// Three devices, two collections, LPIs pending, active and acknowledged.
    func busyITS() throws {
        boot()
        bootITS()
        mapEvent(device: 1, event: 0, intid: 8192, icid: 0, target: 0)
        configure(8193, priority: 0x30)
        configure(8300, priority: 0x50, enabled: false)
        commands(.mapc(icid: 5, target: 1),
                 .mapti(device: 1, event: 3, lpi: 8193, icid: 5),
                 .mapd(device: 700, ittAddress: LPIMachine.itt(3), eventIDBits: 8),
                 .mapti(device: 700, event: 200, lpi: 8300, icid: 5),
                 .mapti(device: 700, event: 201, lpi: 8193, icid: 0),
                 .mapd(device: 2, ittAddress: LPIMachine.itt(4), eventIDBits: 1))
        #expect(try g.signalMSI(deviceID: 1, eventID: 3) == .delivered)
        #expect(acknowledge(1) == 8193)  // active, acknowledged on vCPU 1
        #expect(try g.signalMSI(deviceID: 700, eventID: 200) == .delivered)  // pending, disabled
        #expect(try g.signalMSI(deviceID: 1, eventID: 0) == .delivered)  // pending on vCPU 0
        #expect(ignored == 0)
    }
}

@Suite("ITS snapshots")
struct ITSSnapshotTests {
    @Test func aVGICWithoutAnITSStillWritesVersion2() throws {
        let g = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 1),
                         platform: ModelPlatform(model: GICModel(version: .v3, cpus: 1, listRegisters: 4,
                                                                 priorityBits: 5)))
        let bytes = try g.snapshot()
        #expect(bytes[8] == 2 && bytes[9] == 0)
        #expect(try VGICSnapshot(bytes: bytes).its == nil)
    }

    @Test func theITSAndItsLPIsSurviveASnapshot() throws {
        let m = try LPIMachine()
        try m.busyITS()
        let bytes = try m.g.snapshot()
        #expect(bytes[8] == 3)
        let snap = try VGICSnapshot(bytes: bytes)
        let its = try #require(snap.its)
        #expect(snap.configuration.its == m.g.configuration.its)
        #expect(its.devices.map(\.deviceID) == [1, 2, 700] && its.collections.map(\.icid) == [0, 5])
        #expect(its.entries.map(\.lpi) == [8192, 8193, 8300, 8193])
        #expect(its.lpis.map(\.intid) == [8192, 8193, 8300])
        #expect(its.lpis[1].active && its.lpis[1].acknowledged && its.lpis[1].activeOn == 1)
        #expect(its.lpis[2].pending && !its.lpis[2].enabled && its.lpis[0].pending)

        let d = try m.twin()
        let restored = try VGIC.restore(snapshot: bytes, platform: ModelPlatform(model: d.model, memory: d.memory))
        #expect(try restored.snapshot() == bytes, "canonical: the same bytes again")
        let r = LPIMachine(restored: restored, m: d)
        r.endOfInterrupt(1, 8193)  // the guest ends what it acknowledged before the migration
        #expect(r.drain(0) == [8192])
        #expect(try restored.signalMSI(deviceID: 700, eventID: 201) == .delivered)
        #expect(r.drain(0) == [8193])
        r.commands(.event(.inv, device: 700, event: 200))
        r.configure(8300, priority: 0x50)
        r.commands(.event(.inv, device: 700, event: 200))
        #expect(r.drain(1) == [8300], "still pending after the migration, enabled now")
        #expect(d.model.violations.isEmpty)

        // Into an existing vGIC of the same configuration.
        let e = try m.twin()
        try e.g.restore(snapshot: bytes)
        #expect(try e.g.snapshot() == bytes)
    }

    @Test func aSnapshotOfAnotherITSConfigurationIsRefused() throws {
        let m = try LPIMachine()
        m.boot()
        let bytes = try m.g.snapshot()
        let other = try LPIMachine(its: ITSConfiguration(lpis: 32, devices: 8, events: 64, collections: 8))
        #expect(throws: VGICError.invalidSnapshot(.itsConfigurationMismatch)) { try other.g.restore(snapshot: bytes) }
        let plain = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 2, irqCount: 128),
                             platform: ModelPlatform(model: GICModel(version: .v3, cpus: 2, listRegisters: 4,
                                                                     priorityBits: 5)))
        #expect(throws: VGICError.invalidSnapshot(.itsConfigurationMismatch)) { try plain.restore(snapshot: bytes) }
    }

    /// Each edit of a good snapshot's ITS section is refused with the problem named.
    @Test func nonCanonicalITSSectionsAreRefused() throws {
        let m = try LPIMachine()
        try m.busyITS()
        let good = try m.g.snapshotState()
        func refused(_ problem: SnapshotProblem, _ edit: (inout ITSSnapshot) -> Void,
                     sourceLocation: SourceLocation = #_sourceLocation) {
            var s = good
            edit(&s.its!)
            #expect(throws: VGICError.invalidSnapshot(problem), sourceLocation: sourceLocation) {
                _ = try VGICSnapshot(bytes: s.encoded())
            }
        }
        refused(.nonCanonicalLPIRegister) { $0.propbaser |= 1 << 63 }
        refused(.nonCanonicalLPIRegister) { $0.pendbaser[1] |= 0xF000 }
        refused(.nonCanonicalITSRegister) { $0.deviceBaser &= ~GITS.baserPageSizeMask }
        refused(.nonCanonicalITSRegister) { $0.collectionBaser |= GITS.baserIndirect }
        refused(.nonCanonicalITSRegister) { $0.cbaser |= 0x1000 }
        refused(.nonCanonicalITSRegister) { $0.creadr = 0x1000 }
        refused(.itsQueueNotDrained) { $0.cwriter = ($0.creadr + 32) % 0x1000 }
        refused(.itsRecordOutOfOrder) { $0.devices.swapAt(0, 1) }
        refused(.itsRecordOutOfOrder) { $0.collections.swapAt(0, 1) }
        refused(.itsRecordOutOfOrder) { $0.lpis.swapAt(0, 1) }
        refused(.itsIDOutOfRange) { $0.devices[2].eventIDBits = 17 }
        refused(.itsIDOutOfRange) { $0.entries[0].eventID = 16 }
        refused(.itsIDOutOfRange) { $0.entries[0].lpi = 100 }
        refused(.itsTargetBeyondVCPUs) { $0.collections[1].vcpu = 2 }
        refused(.itsEntryWithoutDevice) { $0.devices.removeFirst() }
        refused(.itsEntryWithoutLPI) { $0.entries[3].lpi = 9000 }
        refused(.pendingUnmappedLPI) { $0.entries.remove(at: 2) }
        refused(.idleUnmappedLPI) { s in
            s.entries.remove(at: 2)
            s.lpis[2].pending = false
        }
        refused(.acknowledgedWithoutVCPU) { s in
            s.lpis[1].activeOn = -1
            s.lpis[1].target = -1
        }
        refused(.activeWithoutVCPU) { s in
            s.lpis[1].activeOn = -1
            s.lpis[1].acknowledged = false
        }
        refused(.unimplementedPriorityBits) { $0.lpis[0].priority = 0x41 }
        refused(.itsPoolExceeded) { s in
            for k in 0..<70 { s.collections.append(ITSCollectionSnapshot(icid: UInt16(100 + k), vcpu: 0)) }
        }
        // The configuration.
        var s = good
        s.configuration.its!.lpis = 0
        #expect(throws: VGICError.invalidSnapshot(.invalidITSConfiguration)) { _ = try VGICSnapshot(bytes: s.encoded()) }
        // Version 3 is GICv3's.
        var bytes = try LPIMachine().g.snapshot()
        bytes[18] = 2
        #expect(throws: VGICError.invalidSnapshot(.invalidITSConfiguration)) {
            _ = try VGICSnapshot(bytes: VGICSnapshot.resealed(bytes))
        }
    }

    @Test func trailingOrMissingITSBytesAreRefused() throws {
        let m = try LPIMachine()
        try m.busyITS()
        let bytes = try m.g.snapshot()
        #expect(throws: VGICError.invalidSnapshot(.truncated)) {
            _ = try VGICSnapshot(bytes: VGICSnapshot.resealed(Array(bytes.dropLast())))
        }
        #expect(throws: VGICError.invalidSnapshot(.trailingBytes)) {
            _ = try VGICSnapshot(bytes: VGICSnapshot.resealed(bytes + [0]))
        }
        // A version-2 header on a body with an ITS section: trailing bytes.
        var two = bytes
        two[8] = 2
        #expect(throws: VGICError.invalidSnapshot(.trailingBytes)) {
            _ = try VGICSnapshot(bytes: VGICSnapshot.resealed(two))
        }
    }
}

extension LPIMachine {
    /// The guest helpers over a vGIC restored onto `m`'s model and RAM.
    init(restored: VGIC<ModelPlatform>, m: LPIMachine) {
        self.init(g: restored, model: m.model, memory: m.memory)
    }
}
