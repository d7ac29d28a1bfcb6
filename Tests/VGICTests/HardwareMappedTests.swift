import GICArchitecture
import Testing
@testable import VGIC

/// The seed: a guest that sets pending or active state on the virtual
/// distributor must not be able to deactivate a physical interrupt that is
/// not active.
@Suite("Hardware-mapped interrupts (the seed)")
struct HardwareMappedTests {
    @Test func hwEntryCarriesHWBitAndPhysicalINTIDAndHoldsTwinActive() throws {
        let (g, p) = try makeV3()
        g.setUp(27, on: 1, edge: false)
        try g.map(27, vcpu: 1, physicalIntid: 27)
        try g.setLine(27, level: true, vcpu: 1)
        g.vcpuEnter(1)
        let lr = p.lr(1, 0)
        #expect(lr.hw && lr.pINTID == 27 && lr.state == .pending && !lr.eoi)
        #expect(p.physicalActive(27, cpu: 1), "the twin is active before the guest can deactivate it")
        #expect(!p.physicalActive(27, cpu: 0), "never another CPU's private interrupt")
    }

    @Test func guestISPENDRSetsPhysicalActive() throws {
        let (g, p) = try makeV3()
        g.setUp(27, on: 0, edge: false)
        try g.map(27, vcpu: 0, physicalIntid: 27)
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.sgiBase + GICD.ispendr, width: 4, value: 1 << 27)
        #expect(p.physicalActive(27, cpu: 0))
        #expect(g.irqs[27].pendingLatch)
    }

    @Test func guestICPENDRClearsPhysicalPendingAndActiveUnlessVirtuallyActive() throws {
        let (g, p) = try makeV3()
        g.setUp(27, on: 0, edge: false)
        try g.map(27, vcpu: 0, physicalIntid: 27)
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.sgiBase + GICD.ispendr, width: 4, value: 1 << 27)
        p.physPending.insert(p.key(27, 0))
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.sgiBase + GICD.icpendr, width: 4, value: 1 << 27)
        #expect(!p.physicalPending(27, cpu: 0))
        #expect(!p.physicalActive(27, cpu: 0))

        // Virtually active: the physical active state stays.
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.sgiBase + GICD.isactiver, width: 4, value: 1 << 27)
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(0), offset: GICR.sgiBase + GICD.icpendr, width: 4, value: 1 << 27)
        #expect(p.physicalActive(27, cpu: 0))
    }

    @Test func guestISACTIVERAndICACTIVERSetAndClearBoth() throws {
        let (g, p) = try makeV3()
        try g.map(40, physicalIntid: 72)
        g.guestMMIOWrite(vcpu: 1, region: .distributor, offset: GICD.isactiver + 4, width: 4, value: 1 << 8)
        #expect(g.irqs[g.spiIndex(40)].active && p.physicalActive(72, cpu: 0))
        g.guestMMIOWrite(vcpu: 1, region: .distributor, offset: GICD.icactiver + 4, width: 4, value: 1 << 8)
        #expect(!g.irqs[g.spiIndex(40)].active && !p.physicalActive(72, cpu: 0))
    }

    @Test func anotherVCPUsWriteActsOnTheOwnersPhysicalCPU() throws {
        let (g, p) = try makeV3(vcpus: 3)
        try g.map(27, vcpu: 2, physicalIntid: 27)
        g.guestMMIOWrite(vcpu: 0, region: .redistributor(2), offset: GICR.sgiBase + GICD.isactiver, width: 4, value: 1 << 27)
        #expect(p.physicalActive(27, cpu: 2))
        #expect(!p.physicalActive(27, cpu: 0), "not the requester's own PPI")
        #expect(p.physicalWrites.allSatisfy { $0.1 == 2 })
    }

    @Test func vmmWritesChangeOnlyVirtualState() throws {
        let (g, p) = try makeV3()
        try g.map(27, vcpu: 0, physicalIntid: 27)
        try g.vmmWrite(region: .redistributor(0), offset: GICR.sgiBase + GICD.ispendr, width: 4, value: 1 << 27)
        try g.vmmWrite(region: .redistributor(0), offset: GICR.sgiBase + GICD.isactiver, width: 4, value: 1 << 27)
        try g.vmmWrite(region: .redistributor(0), offset: GICR.sgiBase + GICD.icactiver, width: 4, value: 1 << 27)
        try g.vmmWrite(region: .redistributor(0), offset: GICR.sgiBase + GICD.icpendr, width: 4, value: 1 << 27)
        #expect(p.physicalWrites.isEmpty)
        try g.vmmWrite(region: .redistributor(0), offset: GICR.sgiBase + GICD.ispendr, width: 4, value: 1 << 27)
        #expect(g.irqs[27].pendingLatch)
    }

    @Test func hwEntryIsNeverPendingAndActive() throws {
        let (g, p) = try makeV3()
        g.setUp(27, on: 0, edge: false)
        try g.map(27, vcpu: 0, physicalIntid: 27)
        try g.setLine(27, level: true, vcpu: 0)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)
        g.vcpuExit(0)
        g.vcpuEnter(0)  // active and (line high) pending
        #expect(p.lr(0, 0).state == .active)
    }

    @Test func guestDeactivationThroughHWBitReleasesTracking() throws {
        let (g, p) = try makeV3()
        g.setUp(27, on: 0, edge: false)
        try g.map(27, vcpu: 0, physicalIntid: 27, levelFromPhysical: true)
        p.physLine.insert(p.key(27, 0))
        try g.setLine(27, level: true, vcpu: 0)
        g.vcpuEnter(0)
        // Guest acks and EOIs; the hardware deactivates the physical twin.
        p.setState(0, 0, .invalid)
        p.physActive.remove(p.key(27, 0))
        p.physLine.remove(p.key(27, 0))
        g.vcpuExit(0)
        #expect(!g.irqs[27].active && !g.irqs[27].physicalActiveHeld)
        #expect(!g.isPending(27), "the device line dropped: resampled from the physical line")
    }

    @Test func levelFromPhysicalShowsDeviceLineInISPENDREvenWhileDisabled() throws {
        let (g, p) = try makeV3()
        try g.map(27, vcpu: 0, physicalIntid: 27, levelFromPhysical: true)
        p.physLine.insert(p.key(27, 0))
        let v = g.guestMMIORead(vcpu: 0, region: .redistributor(0), offset: GICR.sgiBase + GICD.ispendr, width: 4)
        #expect(v & (1 << 27) != 0)
    }

    @Test func anotherVCPUsICACTIVERFoldsTheRunningOwnerFirst() throws {
        let (g, p) = try makeV3()
        g.setUp(40, edge: true)
        try g.map(40, physicalIntid: 80)
        try g.pulse(40)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // guest acked, still running
        g.guestMMIOWrite(vcpu: 1, region: .distributor, offset: GICD.icactiver + 4, width: 4, value: 1 << 8)
        #expect(!g.irqs[g.spiIndex(40)].active, "the acknowledge was folded before the write")
        #expect(!p.physicalActive(80, cpu: 0))
        #expect(g.isInGuest(vcpu: 0), "vCPU 0 is back in the guest")
        #expect(p.validLRs(0).isEmpty)
    }

    @Test func aPlatformWithCPULocalListRegistersIsAskedToStopTheOthers() throws {
        let (g, p) = try makeV3()
        p.reachesEveryCPUsListRegisters = false
        g.setUp(40, edge: true)
        g.guestMMIOWrite(vcpu: 1, region: .distributor, offset: GICD.isenabler + 4, width: 4, value: 1 << 8)
        g.guestSystemRegisterWrite(vcpu: 1, .sgi1r, 1)
        #expect(p.stops.isEmpty, "enables and SGIs need nobody stopped")
        g.guestMMIOWrite(vcpu: 1, region: .distributor, offset: GICD.ispendr + 4, width: 4, value: 1 << 8)
        _ = g.guestMMIORead(vcpu: 0, region: .redistributor(1), offset: GICR.sgiBase + GICD.isactiver, width: 4)
        g.guestSystemRegisterWrite(vcpu: 1, .dir, 40)
        #expect(p.stops.map { $0.0 } == [1, 1, 0, 0, 1, 1])
        #expect(p.stops.map { $0.1 } == [true, false, true, false, true, false])
    }

    @Test func releaseWhileARunningHWEntryHoldsItWaitsForTheExit() throws {
        let (g, p) = try makeV3()
        g.setUp(40, edge: true)
        try g.map(40, physicalIntid: 80)
        try g.pulse(40)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // guest acked, still running
        g.lock.withLock { g.deactivate(g.spiIndex(40), by: 1) }  // an emulated DIR, say
        #expect(p.physicalActive(80, cpu: 0), "a running HW entry may still be deactivated by the guest")
        g.vcpuExit(0)
        #expect(!p.physicalActive(80, cpu: 0))
    }

    @Test func unmapReleasesTwin() throws {
        let (g, p) = try makeV3()
        g.setUp(40, edge: true)
        try g.map(40, physicalIntid: 80)
        try g.pulse(40)
        g.vcpuEnter(0)
        g.vcpuExit(0)
        #expect(p.physicalActive(80, cpu: 0))
        try g.unmap(40)
        #expect(!p.physicalActive(80, cpu: 0))
    }
}
