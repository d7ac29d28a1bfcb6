import GICArchitecture
import Testing
@testable import VGIC

@Suite("VMM API errors")
struct VMMAPITests {
    @Test func refusedRequestsNameTheProblemAndChangeNothing() throws {
        let (g, p) = try makeV3(vcpus: 2, irqs: 64)
        let before = g.irqs.map { ($0.pendingLatch, $0.lineLevel, $0.hw) }
        #expect(throws: VGICError.intidOutOfRange(64)) { try g.setLine(64, level: true) }
        #expect(throws: VGICError.sgiCannotBeALine(3)) { try g.setLine(3, level: true, vcpu: 0) }
        #expect(throws: VGICError.vcpuRequiredForPPI(20)) { try g.setLine(20, level: true) }
        #expect(throws: VGICError.vcpuNotAllowedForSPI(40)) { try g.pulse(40, vcpu: 1) }
        #expect(throws: VGICError.noSuchVCPU(2)) { try g.setLine(20, level: true, vcpu: 2) }
        #expect(throws: VGICError.sgiCannotBeMapped(1)) { try g.map(1, vcpu: 0, physicalIntid: 17) }
        #expect(throws: VGICError.invalidPhysicalINTID(40)) { try g.map(27, vcpu: 0, physicalIntid: 40) }
        #expect(throws: VGICError.invalidPhysicalINTID(27)) { try g.map(40, physicalIntid: 27) }
        #expect(throws: VGICError.notMapped(40)) { try g.unmap(40) }
        try g.map(40, physicalIntid: 41)
        #expect(throws: VGICError.alreadyMapped(40)) { try g.map(40, physicalIntid: 42) }
        #expect(throws: VGICError.invalidAccessWidth(2)) {
            try g.vmmWrite(region: .distributor, offset: 0, width: 2, value: 0)
        }
        #expect(throws: VGICError.noSuchRegister(0x5000)) {
            _ = try g.vmmRead(region: .distributor, offset: 0x5000, width: 4)
        }
        #expect(throws: VGICError.noSuchVCPU(7)) {
            _ = try g.vmmRead(region: .redistributor(7), offset: 0, width: 4)
        }
        g.vcpuEnter(1)
        #expect(throws: VGICError.vcpuRunning(1)) {
            try g.vmmWrite(region: .distributor, offset: GICD.ispendr + 4, width: 4, value: 1)
        }
        g.vcpuExit(1)
        let after = g.irqs.map { ($0.pendingLatch, $0.lineLevel, $0.hw) }
        #expect(before.count == after.count)
        for (a, b) in zip(before, after) where a.2 == b.2 { #expect(a.0 == b.0 && a.1 == b.1) }
        #expect(p.physicalWrites.isEmpty)
    }

    @Test func configurationLimits() {
        let p = FakePlatform(cpus: 9)
        #expect(throws: VGICError.self) { try TestVGIC(configuration: .init(version: .v2, vcpuCount: 9), platform: p) }
        #expect(throws: VGICError.self) { try TestVGIC(configuration: .init(version: .v3, vcpuCount: 1, irqCount: 100), platform: p) }
        #expect(throws: VGICError.self) { try TestVGIC(configuration: .init(version: .v3, vcpuCount: 1, irqCount: 32), platform: p) }
        #expect(throws: VGICError.self) { try TestVGIC(configuration: .init(version: .v3, vcpuCount: 1, priorityBits: 4), platform: p) }
    }

    @Test func snapshotRoundTripAndCorruptionIsRefused() throws {
        let (g, p) = try makeV3()
        g.setUp(40, edge: true, priority: 0x50)
        try g.pulse(40)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)
        g.vcpuExit(0)
        let bytes = try g.snapshot()
        let p2 = FakePlatform(cpus: 2)
        let h = try TestVGIC.restore(snapshot: bytes, platform: p2)
        let i = h.spiIndex(40)
        #expect(h.irqs[i].active && h.irqs[i].priority == 0x50 && h.irqs[i].enabled && h.irqs[i].apOwner == 0)
        #expect(try h.snapshot() == bytes)
        #expect(throws: VGICError.self) { try TestVGIC.restore(snapshot: Array(bytes.dropLast()), platform: p2) }
        var bad = bytes
        bad[8] = 9
        #expect(throws: VGICError.self) { try TestVGIC.restore(snapshot: bad, platform: p2) }
        #expect(throws: VGICError.self) { try TestVGIC.restore(snapshot: [], platform: p2) }
    }
}

@Suite("vCPU reset")
struct VCPUResetTests {
    /// PSCI CPU_ON after CPU_OFF: the CPU interface comes back out of reset
    /// (group enables off, PMR 0, minimum BPRs, no active priority), and the
    /// next entry loads that into the hardware.
    @Test func resetCPUInterfaceRestoresCreationState() throws {
        let (g, p) = try makeV3()
        var vmcr = VMCR(v3: p.vmcr[1])
        vmcr.eoiMode = true
        p.setGuestVMCR(g, 1, vmcr)
        p.apr[1][4] = 0x1
        g.vcpuEnter(1)
        p.apr[1][4] = 0x1
        #expect(throws: VGICError.vcpuRunning(1)) { try g.resetCPUInterface(vcpu: 1) }
        g.vcpuExit(1)
        #expect(g.vcpus[1].vmcr.enableGroup1 && g.aprs[1 * 8 + 4] == 1)
        try g.resetCPUInterface(vcpu: 1)
        g.vcpuEnter(1)
        let loaded = VMCR(v3: p.vmcr[1])
        #expect(!loaded.enableGroup0 && !loaded.enableGroup1 && !loaded.eoiMode && loaded.pmr == 0)
        #expect(loaded.bpr0 == 2 && loaded.bpr1 == 3)
        #expect(p.apr[1][4] == 0)
        #expect(throws: VGICError.noSuchVCPU(5)) { try g.resetCPUInterface(vcpu: 5) }
    }
}
