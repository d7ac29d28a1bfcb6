import GICArchitecture
import GICModel
import Testing

@Suite struct Maintenance {
    @Test func eoiMaintenanceSetsEISRAndMISREOI() {
        let m = makeV3()
        #expect(m.readELRSR(cpu: 0) == 0b1111)
        m.put(0, pend(27, prio: 0xA0, eoi: true))
        m.put(1, pend(28, prio: 0xB0))
        #expect(m.readELRSR(cpu: 0) == 0b1100)
        #expect(m.readEISR(cpu: 0) == 0)
        #expect(m.readMISR(cpu: 0) & MISR.eoi == 0)
        #expect(m.sys(.iar1) == 27)
        m.sys(.eoir1, 27)
        #expect(m.readEISR(cpu: 0) == 0b0001)
        #expect(m.readELRSR(cpu: 0) == 0b1100)
        #expect(m.readMISR(cpu: 0) & MISR.eoi != 0)
        #expect(m.maintenanceInterruptPending(cpu: 0))
        // The LR without EOI becomes empty (ELRSR) but not EISR.
        #expect(m.sys(.iar1) == 28)
        m.sys(.eoir1, 28)
        #expect(m.readEISR(cpu: 0) == 0b0001)
        #expect(m.readELRSR(cpu: 0) == 0b1110)
        // The hypervisor clears the LR: the condition goes.
        m.writeLR(cpu: 0, 0, 0)
        #expect(m.readEISR(cpu: 0) == 0)
        #expect(m.readMISR(cpu: 0) == 0)
    }

    @Test func maintenanceNeedsHCREn() {
        let m = makeV3(hcr: HCR.uie)
        #expect(m.readMISR(cpu: 0) & MISR.u != 0)
        #expect(!m.maintenanceInterruptPending(cpu: 0))
        m.writeHCR(cpu: 0, HCR.uie | HCR.en)
        #expect(m.maintenanceInterruptPending(cpu: 0))
    }

    @Test func underflow() {
        let m = makeV3(hcr: HCR.en | HCR.uie)
        #expect(m.readMISR(cpu: 0) == MISR.u)
        m.put(0, pend(27, prio: 0xA0))
        #expect(m.readMISR(cpu: 0) == MISR.u)
        m.put(1, ListRegister(vINTID: 28, state: .active, group: 1, priority: 0xA0))
        #expect(m.readMISR(cpu: 0) & MISR.u == 0)
        m.writeHCR(cpu: 0, HCR.en)
        m.writeLR(cpu: 0, 1, 0)
        #expect(m.readMISR(cpu: 0) == 0)
    }

    @Test func noPending() {
        let m = makeV3(hcr: HCR.en | HCR.npie)
        #expect(m.readMISR(cpu: 0) == MISR.np)
        m.put(0, pend(27, prio: 0xA0))
        #expect(m.readMISR(cpu: 0) == 0)
        // Pending+active does not count as pending.
        m.put(0, ListRegister(vINTID: 27, state: .pendingActive, group: 1, priority: 0xA0))
        #expect(m.readMISR(cpu: 0) == MISR.np)
        m.put(1, pend(28, prio: 0xA0))
        #expect(m.readMISR(cpu: 0) == 0)
        _ = m.sys(.iar1)
        #expect(m.readMISR(cpu: 0) == MISR.np)
    }

    @Test func groupEnableConditions() {
        let all = HCR.en | HCR.vgrp0eie | HCR.vgrp0die | HCR.vgrp1eie | HCR.vgrp1die
        let m = makeV3(hcr: all)
        #expect(m.readMISR(cpu: 0) == MISR.vgrp0e | MISR.vgrp1e)
        m.sys(.igrpen0, 0)
        #expect(m.readMISR(cpu: 0) == MISR.vgrp0d | MISR.vgrp1e)
        m.sys(.igrpen1, 0)
        #expect(m.readMISR(cpu: 0) == MISR.vgrp0d | MISR.vgrp1d)
        m.writeHCR(cpu: 0, HCR.en | HCR.vgrp1eie)
        #expect(m.readMISR(cpu: 0) == 0)
        m.sys(.igrpen1, 1)
        #expect(m.readMISR(cpu: 0) == MISR.vgrp1e)
        #expect(m.maintenanceInterruptPending(cpu: 0))
    }
}

@Suite struct HardwareLRs {
    @Test func hwDeactivationClearsPhysicalActivePPI() {
        let m = makeV3()
        m.setPhysicalActive(27, cpu: 1, true)
        m.put(cpu: 1, 0, ListRegister(vINTID: 27, state: .pending, hw: true, pINTID: 27, group: 1, priority: 0xA0))
        #expect(m.sys(cpu: 1, .iar1) == 27)
        m.sys(cpu: 1, .eoir1, 27)
        #expect(m.get(cpu: 1, 0).state == .invalid)
        #expect(!m.physicalActive(27, cpu: 1))
        #expect(m.violations.isEmpty)
        // HW LRs never report EOI maintenance, and are empty when invalid.
        #expect(m.readEISR(cpu: 1) == 0)
        #expect(m.readELRSR(cpu: 1) & 1 == 1)
    }

    @Test func hwDeactivationOfSPIIsGlobal() {
        let m = makeV3(eoiMode: true)
        m.setPhysicalActive(40, cpu: 1, true)
        m.put(0, ListRegister(vINTID: 70, state: .pending, hw: true, pINTID: 40, group: 1, priority: 0xA0))
        #expect(m.sys(.iar1) == 70)
        m.sys(.eoir1, 70)
        #expect(m.physicalActive(40, cpu: 0))
        m.sys(.dir, 70)
        #expect(!m.physicalActive(40, cpu: 0))
        #expect(!m.physicalActive(40, cpu: 1))
        #expect(m.violations.isEmpty)
    }

    @Test func hwDeactivationOfInactivePhysicalIsAViolation() {
        let m = makeV3()
        // Active on the other CPU only: the private state of CPU 0 is not active.
        m.setPhysicalActive(27, cpu: 1, true)
        m.put(0, ListRegister(vINTID: 27, state: .pending, hw: true, pINTID: 27, group: 1, priority: 0xA0))
        _ = m.sys(.iar1)
        m.sys(.eoir1, 27)
        #expect(m.get(0).state == .invalid)
        #expect(m.violations == [ArchitectureViolation(cpu: 0, intid: 27, message: ArchitectureViolation.hwDeactivateInactive)])
        #expect(m.physicalActive(27, cpu: 1))
    }
}

@Suite struct Violations {
    @Test func duplicateVINTID() {
        let m = makeV3()
        m.put(0, pend(27, prio: 0xA0))
        m.put(1, ListRegister(vINTID: 27, state: .active, group: 1, priority: 0xA0))
        #expect(m.violations.count == 1)
        #expect(m.hasViolation(ArchitectureViolation.duplicateVirtualINTID, intid: 27))
        m.clearViolations()
        #expect(m.violations.isEmpty)
        // An invalid LR with the same vINTID is fine.
        m.writeLR(cpu: 0, 1, 0)
        m.put(2, ListRegister(vINTID: 27, state: .invalid, group: 1))
        m.put(3, pend(28, prio: 0xA0))
        // The same vINTID on another CPU is fine.
        m.put(cpu: 1, 0, pend(27, prio: 0xA0))
        #expect(m.violations.isEmpty)
    }

    @Test func hwPendingActive() {
        let m = makeV3()
        m.put(0, ListRegister(vINTID: 27, state: .pendingActive, hw: true, pINTID: 27, group: 1, priority: 0xA0))
        #expect(m.violations.count == 1)
        #expect(m.hasViolation(ArchitectureViolation.hwPendingActive, intid: 27))
    }

    @Test func hwSGIOrSpecialPhysicalINTID() {
        let m = makeV3()
        m.put(0, ListRegister(vINTID: 27, state: .pending, hw: true, pINTID: 5, group: 1, priority: 0xA0))
        #expect(m.hasViolation(ArchitectureViolation.hwBadPhysicalINTID, intid: 5))
        m.put(1, ListRegister(vINTID: 28, state: .pending, hw: true, pINTID: 1021, group: 1, priority: 0xA0))
        #expect(m.hasViolation(ArchitectureViolation.hwBadPhysicalINTID, intid: 1021))
        #expect(m.violations.count == 2)
        m.put(2, ListRegister(vINTID: 29, state: .pending, hw: true, pINTID: 16, group: 1, priority: 0xA0))
        #expect(m.violations.count == 2)
    }

    @Test func reservedVINTID() {
        let m = makeV3()
        m.put(0, pend(1020, prio: 0xA0))
        #expect(m.hasViolation(ArchitectureViolation.reservedVirtualINTID, intid: 1020))
        m.put(1, pend(5000, prio: 0xA0))
        #expect(m.hasViolation(ArchitectureViolation.reservedVirtualINTID, intid: 5000))
        m.clearViolations()
        m.put(1, pend(8192, prio: 0xA0))
        #expect(m.violations.isEmpty)
    }

    @Test func badIndicesDoNotCrash() {
        let m = makeV3(lrs: 4)
        m.writeLR(cpu: 0, 4, 0x1234)
        #expect(m.readLR(cpu: 0, 4) == 0)
        #expect(m.readLR(cpu: 0, -1) == 0)
        #expect(m.violations.count == 3)
        #expect(m.violations.allSatisfy { $0.is(ArchitectureViolation.badListRegister) })
        m.clearViolations()
        m.writeLR(cpu: 7, 0, 0x1234)
        m.writeHCR(cpu: -1, 1)
        #expect(m.readVMCR(cpu: 9) == 0)
        #expect(m.violations.count == 3)
        #expect(m.violations[0] == ArchitectureViolation(cpu: 7, intid: 0, message: ArchitectureViolation.badCPU))
        // Guest and physical accesses with a bad CPU are harmless.
        #expect(m.readSystemRegister(cpu: 5, .iar1) == 0)
        #expect(!m.virtualInterruptSignalled(cpu: 5))
        m.setPhysicalActive(20, cpu: 9, true)
        #expect(!m.physicalActive(20, cpu: 9))
        m.setPhysicalPending(2000, cpu: 0, true)
        #expect(!m.physicalPending(2000, cpu: 0))
    }

    @Test func violationEquality() {
        let a = ArchitectureViolation(cpu: 1, intid: 2, message: "x rule")
        #expect(a == ArchitectureViolation(cpu: 1, intid: 2, message: "x rule"))
        #expect(a != ArchitectureViolation(cpu: 1, intid: 2, message: "y rule"))
        #expect(a != ArchitectureViolation(cpu: 0, intid: 2, message: "x rule"))
        #expect(a != ArchitectureViolation(cpu: 1, intid: 3, message: "x rule"))
    }
}

@Suite struct PhysicalInterrupts {
    @Test func ppisArePerCPUAndSPIsGlobal() {
        let m = GICModel(version: .v3, cpus: 2, listRegisters: 4, priorityBits: 5)
        m.setPhysicalLine(27, cpu: 0, true)
        #expect(m.physicalLineLevel(27, cpu: 0))
        #expect(!m.physicalLineLevel(27, cpu: 1))
        #expect(m.physicalPending(27, cpu: 0))
        #expect(!m.physicalPending(27, cpu: 1))
        m.setPhysicalLine(40, cpu: 0, true)
        #expect(m.physicalPending(40, cpu: 1))
        m.setPhysicalActive(3, cpu: 1, true)
        #expect(m.physicalActive(3, cpu: 1))
        #expect(!m.physicalActive(3, cpu: 0))
    }

    @Test func pendingIsLatchOrLine() {
        let m = GICModel(version: .v2, cpus: 1, listRegisters: 4, priorityBits: 5)
        m.setPhysicalPending(100, cpu: 0, true)
        #expect(m.physicalPending(100, cpu: 0))
        #expect(!m.physicalLineLevel(100, cpu: 0))
        m.setPhysicalLine(100, cpu: 0, true)
        m.setPhysicalPending(100, cpu: 0, false)
        #expect(m.physicalPending(100, cpu: 0))
        m.setPhysicalLine(100, cpu: 0, false)
        #expect(!m.physicalPending(100, cpu: 0))
        m.setPhysicalActive(100, cpu: 0, true)
        #expect(m.physicalActive(100, cpu: 0))
        #expect(!m.physicalPending(100, cpu: 0))
    }
}
