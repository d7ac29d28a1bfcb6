import GICArchitecture
import Testing
@testable import VGIC

/// The saved CPU interface of a vCPU, for "nothing changed" checks.
func savedCPUInterface(_ g: TestVGIC, _ v: Int) -> (VMCR, [UInt32], Bool) {
    (g.vcpus[v].vmcr, Array(g.aprs[v * 8 ..< v * 8 + 8]), g.vcpus[v].cpuInterfaceDirty)
}

func expectRefused(_ g: TestVGIC, vcpu: Int, _ reg: CPUInterfaceRegister, _ value: UInt64, _ error: VGICError,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    let v = min(max(vcpu, 0), g.vcpuCount - 1)
    let before = savedCPUInterface(g, v)
    #expect(throws: error, sourceLocation: sourceLocation) { try g.vmmWriteSystemRegister(vcpu: vcpu, reg, value) }
    let after = savedCPUInterface(g, v)
    #expect(before.0 == after.0 && before.1 == after.1 && before.2 == after.2, sourceLocation: sourceLocation)
}

@Suite("VMM access: GICv3 CPU system registers")
struct VMMSystemRegisterTests {
    /// A vGIC whose CPU interfaces were loaded once (not dirty).
    func make(priorityBits: Int = 7) throws -> (TestVGIC, FakePlatform) {
        let p = FakePlatform(cpus: 2)
        let g = try TestVGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 2, priorityBits: priorityBits),
                             platform: p)
        for v in 0..<2 {
            g.vcpuEnter(v)
            g.vcpuExit(v)
        }
        return (g, p)
    }

    @Test func everyRegisterRoundTripsAndIsLoadedOnEntry() throws {
        let (g, p) = try make(priorityBits: 7)
        let writes: [(CPUInterfaceRegister, UInt64)] = [
            (.pmr, 0xA4), (.bpr0, 3), (.bpr1, 4), (.ctlr, 6 << 8 | 1 << 15 | 1 << 1), (.sre, 0x7),
            (.igrpen0, 1), (.igrpen1, 1),
            (.ap0r0, 0x8000_0001), (.ap0r1, 0x2), (.ap0r2, 0x4), (.ap0r3, 0x8),
            (.ap1r0, 0x10), (.ap1r1, 0x20), (.ap1r2, 0x40), (.ap1r3, 0x8000_0000),
        ]
        for (reg, value) in writes {
            #expect(!g.vcpus[1].cpuInterfaceDirty)
            try g.vmmWriteSystemRegister(vcpu: 1, reg, value)
            #expect(try g.vmmReadSystemRegister(vcpu: 1, reg) == value, "\(reg.name)")
            #expect(g.vcpus[1].cpuInterfaceDirty || reg == .sre, "\(reg.name): the next entry must load it")
            g.vcpuEnter(1)
            g.vcpuExit(1)
        }
        // The hardware got all of it; vCPU 0 kept its reset state.
        var expected = VMCR()
        expected.pmr = 0xA4
        expected.bpr0 = 3
        expected.bpr1 = 4
        expected.eoiMode = true
        expected.enableGroup0 = true
        expected.enableGroup1 = true
        #expect(VMCR(v3: p.vmcr[1]) == expected)
        #expect(p.apr[1] == [0x8000_0001, 2, 4, 8, 0x10, 0x20, 0x40, 0x8000_0000])
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .pmr) == 0)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .igrpen1) == 0)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .ctlr) == 6 << 8 | 1 << 15)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .ap1r3) == 0)
    }

    @Test func whatTheGuestDidIsWhatTheVMMReads() throws {
        let (g, p) = try make(priorityBits: 5)
        g.vcpuEnter(0)
        var v = VMCR(v3: p.vmcr[0])
        v.pmr = 0x80
        v.cbpr = true
        v.bpr0 = 4
        v.enableGroup1 = true
        p.vmcr[0] = v.v3
        p.apr[0][4] = 0x4000_0000  // AP1R0
        g.vcpuExit(0)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .pmr) == 0x80)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .bpr1) == 5, "with CBPR, BPR1 reads BPR0 + 1")
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .ctlr) == 4 << 8 | 1 << 15 | 1)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .igrpen1) == 1)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .ap1r0) == 0x4000_0000)
        // With CBPR set, a BPR1 write is ignored (as the CPU interface ignores it).
        try g.vmmWriteSystemRegister(vcpu: 0, .bpr1, 7)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .bpr1) == 5)
        #expect(g.vcpus[0].vmcr.bpr1 == v.bpr1)
    }

    @Test func valuesAreWhatTheCPUInterfaceWouldHold() throws {
        let (g, _) = try make(priorityBits: 5)
        try g.vmmWriteSystemRegister(vcpu: 0, .pmr, 0xFF)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .pmr) == 0xF8, "5 priority bits")
        try g.vmmWriteSystemRegister(vcpu: 0, .bpr0, 0)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .bpr0) == 2, "BPR0 at least 7 - preemption bits")
        try g.vmmWriteSystemRegister(vcpu: 0, .bpr1, 0)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .bpr1) == 3)
        try g.vmmWriteSystemRegister(vcpu: 0, .igrpen0, 0xFFFF_FFFF_FFFF_FFFF)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .igrpen0) == 1)
        try g.vmmWriteSystemRegister(vcpu: 0, .ap0r0, 0x1_0000_0001)
        #expect(try g.vmmReadSystemRegister(vcpu: 0, .ap0r0) == 1)
    }

    @Test func refusalsNameTheRuleAndChangeNothing() throws {
        let (g, _) = try make(priorityBits: 5)
        try g.vmmWriteSystemRegister(vcpu: 1, .pmr, 0x50)
        expectRefused(g, vcpu: 1, .ap0r1, 1, .register(.activePriorityRegisterNotImplemented))
        expectRefused(g, vcpu: 1, .ap1r3, 1, .register(.activePriorityRegisterNotImplemented))
        #expect(throws: VGICError.register(.activePriorityRegisterNotImplemented)) {
            try g.vmmReadSystemRegister(vcpu: 1, .ap0r2)
        }
        let ctlr: UInt64 = 4 << 8 | 1 << 15
        expectRefused(g, vcpu: 1, .ctlr, 6 << 8 | 1 << 15 | 2, .register(.ctlrPriorityBits))
        expectRefused(g, vcpu: 1, .ctlr, 3 << 8 | 1 << 15 | 2, .register(.ctlrPriorityBits))
        expectRefused(g, vcpu: 1, .ctlr, ctlr | 1 << 11 | 2, .register(.ctlrIDBits))
        expectRefused(g, vcpu: 1, .ctlr, ctlr | 1 << 14 | 2, .register(.ctlrSEIS))
        expectRefused(g, vcpu: 1, .ctlr, 4 << 8 | 2, .register(.ctlrA3V))
        expectRefused(g, vcpu: 1, .sre, 0x6, .register(.sreCannotBeCleared))
        for reg in [CPUInterfaceRegister.iar1, .eoir0, .dir, .hppir1, .rpr, .sgi1r] {
            expectRefused(g, vcpu: 1, reg, 0, .register(.notASaveRestoreRegister))
            #expect(throws: VGICError.register(.notASaveRestoreRegister)) { try g.vmmReadSystemRegister(vcpu: 1, reg) }
        }
        expectRefused(g, vcpu: 2, .pmr, 0, .noSuchVCPU(2))
        expectRefused(g, vcpu: -1, .pmr, 0, .noSuchVCPU(-1))
        // Only the vCPU named must be out of the guest.
        g.vcpuEnter(1)
        expectRefused(g, vcpu: 1, .pmr, 0xF0, .vcpuRunning(1))
        #expect(throws: VGICError.vcpuRunning(1)) { try g.vmmReadSystemRegister(vcpu: 1, .pmr) }
        try g.vmmWriteSystemRegister(vcpu: 0, .pmr, 0xF0)
        g.vcpuExit(1)
        #expect(try g.vmmReadSystemRegister(vcpu: 1, .pmr) == 0x50)
        // GICv2 has no CPU system registers.
        let h = try TestVGIC(configuration: VGICConfiguration(version: .v2, vcpuCount: 1), platform: FakePlatform(cpus: 1))
        #expect(throws: VGICError.register(.systemRegistersNeedGICv3)) { try h.vmmReadSystemRegister(vcpu: 0, .pmr) }
        #expect(throws: VGICError.register(.systemRegistersNeedGICv3)) {
            try h.vmmWriteSystemRegister(vcpu: 0, .pmr, 0)
        }
    }

    @Test func kvmSysregEncodings() {
        #expect(CPUInterfaceRegister.pmr.kvmSysregEncoding == 0xC230)  // S3_0_C4_C6_0
        #expect(CPUInterfaceRegister.ctlr.kvmSysregEncoding == 0xC664)  // S3_0_C12_C12_4
        #expect(CPUInterfaceRegister.ap0r1.kvmSysregEncoding == 0xC645)  // S3_0_C12_C8_5
        #expect(CPUInterfaceRegister.ap1r2.kvmSysregEncoding == 0xC64A)  // S3_0_C12_C9_2
        #expect(CPUInterfaceRegister.igrpen1.kvmSysregEncoding == 0xC667)  // S3_0_C12_C12_7
        for r in CPUInterfaceRegister.allCases {
            #expect((r.kvmSysregEncoding != nil) == r.isVMMAccessible, "\(r.name)")
            if let e = r.kvmSysregEncoding { #expect(CPUInterfaceRegister(kvmSysregEncoding: e) == r) }
        }
        #expect(CPUInterfaceRegister(kvmSysregEncoding: 0xC660) == nil)  // ICC_IAR1_EL1 is not in the group
    }
}

@Suite("VMM access: line levels (LEVEL_INFO)")
struct VMMLineLevelTests {
    @Test func readReportsLevelSensitiveLinesOnly() throws {
        let (g, _) = try makeV3(vcpus: 2, irqs: 128)
        g.setUp(40, edge: false)
        g.setUp(41, edge: true)
        try g.setLine(40, level: true)
        try g.setLine(41, level: true)
        try g.setLine(20, level: true, vcpu: 1)
        try g.setLine(100, level: true)
        #expect(try g.vmmLineLevels(vcpu: 0, firstINTID: 32) == 1 << 8, "the edge SPI's line is not reported")
        #expect(try g.vmmLineLevels(vcpu: 1, firstINTID: 32) == 1 << 8, "SPIs read the same from any vCPU")
        #expect(try g.vmmLineLevels(vcpu: 1, firstINTID: 0) == 1 << 20)
        #expect(try g.vmmLineLevels(vcpu: 0, firstINTID: 0) == 0, "PPIs are per vCPU")
        #expect(try g.vmmLineLevels(vcpu: 0, firstINTID: 96) == 1 << 4)
        #expect(try g.vmmLineLevels(vcpu: 0, firstINTID: 128) == 0, "beyond the number of IRQs: RAZ")
        #expect(try g.vmmLineLevels(vcpu: 0, firstINTID: 0xFFFF_FFE0) == 0)
    }

    @Test func writeSetsTheLineAloneAndRoundTrips() throws {
        let (g, p) = try makeV3(vcpus: 2, irqs: 128)
        g.setUp(40, edge: false)
        g.setUp(41, edge: true)
        try g.vmmSetLineLevels(vcpu: 0, firstINTID: 32, 1 << 8 | 1 << 9)
        let level = g.irqs[g.spiIndex(40)], edge = g.irqs[g.spiIndex(41)]
        #expect(level.lineLevel && g.isPending(g.spiIndex(40)) && level.apOwner == 0)
        #expect(edge.lineLevel && !edge.pendingLatch, "an edge interrupt's latch is not touched")
        #expect(try g.vmmLineLevels(vcpu: 0, firstINTID: 32) == 1 << 8)
        // The guest is offered the level interrupt.
        g.vcpuEnter(0)
        #expect(p.validLRs(0).map(\.vINTID) == [40])
        g.vcpuExit(0)
        // SGIs are ignored, PPIs are the named vCPU's.
        try g.vmmSetLineLevels(vcpu: 1, firstINTID: 0, 0xFFFF_FFFF)
        #expect((0..<16).allSatisfy { !g.irqs[32 + $0].lineLevel })
        #expect((16..<32).allSatisfy { g.irqs[32 + $0].lineLevel })
        #expect((16..<32).allSatisfy { !g.irqs[$0].lineLevel })
        #expect(try g.vmmLineLevels(vcpu: 1, firstINTID: 0) == 0xFFFF_0000)
        // Beyond the number of IRQs: ignored.
        try g.vmmSetLineLevels(vcpu: 0, firstINTID: 128, 0xFFFF_FFFF)
        // Lowered: no longer pending.
        try g.vmmSetLineLevels(vcpu: 0, firstINTID: 32, 0)
        #expect(!g.isPending(g.spiIndex(40)))

        // Restored into another vGIC: the same levels.
        let (h, _) = try makeV3(vcpus: 2, irqs: 128)
        for first in stride(from: UInt32(0), to: 128, by: 32) {
            for v in 0..<2 {
                try h.vmmSetLineLevels(vcpu: v, firstINTID: first, try g.vmmLineLevels(vcpu: v, firstINTID: first))
            }
        }
        for i in 0..<g.irqs.count where !g.irqs[i].edge {
            #expect(h.irqs[i].lineLevel == g.irqs[i].lineLevel, "\(i)")
        }
    }

    @Test func refusals() throws {
        let (g, _) = try makeV3(vcpus: 2, irqs: 128)
        try g.setLine(40, level: true)
        let before = g.irqs.map(\.lineLevel)
        #expect(throws: VGICError.register(.levelInfoNotAligned)) { try g.vmmLineLevels(vcpu: 0, firstINTID: 40) }
        #expect(throws: VGICError.register(.levelInfoNotAligned)) {
            try g.vmmSetLineLevels(vcpu: 0, firstINTID: 33, 0)
        }
        #expect(throws: VGICError.noSuchVCPU(2)) { try g.vmmSetLineLevels(vcpu: 2, firstINTID: 32, 0) }
        g.vcpuEnter(1)
        #expect(throws: VGICError.vcpuRunning(1)) { try g.vmmSetLineLevels(vcpu: 0, firstINTID: 32, 0) }
        #expect(throws: VGICError.vcpuRunning(1)) { try g.vmmLineLevels(vcpu: 0, firstINTID: 32) }
        g.vcpuExit(1)
        #expect(g.irqs.map(\.lineLevel) == before)
    }
}

@Suite("VMM access: KVM's uaccess semantics")
struct VMMUaccessTests {
    let ispendr1 = GICD.ispendr + 4, icpendr1 = GICD.icpendr + 4

    @Test func v3PendingIsTheLatchAndICPENDRIsRAZWI() throws {
        let (g, p) = try makeV3(vcpus: 2, irqs: 64)
        g.setUp(40, edge: false)
        try g.setLine(40, level: true)
        #expect(try g.vmmRead(region: .distributor, offset: ispendr1, width: 4) == 0, "the latch alone")
        #expect(g.guestMMIORead(vcpu: 0, region: .distributor, offset: ispendr1, width: 4) == 1 << 8)
        try g.vmmWrite(region: .distributor, offset: ispendr1, width: 4, value: 1 << 8)
        #expect(g.irqs[g.spiIndex(40)].pendingLatch)
        #expect(try g.vmmRead(region: .distributor, offset: ispendr1, width: 4) == 1 << 8)
        // ICPENDR: RAZ/WI.
        try g.vmmWrite(region: .distributor, offset: icpendr1, width: 4, value: 0xFFFF_FFFF)
        #expect(g.irqs[g.spiIndex(40)].pendingLatch)
        #expect(try g.vmmRead(region: .distributor, offset: icpendr1, width: 4) == 0)
        // A zero clears the latch, not the line.
        try g.vmmWrite(region: .distributor, offset: ispendr1, width: 4, value: 0)
        #expect(!g.irqs[g.spiIndex(40)].pendingLatch && g.irqs[g.spiIndex(40)].lineLevel)
        #expect(g.guestMMIORead(vcpu: 0, region: .distributor, offset: ispendr1, width: 4) == 1 << 8)
        // Set regardless of the configuration (restorable before ICFGR).
        try g.vmmWrite(region: .distributor, offset: ispendr1, width: 4, value: 1 << 9)
        #expect(g.irqs[g.spiIndex(41)].pendingLatch && !g.irqs[g.spiIndex(41)].edge)
        // The redistributor's SGIs and PPIs: per vCPU, the same rules.
        try g.vmmWrite(region: .redistributor(1), offset: GICR.sgiBase + GICD.ispendr, width: 4, value: 1 << 3)
        #expect(g.irqs[32 + 3].pendingLatch && !g.irqs[3].pendingLatch)
        try g.vmmWrite(region: .redistributor(1), offset: GICR.sgiBase + GICD.icpendr, width: 4, value: 1 << 3)
        #expect(g.irqs[32 + 3].pendingLatch)
        try g.vmmWrite(region: .redistributor(1), offset: GICR.sgiBase + GICD.ispendr, width: 4, value: 0)
        #expect(!g.irqs[32 + 3].pendingLatch)
        // Mapped interrupts: nothing physical.
        try g.map(42, physicalIntid: 60)
        try g.vmmWrite(region: .distributor, offset: ispendr1, width: 4, value: 1 << 10)
        try g.vmmWrite(region: .distributor, offset: GICD.isactiver + 4, width: 4, value: 1 << 10)
        try g.vmmWrite(region: .distributor, offset: GICD.icactiver + 4, width: 4, value: 1 << 10)
        try g.vmmWrite(region: .distributor, offset: ispendr1, width: 4, value: 0)
        #expect(p.physicalWrites.isEmpty)
    }

    @Test func v2PendingLatchAndSGISources() throws {
        let p = FakePlatform(cpus: 2)
        let g = try TestVGIC(configuration: VGICConfiguration(version: .v2, vcpuCount: 2, irqCount: 64), platform: p)
        try g.setLine(40, level: true)
        // KVM's GICv2 accessors read the pending state as the hardware does: the high line counts.
        #expect(try g.vmmRead(region: .distributor, offset: ispendr1, width: 4) == 1 << 8)
        try g.vmmWrite(region: .distributor, offset: ispendr1, width: 4, value: 1 << 8)
        try g.vmmWrite(region: .distributor, offset: ispendr1, width: 4, value: 0)
        #expect(g.irqs[g.spiIndex(40)].pendingLatch, "GICv2: zeros in ISPENDR change nothing")
        #expect(try g.vmmRead(region: .distributor, offset: icpendr1, width: 4) == 1 << 8, "ICPENDR reads the latch")
        try g.vmmWrite(region: .distributor, offset: icpendr1, width: 4, value: 1 << 8)
        #expect(!g.irqs[g.spiIndex(40)].pendingLatch && g.irqs[g.spiIndex(40)].lineLevel)
        // SGI sources, banked per vCPU: SGI 5 pending from CPUs 0 and 1 on vCPU 1.
        let spend = GICD.spendsgir + 4, cpend = GICD.cpendsgir + 4
        try g.vmmWrite(region: .distributor, offset: spend, width: 4, value: 0x3 << 8, vcpu: 1)
        #expect(try g.vmmRead(region: .distributor, offset: spend, width: 4, vcpu: 1) == 0x3 << 8)
        #expect(try g.vmmRead(region: .distributor, offset: cpend, width: 4, vcpu: 1) == 0x3 << 8)
        #expect(try g.vmmRead(region: .distributor, offset: spend, width: 4, vcpu: 0) == 0)
        #expect(try g.vmmRead(region: .distributor, offset: GICD.ispendr, width: 4, vcpu: 1) == 1 << 5)
        try g.vmmWrite(region: .distributor, offset: cpend, width: 4, value: 0x1 << 8, vcpu: 1)
        #expect(try g.vmmRead(region: .distributor, offset: spend, width: 4, vcpu: 1) == 0x2 << 8)
        // An active SGI set by the VMM is CPU 0's (its source is not architecturally visible).
        try g.vmmWrite(region: .distributor, offset: GICD.isactiver, width: 4, value: 1 << 5, vcpu: 1)
        #expect(g.irqs[32 + 5].active && g.irqs[32 + 5].activeSource == 0)
    }

    @Test func iidrSelectsASupportedRevision() throws {
        for version in [GICVersion.v3, .v2] {
            let g = try TestVGIC(configuration: VGICConfiguration(version: version, vcpuCount: 1),
                                 platform: FakePlatform(cpus: 1))
            let iidr = try g.vmmRead(region: .distributor, offset: GICD.iidr, width: 4)
            #expect(iidr == 0x5600_343B && (iidr >> 12) & 0xF == UInt64(latestIIDRRevision))
            try g.vmmWrite(region: .distributor, offset: GICD.iidr, width: 4, value: iidr)
            #expect(throws: VGICError.register(.iidrRevisionNotSupported)) {
                try g.vmmWrite(region: .distributor, offset: GICD.iidr, width: 4, value: iidr & ~0xF000 | 0x2000)
            }
            #expect(throws: VGICError.register(.iidrFieldsReadOnly)) {
                try g.vmmWrite(region: .distributor, offset: GICD.iidr, width: 4, value: iidr ^ 0x0100_0000)
            }
            #expect(g.iidrRevision == latestIIDRRevision)
            #expect(g.guestMMIORead(vcpu: 0, region: .distributor, offset: GICD.iidr, width: 4) == iidr)
            if version == .v3 {
                // test_v3_nassgicap: TYPER2 takes only the value read.
                #expect(try g.vmmRead(region: .distributor, offset: GICD.typer2, width: 4) == 0)
                try g.vmmWrite(region: .distributor, offset: GICD.typer2, width: 4, value: 0)
                #expect(throws: VGICError.register(.typer2Fixed)) {
                    try g.vmmWrite(region: .distributor, offset: GICD.typer2, width: 4, value: 1 << 8)
                }
            }
            // Read-only identification: the VMM's write is ignored.
            let typer = try g.vmmRead(region: .distributor, offset: GICD.typer, width: 4)
            try g.vmmWrite(region: .distributor, offset: GICD.typer, width: 4, value: 0)
            #expect(try g.vmmRead(region: .distributor, offset: GICD.typer, width: 4) == typer)
        }
    }

    @Test func v2CPUInterfaceRegisters() throws {
        let p = FakePlatform(cpus: 2)
        let g = try TestVGIC(configuration: VGICConfiguration(version: .v2, vcpuCount: 2), platform: p)
        g.vcpuEnter(1)
        g.vcpuExit(1)
        #expect(try g.vmmRead(region: .cpuInterface, offset: GICC.iidr, width: 4, vcpu: 1) == 0x0002_043B)
        // test_v2_uaccess_cpuif_no_vcpus: no CPU interface without its vCPU.
        #expect(throws: VGICError.noSuchVCPU(2)) {
            try g.vmmRead(region: .cpuInterface, offset: GICC.ctlr, width: 4, vcpu: 2)
        }
        #expect(throws: VGICError.noSuchVCPU(2)) {
            try g.vmmWrite(region: .cpuInterface, offset: GICC.ctlr, width: 4, value: 1, vcpu: 2)
        }
        try g.vmmWrite(region: .cpuInterface, offset: GICC.iidr, width: 4, value: 0, vcpu: 1)
        #expect(try g.vmmRead(region: .cpuInterface, offset: GICC.iidr, width: 4, vcpu: 1) == 0x0002_043B)
        #expect(!g.vcpus[1].cpuInterfaceDirty)
        try g.vmmWrite(region: .cpuInterface, offset: GICC.apr0 + 4, width: 4, value: 5, vcpu: 1)
        #expect(try g.vmmRead(region: .cpuInterface, offset: GICC.apr0 + 4, width: 4, vcpu: 1) == 0)
        // GICC_PMR in KVM's ABI: GICH_VMCR.VMPriMask in bits [4:0] (0x15 is a mask of 0xA8).
        let writes: [(UInt32, UInt64)] = [(GICC.ctlr, 0x203), (GICC.pmr, 0x15), (GICC.bpr, 4), (GICC.abpr, 5),
                                          (GICC.apr0, 0x8000_0000)]
        for (off, value) in writes {
            try g.vmmWrite(region: .cpuInterface, offset: off, width: 4, value: value, vcpu: 1)
            #expect(try g.vmmRead(region: .cpuInterface, offset: off, width: 4, vcpu: 1) == value)
            #expect(g.vcpus[1].cpuInterfaceDirty)
        }
        g.vcpuEnter(1)
        let v = VMCR(v2: UInt32(p.vmcr[1]))
        #expect(v.enableGroup0 && v.enableGroup1 && v.eoiMode && v.pmr == 0xA8 && v.bpr0 == 4 && v.bpr1 == 5)
        #expect(p.apr[1][0] == 0x8000_0000)
        g.vcpuExit(1)
        #expect(try g.vmmRead(region: .cpuInterface, offset: GICC.ctlr, width: 4, vcpu: 0) == 0)
    }
}
