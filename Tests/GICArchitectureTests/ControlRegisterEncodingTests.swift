import GICArchitecture
import Testing

// The virtualization extension's control registers against the bit
// positions of Arm IHI 0069 (ICH_HCR_EL2, ICH_MISR_EL2, ICH_VMCR_EL2,
// ICH_VTR_EL2) and Arm IHI 0048B (GICH_HCR, GICH_MISR, GICH_VMCR), written
// out as literals.

@Suite struct HCREncoding {
    /// ICH_HCR_EL2 / GICH_HCR: 0 En, 1 UIE, 2 LRENPIE, 3 NPIE, 4 VGrp0EIE,
    /// 5 VGrp0DIE, 6 VGrp1EIE, 7 VGrp1DIE; GICv3 only: 10 TC, 11 TALL0,
    /// 12 TALL1, 14 TDIR; both: 31:27 EOIcount.
    @Test func bitPositions() {
        #expect(HCR.en == 0x0001)
        #expect(HCR.uie == 0x0002)
        #expect(HCR.lrenpie == 0x0004)
        #expect(HCR.npie == 0x0008)
        #expect(HCR.vgrp0eie == 0x0010)
        #expect(HCR.vgrp0die == 0x0020)
        #expect(HCR.vgrp1eie == 0x0040)
        #expect(HCR.vgrp1die == 0x0080)
        #expect(HCR.tc == 0x0400)
        #expect(HCR.tall0 == 0x0800)
        #expect(HCR.tall1 == 0x1000)
        #expect(HCR.tdir == 0x4000)
    }

    @Test func eoiCountIsBits31To27() {
        var h = HCR()
        h.eoiCount = 31
        #expect(h.rawValue == 0xF800_0000)
        h.eoiCount = 1
        #expect(h.rawValue == 0x0800_0000)
        #expect(HCR(rawValue: 0x5000_0000).eoiCount == 10)
        #expect(HCR(rawValue: 0xF800_0000).eoiCount == 31)
        // Bits around the field are not part of it.
        #expect(HCR(rawValue: 0x0000_0001_07FF_FFFF).eoiCount == 0)
    }

    @Test func eoiCountKeepsTheOtherBitsAndWraps() {
        var h = HCR(rawValue: 0x0000_0001_07FF_FFFF)
        h.eoiCount = 3
        #expect(h.rawValue == 0x0000_0001_1FFF_FFFF)
        h.eoiCount = 32  // five bits: wraps to 0, as the hardware counter does
        #expect(h.rawValue == 0x0000_0001_07FF_FFFF)
    }

    @Test func setAndHas() {
        var h = HCR()
        h.set(HCR.en, true)
        h.set(HCR.tdir, true)
        #expect(h.rawValue == 0x4001)
        #expect(h.has(HCR.tdir) && h.has(HCR.en) && !h.has(HCR.npie))
        h.set(HCR.en, false)
        #expect(h.rawValue == 0x4000)
    }
}

@Suite struct MISREncoding {
    /// ICH_MISR_EL2 / GICH_MISR: 0 EOI, 1 U, 2 LRENP, 3 NP, 4 VGrp0E,
    /// 5 VGrp0D, 6 VGrp1E, 7 VGrp1D.
    @Test func bitPositions() {
        #expect(MISR.eoi == 0x01)
        #expect(MISR.u == 0x02)
        #expect(MISR.lrenp == 0x04)
        #expect(MISR.np == 0x08)
        #expect(MISR.vgrp0e == 0x10)
        #expect(MISR.vgrp0d == 0x20)
        #expect(MISR.vgrp1e == 0x40)
        #expect(MISR.vgrp1d == 0x80)
    }
}

@Suite struct VMCREncoding {
    /// ICH_VMCR_EL2: 31:24 VPMR, 23:21 VBPR0, 20:18 VBPR1, 9 VEOIM,
    /// 4 VCBPR, 3 VFIQEn, 2 VAckCtl, 1 VENG1, 0 VENG0.
    @Test func v3FieldPositions() {
        #expect(vmcr { $0.pmr = 0xFF }.v3 == 0xFF00_0000)
        #expect(vmcr { $0.pmr = 0x01 }.v3 == 0x0100_0000)
        #expect(vmcr { $0.bpr0 = 7 }.v3 == 0x00E0_0000)
        #expect(vmcr { $0.bpr1 = 7 }.v3 == 0x001C_0000)
        #expect(vmcr { $0.eoiMode = true }.v3 == 0x0200)
        #expect(vmcr { $0.cbpr = true }.v3 == 0x0010)
        #expect(vmcr { $0.fiqEn = true }.v3 == 0x0008)
        #expect(vmcr { $0.ackCtl = true }.v3 == 0x0004)
        #expect(vmcr { $0.enableGroup1 = true }.v3 == 0x0002)
        #expect(vmcr { $0.enableGroup0 = true }.v3 == 0x0001)
    }

    @Test func v3Decode() {
        let v = VMCR(v3: 0xA86C_0213)
        #expect(v.pmr == 0xA8)
        #expect(v.bpr0 == 3)
        #expect(v.bpr1 == 3)
        #expect(v.eoiMode)
        #expect(v.cbpr)
        #expect(!v.fiqEn && !v.ackCtl)
        #expect(v.enableGroup1 && v.enableGroup0)
        // RES0 bits 17:10 and 8:5, and bits 63:32, are not fields.
        #expect(VMCR(v3: 0xFFFF_FFFF_0003_FDE0) == VMCR())
    }

    /// GICH_VMCR: 31:27 VMPriMask (priority bits 7:3), 23:21 VMBP,
    /// 20:18 VMABP, 9 VMEOIMode, 4 VMCBPR, 3 VMFIQEn, 2 VMAckCtl,
    /// 1 VMGrp1En, 0 VMGrp0En.
    @Test func v2FieldPositions() {
        #expect(vmcr { $0.pmr = 0xF8 }.v2 == 0xF800_0000)
        #expect(vmcr { $0.pmr = 0x08 }.v2 == 0x0800_0000)
        #expect(vmcr { $0.pmr = 0x07 }.v2 == 0)
        #expect(vmcr { $0.bpr0 = 7 }.v2 == 0x00E0_0000)
        #expect(vmcr { $0.bpr1 = 7 }.v2 == 0x001C_0000)
        #expect(vmcr { $0.eoiMode = true }.v2 == 0x0200)
        #expect(vmcr { $0.cbpr = true }.v2 == 0x0010)
        #expect(vmcr { $0.fiqEn = true }.v2 == 0x0008)
        #expect(vmcr { $0.ackCtl = true }.v2 == 0x0004)
        #expect(vmcr { $0.enableGroup1 = true }.v2 == 0x0002)
        #expect(vmcr { $0.enableGroup0 = true }.v2 == 0x0001)
    }

    @Test func v2Decode() {
        let v = VMCR(v2: 0xA04C_000E)
        #expect(v.pmr == 0xA0)
        #expect(v.bpr0 == 2)
        #expect(v.bpr1 == 3)
        #expect(!v.eoiMode && !v.cbpr)
        #expect(v.fiqEn && v.ackCtl && v.enableGroup1 && !v.enableGroup0)
        // Reserved: 26:24, 17:10, 8:5.
        #expect(VMCR(v2: 0x0703_FDE0) == VMCR())
    }

    private func vmcr(_ set: (inout VMCR) -> Void) -> VMCR {
        var v = VMCR()
        set(&v)
        return v
    }
}

@Suite struct VTREncoding {
    /// ICH_VTR_EL2: 31:29 PRIbits - 1, 28:26 PREbits - 1, 25:23 IDbits,
    /// 22 SEIS, 21 A3V, 20 nV4, 19 TDS, 4:0 ListRegs - 1.
    @Test func decodeQEMUsValue() {
        // QEMU 7.2's -cpu max (ich_vtr_read): ListRegs 3, TDS, nV4, A3V,
        // IDbits 0b001, PREbits 4, PRIbits 4.
        let v = VTR(rawValue: 0x90B8_0003)
        #expect(v.listRegisters == 4)
        #expect(v.priorityBits == 5)
        #expect(v.preemptionBits == 5)
    }

    @Test func decodeEachField() {
        #expect(VTR(rawValue: 0x0000_000F).listRegisters == 16)
        #expect(VTR(rawValue: 0x0000_001F).listRegisters == 32)
        #expect(VTR(rawValue: 0xE000_0000).priorityBits == 8)
        #expect(VTR(rawValue: 0x1800_0000).preemptionBits == 7)
        // Fields that are not counts do not leak into them.
        let other = VTR(rawValue: 0x03F8_0000)
        #expect(other.listRegisters == 1 && other.priorityBits == 1 && other.preemptionBits == 1)
    }

    @Test func encode() {
        // 16 list registers, 8 priority bits, 7 preemption bits, with TDS and A3V.
        #expect(VTR(listRegisters: 16, priorityBits: 8, preemptionBits: 7).rawValue == 0xF828_000F)
        #expect(VTR(listRegisters: 4, priorityBits: 5, preemptionBits: 5).rawValue == 0x9028_0003)
    }

    /// ICH_AP0R<n>_EL2/ICH_AP1R<n>_EL2: n = 0 with 5 preemption bits, 0-1
    /// with 6, 0-3 with 7. The lowest BPR0 is 7 - PREbits (BPR1: one more).
    @Test func derivedCounts() {
        #expect(VTR(listRegisters: 4, priorityBits: 5, preemptionBits: 5).activePriorityRegisters == 1)
        #expect(VTR(listRegisters: 4, priorityBits: 6, preemptionBits: 6).activePriorityRegisters == 2)
        #expect(VTR(listRegisters: 4, priorityBits: 7, preemptionBits: 7).activePriorityRegisters == 4)
        #expect(VTR(listRegisters: 4, priorityBits: 5, preemptionBits: 5).minimumBPR0 == 2)
        #expect(VTR(listRegisters: 4, priorityBits: 7, preemptionBits: 7).minimumBPR0 == 0)
    }
}
