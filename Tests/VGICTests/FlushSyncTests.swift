import GICArchitecture
import Testing
@testable import VGIC

@Suite("Flush and sync")
struct FlushSyncTests {
    @Test func edgeSPIReachesListRegisterAndAckClearsLatch() throws {
        let (g, p) = try makeV3()
        g.setUp(40, edge: true)
        try g.pulse(40)
        g.vcpuEnter(0)
        let lr = p.lr(0, 0)
        #expect(lr.vINTID == 40 && lr.state == .pending && lr.priority == 0xA0 && lr.group == 1 && !lr.hw)
        #expect(p.hcr[0] & HCR.en != 0)
        p.setState(0, 0, .active)  // the guest acknowledges
        g.vcpuExit(0)
        #expect(g.irqs[g.spiIndex(40)].active && !g.irqs[g.spiIndex(40)].pendingLatch)
        #expect(p.validLRs(0).isEmpty, "sync clears the list registers it used")
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).state == .active)
        p.setState(0, 0, .invalid)  // the guest EOIs
        g.vcpuExit(0)
        #expect(!g.irqs[g.spiIndex(40)].active)
        #expect(g.vcpus[0].apHead == -1, "an idle interrupt leaves the ap_list")
    }

    @Test func levelInterruptRequestsEOIMaintenanceAndStaysPendingWhileLineHigh() throws {
        let (g, p) = try makeV3()
        g.setUp(41, edge: false)
        try g.setLine(41, level: true)
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).eoi, "level-sensitive entries ask for an EOI maintenance interrupt")
        p.setState(0, 0, .invalid)  // ack + EOI
        g.vcpuExit(0)
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).state == .pending, "line still high: pending again")
        g.vcpuExit(0)
        try g.setLine(41, level: false)
        g.vcpuEnter(0)
        #expect(p.validLRs(0).isEmpty)
    }

    @Test func overflowPutsHighestPriorityPendingFirstAndAsksForRoom() throws {
        let (g, p) = try makeV3(lrs: 4)
        for k in 0..<6 {
            let id = UInt32(40 + k)
            g.setUp(id, edge: true, priority: UInt8(0x80 - 8 * k))
            try g.pulse(id)
        }
        g.vcpuEnter(0)
        let ids = p.validLRs(0).map(\.vINTID).sorted()
        #expect(ids == [42, 43, 44, 45])
        let hcr = HCR(rawValue: p.hcr[0])
        #expect(hcr.has(HCR.npie) && hcr.has(HCR.uie))
        #expect(!hcr.has(HCR.lrenpie))
    }

    @Test func pendingGoesBeforeMerelyActiveAndEOIcountDeactivatesTheRightOne() throws {
        let (g, p) = try makeV3(lrs: 1)
        g.setUp(40, edge: true, priority: 0x40)
        g.setUp(41, edge: true, priority: 0x80)
        try g.pulse(40)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // 40 acknowledged
        g.vcpuExit(0)
        try g.pulse(41)
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).vINTID == 41 && p.lr(0, 0).state == .pending, "pending before merely active")
        #expect(HCR(rawValue: p.hcr[0]).has(HCR.lrenpie), "an active interrupt without a list register")
        // The guest EOIs 40 (no list register: EOIcount).
        p.countUnmatchedEOIs(0)
        g.vcpuExit(0)
        #expect(!g.irqs[g.spiIndex(40)].active)
        #expect(g.isPending(g.spiIndex(41)))
    }

    /// Found by the differential fuzzer (Guests/difftest, regression
    /// `eoicount-acknowledged`): an EOI with no list register to match was
    /// charged to a higher-priority interrupt the guest had only made active
    /// through ISACTIVER, leaving the acknowledged one active.
    @Test func eoiCountIsChargedToTheAcknowledgedInterruptNotOneSetActive() throws {
        let (g, p) = try makeV3(lrs: 1)
        g.setUp(40, edge: true, priority: 0x80)
        g.setUp(41, edge: true, priority: 0x40)
        g.setUp(42, edge: true, priority: 0x20)
        try g.pulse(40)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // 40 acknowledged
        g.vcpuExit(0)
        #expect(g.irqs[g.spiIndex(40)].acknowledged)
        // The guest sets 41 active and makes 42 pending (not acknowledged).
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.isactiver + 4, width: 4, value: 1 << 9)
        try g.pulse(42)
        #expect(!g.irqs[g.spiIndex(41)].acknowledged)
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).vINTID == 42, "the pending interrupt has the only list register")
        // The guest EOIs 40: no list register holds it (EOIcount).
        p.countUnmatchedEOIs(0)
        g.vcpuExit(0)
        #expect(!g.irqs[g.spiIndex(40)].active, "the EOI ends the acknowledged interrupt")
        #expect(g.irqs[g.spiIndex(41)].active, "not the higher-priority one set active by ISACTIVER")
        // A snapshot carries the flag.
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // 42 acknowledged
        g.vcpuExit(0)
        let snap = try g.snapshotState()
        #expect(snap.interrupts[g.spiIndex(42)].acknowledged && !snap.interrupts[g.spiIndex(41)].acknowledged)
    }

    /// Found by the differential fuzzer (regression `eoicount-eoimode1`):
    /// QEMU's virtual CPU interface counts an EOIR with no matching list
    /// register in EOImode 1 too, where it only drops a priority.
    @Test func eoiCountInEOImode1DeactivatesNothing() throws {
        let (g, p) = try makeV3(vcpus: 1, lrs: 1)
        var vmcr = VMCR(v3: p.vmcr[0])
        vmcr.eoiMode = true
        p.setGuestVMCR(g, 0, vmcr)
        g.setUp(40, edge: true, priority: 0x80)
        g.setUp(41, edge: true, priority: 0x40)
        try g.pulse(40)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)  // 40 acknowledged
        g.vcpuExit(0)
        try g.pulse(41)
        g.vcpuEnter(0)
        #expect(p.lr(0, 0).vINTID == 41, "40 has no list register")
        #expect(HCR(rawValue: p.hcr[0]).has(HCR.tdir), "with 40 active and not listed, DIR traps")
        p.countUnmatchedEOIs(0)  // the guest's EOIR of 40: a priority drop
        g.vcpuExit(0)
        #expect(g.irqs[g.spiIndex(40)].active, "still active until its DIR")
        g.guestSystemRegisterWrite(vcpu: 0, .dir, 40)
        #expect(!g.irqs[g.spiIndex(40)].active)
    }

    @Test func newEdgeWhileInListRegisterIsNotLostWhenTheGuestAcks() throws {
        let (g, p) = try makeV3()
        g.setUp(40, edge: true)
        try g.pulse(40)
        g.vcpuEnter(0)
        try g.pulse(40)  // arrives while the LR holds it pending
        p.setState(0, 0, .active)
        g.vcpuExit(0)
        #expect(g.irqs[g.spiIndex(40)].active && g.irqs[g.spiIndex(40)].pendingLatch)
    }

    @Test func remoteClearPendingSurvivesSync() throws {
        let (g, p) = try makeV3()
        g.setUp(40, edge: true)
        try g.pulse(40)
        g.vcpuEnter(0)
        g.guestMMIOWrite(vcpu: 1, region: .distributor, offset: GICD.icpendr + 4, width: 4, value: 1 << 8)
        #expect(p.kicks.contains(0))
        g.vcpuExit(0)  // the guest did not ack: the LR is still pending
        #expect(!g.isPending(g.spiIndex(40)))
    }

    @Test func disabledGroupLeftOutAsksForGroupEnableMaintenance() throws {
        let (g, p) = try makeV3(lrs: 1)
        var vmcr = VMCR(v3: p.vmcr[0])
        vmcr.enableGroup1 = false
        p.setGuestVMCR(g, 0, vmcr)
        g.setUp(40, edge: true)
        g.setUp(41, edge: true)
        try g.pulse(40)
        try g.pulse(41)
        g.vcpuEnter(0)
        #expect(HCR(rawValue: p.hcr[0]).has(HCR.vgrp1eie))
    }

    @Test func spiRoutedByIROUTERGoesToThatVCPU() throws {
        let (g, p) = try makeV3(vcpus: 4)
        g.setUp(50, edge: true, to: 3)
        try g.pulse(50)
        #expect(p.kicks.contains(3))
        g.vcpuEnter(3)
        #expect(p.lr(3, 0).vINTID == 50)
        g.vcpuEnter(0)
        #expect(p.validLRs(0).isEmpty)
    }

    @Test func dirTrapsWithSeveralVCPUsWhateverTheEOImode() throws {
        let (g, p) = try makeV3()
        var vmcr = VMCR(v3: p.vmcr[1])
        vmcr.eoiMode = true
        p.setGuestVMCR(g, 1, vmcr)
        g.vcpuEnter(1)
        #expect(HCR(rawValue: p.hcr[1]).has(HCR.tdir) && g.dirTraps(vcpu: 1))
        let (single, sp) = try makeV3(vcpus: 1)
        single.vcpuEnter(0)
        #expect(!HCR(rawValue: sp.hcr[0]).has(HCR.tdir), "one vCPU, every active interrupt in a list register")
    }

    @Test func dirOfSPIActiveOnAnotherVCPUDeactivatesIt() throws {
        let (g, p) = try makeV3()
        var vmcr = VMCR(v3: p.vmcr[1])
        vmcr.eoiMode = true
        p.setGuestVMCR(g, 1, vmcr)
        g.setUp(40, edge: true)
        try g.pulse(40)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)
        g.vcpuExit(0)
        g.guestSystemRegisterWrite(vcpu: 1, .dir, 40)
        #expect(!g.irqs[g.spiIndex(40)].active)
    }
}
