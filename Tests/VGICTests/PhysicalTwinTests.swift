import GICArchitecture
import Testing
@testable import VGIC

/// The physical twin under device traffic (issue 9): each test plays a device
/// that raises the physical interrupt, the host that acknowledges it and
/// reports it (`hardwareInterruptTaken`), and the guest that deactivates the
/// virtual interrupt through the HW bit without exiting.
@Suite("The physical twin under device traffic")
struct PhysicalTwinTests {
    /// SPI 40, the twin of physical SPI 72, level-sensitive, its input level
    /// read from the device (as the hypervisor maps the UART).
    func makeDeviceSPI(edge: Bool = false, reader: Bool = true) throws -> (TestVGIC, FakePlatform) {
        let (g, p) = try makeV3()
        g.setUp(40, edge: edge)
        try g.map(40, physicalIntid: 72, levelFromPhysical: reader)
        return (g, p)
    }

    /// The device raises physical SPI 72 and the host acknowledges it (the
    /// twin becomes active) and reports it.
    func deviceFires(_ g: TestVGIC, _ p: FakePlatform, intid: UInt32 = 40, physical: UInt32 = 72,
                     vcpu: Int? = nil, cpu: Int = 0) throws {
        p.physLine.insert(p.key(physical, cpu))
        p.physActive.insert(p.key(physical, cpu))
        try g.hardwareInterruptTaken(intid, vcpu: vcpu)
    }

    /// The guest acknowledges and EOIs list register `n` without exiting: the
    /// HW bit deactivates the twin.
    func guestHandles(_ p: FakePlatform, cpu: Int = 0, lr n: Int = 0, physical: UInt32 = 72) {
        p.setState(cpu, n, .invalid)
        p.physActive.remove(p.key(physical, cpu))
    }

    /// Whether the interrupt at index `i` has a virtual reason to hold its twin.
    func hasVirtualReason(_ g: TestVGIC, _ i: Int) -> Bool {
        g.irqs[i].active || g.irqs[i].pendingLatch || (!g.irqs[i].edge && g.irqs[i].lineLevel)
    }

    @Test func onePhysicalInterruptIsTheTwinOfOneMappedInterruptOnly() throws {
        let (g, p) = try makeDeviceSPI()
        #expect(throws: VGICError.physicalTwinInUse(72)) { try g.map(41, physicalIntid: 72) }
        #expect(!g.irqs[g.spiIndex(41)].hw, "a refusal changes nothing")
        try g.map(27, vcpu: 0, physicalIntid: 27)
        #expect(throws: VGICError.physicalTwinInUse(27)) { try g.map(26, vcpu: 0, physicalIntid: 27) }
        try g.map(27, vcpu: 1, physicalIntid: 27)
        try g.unmap(40)
        try g.map(41, physicalIntid: 72)
        #expect(p.physicalWrites.isEmpty)
    }

    // MARK: Defect 1: the twin leaked after a re-assertion

    @Test func reassertionAfterAGuestDeactivationWithoutExitDoesNotLeakTheTwin() throws {
        let (g, p) = try makeDeviceSPI()
        try deviceFires(g, p)
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).hw && p.lr(0, 0).state == .pending)
        guestHandles(p)
        // The device raises it again at once; the host takes it while vCPU 0
        // still runs. The report must reach vCPU 0 (a kick).
        p.kicks.removeAll()
        try deviceFires(g, p)
        #expect(p.kicks.contains(0), "the owner must exit to see the new activation")
        // The line drops before vCPU 0 exits.
        p.physLine.remove(p.key(72, 0))
        g.vcpuExit(0)
        let i = g.spiIndex(40)
        #expect(!p.physicalActive(72, cpu: 0) || hasVirtualReason(g, i),
                "the host's activation must be released or delivered, never left active")
        g.vcpuEnter(0)
        g.vcpuExit(0)
        #expect(!p.physicalActive(72, cpu: 0), "nothing asserts it any more: the twin is released")
    }

    @Test func reassertionWhileTheLineStaysHighIsDelivered() throws {
        let (g, p) = try makeDeviceSPI(reader: false)
        try deviceFires(g, p)
        g.vcpuEnter(0)
        guestHandles(p)
        try deviceFires(g, p)
        g.vcpuExit(0)
        #expect(p.physicalActive(72, cpu: 0))
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).hw && p.lr(0, 0).state == .pending, "the second activation is delivered")
        guestHandles(p)
        p.physLine.remove(p.key(72, 0))
        g.vcpuExit(0)
        g.vcpuEnter(0)
        #expect(p.validLRs(0).isEmpty, "delivered once per activation, no more")
        #expect(!p.physicalActive(72, cpu: 0))
    }

    // MARK: Defect 2: edges lost

    @Test func everyPhysicalActivationOfAnEdgeInterruptIsOneEdge() throws {
        let (g, p) = try makeDeviceSPI(edge: true)
        for round in 0..<3 {
            try deviceFires(g, p)
            g.vcpuEnter(0)
            #expect(p.lr(0, 0).state == .pending, "activation \(round) delivered")
            guestHandles(p)
            g.vcpuExit(0)
            #expect(!p.physicalActive(72, cpu: 0), "activation \(round): the twin is not left active")
        }
    }

    // MARK: The twin's trigger is the guest's (found by Guests/devices)

    /// With a level-sensitive twin a device line held high through the
    /// guest's EOI makes the twin pending again at once: the host takes it,
    /// reports it, and the guest that asked for edges gets an interrupt per
    /// EOI instead of one per edge (and ICPENDR cannot clear it).
    @Test func aMappedSPIsTwinTakesTheTriggerTheGuestGivesIt() throws {
        let (g, p) = try makeDeviceSPI()
        #expect(!p.physEdge.contains(72))
        g.setUp(40, edge: true)
        #expect(p.physEdge.contains(72), "the host's activations must be the edges the guest asked for")
        g.setUp(40, edge: false)
        #expect(!p.physEdge.contains(72), "and levels again when it asks for levels")
    }

    @Test func mappingOrRestoringAnEdgeSPIMakesItsTwinEdgeTriggered() throws {
        let (g, p) = try makeDeviceSPI(edge: true)
        #expect(p.physEdge.contains(72), "mapped after the guest chose edges")
        let bytes = try g.snapshot()
        p.physEdge.removeAll()
        try g.restore(snapshot: bytes)
        #expect(p.physEdge.contains(72), "a restore gives the twin the restored trigger")
    }

    /// A level line held high, its twin taken by the host and held for it;
    /// the guest disables the SPI and makes it edge-triggered: a level is no
    /// edge, so nothing is pending any more, and the twin must be released
    /// (held, it would keep the device from ever interrupting again). Found
    /// by the difftest's device operations (seed `twin-edge-trigger`).
    @Test func makingAHeldLevelTwinEdgeTriggeredReleasesIt() throws {
        let (g, p) = try makeDeviceSPI()
        try deviceFires(g, p)
        #expect(p.physicalActive(72, cpu: 0))
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.icenabler + 4, width: 4, value: 1 << 8)
        g.setUp(40, edge: true)
        let i = g.spiIndex(40)
        #expect(!g.isPending(i), "a level high is no edge")
        #expect(!p.physicalActive(72, cpu: 0), "the twin held for the level must be released")
    }

    /// An edge that comes while the guest handles the previous one waits at
    /// the physical level (the twin pending behind its activation, which
    /// the vGIC holds for the virtual interrupt): the guest's ISPENDR shows
    /// it, as a GIC shows an edge latched while active.
    @Test func anEdgeWaitingBehindTheHeldTwinIsPendingToTheGuest() throws {
        let (g, p) = try makeDeviceSPI(edge: true)
        try deviceFires(g, p)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // the guest acknowledged it
        g.vcpuExit(0)
        p.physPending.insert(p.key(72, 0))  // a new edge: the twin is active and pending
        let pend = g.guestMMIORead(vcpu: 0, region: .distributor, offset: GICD.ispendr + 4, width: 4)
        #expect(pend & (1 << 8) != 0, "the edge waiting behind the activation is pending")
        let vmm = try g.vmmRead(region: .distributor, offset: GICD.ispendr + 4, width: 4)
        #expect(vmm & (1 << 8) == 0, "the VMM's view is the vGIC's own state, not the hardware's")
    }

    // MARK: Defect 3: pending and active in one list register

    @Test func aResampledLevelInterruptIsNeverPendingAndActiveInOneListRegister() throws {
        let (g, p) = try makeV3()
        g.setUp(41, edge: false)
        try g.setLine(41, level: true)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // acknowledged, line still high
        g.vcpuExit(0)
        g.vcpuEnter(0)
        let lr = p.lr(0, 0)
        #expect(lr.state == .active, "the pending state waits for the deactivation")
        #expect(lr.eoi, "the deactivation exits, to resample the line")
        // The line drops while the guest handles it: no second delivery.
        g.vcpuExit(0)
        try g.setLine(41, level: false)
        g.vcpuEnter(0)
        p.setState(0, 0, .invalid)
        g.vcpuExit(0)
        g.vcpuEnter(0)
        #expect(p.validLRs(0).isEmpty)
    }

    // MARK: Defect 4: emulated deactivations resample

    @Test func anEmulatedDIRResamplesTheDeviceLine() throws {
        let (g, p) = try makeDeviceSPI()
        var vmcr = VMCR(v3: p.vmcr[0])
        vmcr.eoiMode = true
        p.setGuestVMCR(g, 0, vmcr)
        try deviceFires(g, p)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // acknowledged, priority dropped
        g.vcpuExit(0)
        p.physLine.remove(p.key(72, 0))  // the driver serviced the device
        g.guestSystemRegisterWrite(vcpu: 0, .dir, 40)
        let i = g.spiIndex(40)
        #expect(!g.irqs[i].active)
        #expect(!g.isPending(i), "the device's line is low: not pending again")
        #expect(!p.physicalActive(72, cpu: 0))
    }

    @Test func anEOIcountDeactivationResamplesTheDeviceLine() throws {
        let (g, p) = try makeV3(lrs: 1)
        g.setUp(40, edge: false, priority: 0x80)
        try g.map(40, physicalIntid: 72, levelFromPhysical: true)
        g.setUp(41, edge: true, priority: 0x40)
        try deviceFires(g, p)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)
        g.vcpuExit(0)
        try g.pulse(41)
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).vINTID == 41)
        p.setState(0, 0, .invalid)  // 41 acknowledged and ended in its list register
        p.physLine.remove(p.key(72, 0))
        p.countUnmatchedEOIs(0)  // then 40's EOI, with no list register
        g.vcpuExit(0)
        let i = g.spiIndex(40)
        #expect(!g.irqs[i].active)
        #expect(!g.isPending(i), "the device's line is low: not pending again")
        #expect(!p.physicalActive(72, cpu: 0))
    }

    // MARK: Defect 5: a vCPU reset releases its mapped interrupts

    @Test func aVCPUResetDeactivatesItsMappedPPIsAndReleasesTheirTwins() throws {
        let (g, p) = try makeV3()
        g.setUp(27, on: 1, edge: false)
        try g.map(27, vcpu: 1, physicalIntid: 27, levelFromPhysical: true)
        try deviceFires(g, p, intid: 27, physical: 27, vcpu: 1, cpu: 1)
        g.vcpuEnter(1)
        p.setState(1, 0, .active)
        g.vcpuExit(1)
        #expect(g.irqs[32 + 27].active)
        p.physLine.remove(p.key(27, 1))
        try g.resetCPUInterface(vcpu: 1)
        #expect(!g.irqs[32 + 27].active)
        #expect(!p.physicalActive(27, cpu: 1), "the twin of the reset vCPU's PPI is released")
        g.vcpuEnter(1)
        #expect(p.validLRs(1).isEmpty)
    }

    // MARK: Defect 6

    @Test func aGroupHoldingListRegistersAsksForItsDisableMaintenance() throws {
        let (g, p) = try makeV3(lrs: 1)
        g.setUp(40, edge: true, priority: 0x80)
        g.setUp(41, edge: true, priority: 0xA0)
        // SPI 41 in Group 0.
        let groups = g.guestMMIORead(vcpu: 0, region: .distributor, offset: GICD.igroupr + 4, width: 4)
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.igroupr + 4, width: 4,
                         value: groups & ~(1 << 9))
        try g.pulse(40)
        try g.pulse(41)
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).vINTID == 40)
        let hcr = HCR(rawValue: p.hcr[0])
        #expect(hcr.has(HCR.vgrp1die), "disabling Group 1 must let Group 0's waiting interrupt in")
        #expect(!hcr.has(HCR.vgrp0die))
    }

    @Test func aSleepingRedistributorGetsNothingForwarded() throws {
        let (g, p) = try makeV3()
        g.setUp(40, edge: true, to: 1)
        g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.waker, width: 4,
                         value: UInt64(GICR.wakerProcessorSleep))
        try g.pulse(40)
        g.vcpuEnter(1)
        #expect(p.validLRs(1).isEmpty, "ProcessorSleep: nothing is forwarded to this CPU interface")
        #expect(!g.hasPendingInterrupt(vcpu: 1))
        g.vcpuExit(1)
        g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.waker, width: 4, value: 0)
        g.vcpuEnter(1)
        #expect(p.lr(1, 0).vINTID == 40 && p.lr(1, 0).state == .pending)
    }

    @Test func oneOfNRoutingPicksAParticipatingVCPU() throws {
        let (g, p) = try makeV3(vcpus: 3)
        g.setUp(40, edge: true)
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.irouter + 8 * 40, width: 8, value: irouterIRM)
        // vCPU 0 has Group 1 disabled, vCPU 1 sleeps: vCPU 2 participates.
        var vmcr = VMCR(v3: p.vmcr[0])
        vmcr.enableGroup1 = false
        p.setGuestVMCR(g, 0, vmcr)
        g.guestMMIOWrite(vcpu: 1, region: .redistributor(1), offset: GICR.waker, width: 4,
                         value: UInt64(GICR.wakerProcessorSleep))
        try g.pulse(40)
        g.vcpuEnter(2)
        #expect(p.lr(2, 0).vINTID == 40 && p.lr(2, 0).state == .pending)
    }

    @Test func enablingAMappedLevelInterruptWithoutAReaderResamplesThePhysicalPendingState() throws {
        let (g, p) = try makeDeviceSPI(reader: false)
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.icenabler + 4, width: 4, value: 1 << 8)
        try deviceFires(g, p)  // raised and taken while disabled
        p.physLine.remove(p.key(72, 0))  // the driver serviced the device by polling
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.isenabler + 4, width: 4, value: 1 << 8)
        #expect(!g.isPending(g.spiIndex(40)), "the physical interrupt is no longer pending")
        #expect(!p.physicalActive(72, cpu: 0), "the twin is released so that the device can interrupt again")
    }
}

@Suite("GICR_WAKER")
struct WakerTests {
    @Test func sleepingWhileOutTakesItsPendingInterruptsOffItsList() throws {
        let (g, _) = try makeV3()
        g.setUp(40, edge: true)
        try g.pulse(40)
        #expect(g.irqs[g.spiIndex(40)].apOwner == 0)
        try g.vmmWrite(region: .redistributor(0), offset: GICR.waker, width: 4, value: UInt64(GICR.wakerProcessorSleep))
        #expect(g.irqs[g.spiIndex(40)].apOwner == -1, "not forwarded while the redistributor sleeps")
        try g.vmmWrite(region: .redistributor(0), offset: GICR.waker, width: 4, value: 0)
        #expect(g.irqs[g.spiIndex(40)].apOwner == 0)
    }
}
