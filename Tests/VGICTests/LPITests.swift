import GICArchitecture
import GICModel
import Testing
@testable import VGIC
import VGICModelPlatform

/// A GICv3 vGIC with an ITS on the hardware model, with guest RAM at
/// 0x4000_0000: the LPI configuration table at +0x1_0000, each vCPU's
/// pending table at +0x2_0000 + 0x1_0000 * v.
struct LPIMachine {
    static let ram: UInt64 = 0x4000_0000
    static let propTable = ram + 0x1_0000
    static func pendTable(_ v: Int) -> UInt64 { ram + 0x2_0000 + 0x1_0000 * UInt64(v) }

    let g: VGIC<ModelPlatform>
    let model: GICModel
    let memory: GuestRAM

    init(vcpus: Int = 2, lrs: Int = 4, its: ITSConfiguration = ITSConfiguration(lpis: 64, devices: 8, events: 64,
                                                                                 collections: 8),
         ramSize: Int = 0x10_0000) throws {
        model = GICModel(version: .v3, cpus: vcpus, listRegisters: lrs, priorityBits: 5)
        memory = GuestRAM(base: LPIMachine.ram, size: ramSize)
        g = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: vcpus, irqCount: 128,
                                                      listRegisters: lrs, its: its),
                     platform: ModelPlatform(model: model, memory: memory))
    }

    init(g: VGIC<ModelPlatform>, model: GICModel, memory: GuestRAM) {
        self.g = g
        self.model = model
        self.memory = memory
    }

    /// A guest's GIC driver: distributor on, LPI tables programmed, LPIs on
    /// (PROPBASER IDbits 15: 16 INTID bits), CPU interfaces open.
    func boot(enableLPIs: Bool = true) {
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ctlr, width: 4, value: 0x12)
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 8,
                         value: LPIMachine.propTable | 15)
        for v in 0..<g.configuration.vcpuCount {
            g.guestMMIOWrite(vcpu: v, region: .redistributor(v), offset: GICR.pendbaser, width: 8,
                             value: LPIMachine.pendTable(v))
            if enableLPIs { enableLPIsOn(v) }
            g.vcpuEnter(v)
            model.writeSystemRegister(cpu: v, .pmr, 0xF0)
            model.writeSystemRegister(cpu: v, .igrpen1, 1)
            g.vcpuExit(v)
        }
    }

    func enableLPIsOn(_ v: Int) {
        g.guestMMIOWrite(vcpu: v, region: .redistributor(v), offset: GICR.ctlr, width: 4, value: 1)
    }

    /// The guest writes LPI `intid`'s configuration byte.
    func configure(_ intid: UInt32, priority: UInt8, enabled: Bool = true) {
        memory.store(LPIMachine.propTable + UInt64(intid - 8192), UInt64(LPI.property(priority: priority, enabled: enabled)),
                     width: 1)
    }

    /// What an ITE naming `intid` for vCPU `target` does (the ITS commands
    /// come in ITSTests): the LPI's `irqs` index.
    @discardableResult
    func map(_ intid: UInt32, to target: Int) -> Int {
        g.lock.lock()
        defer { g.lock.unlock() }
        return g.referenceLPI(intid, target: Int32(target))
    }

    func unmap(_ intid: UInt32) {
        g.lock.lock()
        defer { g.lock.unlock() }
        g.unreferenceLPI(g.lpiIndex(intid))
    }

    func raise(_ intid: UInt32) {
        g.lock.lock()
        defer { g.lock.unlock() }
        g.raiseLPI(g.lpiIndex(intid))
    }

    func state(_ intid: UInt32) -> IRQState? {
        g.lock.lock()
        defer { g.lock.unlock() }
        let i = g.lpiIndex(intid)
        return i < 0 ? nil : g.irqs[i]
    }

    /// vCPU `v` runs: enter (flush), acknowledge, exit (sync).
    func acknowledge(_ v: Int) -> UInt64 {
        g.vcpuEnter(v)
        let id = model.readSystemRegister(cpu: v, .iar1)
        g.vcpuExit(v)
        return id
    }

    func endOfInterrupt(_ v: Int, _ id: UInt64) {
        g.vcpuEnter(v)
        model.writeSystemRegister(cpu: v, .eoir1, id)
        g.vcpuExit(v)
    }

    /// Everything vCPU `v` takes, in order, each acknowledged and ended before the next.
    func drain(_ v: Int) -> [UInt64] {
        var seen: [UInt64] = []
        while seen.count < 100 {
            g.vcpuEnter(v)
            let id = model.readSystemRegister(cpu: v, .iar1)
            if id == 1023 {
                g.vcpuExit(v)
                break
            }
            seen.append(id)
            model.writeSystemRegister(cpu: v, .eoir1, id)
            g.vcpuExit(v)
        }
        return seen
    }
}

@Suite("LPIs in the redistributors")
struct LPITests {
    @Test func typeRegistersAdvertiseLPIsOnlyWithAnITS() throws {
        let m = try LPIMachine()
        let typer = m.g.guestMMIORead(vcpu: 0, region: .distributor, offset: GICD.typer, width: 4)
        #expect(typer & UInt64(GICD.typerLPIS) != 0)
        #expect((typer >> 19) & 0x1F == 15, "16 INTID bits")
        #expect(m.g.guestMMIORead(vcpu: 1, region: .redistributor(1), offset: GICR.typer, width: 8) & 1 == 1)

        let plain = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 1, irqCount: 128),
                             platform: ModelPlatform(model: GICModel(version: .v3, cpus: 1, listRegisters: 4,
                                                                     priorityBits: 5)))
        let t = plain.guestMMIORead(vcpu: 0, region: .distributor, offset: GICD.typer, width: 4)
        #expect(t & UInt64(GICD.typerLPIS) == 0 && (t >> 19) & 0x1F == 9)
        #expect(plain.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.typer, width: 8) & 1 == 0)
        plain.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.ctlr, width: 4, value: 1)
        #expect(plain.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.ctlr, width: 4) == 2,
                "EnableLPIs is RES0 without LPIs")
        plain.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 8, value: 0x4001_0000)
        #expect(plain.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 8) == 0)
    }

    @Test func itsNeedsGICv3() {
        #expect(throws: VGICError.self) {
            _ = try VGIC(configuration: VGICConfiguration(version: .v2, vcpuCount: 1, its: ITSConfiguration()),
                         platform: ModelPlatform(model: GICModel(version: .v2, cpus: 1, listRegisters: 4,
                                                                 priorityBits: 5)))
        }
    }

    @Test func propbaserIsSharedSanitisedAndFixedWhileLPIsAreOn() throws {
        let m = try LPIMachine()
        let g = m.g
        // Outer Shareable (2) becomes Inner Shareable; inner non-cacheable
        // becomes RaWb; RES0 bits [6:5] and [63:59] are dropped.
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 8,
                         value: 0xF800_0000_4001_0000 | 2 << 10 | 1 << 7 | 0x6F)
        let expected: UInt64 = 0x4001_0000 | 1 << 10 | 3 << 7 | 0x0F
        #expect(g.guestMMIORead(vcpu: 1, region: .redistributor(1), offset: GICR.propbaser, width: 8) == expected,
                "one PROPBASER for every redistributor")
        #expect(g.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser + 4, width: 4) == 0)
        m.enableLPIsOn(0)
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 4, value: 0x5000_0000)
        #expect(g.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 8) == expected,
                "ignored while this redistributor's LPIs are on")
        g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.propbaser, width: 4, value: 0x4002_000F)
        #expect(g.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 4)
                == 0x4002_000F | 3 << 7, "a redistributor whose LPIs are off may set it (KVM), sanitised")
    }

    @Test func pendbaserIsPerVCPUAndPTZReadsZero() throws {
        let m = try LPIMachine()
        let g = m.g
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.pendbaser, width: 8,
                         value: GICR.pendbaserPTZ | 0x4003_0000 | 0xF000 | 1 << 10)
        #expect(g.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.pendbaser, width: 8)
                == 0x4003_0000 | 1 << 10 | 3 << 7, "PTZ and the RES0 address bits [15:12] read 0")
        #expect(g.guestMMIORead(vcpu: 1, region: .redistributor(1), offset: GICR.pendbaser, width: 8)
                == LPIState.initialBaser)
    }

    @Test func enableLPIsReadsBackWithCESAndClears() throws {
        let m = try LPIMachine()
        m.enableLPIsOn(1)
        #expect(m.g.guestMMIORead(vcpu: 1, region: .redistributor(1), offset: GICR.ctlr, width: 4) == 3)
        #expect(m.g.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.ctlr, width: 4) == 2)
        m.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.ctlr, width: 4, value: 0)
        #expect(m.g.guestMMIORead(vcpu: 1, region: .redistributor(1), offset: GICR.ctlr, width: 4) == 2)
    }

    @Test func aMappedLPITakesItsConfigurationAndPendingBitFromGuestMemory() throws {
        let m = try LPIMachine()
        m.boot()
        m.configure(8200, priority: 0x60)
        // The pending table says 8200 is pending on vCPU 1.
        let byte = LPIMachine.pendTable(1) + 8200 / 8
        m.memory.store(byte, 1 << (8200 % 8), width: 1)
        m.map(8200, to: 1)
        let s = try #require(m.state(8200))
        #expect(s.priority == 0x60 && s.enabled && s.pendingLatch && s.group == 1 && s.edge)
        #expect(m.memory.load(byte, width: 1) == 0, "the pending bit is consumed (KVM)")
        #expect(m.acknowledge(1) == 8200)
    }

    @Test func anLPIGoesThroughAListRegisterAndItsEOIEndsIt() throws {
        let m = try LPIMachine()
        m.boot()
        m.configure(8192, priority: 0x80)
        m.map(8192, to: 0)
        m.raise(8192)
        m.g.vcpuEnter(0)
        let lr = ICH_LR.decode(m.model.readLR(cpu: 0, 0))
        #expect(lr.vINTID == 8192 && lr.state == .pending && lr.group == 1 && !lr.hw && !lr.eoi && lr.priority == 0x80)
        #expect(m.model.readSystemRegister(cpu: 0, .iar1) == 8192)
        m.g.vcpuExit(0)
        #expect(m.state(8192)?.active == true && m.state(8192)?.pendingLatch == false)
        m.endOfInterrupt(0, 8192)
        #expect(m.state(8192)?.active == false)
        #expect(m.g.vcpus[0].apHead == -1)
        #expect(m.model.violations.isEmpty)
    }

    @Test func aDisabledLPIIsNotDeliveredUntilTheGuestEnablesItAndInvalidates() throws {
        let m = try LPIMachine()
        m.boot()
        m.configure(8300, priority: 0x40, enabled: false)
        m.map(8300, to: 1)
        m.raise(8300)
        #expect(m.acknowledge(1) == 1023)
        m.configure(8300, priority: 0x40, enabled: true)
        #expect(m.acknowledge(1) == 1023, "the configuration is cached until invalidated")
        m.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.invlpir, width: 8, value: 8300)
        #expect(m.acknowledge(1) == 8300)
    }

    @Test func invallrRereadsEveryLPIOfItsVCPU() throws {
        let m = try LPIMachine()
        m.boot()
        for id: UInt32 in [8200, 8201] {
            m.configure(id, priority: 0x40, enabled: false)
            m.map(id, to: 0)
            m.raise(id)
        }
        m.configure(8200, priority: 0x50)
        m.configure(8201, priority: 0x40)
        m.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.invallr, width: 8, value: 0)
        #expect(m.drain(0).isEmpty, "vCPU 1's INVALLR does not touch vCPU 0's LPIs")
        m.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.invallr, width: 8, value: 0)
        #expect(m.drain(0) == [8201, 8200], "by priority")
        #expect(m.g.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.syncr, width: 4) == 0)
    }

    @Test func invlpirIsIgnoredWhileLPIsAreOffAndForItsUpperHalf() throws {
        let m = try LPIMachine()
        m.boot(enableLPIs: false)
        m.configure(8210, priority: 0x40, enabled: false)
        m.map(8210, to: 0)
        m.configure(8210, priority: 0x40, enabled: true)
        m.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.invlpir, width: 8, value: 8210)
        #expect(m.state(8210)?.enabled == false)
        m.enableLPIsOn(0)
        m.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.invlpir + 4, width: 4, value: 8210)
        #expect(m.state(8210)?.enabled == false)
        m.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.invlpir, width: 4, value: 8210)
        #expect(m.state(8210)?.enabled == true)
    }

    @Test func flushOrdersLPIsAndSPIsByPriorityAndOverflowsIntoMaintenance() throws {
        let m = try LPIMachine(vcpus: 1, lrs: 2)
        m.boot()
        let g = m.g
        // Two SPIs and three LPIs, all pending on vCPU 0, two list registers.
        for (id, pri) in [(40 as UInt32, 0x90 as UInt8), (41, 0x30)] {
            g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.isenabler + 4, width: 4,
                             value: 1 << UInt64(id - 32))
            g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ipriorityr + id, width: 1, value: UInt64(pri))
            g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.icfgr + 8, width: 4, value: 0xAAAA_AAAA)
            try g.pulse(id)
        }
        for (id, pri) in [(8192 as UInt32, 0x50 as UInt8), (9000, 0x10), (8193, 0xA0)] {
            m.configure(id, priority: pri)
            m.map(id, to: 0)
            m.raise(id)
        }
        g.vcpuEnter(0)
        let lrs = (0..<2).map { ICH_LR.decode(m.model.readLR(cpu: 0, $0)) }
        #expect(lrs.map(\.vINTID) == [9000, 41], "the best two, LPI or SPI")
        #expect(HCR(rawValue: m.model.readHCR(cpu: 0)).has(HCR.npie))
        g.vcpuExit(0)
        #expect(m.drain(0) == [9000, 41, 8192, 40, 8193])
        #expect(m.model.violations.isEmpty)
    }

    @Test func enablingLPIsLoadsThePendingTableUnlessPTZ() throws {
        let m = try LPIMachine()
        m.boot(enableLPIs: false)
        m.configure(8250, priority: 0x40)
        m.configure(8251, priority: 0x40)
        m.map(8250, to: 0)
        m.map(8251, to: 1)
        m.memory.store(LPIMachine.pendTable(0) + 8250 / 8, 1 << (8250 % 8), width: 1)
        m.memory.store(LPIMachine.pendTable(1) + 8251 / 8, 1 << (8251 % 8), width: 1)
        m.enableLPIsOn(0)
        #expect(m.state(8250)?.pendingLatch == true)
        #expect(m.memory.load(LPIMachine.pendTable(0) + 8250 / 8, width: 1) != 0, "enabling does not clear the table")
        // vCPU 1: the guest says the table is zero (PTZ): it is not read.
        m.g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.pendbaser, width: 8,
                           value: LPIMachine.pendTable(1) | GICR.pendbaserPTZ)
        m.enableLPIsOn(1)
        #expect(m.state(8251)?.pendingLatch == false)
        #expect(m.drain(0) == [8250] && m.drain(1).isEmpty)
    }

    @Test func disablingLPIsDropsTheirPendingState() throws {
        let m = try LPIMachine()
        m.boot()
        m.configure(8260, priority: 0x40)
        m.map(8260, to: 0)
        m.raise(8260)
        m.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.ctlr, width: 4, value: 0)
        #expect(m.state(8260)?.pendingLatch == false)
        #expect(m.drain(0).isEmpty)
    }

    @Test func anUnmappedLPIIsFreedOnlyOnceTheGuestIsDoneWithIt() throws {
        let m = try LPIMachine()
        m.boot()
        m.configure(8270, priority: 0x40)
        m.map(8270, to: 0)
        m.raise(8270)
        #expect(m.acknowledge(0) == 8270)
        m.unmap(8270)
        #expect(m.state(8270)?.active == true, "still in the guest's handler")
        m.endOfInterrupt(0, 8270)
        #expect(m.state(8270) == nil, "the slot is free")
        #expect(m.g.lpi.free.count == m.g.lpi.capacity)
        // A pending LPI loses its pending state when its last ITE goes.
        m.map(8271, to: 0)
        m.raise(8271)
        m.unmap(8271)
        #expect(m.state(8271) == nil)
        #expect(m.drain(0).isEmpty)
    }

    @Test func sharedLPIsCountTheirITEs() throws {
        let m = try LPIMachine()
        m.boot()
        let a = m.map(8280, to: 0)
        let b = m.map(8280, to: 1)
        #expect(a == b && a >= 0)
        m.unmap(8280)
        #expect(m.state(8280) != nil)
        m.unmap(8280)
        #expect(m.state(8280) == nil)
    }

    @Test func theEOIOfAnLPIEndsItInEOImode1Too() throws {
        let m = try LPIMachine(vcpus: 1)
        m.boot()
        m.g.vcpuEnter(0)
        m.model.writeSystemRegister(cpu: 0, .ctlr, 2)  // EOImode 1
        m.g.vcpuExit(0)
        m.configure(8290, priority: 0x40)
        m.map(8290, to: 0)
        m.raise(8290)
        #expect(m.acknowledge(0) == 8290)
        m.endOfInterrupt(0, 8290)
        #expect(m.state(8290)?.active == false, "no DIR for an LPI")
        #expect(HCR(rawValue: m.model.readHCR(cpu: 0)).eoiCount == 0)
        #expect(m.model.violations.isEmpty)
    }

    @Test func anActiveLPIWithoutAListRegisterIsNoLongerActive() throws {
        let m = try LPIMachine(vcpus: 1, lrs: 1)
        m.boot()
        m.configure(8300, priority: 0x80)
        m.map(8300, to: 0)
        m.raise(8300)
        #expect(m.acknowledge(0) == 8300)
        // A higher-priority SPI preempts it and takes the only list register.
        let g = m.g
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.isenabler + 4, width: 4, value: 1 << 8)
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ipriorityr + 40, width: 1, value: 0x20)
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.icfgr + 8, width: 4, value: 0x2_0000)
        try g.pulse(40)
        #expect(m.acknowledge(0) == 40)
        #expect(m.state(8300)?.active == false)
        // The guest ends both: the LPI's EOI finds no list register and only drops its priority.
        m.endOfInterrupt(0, 40)
        m.endOfInterrupt(0, 8300)
        #expect(m.g.guestMMIORead(vcpu: 0, region: .distributor, offset: GICD.isactiver + 4, width: 4) == 0)
        m.raise(8300)
        #expect(m.drain(0) == [8300])
        #expect(m.model.violations.isEmpty)
    }

    @Test func aTableOutsideGuestMemoryFailsTheMappingWithoutAFault() throws {
        let m = try LPIMachine()
        m.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 8,
                           value: 0x000F_FFFF_FFFF_F000 | 15)
        #expect(m.map(8192, to: 0) == -1)
        m.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.propbaser, width: 8,
                           value: LPIMachine.propTable | 15)
        m.g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.pendbaser, width: 8,
                           value: 0x0000_FFFF_FFFF_0000)
        #expect(m.map(8192, to: 0) == -1, "the target's pending table cannot be read")
        #expect(m.map(8192, to: -1) >= 0, "no target: no pending table to read")
        #expect(m.g.lpi.free.count == m.g.lpi.capacity - 1)
    }

    @Test func thePoolIsBounded() throws {
        let m = try LPIMachine(its: ITSConfiguration(lpis: 2, devices: 1, events: 4, collections: 1))
        m.boot()
        #expect(m.map(8192, to: 0) >= 0)
        #expect(m.map(8193, to: 0) >= 0)
        #expect(m.map(8194, to: 0) == -1)
        m.unmap(8192)
        #expect(m.map(8194, to: 0) >= 0)
    }
}
