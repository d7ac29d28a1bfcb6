import GICArchitecture
import Testing
@testable import VGIC

/// Writes of several bits to the one-bit set/clear registers (ISENABLER,
/// ICENABLER, ISPENDR, ICPENDR, ISACTIVER, ICACTIVER): every 1 bit acts on
/// its INTID, 0 bits do nothing, INTIDs that do not exist and (GICv3) the
/// distributor's private-interrupt bits are ignored. The vGIC visits only the
/// 1 bits of such a write; these pin down that it acts exactly as the
/// field-by-field definition says.
@Suite("Set/clear registers")
struct SetClearRegisterTests {
    func read(_ g: TestVGIC, _ region: VGICRegion, _ offset: UInt32, vcpu: Int = 0) -> UInt64 {
        g.guestMMIORead(vcpu: vcpu, region: region, offset: offset, width: 4)
    }

    func write(_ g: TestVGIC, _ region: VGICRegion, _ offset: UInt32, _ value: UInt64, vcpu: Int = 0) {
        g.guestMMIOWrite(vcpu: vcpu, region: region, offset: offset, width: 4, value: value)
    }

    @Test func severalBitsSetAndClearExactlyTheirInterrupts() throws {
        let (g, _) = try makeV3(vcpus: 2, irqs: 64)
        write(g, .distributor, GICD.isenabler + 4, 0x8000_0005)
        #expect(read(g, .distributor, GICD.isenabler + 4) == 0x8000_0005)
        for id: UInt32 in 32..<64 {
            #expect(g.irqs[g.spiIndex(id)].enabled == [32, 34, 63].contains(id), "SPI \(id)")
        }
        write(g, .distributor, GICD.icenabler + 4, 0x0000_0001)
        #expect(read(g, .distributor, GICD.isenabler + 4) == 0x8000_0004)
        write(g, .distributor, GICD.icenabler + 4, 0)
        #expect(read(g, .distributor, GICD.icenabler + 4) == 0x8000_0004, "0 bits change nothing")

        write(g, .distributor, GICD.ispendr + 4, 0x0001_0100)
        #expect(read(g, .distributor, GICD.ispendr + 4) == 0x0001_0100)
        write(g, .distributor, GICD.icpendr + 4, 0xFFFF_FFFF)
        #expect(read(g, .distributor, GICD.ispendr + 4) == 0)

        write(g, .distributor, GICD.isactiver + 4, 0xC000_0003)
        #expect(read(g, .distributor, GICD.isactiver + 4) == 0xC000_0003)
        write(g, .distributor, GICD.icactiver + 4, 0x4000_0001)
        #expect(read(g, .distributor, GICD.icactiver + 4) == 0x8000_0002)
    }

    @Test func interruptsThatDoNotExistAreIgnored() throws {
        let (g, _) = try makeV3(vcpus: 2, irqs: 64)
        // ISENABLER2 covers INTIDs 64..95: none exists with 64 INTIDs.
        write(g, .distributor, GICD.isenabler + 8, 0xFFFF_FFFF)
        #expect(read(g, .distributor, GICD.isenabler + 8) == 0)
        #expect(g.irqs.allSatisfy { $0.intid < 16 || !$0.enabled })
    }

    @Test func gicv3PrivateBitsLiveInTheRedistributorOnly() throws {
        let (g, _) = try makeV3(vcpus: 2, irqs: 64)
        // Affinity routing: the distributor's ISENABLER0 is RAZ/WI.
        write(g, .distributor, GICD.isenabler, 0xFFFF_FFFF)
        #expect(read(g, .distributor, GICD.isenabler) == 0)
        #expect(read(g, .redistributor(0), GICR.sgiBase + GICD.isenabler) == 0x0000_FFFF, "SGIs only, at reset")
        // The SGI_base frame of vCPU 1 has them, for vCPU 1 alone.
        write(g, .redistributor(1), GICR.sgiBase + GICD.isenabler, 0x8800_0000)
        #expect(read(g, .redistributor(1), GICR.sgiBase + GICD.isenabler) == 0x8800_FFFF)
        #expect(read(g, .redistributor(0), GICR.sgiBase + GICD.isenabler) == 0x0000_FFFF)
        write(g, .redistributor(1), GICR.sgiBase + GICD.icenabler, 0x0800_0001)
        #expect(read(g, .redistributor(1), GICR.sgiBase + GICD.isenabler) == 0x8000_FFFE)
    }

    @Test func gicv2BanksPrivateBitsPerRequester() throws {
        let p = FakePlatform(cpus: 2)
        let g = try TestVGIC(configuration: VGICConfiguration(version: .v2, vcpuCount: 2, irqCount: 64),
                             platform: p)
        write(g, .distributor, GICD.isenabler, 0x0001_0000 | 0x8000_0000, vcpu: 1)
        #expect(read(g, .distributor, GICD.isenabler, vcpu: 1) == 0x8001_FFFF)
        #expect(read(g, .distributor, GICD.isenabler, vcpu: 0) == 0x0000_FFFF)
        write(g, .distributor, GICD.isenabler + 4, 0x0000_0003, vcpu: 0)
        #expect(read(g, .distributor, GICD.isenabler + 4, vcpu: 1) == 0x0000_0003)
    }
}

@Suite("Enable registers: the read fast path")
struct EnableReadFastPathTests {
    /// Every word of GICD_ISENABLER/ICENABLER read through the guest's entry
    /// point (the enable-mirror fast path) agrees with the register map's
    /// general path, on both GIC versions, for every vCPU.
    @Test(arguments: [GICVersion.v3, .v2])
    func agreesWithTheRegisterMap(version: GICVersion) throws {
        let p = FakePlatform(cpus: 3)
        let g = try TestVGIC(configuration: VGICConfiguration(version: version, vcpuCount: 3, irqCount: 992),
                             platform: p)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let v = Int.random(in: 0..<3, using: &rng)
            let word = UInt32.random(in: 0..<32, using: &rng)
            let set = Bool.random(using: &rng)
            g.guestMMIOWrite(vcpu: v, region: .distributor, offset: (set ? GICD.isenabler : GICD.icenabler) + 4 * word,
                             width: 4, value: UInt64(UInt32.random(in: 0...UInt32.max, using: &rng)))
        }
        if version == .v3 {
            for v in 0..<3 {
                g.guestMMIOWrite(vcpu: v, region: .redistributor(v), offset: GICR.sgiBase + GICD.isenabler, width: 4,
                                 value: UInt64(v + 1) << 17)
            }
        }
        for v in 0..<3 {
            for offset in stride(from: GICD.isenabler, to: GICD.icenabler + 0x80, by: 4) {
                let read = g.guestMMIORead(vcpu: v, region: .distributor, offset: offset, width: 4)
                // What the interrupts themselves say: the enables of the 32
                // INTIDs of the word (the requester's bank for private ones),
                // none for INTIDs that do not exist, and none for private ones
                // in a GICv3 distributor (affinity routing: RAZ/WI).
                var expected: UInt64 = 0
                let first = (offset & 0x7F) * 8
                for k in 0..<UInt32(32) {
                    let intid = first + k
                    guard intid < 992, intid >= 32 || version == .v2 else { continue }
                    let i = intid < 32 ? v * 32 + Int(intid) : 3 * 32 + Int(intid) - 32
                    if g.irqs[i].enabled { expected |= 1 << UInt64(k) }
                }
                #expect(read == expected, "vCPU \(v), offset \(hex(offset))")
            }
        }
    }
}

private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
