import GICArchitecture
import GICModel
import Testing

@Suite struct AcknowledgeV3 {
    @Test func iar1AcknowledgesPendingLR() {
        let m = makeV3()
        m.put(0, pend(27, prio: 0xA0))
        #expect(m.virtualInterruptSignalled(cpu: 0))
        #expect(m.sys(.iar1) == 27)
        #expect(m.get(0).state == .active)
        // 5 preemption bits: bit = 0xA0 >> 3 = 20 in AP1R0.
        #expect(m.readAPR(cpu: 0, group: 1, index: 0) == 1 << 20)
        #expect(m.readAPR(cpu: 0, group: 0, index: 0) == 0)
        #expect(m.sys(.rpr) == 0xA0)
        #expect(!m.virtualInterruptSignalled(cpu: 0))
        #expect(m.sys(.iar1) == 1023)
        #expect(m.violations.isEmpty)
    }

    @Test func groupSelectsIAR() {
        let m = makeV3()
        m.put(0, pend(40, prio: 0x80, group: 0))
        #expect(m.sys(.iar1) == 1023)
        #expect(m.sys(.hppir1) == 1023)
        #expect(m.sys(.hppir0) == 40)
        #expect(m.sys(.iar0) == 40)
        #expect(m.readAPR(cpu: 0, group: 0, index: 0) == 1 << 16)
        #expect(m.readAPR(cpu: 0, group: 1, index: 0) == 0)
        #expect(m.sys(.ap0r0) == 1 << 16)
    }

    @Test func highestPriorityWinsTiesGoToLowestIndex() {
        let m = makeV3()
        m.put(0, pend(33, prio: 0x90))
        m.put(1, pend(34, prio: 0x40))
        m.put(2, pend(35, prio: 0x40))
        #expect(m.sys(.hppir1) == 34)
        #expect(m.sys(.iar1) == 34)
    }

    @Test func pmrMasksEqualOrLowerPriority() {
        let m = makeV3()
        m.put(0, pend(50, prio: 0x80))
        m.sys(.pmr, 0x80)
        #expect(!m.virtualInterruptSignalled(cpu: 0))
        #expect(m.sys(.iar1) == 1023)
        // HPPIR ignores the mask.
        #expect(m.sys(.hppir1) == 50)
        m.sys(.pmr, 0x88)
        #expect(m.virtualInterruptSignalled(cpu: 0))
        #expect(VMCR(v3: m.readVMCR(cpu: 0)).pmr == 0x88)
        #expect(m.sys(.iar1) == 50)
    }

    @Test func pmrKeepsOnlyImplementedBits() {
        let m = makeV3(priorityBits: 5)
        m.sys(.pmr, 0xFF)
        #expect(m.sys(.pmr) == 0xF8)
        // A 5-bit LR priority of 0xFF is 0xF8, which is not below PMR 0xF8.
        m.put(0, pend(60, prio: 0xFF))
        #expect(!m.virtualInterruptSignalled(cpu: 0))
    }

    @Test func hcrEnDisablesSignalling() {
        let m = makeV3(hcr: 0)
        m.put(0, pend(27, prio: 0x20))
        #expect(!m.virtualInterruptSignalled(cpu: 0))
        #expect(m.sys(.iar1) == 1023)
        #expect(m.get(0).state == .pending)
        m.writeHCR(cpu: 0, HCR.en)
        #expect(m.virtualInterruptSignalled(cpu: 0))
    }

    @Test func disabledGroupIsNotHighestPending() {
        let m = makeV3()
        m.put(0, pend(40, prio: 0x10, group: 0))
        m.put(1, pend(41, prio: 0x80, group: 1))
        m.sys(.igrpen0, 0)
        #expect(VMCR(v3: m.readVMCR(cpu: 0)).enableGroup0 == false)
        #expect(m.sys(.hppir1) == 41)
        #expect(m.sys(.iar1) == 41)
        m.sys(.igrpen1, 0)
        m.put(2, pend(42, prio: 0x10, group: 1))
        #expect(!m.virtualInterruptSignalled(cpu: 0))
        #expect(m.sys(.iar1) == 1023)
    }

    @Test func pendingActiveLRIsNotPending() {
        let m = makeV3()
        m.put(0, ListRegister(vINTID: 27, state: .pendingActive, group: 1, priority: 0x20))
        #expect(!m.virtualInterruptSignalled(cpu: 0))
        #expect(m.sys(.hppir1) == 1023)
    }

    @Test func lrsArePerCPU() {
        let m = makeV3()
        m.put(cpu: 1, 0, pend(27, prio: 0x20))
        #expect(!m.virtualInterruptSignalled(cpu: 0))
        #expect(m.virtualInterruptSignalled(cpu: 1))
        #expect(m.sys(cpu: 1, .iar1) == 27)
        #expect(m.get(cpu: 1, 0).state == .active)
        #expect(m.readLR(cpu: 0, 0) == 0)
    }
}

@Suite struct PreemptionV3 {
    @Test func higherGroupPriorityPreempts() {
        let m = makeV3()
        m.put(0, pend(30, prio: 0x80))
        #expect(m.sys(.iar1) == 30)
        m.put(1, pend(31, prio: 0x40))
        #expect(m.virtualInterruptSignalled(cpu: 0))
        #expect(m.sys(.iar1) == 31)
        #expect(m.sys(.rpr) == 0x40)
        #expect(m.readAPR(cpu: 0, group: 1, index: 0) == (1 << 16 | 1 << 8))
        // Nested EOIs unwind the running priority.
        m.sys(.eoir1, 31)
        #expect(m.sys(.rpr) == 0x80)
        #expect(m.get(1).state == .invalid)
        m.sys(.eoir1, 30)
        #expect(m.sys(.rpr) == 0xFF)
        #expect(m.get(0).state == .invalid)
    }

    @Test func equalGroupPriorityDoesNotPreemptAndBPRDecides() {
        let m = makeV3()
        m.put(0, pend(30, prio: 0x90))
        #expect(m.sys(.iar1) == 30)
        #expect(m.sys(.rpr) == 0x90)
        // BPR1 = 3 (minimum): group priority bits [7:3]; 0x80 < 0x90 preempts.
        m.put(1, pend(31, prio: 0x80))
        #expect(m.sys(.bpr1) == 3)
        #expect(m.virtualInterruptSignalled(cpu: 0))
        // BPR1 = 5: group priority bits [7:5]; 0x80 and 0x90 are both 0x80.
        m.sys(.bpr1, 5)
        #expect(VMCR(v3: m.readVMCR(cpu: 0)).bpr1 == 5)
        #expect(!m.virtualInterruptSignalled(cpu: 0))
        #expect(m.sys(.iar1) == 1023)
        // The same priority as the running one never preempts.
        m.sys(.bpr1, 3)
        m.put(1, pend(31, prio: 0x90))
        #expect(!m.virtualInterruptSignalled(cpu: 0))
    }

    @Test func groupPriorityUsesBPRWhenActivating() {
        let m = makeV3()
        m.sys(.bpr1, 5)
        m.put(0, pend(30, prio: 0x98))
        #expect(m.sys(.iar1) == 30)
        // Group priority 0x98 & 0xE0 = 0x80 -> bit 16.
        #expect(m.readAPR(cpu: 0, group: 1, index: 0) == 1 << 16)
        #expect(m.sys(.rpr) == 0x80)
    }

    @Test func cbprMakesGroup1UseBPR0() {
        let m = makeV3()
        m.sys(.bpr0, 4)
        m.sys(.ctlr, 1) // CBPR
        #expect(VMCR(v3: m.readVMCR(cpu: 0)).cbpr)
        #expect(m.sys(.bpr1) == 5)
        m.sys(.bpr1, 3) // ignored with CBPR
        #expect(VMCR(v3: m.readVMCR(cpu: 0)).bpr1 == 3)
        m.sys(.bpr0, 7)
        #expect(m.sys(.bpr1) == 7)
        m.sys(.bpr0, 4)
        // Acknowledge with CBPR = 0 and BPR1 = 3 (group priority bits [7:3]).
        m.sys(.ctlr, 0)
        #expect(m.sys(.bpr1) == 3)
        m.put(0, pend(30, prio: 0x90))
        #expect(m.sys(.iar1) == 30)
        #expect(m.sys(.rpr) == 0x90)
        m.put(1, pend(31, prio: 0x80))
        #expect(m.virtualInterruptSignalled(cpu: 0))
        // With CBPR, group 1 uses BPR0 = 4: bits [7:5]; 0x80 and 0x90 tie.
        m.sys(.ctlr, 1)
        #expect(!m.virtualInterruptSignalled(cpu: 0))
        m.sys(.ctlr, 0)
        #expect(m.virtualInterruptSignalled(cpu: 0))
    }

    @Test func bprMinimums() {
        let m = makeV3(priorityBits: 5)
        m.sys(.bpr0, 0)
        #expect(m.sys(.bpr0) == 2)
        m.sys(.bpr1, 0)
        #expect(m.sys(.bpr1) == 3)
        m.writeVMCR(cpu: 0, 0)
        let v = VMCR(v3: m.readVMCR(cpu: 0))
        #expect(v.bpr0 == 2 && v.bpr1 == 3)
        let m7 = makeV3(priorityBits: 7)
        m7.sys(.bpr0, 0)
        #expect(m7.sys(.bpr0) == 0)
        m7.sys(.bpr1, 0)
        #expect(m7.sys(.bpr1) == 1)
    }
}

@Suite struct EndOfInterruptV3 {
    @Test func eoiMode0DeactivatesAndDIRIsIgnored() {
        let m = makeV3()
        m.put(0, pend(27, prio: 0xA0))
        _ = m.sys(.iar1)
        m.sys(.dir, 27)
        #expect(m.get(0).state == .active)
        m.sys(.eoir1, 27)
        #expect(m.get(0).state == .invalid)
        #expect(m.readAPR(cpu: 0, group: 1, index: 0) == 0)
        #expect(m.sys(.rpr) == 0xFF)
        #expect(HCR(rawValue: m.readHCR(cpu: 0)).eoiCount == 0)
    }

    @Test func eoiMode1SplitsDropAndDeactivate() {
        let m = makeV3(eoiMode: true)
        #expect(m.sys(.ctlr) & 2 != 0)
        m.put(0, pend(27, prio: 0xA0))
        _ = m.sys(.iar1)
        m.sys(.eoir1, 27)
        #expect(m.get(0).state == .active)
        #expect(m.sys(.rpr) == 0xFF)
        m.sys(.dir, 27)
        #expect(m.get(0).state == .invalid)
        #expect(HCR(rawValue: m.readHCR(cpu: 0)).eoiCount == 0)
        // DIR with no matching LR counts.
        m.sys(.dir, 28)
        #expect(HCR(rawValue: m.readHCR(cpu: 0)).eoiCount == 1)
    }

    @Test func pendingActiveBecomesPendingOnDeactivate() {
        let m = makeV3()
        m.put(0, pend(27, prio: 0xA0))
        _ = m.sys(.iar1)
        m.put(0, ListRegister(vINTID: 27, state: .pendingActive, group: 1, priority: 0xA0))
        m.sys(.eoir1, 27)
        #expect(m.get(0).state == .pending)
        #expect(m.sys(.iar1) == 27)
    }

    @Test func eoiWithoutLRIncrementsEOIcountAndLRENP() {
        let m = makeV3(hcr: HCR.en | HCR.lrenpie)
        m.put(0, pend(27, prio: 0xA0))
        _ = m.sys(.iar1)
        #expect(m.readMISR(cpu: 0) & MISR.lrenp == 0)
        // The hypervisor evicts the active interrupt from the LR.
        m.writeLR(cpu: 0, 0, 0)
        m.sys(.eoir1, 27)
        #expect(HCR(rawValue: m.readHCR(cpu: 0)).eoiCount == 1)
        #expect(m.readMISR(cpu: 0) & MISR.lrenp != 0)
        #expect(m.maintenanceInterruptPending(cpu: 0))
        #expect(m.sys(.rpr) == 0xFF)
        // Clearing EOIcount clears LRENP.
        m.writeHCR(cpu: 0, HCR.en | HCR.lrenpie)
        #expect(m.readMISR(cpu: 0) == 0)
        #expect(!m.maintenanceInterruptPending(cpu: 0))
    }

    @Test func eoiCountWraps() {
        var h = HCR(rawValue: HCR.en)
        h.eoiCount = 31
        let m = makeV3(hcr: h.rawValue)
        m.writeAPR(cpu: 0, group: 1, index: 0, 1 << 20)
        m.sys(.eoir1, 99)
        #expect(HCR(rawValue: m.readHCR(cpu: 0)).eoiCount == 0)
    }

    @Test func eoiWithNoActivePriorityIsIgnored() {
        let m = makeV3()
        m.put(0, ListRegister(vINTID: 27, state: .active, group: 1, priority: 0xA0))
        m.sys(.eoir1, 27)
        #expect(m.get(0).state == .active)
        m.sys(.eoir1, 99)
        #expect(HCR(rawValue: m.readHCR(cpu: 0)).eoiCount == 0)
        // Special INTIDs are ignored too.
        m.writeAPR(cpu: 0, group: 1, index: 0, 1 << 20)
        m.sys(.eoir1, 1023)
        #expect(m.readAPR(cpu: 0, group: 1, index: 0) == 1 << 20)
    }

    @Test func eoirOfWrongGroupDropsButDoesNotDeactivate() {
        let m = makeV3()
        m.put(0, pend(27, prio: 0xA0))
        _ = m.sys(.iar1)
        m.sys(.eoir0, 27)
        #expect(m.sys(.rpr) == 0xFF)
        #expect(m.get(0).state == .active)
    }
}

@Suite struct ControlRegistersV3 {
    @Test func ctlrFieldsAndVMCR() {
        let m = makeV3(priorityBits: 6)
        let c = m.sys(.ctlr)
        #expect((c >> 8) & 7 == 5)   // PRIbits - 1
        #expect((c >> 11) & 7 == 0)  // IDbits: 16
        #expect(c & (1 << 14) == 0)  // SEIS
        #expect(c & (1 << 15) != 0)  // A3V
        #expect(c & 3 == 0)
        m.sys(.ctlr, 0xFFFF_FFFF)
        #expect(m.sys(.ctlr) & 3 == 3)
        let v = VMCR(v3: m.readVMCR(cpu: 0))
        #expect(v.eoiMode && v.cbpr)
        #expect(m.sys(.sre) == 7)
        m.sys(.sre, 0)
        #expect(m.sys(.sre) == 7)
        #expect(m.sys(.igrpen1) == 1)
        m.sys(.igrpen1, 0)
        #expect(m.sys(.igrpen1) == 0)
        #expect(!VMCR(v3: m.readVMCR(cpu: 0)).enableGroup1)
        #expect(m.sys(.sgi1r) == 0)
    }

    @Test func activePriorityRegisterCount() {
        let m5 = makeV3(priorityBits: 5)
        #expect(m5.vtr.activePriorityRegisters == 1)
        m5.sys(.ap1r1, 0xFFFF)
        #expect(m5.sys(.ap1r1) == 0)
        m5.writeAPR(cpu: 0, group: 0, index: 1, 5)
        #expect(m5.readAPR(cpu: 0, group: 0, index: 1) == 0)
        let m7 = makeV3(priorityBits: 7)
        #expect(m7.vtr.activePriorityRegisters == 4)
        m7.sys(.ap1r3, 0x8000_0000)
        #expect(m7.readAPR(cpu: 0, group: 1, index: 3) == 0x8000_0000)
        // Bit 127 with 7 preemption bits is priority 0xFE.
        #expect(m7.sys(.rpr) == 0xFE)
        let m8 = GICModel(version: .v3, cpus: 1, listRegisters: 4, priorityBits: 8)
        #expect(m8.vtr.priorityBits == 8 && m8.vtr.preemptionBits == 7)
    }

    @Test func vtrReflectsConfiguration() {
        let m = GICModel(version: .v3, cpus: 3, listRegisters: 4, priorityBits: 5)
        #expect(m.cpuCount == 3)
        #expect(m.vtr == VTR(listRegisters: 4, priorityBits: 5, preemptionBits: 5))
    }

    @Test func runningPriorityFavoursGroupWithLowestBit() {
        let m = makeV3()
        m.writeAPR(cpu: 0, group: 0, index: 0, 1 << 20)
        m.writeAPR(cpu: 0, group: 1, index: 0, 1 << 10)
        #expect(m.sys(.rpr) == 10 << 3)
        m.writeAPR(cpu: 0, group: 1, index: 0, 1 << 20)
        m.writeAPR(cpu: 0, group: 0, index: 0, 1 << 20)
        // Drop clears group 0's bit first on a tie.
        m.sys(.eoir1, 99)
        #expect(m.readAPR(cpu: 0, group: 0, index: 0) == 0)
        #expect(m.readAPR(cpu: 0, group: 1, index: 0) == 1 << 20)
    }
}
