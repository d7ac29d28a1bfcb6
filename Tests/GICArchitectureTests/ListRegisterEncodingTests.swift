import GICArchitecture
import Testing

// The list-register encodings against the bit positions the GIC
// specifications give, written out here as literals: the vGIC and the
// hardware model share these encoders, so no other hosted test can see a
// wrong bit position in them.
//
// GICv3, Arm IHI 0069, ICH_LR<n>_EL2 (64 bits):
//   63:62 State | 61 HW | 60 Group | 59 NMI | 55:48 Priority |
//   44:32 pINTID (HW = 1; HW = 0: 41 EOI, the rest RES0) | 31:0 vINTID
// GICv2, Arm IHI 0048B, GICH_LR<n> (32 bits):
//   31 HW | 30 Grp1 | 29:28 State | 27:23 Priority (bits 7:3) | 22:20 RES0 |
//   19:10 PhysicalID (HW = 1; HW = 0: 19 EOI, 12:10 CPUID) | 9:0 VirtualID

@Suite struct ICH_LREncoding {
    @Test func eachFieldAloneSetsOnlyItsBits() {
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .pending, group: 0)) == 0x4000_0000_0000_0000)
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .active, group: 0)) == 0x8000_0000_0000_0000)
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .pendingActive, group: 0)) == 0xC000_0000_0000_0000)
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 1)) == 0x1000_0000_0000_0000)
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 0, priority: 0xFF)) == 0x00FF_0000_0000_0000)
        #expect(ICH_LR.encode(ListRegister(vINTID: 0xFFFF_FFFF, state: .invalid, group: 0)) == 0x0000_0000_FFFF_FFFF)
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, eoi: true, group: 0)) == 0x0000_0200_0000_0000)
        // HW with the widest pINTID: bit 61 and bits 44:32.
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, hw: true, pINTID: 0x1FFF, group: 0))
                == 0x2000_1FFF_0000_0000)
    }

    @Test func priorityKeepsAllEightBits() {
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 0, priority: 0xA7)) == 0x00A7_0000_0000_0000)
        #expect(ICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 0, priority: 0x01)) == 0x0001_0000_0000_0000)
    }

    @Test func aMappedTimerInterrupt() {
        // Pending, HW, Group 1, priority 0xA0, vINTID 27 -> pINTID 27.
        let lr = ListRegister(vINTID: 27, state: .pending, hw: true, pINTID: 27, group: 1, priority: 0xA0)
        #expect(ICH_LR.encode(lr) == 0x70A0_001B_0000_001B)
        #expect(ICH_LR.decode(0x70A0_001B_0000_001B) == lr)
    }

    @Test func eoiIsOnlyForVirtualInterrupts() {
        // With HW = 1, bit 41 belongs to pINTID: the encoder does not set EOI.
        let hw = ListRegister(vINTID: 40, state: .pending, hw: true, pINTID: 33, eoi: true, group: 1)
        #expect(ICH_LR.encode(hw) == 0x7000_0021_0000_0028)
        // With HW = 1 a pINTID with bit 9 set decodes as a pINTID, not as EOI.
        let decoded = ICH_LR.decode(0x6000_0200_0000_0028)
        #expect(decoded.hw && decoded.pINTID == 0x200 && !decoded.eoi)
        // A maintenance request on a software interrupt.
        let sw = ListRegister(vINTID: 5, state: .active, eoi: true, group: 1, priority: 0x80)
        #expect(ICH_LR.encode(sw) == 0x9080_0200_0000_0005)
    }

    @Test func decodeReadsEveryField() {
        let lr = ICH_LR.decode(0xD0C8_0200_0000_1234)
        #expect(lr.state == .pendingActive)
        #expect(!lr.hw)
        #expect(lr.group == 1)
        #expect(lr.priority == 0xC8)
        #expect(lr.eoi)
        #expect(lr.pINTID == 0)
        #expect(lr.vINTID == 0x1234)
        #expect(lr.sourceCPU == 0)
    }

    @Test func decodeIgnoresReservedAndOtherFields() {
        // NMI (59), RES0 58:56 and 47:45, and with HW = 0 bits 44:42 and 40:32.
        let lr = ICH_LR.decode(0x4F00_FDFF_0000_0020)
        #expect(lr == ListRegister(vINTID: 32, state: .pending, group: 0, priority: 0))
        #expect(ICH_LR.decode(0) == ListRegister.empty)
    }

    @Test func decodeOfEncodeKeepsTheFieldsTheRegisterHolds() {
        // Every state, group and HW setting, with each field walking one bit.
        let states: [ListRegisterState] = [.invalid, .pending, .active, .pendingActive]
        for state in states {
            for group: UInt8 in [0, 1] {
                for bit in 0..<32 {
                    let hw = bit % 2 == 0
                    let lr = ListRegister(vINTID: 1 << UInt32(bit), state: state, hw: hw,
                                          pINTID: hw ? 1 << UInt32(bit % 13) : 0, eoi: !hw && bit % 4 == 1,
                                          group: group, priority: 1 << UInt8(bit % 8))
                    #expect(ICH_LR.decode(ICH_LR.encode(lr)) == lr)
                }
            }
        }
    }
}

@Suite struct GICH_LREncoding {
    @Test func eachFieldAloneSetsOnlyItsBits() {
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .pending, group: 0)) == 0x1000_0000)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .active, group: 0)) == 0x2000_0000)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .pendingActive, group: 0)) == 0x3000_0000)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 1)) == 0x4000_0000)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 0, priority: 0xF8)) == 0x0F80_0000)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0x3FF, state: .invalid, group: 0)) == 0x0000_03FF)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, eoi: true, group: 0)) == 0x0008_0000)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 0, sourceCPU: 7)) == 0x0000_1C00)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, hw: true, pINTID: 0x3FF, group: 0))
                == 0x800F_FC00)
    }

    @Test func priorityKeepsTheTopFiveBits() {
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 0, priority: 0x07)) == 0)
        #expect(GICH_LR.encode(ListRegister(vINTID: 0, state: .invalid, group: 0, priority: 0x88)) == 0x0880_0000)
        #expect(GICH_LR.decode(0x0880_0000).priority == 0x88)
        #expect(GICH_LR.decode(0x0F80_0000).priority == 0xF8)
    }

    @Test func anSGIWithItsSourceCPU() {
        // SGI 3 from CPU 2, pending, Group 0, priority 0x80.
        let lr = ListRegister(vINTID: 3, state: .pending, group: 0, priority: 0x80, sourceCPU: 2)
        #expect(GICH_LR.encode(lr) == 0x1800_0803)
        #expect(GICH_LR.decode(0x1800_0803) == lr)
    }

    @Test func aMappedInterrupt() {
        // Pending, HW, Grp1, priority 0xA0, virtual 27 -> physical 30.
        let lr = ListRegister(vINTID: 27, state: .pending, hw: true, pINTID: 30, group: 1, priority: 0xA0)
        #expect(GICH_LR.encode(lr) == 0xDA00_781B)
        #expect(GICH_LR.decode(0xDA00_781B) == lr)
        // HW = 1: no EOI bit and no CPUID; bit 19 is PhysicalID's top bit.
        let withBoth = ListRegister(vINTID: 27, state: .pending, hw: true, pINTID: 30, eoi: true, group: 1,
                                    priority: 0xA0, sourceCPU: 5)
        #expect(GICH_LR.encode(withBoth) == 0xDA00_781B)
        let top = GICH_LR.decode(0x9008_0020)
        #expect(top.hw && top.pINTID == 0x200 && !top.eoi && top.sourceCPU == 0)
    }

    @Test func decodeReadsEveryField() {
        let lr = GICH_LR.decode(0x7A88_1C2A)
        #expect(!lr.hw)
        #expect(lr.group == 1)
        #expect(lr.state == .pendingActive)
        #expect(lr.priority == 0xA8)
        #expect(lr.eoi)
        #expect(lr.sourceCPU == 7)
        #expect(lr.pINTID == 0)
        #expect(lr.vINTID == 0x2A)
    }

    @Test func decodeIgnoresReservedBits() {
        // RES0 22:20 and, with HW = 0, 18:13.
        #expect(GICH_LR.decode(0x1077_E005) == ListRegister(vINTID: 5, state: .pending, group: 0))
    }

    @Test func virtualIDIsTenBits() {
        #expect(GICH_LR.encode(ListRegister(vINTID: 0x7FF, state: .invalid, group: 0)) == 0x3FF)
    }
}

/// The State field alone, as sync reads it: bits 63:62 (ICH_LR), 29:28 (GICH_LR).
@Suite struct ListRegisterStateField {
    @Test func ichLRStateIsBits63And62Only() {
        #expect(ICH_LR.state(of: 0) == .invalid)
        #expect(ICH_LR.state(of: 1 << 62) == .pending)
        #expect(ICH_LR.state(of: 1 << 63) == .active)
        #expect(ICH_LR.state(of: 3 << 62) == .pendingActive)
        #expect(ICH_LR.state(of: ~(3 << 62)) == .invalid, "no other bit counts")
    }

    @Test func gichLRStateIsBits29And28Only() {
        #expect(GICH_LR.state(of: 1 << 28) == .pending)
        #expect(GICH_LR.state(of: 1 << 29) == .active)
        #expect(GICH_LR.state(of: 3 << 28) == .pendingActive)
        #expect(GICH_LR.state(of: ~UInt32(3 << 28)) == .invalid, "no other bit counts")
    }
}
