import GICArchitecture
import Testing
@testable import VGIC

/// Snapshot format 2: framing, the consistency checks, canonical
/// re-serialisation, and all-or-nothing restore into an existing vGIC.
@Suite("Snapshots")
struct SnapshotTests {
    /// A GICv3 vGIC with some state everywhere: an active SPI, a pending
    /// PPI, a level line, a re-routed SPI, CPU-interface state.
    static func busyV3() throws -> (TestVGIC, FakePlatform) {
        let (g, p) = try makeV3(vcpus: 2, irqs: 128)
        g.setUp(40, edge: true, priority: 0x50)
        g.setUp(41, edge: false, priority: 0x60, to: 1)
        g.setUp(20, on: 1, edge: false, priority: 0x30)
        try g.pulse(40)
        try g.setLine(41, level: true)
        try g.setLine(20, level: true, vcpu: 1)
        g.vcpuEnter(0)
        p.setState(0, 0, .active)
        p.apr[0][4] = 1 << 10
        g.vcpuExit(0)
        return (g, p)
    }

    static func busyV2() throws -> TestVGIC {
        let p = FakePlatform(cpus: 3)
        let g = try TestVGIC(configuration: VGICConfiguration(version: .v2, vcpuCount: 3, irqCount: 96), platform: p)
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ctlr, width: 4, value: 3)
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.itargetsr + 40, width: 1, value: 6)
        // SGI 3 from vCPUs 0 and 2 to vCPU 1.
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.sgir, width: 4, value: 2 << 16 | 3)
        g.guestMMIOWrite(vcpu: 2, region: .distributor, offset: GICD.sgir, width: 4, value: 2 << 16 | 3)
        return g
    }

    /// The body offset of interrupt record `n` of a snapshot of `g`.
    static func recordOffset(_ g: TestVGIC, _ n: Int) -> Int {
        VGICSnapshot.headerSize + 8 + g.vcpuCount * 41 + 4 + n * 19
    }

    /// `bytes` with `edit` applied to its body, checksum and length made to match.
    static func edited(_ bytes: [UInt8], _ edit: (inout [UInt8]) -> Void) -> [UInt8] {
        var b = bytes
        edit(&b)
        return VGICSnapshot.resealed(b)
    }

    static func problem(_ bytes: [UInt8]) -> SnapshotProblem? {
        do {
            _ = try TestVGIC.restore(snapshot: bytes, platform: FakePlatform(cpus: 8))
            return nil
        } catch {
            if case .invalidSnapshot(let p) = error { return p }
            return nil
        }
    }

    @Test func roundTripIsCanonical() throws {
        let (g, _) = try Self.busyV3()
        let bytes = try g.snapshot()
        let decoded = try VGICSnapshot(bytes: bytes)
        #expect(decoded.encoded() == bytes)
        let h = try TestVGIC.restore(snapshot: bytes, platform: FakePlatform(cpus: 2))
        #expect(try h.snapshot() == bytes)
        let i = h.spiIndex(40)
        #expect(h.irqs[i].active && h.irqs[i].apOwner == 0)
        #expect(h.irqs[h.spiIndex(41)].apOwner == 1)

        let v2 = try Self.busyV2()
        let b2 = try v2.snapshot()
        #expect(try TestVGIC.restore(snapshot: b2, platform: FakePlatform(cpus: 3)).snapshot() == b2)
    }

    /// The checksum is the CRC-32 of zlib and IEEE 802.3.
    @Test func checksumIsCRC32() {
        #expect(VGICSnapshot.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(VGICSnapshot.checksum([]) == 0)
        #expect(VGICSnapshot.checksum([0, 0x61], from: 1) == 0xE8B7_BE43)
    }

    @Test func framingProblems() throws {
        let (g, _) = try Self.busyV3()
        let bytes = try g.snapshot()
        #expect(Self.problem([]) == .truncated)
        #expect(Self.problem(Array(bytes.prefix(12))) == .truncated)
        #expect(Self.problem(Array(bytes.dropLast())) == .truncated)
        #expect(Self.problem(bytes + [0]) == .trailingBytes)
        var magic = bytes
        magic[0] = 0x55
        #expect(Self.problem(magic) == .notASnapshot)
        var version = bytes
        version[8] = 1
        #expect(Self.problem(version) == .unsupportedFormatVersion)
        // One flipped bit anywhere in the body: the checksum catches it.
        for at in stride(from: VGICSnapshot.headerSize, to: bytes.count, by: 7) {
            var b = bytes
            b[at] ^= 0x10
            #expect(Self.problem(b) == .checksumMismatch, "byte \(at)")
        }
        // A body cut short or padded with the header resealed.
        #expect(Self.problem(VGICSnapshot.resealed(Array(bytes.dropLast(19)))) == .truncated)
        #expect(Self.problem(VGICSnapshot.resealed(bytes + [0])) == .trailingBytes)
    }

    @Test func configurationProblems() throws {
        let (g, _) = try Self.busyV3()
        let bytes = try g.snapshot()
        let h = VGICSnapshot.headerSize
        #expect(Self.problem(Self.edited(bytes) { $0[h] = 4 }) == .unknownGICVersion)
        // Eight vCPUs claimed: the configuration is valid, the records do not follow.
        #expect(Self.problem(Self.edited(bytes) { $0[h + 1] = 8 }) != nil)
        #expect(Self.problem(Self.edited(bytes) { $0[h + 1] = 0 }) == .invalidConfiguration)
        #expect(Self.problem(Self.edited(bytes) { $0[h + 3] = 100 }) == .invalidConfiguration)
        #expect(Self.problem(Self.edited(bytes) { $0[h + 5] = 9 }) == .invalidConfiguration)
        #expect(Self.problem(Self.edited(bytes) { $0[h + 6] = 0 }) == .invalidConfiguration)
        #expect(Self.problem(Self.edited(bytes) { $0[h + 7] = 4 }) == .reservedDistributorBits)
        // VMCR bit 5 is reserved.
        #expect(Self.problem(Self.edited(bytes) { $0[h + 8] |= 0x20 }) == .invalidVMCR)
        // 5 priority bits: one active-priority register per group; AP0R1 must be 0.
        #expect(Self.problem(Self.edited(bytes) { $0[h + 8 + 8 + 4] = 1 }) == .unimplementedActivePriorities)
        #expect(Self.problem(Self.edited(bytes) { $0[h + 8 + 40] = 2 }) == .reservedVCPUBits)
        // Record count.
        let countAt = h + 8 + 2 * 41
        #expect(Self.problem(Self.edited(bytes) { $0[countAt] &+= 1 }) == .recordCountMismatch)
    }

    @Test func recordProblems() throws {
        let (g, _) = try Self.busyV3()
        let bytes = try g.snapshot()
        func at(_ n: Int, _ field: Int) -> Int { Self.recordOffset(g, n) + field }
        // Owner beyond the vCPUs, INTID beyond irqs, swapped records.
        #expect(Self.problem(Self.edited(bytes) { $0[at(0, 0)] = 5 }) == .ownerBeyondVCPUs)
        let lastSPI = g.irqs.count - 1
        #expect(Self.problem(Self.edited(bytes) { $0[at(lastSPI, 2)] = 0x80 }) == .intidBeyondIRQs)
        #expect(Self.problem(Self.edited(bytes) { $0[at(3, 2)] = 4 }) == .recordOutOfOrder)
        #expect(Self.problem(Self.edited(bytes) { $0[at(40, 0)] = 0 }) == .recordOutOfOrder)
        // Flags.
        #expect(Self.problem(Self.edited(bytes) { $0[at(64, 4)] |= 0x80 }) == .reservedInterruptBits)
        #expect(Self.problem(Self.edited(bytes) { $0[at(2, 4)] &= ~0x10 }) == .sgiNotEdgeTriggered)
        #expect(Self.problem(Self.edited(bytes) { $0[at(20, 4)] |= 0x10 }) == .ppiNotLevelSensitive)
        #expect(Self.problem(Self.edited(bytes) { $0[at(2, 4)] |= 0x04 }) == .lineLevelOnSGI)
        #expect(Self.problem(Self.edited(bytes) { $0[at(64, 5)] = 0x07 }) == .unimplementedPriorityBits)
        // GICv3 has no SGI sources, no targets; only SPIs have a route.
        #expect(Self.problem(Self.edited(bytes) { $0[at(2, 7)] = 1 }) == .sgiSourcesOnNonSGI)
        #expect(Self.problem(Self.edited(bytes) { $0[at(64, 6)] = 1 }) == .targetsOnNonGICv2SPI)
        #expect(Self.problem(Self.edited(bytes) { $0[at(5, 9)] = 1 }) == .routeOnNonGICv3SPI)
        #expect(Self.problem(Self.edited(bytes) { $0[at(64, 9 + 3)] = 0x01 }) == .reservedRouteBits)
        // Active state: SPI 40 is record 64 + 8 and active on vCPU 0.
        let spi40 = 64 + 8
        #expect(Self.problem(Self.edited(bytes) { $0[at(spi40, 17)] = 7 }) == .activeOnNonexistentVCPU)
        #expect(Self.problem(Self.edited(bytes) { $0[at(spi40, 4)] &= ~0x08 }) == .activeOnInactiveInterrupt)
        #expect(Self.problem(Self.edited(bytes) { $0[at(spi40, 17)] = 0xFF; $0[at(spi40, 18)] = 0xFF })
                == .activeWithoutVCPU)
        // SPI 40 was acknowledged: the flag needs the vCPU it is active on.
        #expect(Self.problem(Self.edited(bytes) {
            $0[at(spi40, 9)] = 0x20
            $0[at(spi40, 17)] = 0xFF
            $0[at(spi40, 18)] = 0xFF
        }) == .acknowledgedWithoutVCPU)
        // Routed nowhere (Aff0 = 0x20), active nowhere, not acknowledged: a
        // state the vGIC can be in.
        #expect(Self.problem(Self.edited(bytes) {
            $0[at(spi40, 4)] &= ~0x40
            $0[at(spi40, 9)] = 0x20
            $0[at(spi40, 17)] = 0xFF
            $0[at(spi40, 18)] = 0xFF
        }) == nil)
        // PPI 20 of vCPU 1 active on vCPU 0.
        #expect(Self.problem(Self.edited(bytes) {
            $0[at(32 + 20, 4)] |= 0x08
            $0[at(32 + 20, 17)] = 0
            $0[at(32 + 20, 18)] = 0
        }) == .privateActiveOnAnotherVCPU)
    }

    @Test func gicv2RecordProblems() throws {
        let g = try Self.busyV2()
        let bytes = try g.snapshot()
        func at(_ n: Int, _ field: Int) -> Int { Self.recordOffset(g, n) + field }
        #expect(Self.problem(bytes) == nil)
        // SGI 3 of vCPU 1 is pending from vCPUs 0 and 2.
        #expect(bytes[at(32 + 3, 7)] == 5)
        #expect(Self.problem(Self.edited(bytes) { $0[at(32 + 3, 7)] = 8 }) == .sgiSourceBeyondVCPUs)
        #expect(Self.problem(Self.edited(bytes) { $0[at(32 + 3, 8)] = 3 }) == .sgiSourceBeyondVCPUs)
        #expect(Self.problem(Self.edited(bytes) { $0[at(32 + 3, 4)] |= 0x02 }) == .pendingLatchOnGICv2SGI)
        #expect(Self.problem(Self.edited(bytes) { $0[at(32 + 20, 7)] = 1 }) == .sgiSourcesOnNonSGI)
        // SPI 40 targets vCPUs 1 and 2; a fourth does not exist.
        let spi40 = 96 + 8
        #expect(bytes[at(spi40, 6)] == 6)
        #expect(Self.problem(Self.edited(bytes) { $0[at(spi40, 6)] = 8 }) == .targetsBeyondVCPUs)
        #expect(Self.problem(Self.edited(bytes) { $0[at(spi40, 9)] = 1 }) == .routeOnNonGICv3SPI)
        #expect(Self.problem(Self.edited(bytes) { $0[at(20, 6)] = 1 }) == .targetsOnNonGICv2SPI)
        // GICv2 has only GICH_APR.
        #expect(Self.problem(Self.edited(bytes) {
            $0[VGICSnapshot.headerSize + 8 + 8 + 16] = 1
        }) == .unimplementedActivePriorities)
    }

    /// Restoring into an existing vGIC: a mismatching or broken snapshot, or
    /// a running vCPU, changes nothing; a good one replaces everything.
    @Test func restoreIntoAVGICIsAllOrNothing() throws {
        let (src, _) = try Self.busyV3()
        let bytes = try src.snapshot()
        let (dst, dp) = try makeV3(vcpus: 2, irqs: 128)
        dst.setUp(50, edge: true)
        try dst.pulse(50)
        let before = try dst.snapshot()

        let (other, _) = try makeV3(vcpus: 3, irqs: 128)
        #expect(throws: VGICError.invalidSnapshot(.vcpuCountMismatch)) { try dst.restore(snapshot: try other.snapshot()) }
        let (wide, _) = try makeV3(vcpus: 2, irqs: 256)
        #expect(throws: VGICError.invalidSnapshot(.irqCountMismatch)) { try dst.restore(snapshot: try wide.snapshot()) }
        let (fewLRs, _) = try makeV3(vcpus: 2, irqs: 128, lrs: 2)
        #expect(throws: VGICError.invalidSnapshot(.listRegistersMismatch)) {
            try dst.restore(snapshot: try fewLRs.snapshot())
        }
        #expect(throws: VGICError.invalidSnapshot(.checksumMismatch)) {
            var b = bytes
            b[b.count - 3] ^= 1
            try dst.restore(snapshot: b)
        }
        // A record problem deep in the snapshot: nothing of the earlier records is applied.
        #expect(throws: VGICError.invalidSnapshot(.activeOnNonexistentVCPU)) {
            try dst.restore(snapshot: Self.edited(bytes) { $0[Self.recordOffset(src, 64 + 8) + 17] = 9 })
        }
        dst.vcpuEnter(1)
        #expect(throws: VGICError.vcpuRunning(1)) { try dst.restore(snapshot: bytes) }
        dst.vcpuExit(1)
        #expect(try dst.snapshot() == before)

        dp.kicks.removeAll()
        try dst.restore(snapshot: bytes)
        #expect(try dst.snapshot() == bytes)
        #expect(dp.kicks.contains(1))
    }

    /// A mapped interrupt keeps its mapping across a restore into the same
    /// vGIC, and the physical twin it held active is released.
    @Test func restoreKeepsMappingsAndReleasesHeldTwins() throws {
        let (g, p) = try makeV3(vcpus: 1, irqs: 64)
        g.setUp(40, edge: true)
        let clean = try g.snapshot()
        try g.map(40, physicalIntid: 60)
        try g.pulse(40)
        g.vcpuEnter(0)
        g.vcpuExit(0)
        #expect(p.physicalActive(60, cpu: 0))
        try g.restore(snapshot: clean)
        #expect(!p.physicalActive(60, cpu: 0))
        #expect(g.irqs[g.spiIndex(40)].hw && g.irqs[g.spiIndex(40)].physicalINTID == 60)
        #expect(throws: VGICError.alreadyMapped(40)) { try g.map(40, physicalIntid: 61) }
    }
}
