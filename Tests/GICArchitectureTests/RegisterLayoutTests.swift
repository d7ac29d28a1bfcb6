import GICArchitecture
import Testing

// Register offsets, SGI requests, affinity routing, GICR_TYPER and the
// INTID classes against Arm IHI 0069 (GICv3) and Arm IHI 0048B (GICv2),
// written out as literals.

@Suite struct RegisterOffsets {
    @Test func distributor() {
        let expected: [(UInt32, UInt32)] = [
            (GICD.ctlr, 0x0000), (GICD.typer, 0x0004), (GICD.iidr, 0x0008), (GICD.typer2, 0x000C),
            (GICD.statusr, 0x0010), (GICD.igroupr, 0x0080), (GICD.isenabler, 0x0100),
            (GICD.icenabler, 0x0180), (GICD.ispendr, 0x0200), (GICD.icpendr, 0x0280),
            (GICD.isactiver, 0x0300), (GICD.icactiver, 0x0380), (GICD.ipriorityr, 0x0400),
            (GICD.itargetsr, 0x0800), (GICD.icfgr, 0x0C00), (GICD.igrpmodr, 0x0D00), (GICD.nsacr, 0x0E00),
            (GICD.sgir, 0x0F00), (GICD.cpendsgir, 0x0F10), (GICD.spendsgir, 0x0F20),
            (GICD.irouter, 0x6000), (GICD.pidr2V3, 0xFFE8), (GICD.pidr2V2, 0x0FE8),
            (GICD.sizeV3, 0x1_0000), (GICD.sizeV2, 0x1000),
        ]
        for (got, want) in expected { #expect(got == want) }
    }

    /// GICD_CTLR with one Security state (DS = 1): 0 EnableGrp0,
    /// 1 EnableGrp1, 4 ARE, 6 DS, 31 RWP.
    @Test func distributorControlBits() {
        #expect(GICD.ctlrEnableGrp0 == 0x01)
        #expect(GICD.ctlrEnableGrp1 == 0x02)
        #expect(GICD.ctlrARE == 0x10)
        #expect(GICD.ctlrDS == 0x40)
        #expect(GICD.ctlrRWP == 0x8000_0000)
    }

    @Test func redistributor() {
        let expected: [(UInt32, UInt32)] = [
            (GICR.sgiBase, 0x1_0000), (GICR.frameSize, 0x2_0000), (GICR.ctlr, 0x0000), (GICR.iidr, 0x0004),
            (GICR.typer, 0x0008), (GICR.statusr, 0x0010), (GICR.waker, 0x0014), (GICR.propbaser, 0x0070),
            (GICR.pendbaser, 0x0078), (GICR.pidr2, 0xFFE8),
        ]
        for (got, want) in expected { #expect(got == want) }
        // GICR_CTLR: 1 CES, 3 RWP. GICR_WAKER: 1 ProcessorSleep, 2 ChildrenAsleep.
        #expect(GICR.ctlrCES == 0x2)
        #expect(GICR.ctlrRWP == 0x8)
        #expect(GICR.wakerProcessorSleep == 0x2)
        #expect(GICR.wakerChildrenAsleep == 0x4)
    }

    /// GICR_TYPER: 63:32 Affinity_Value (Aff3.Aff2.Aff1.Aff0), 23:8
    /// Processor_Number, 4 Last.
    @Test func redistributorTyper() {
        #expect(GICR.typerLast == 0x10)
        #expect(GICR.typerProcessorNumberShift == 8)
        #expect(GICR.typerAffinityShift == 32)
        // The last frame, processor 18, affinity 0.0.1.2 (vCPU 18).
        let a = Affinity(vcpuIndex: 18)
        let typer = UInt64(a.packed) << GICR.typerAffinityShift | 18 << GICR.typerProcessorNumberShift | GICR.typerLast
        #expect(typer == 0x0000_0102_0000_1210)
        #expect(Affinity(aff0: 4, aff1: 3, aff2: 2, aff3: 1).packed == 0x0102_0304)
    }

    @Test func cpuInterface() {
        let expected: [(UInt32, UInt32)] = [
            (GICC.ctlr, 0x0000), (GICC.pmr, 0x0004), (GICC.bpr, 0x0008), (GICC.iar, 0x000C),
            (GICC.eoir, 0x0010), (GICC.rpr, 0x0014), (GICC.hppir, 0x0018), (GICC.abpr, 0x001C),
            (GICC.aiar, 0x0020), (GICC.aeoir, 0x0024), (GICC.ahppir, 0x0028), (GICC.apr0, 0x00D0),
            (GICC.nsapr0, 0x00E0), (GICC.iidr, 0x00FC), (GICC.dir, 0x1000), (GICC.size, 0x2000),
        ]
        for (got, want) in expected { #expect(got == want) }
    }
}

@Suite struct SGIRequestEncoding {
    /// ICC_SGI0R_EL1 / ICC_SGI1R_EL1 / ICC_ASGI1R_EL1: 55:48 Aff3, 47:44 RS,
    /// 40 IRM, 39:32 Aff2, 27:24 INTID, 23:16 Aff1, 15:0 TargetList.
    @Test func eachFieldAlone() {
        #expect(SGIRequest(intid: 0, targetList: 0xFFFF).rawValue == 0x0000_0000_0000_FFFF)
        #expect(SGIRequest(intid: 0, targetList: 0, aff1: 0xFF).rawValue == 0x0000_0000_00FF_0000)
        #expect(SGIRequest(intid: 15, targetList: 0).rawValue == 0x0000_0000_0F00_0000)
        #expect(SGIRequest(intid: 0, targetList: 0, aff2: 0xFF).rawValue == 0x0000_00FF_0000_0000)
        #expect(SGIRequest(intid: 0, targetList: 0, irm: true).rawValue == 0x0000_0100_0000_0000)
        #expect(SGIRequest(intid: 0, targetList: 0, rangeSelector: 15).rawValue == 0x0000_F000_0000_0000)
        #expect(SGIRequest(intid: 0, targetList: 0, aff3: 0xFF).rawValue == 0x00FF_0000_0000_0000)
    }

    @Test func encodeMasksTheNarrowFields() {
        #expect(SGIRequest(intid: 0x1F, targetList: 0).rawValue == 0x0000_0000_0F00_0000)
        #expect(SGIRequest(intid: 0, targetList: 0, rangeSelector: 0x1F).rawValue == 0x0000_F000_0000_0000)
    }

    @Test func decodeEveryField() {
        let r = SGIRequest(rawValue: 0x00AB_51CD_0E12_8001)
        #expect(r.aff3 == 0xAB)
        #expect(r.rangeSelector == 5)
        #expect(r.irm)
        #expect(r.aff2 == 0xCD)
        #expect(r.intid == 0xE)
        #expect(r.aff1 == 0x12)
        #expect(r.targetList == 0x8001)
        #expect(SGIRequest(intid: 0xE, targetList: 0x8001, aff1: 0x12, aff2: 0xCD, aff3: 0xAB,
                           rangeSelector: 5, irm: true).rawValue == 0x00AB_51CD_0E12_8001)
    }

    @Test func decodeIgnoresReservedBits() {
        // RES0: 63:56, 43:41, 31:28.
        let r = SGIRequest(rawValue: 0xFF00_0E00_F000_0000)
        #expect(r.aff3 == 0 && r.rangeSelector == 0 && !r.irm && r.aff2 == 0)
        #expect(r.intid == 0 && r.aff1 == 0 && r.targetList == 0)
    }

    /// GICD_SGIR (GICv2): 25:24 TargetListFilter, 23:16 CPUTargetList,
    /// 15 NSATT, 3:0 SGIINTID.
    @Test func gicv2SGIR() {
        let v: UInt32 = 0x02A5_800F
        #expect(GICDSGIR.filter(v) == 2)
        #expect(GICDSGIR.targets(v) == 0xA5)
        #expect(GICDSGIR.intid(v) == 0xF)
        #expect(GICDSGIR.filter(0x0100_0000) == GICDSGIR.filterAllButSelf)
        #expect(GICDSGIR.filter(0x0200_0000) == GICDSGIR.filterSelf)
        #expect(GICDSGIR.filter(0x0000_0000) == GICDSGIR.filterList)
        // Reserved 31:26, 14:4 are not fields.
        #expect(GICDSGIR.filter(0xFC00_7FF0) == 0 && GICDSGIR.targets(0xFC00_7FF0) == 0
                && GICDSGIR.intid(0xFC00_7FF0) == 0)
        #expect(GICDSGIR.filterList == 0 && GICDSGIR.filterAllButSelf == 1 && GICDSGIR.filterSelf == 2)
    }
}

@Suite struct AffinityRouting {
    /// GICD_IROUTER<n>: 39:32 Aff3, 31 Interrupt_Routing_Mode, 23:16 Aff2,
    /// 15:8 Aff1, 7:0 Aff0.
    @Test func irouterLayout() {
        #expect(Affinity(aff0: 1, aff1: 2, aff2: 3, aff3: 4).irouter == 0x0000_0004_0003_0201)
        #expect(irouterIRM == 0x8000_0000)
        let a = Affinity(irouter: 0xFFFF_FF04_FF03_0201)
        #expect(a == Affinity(aff0: 1, aff1: 2, aff2: 3, aff3: 4))
    }

    /// The vGIC's MPIDR layout for vCPU i (KVM's): Aff0 = i[3:0],
    /// Aff1 = i[11:4], Aff2 = i[19:12].
    @Test func vcpuIndexLayout() {
        #expect(Affinity(vcpuIndex: 0) == Affinity(aff0: 0))
        #expect(Affinity(vcpuIndex: 15) == Affinity(aff0: 15))
        #expect(Affinity(vcpuIndex: 16) == Affinity(aff0: 0, aff1: 1))
        #expect(Affinity(vcpuIndex: 0x1234) == Affinity(aff0: 4, aff1: 0x23, aff2: 1))
        #expect(Affinity(aff0: 4, aff1: 0x23, aff2: 1).vcpuIndex == 0x1234)
        #expect(Affinity(aff0: 16).vcpuIndex == nil)
        #expect(Affinity(aff0: 0, aff3: 1).vcpuIndex == nil)
    }
}

@Suite struct INTIDClasses {
    @Test func ranges() {
        #expect(INTID.isSGI(15) && !INTID.isSGI(16))
        #expect(!INTID.isPPI(15) && INTID.isPPI(16) && INTID.isPPI(31) && !INTID.isPPI(32))
        #expect(INTID.isPrivate(31) && !INTID.isPrivate(32))
        #expect(!INTID.isSPI(31) && INTID.isSPI(32) && INTID.isSPI(1019) && !INTID.isSPI(1020))
        #expect(INTID.sgiCount == 16 && INTID.privateCount == 32 && INTID.spiLimit == 1020)
        #expect(INTID.spurious == 1023 && INTID.spuriousGroup1 == 1022)
    }

    /// The two-bit State field of both list-register formats.
    @Test func listRegisterStates() {
        #expect(ListRegisterState.invalid.rawValue == 0)
        #expect(ListRegisterState.pending.rawValue == 1)
        #expect(ListRegisterState.active.rawValue == 2)
        #expect(ListRegisterState.pendingActive.rawValue == 3)
        #expect(ListRegisterState(pending: true, active: true) == .pendingActive)
        #expect(ListRegisterState(pending: false, active: true) == .active)
        #expect(ListRegisterState.pendingActive.isPending && ListRegisterState.pendingActive.isActive)
        #expect(!ListRegisterState.active.isPending && !ListRegisterState.pending.isActive)
    }

    /// An implementation with n priority bits keeps bits 7:(8-n).
    @Test func priorityMasks() {
        #expect(Priority.mask(bits: 4) == 0xF0)
        #expect(Priority.mask(bits: 5) == 0xF8)
        #expect(Priority.mask(bits: 8) == 0xFF)
        #expect(Priority.idle == 0xFF)
    }

    @Test func sgiRegistersAlwaysTrap() {
        let trapping = CPUInterfaceRegister.allCases.filter(\.alwaysTraps)
        #expect(trapping == [.sgi0r, .sgi1r, .asgi1r])
        #expect("\(CPUInterfaceRegister.sgi1r.name)" == "ICC_SGI1R_EL1")
    }
}

@Suite struct SpinLockBehaviour {
    @Test func tryLockFailsWhileHeld() {
        let lock = SpinLock()
        let first = lock.tryLock()
        let second = lock.tryLock()
        #expect(first && !second)
        lock.unlock()
        let afterUnlock = lock.tryLock()
        #expect(afterUnlock)
        lock.unlock()
    }

    @Test func withLockReleasesOnThrow() {
        struct Failure: Error {}
        let lock = SpinLock()
        var thrown = false
        do {
            try lock.withLock { () throws(Failure) in throw Failure() }
        } catch {
            thrown = true
        }
        let free = lock.tryLock()
        #expect(thrown && free)
        lock.unlock()
    }
}
