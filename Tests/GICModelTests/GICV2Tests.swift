import GICArchitecture
import GICModel
import Testing

@Suite struct GICv2VirtualInterface {
    @Test func iarReturnsCPUIDForSGIsAndEOIMatchesIt() {
        let m = makeV2()
        // SGI 3 from CPU 1 and from CPU 2, group 0.
        m.put(0, ListRegister(vINTID: 3, state: .pending, group: 0, priority: 0x80, sourceCPU: 1))
        m.put(1, ListRegister(vINTID: 3, state: .pending, group: 0, priority: 0x80, sourceCPU: 2))
        #expect(m.violations.isEmpty)
        let id = m.gicv(GICC.iar)
        #expect(id == 3 | 1 << 10)
        #expect(m.get(0).state == .active)
        #expect(m.gicv(GICC.rpr) == 0x80)
        // EOI naming the other source CPU drops priority but finds no LR.
        m.gicv(GICC.eoir, 3 | 2 << 10)
        #expect(m.get(0).state == .active)
        #expect(HCR(rawValue: m.readHCR(cpu: 0)).eoiCount == 1)
        #expect(m.gicv(GICC.iar) == 3 | 2 << 10)
        m.gicv(GICC.eoir, 3 | 2 << 10)
        #expect(m.get(1).state == .invalid)
        #expect(m.get(0).state == .active)
    }

    @Test func duplicateSGIFromSameSourceIsAViolation() {
        let m = makeV2()
        m.put(0, ListRegister(vINTID: 3, state: .pending, group: 0, priority: 0x80, sourceCPU: 1))
        m.put(1, ListRegister(vINTID: 3, state: .active, group: 0, priority: 0x80, sourceCPU: 1))
        #expect(m.hasViolation(ArchitectureViolation.duplicateVirtualINTID, intid: 3))
    }

    @Test func group1NeedsAckCtlOrAIAR() {
        let m = makeV2()
        m.put(0, pend(40, prio: 0x80, group: 1))
        #expect(m.gicv(GICC.hppir) == 1022)
        #expect(m.gicv(GICC.iar) == 1022)
        #expect(m.get(0).state == .pending)
        #expect(m.gicv(GICC.ahppir) == 40)
        #expect(m.gicv(GICC.aiar) == 40)
        #expect(m.get(0).state == .active)
        #expect(m.readAPR(cpu: 0, group: 0, index: 0) == 1 << 16)
        m.gicv(GICC.aeoir, 40)
        #expect(m.get(0).state == .invalid)
        #expect(m.gicv(GICC.rpr) == 0xFF)
    }

    @Test func ackCtlLetsIARAcknowledgeGroup1() {
        let m = makeV2(ackCtl: true)
        m.put(0, pend(40, prio: 0x80, group: 1))
        #expect(m.gicv(GICC.hppir) == 40)
        #expect(m.gicv(GICC.iar) == 40)
        m.gicv(GICC.eoir, 40)
        #expect(m.get(0).state == .invalid)
    }

    @Test func aiarIgnoresGroup0() {
        let m = makeV2()
        m.put(0, pend(40, prio: 0x80, group: 0))
        #expect(m.gicv(GICC.aiar) == 1023)
        #expect(m.gicv(GICC.ahppir) == 1023)
        #expect(m.gicv(GICC.iar) == 40)
    }

    @Test func fiveBitPrioritiesAndMinimumBinaryPoints() {
        let m = makeV2()
        m.gicv(GICC.pmr, 0xFF)
        #expect(m.gicv(GICC.pmr) == 0xF8)
        #expect(VMCR(v2: UInt32(m.readVMCR(cpu: 0))).pmr == 0xF8)
        m.gicv(GICC.bpr, 0)
        #expect(m.gicv(GICC.bpr) == 2)
        m.gicv(GICC.abpr, 0)
        #expect(m.gicv(GICC.abpr) == 3)
        #expect(m.vtr.priorityBits == 5)
        // A 5-bit LR priority: 0x87 is stored as 0x80.
        m.put(0, pend(40, prio: 0x87, group: 0))
        #expect(m.get(0).priority == 0x80)
        m.gicv(GICC.pmr, 0x80)
        #expect(m.gicv(GICC.iar) == 1023)
        m.gicv(GICC.pmr, 0x88)
        #expect(m.gicv(GICC.iar) == 40)
    }

    @Test func ctlrGoesToVMCR() {
        let m = GICModel(version: .v2, cpus: 1, listRegisters: 4, priorityBits: 5)
        m.gicv(GICC.pmr, 0xA0)
        m.gicv(GICC.ctlr, 1 | 1 << 2 | 1 << 4 | 1 << 9 | 1 << 20)
        #expect(m.gicv(GICC.ctlr) == 1 | 1 << 2 | 1 << 4 | 1 << 9)
        let raw = UInt32(m.readVMCR(cpu: 0))
        #expect(raw & 0x3FF == 1 | 1 << 2 | 1 << 4 | 1 << 9)
        #expect(raw >> 27 == 0xA0 >> 3)
        let v = VMCR(v2: raw)
        #expect(v.enableGroup0 && !v.enableGroup1 && v.ackCtl && v.cbpr && v.eoiMode)
    }

    @Test func eoiModeSplitAndGICVDIR() {
        let m = makeV2(eoiMode: true)
        m.put(0, pend(40, prio: 0x80, group: 0))
        #expect(m.gicv(GICC.iar) == 40)
        m.gicv(GICC.eoir, 40)
        #expect(m.get(0).state == .active)
        #expect(m.gicv(GICC.rpr) == 0xFF)
        m.gicv(GICC.dir, 40)
        #expect(m.get(0).state == .invalid)
    }

    @Test func identificationAndAccessWidth() {
        let m = makeV2()
        #expect(m.gicv(GICC.iidr) == 0x0002_043B)
        #expect(m.readGICV(cpu: 0, offset: GICC.iidr, width: 1) == 0)
        #expect(m.readGICV(cpu: 0, offset: GICC.iidr + 1, width: 4) == 0)
        #expect(m.readGICV(cpu: 0, offset: GICC.iidr, width: 8) == 0)
        #expect(m.readGICV(cpu: 0, offset: 0x3000, width: 4) == 0)
        #expect(m.gicv(GICC.nsapr0) == 0)
        m.put(0, pend(40, prio: 0x80, group: 0))
        // A byte read of IAR is RAZ and has no side effect.
        #expect(m.readGICV(cpu: 0, offset: GICC.iar, width: 1) == 0)
        #expect(m.get(0).state == .pending)
        m.writeGICV(cpu: 0, offset: GICC.pmr, width: 2, 0x10)
        #expect(m.gicv(GICC.pmr) == 0xF8)
        // The v3 system-register interface does nothing on a v2 model.
        #expect(m.readSystemRegister(cpu: 0, .iar1) == 0)
        #expect(m.get(0).state == .pending)
    }

    @Test func singleSharedAPR() {
        let m = makeV2()
        m.writeAPR(cpu: 0, group: 0, index: 0, 1 << 4)
        #expect(m.gicv(GICC.apr0) == 1 << 4)
        #expect(m.gicv(GICC.rpr) == 4 << 3)
        m.writeAPR(cpu: 0, group: 1, index: 0, 1 << 2)
        #expect(m.readAPR(cpu: 0, group: 1, index: 0) == 0)
        #expect(m.readAPR(cpu: 0, group: 0, index: 1) == 0)
        #expect(m.readAPR(cpu: 0, group: 0, index: 0) == 1 << 4)
    }

    @Test func gichLRIsZeroExtended32Bits() {
        let m = makeV2()
        m.writeLR(cpu: 0, 0, 0xFFFF_FFFF_0000_0000 | UInt64(GICH_LR.encode(pend(40, prio: 0x80))))
        #expect(m.readLR(cpu: 0, 0) >> 32 == 0)
        #expect(m.get(0).vINTID == 40)
    }

    @Test func hwLRDeactivatesPhysical() {
        let m = makeV2()
        m.setPhysicalActive(30, cpu: 0, true)
        m.put(0, ListRegister(vINTID: 30, state: .pending, hw: true, pINTID: 30, group: 0, priority: 0x80))
        #expect(m.gicv(GICC.iar) == 30)
        m.gicv(GICC.eoir, 30)
        #expect(!m.physicalActive(30, cpu: 0))
        #expect(m.violations.isEmpty)
    }
}

@Suite struct Concurrency {
    @Test func concurrentGuestsAndHypervisor() async {
        let m = makeV3(cpus: 4)
        await withTaskGroup(of: Void.self) { g in
            for cpu in 0..<4 {
                g.addTask {
                    for i in 0..<500 {
                        m.put(cpu: cpu, 0, pend(UInt32(32 + i % 100), prio: 0x80))
                        let id = m.readSystemRegister(cpu: cpu, .iar1)
                        m.writeSystemRegister(cpu: cpu, .eoir1, id)
                        _ = m.readMISR(cpu: cpu)
                    }
                }
            }
        }
        for cpu in 0..<4 {
            #expect(m.get(cpu: cpu, 0).state == .invalid)
            #expect(m.readSystemRegister(cpu: cpu, .rpr) == 0xFF)
        }
        #expect(m.violations.isEmpty)
    }
}
