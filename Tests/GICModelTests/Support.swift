import GICArchitecture
import GICModel

/// A GICv3 model with VENG0/VENG1 set, PMR open, minimum BPRs and HCR.En.
func makeV3(cpus: Int = 2, lrs: Int = 4, priorityBits: Int = 5,
            eoiMode: Bool = false, hcr: UInt64 = HCR.en) -> GICModel {
    let m = GICModel(version: .v3, cpus: cpus, listRegisters: lrs, priorityBits: priorityBits)
    var v = VMCR()
    v.enableGroup0 = true
    v.enableGroup1 = true
    v.pmr = 0xFF
    v.eoiMode = eoiMode
    for c in 0..<cpus {
        m.writeVMCR(cpu: c, v.v3)
        m.writeHCR(cpu: c, hcr)
    }
    return m
}

/// A GICv2 model set up the same way (GICH_VMCR layout).
func makeV2(cpus: Int = 2, lrs: Int = 4, ackCtl: Bool = false, eoiMode: Bool = false) -> GICModel {
    let m = GICModel(version: .v2, cpus: cpus, listRegisters: lrs, priorityBits: 5)
    var v = VMCR()
    v.enableGroup0 = true
    v.enableGroup1 = true
    v.pmr = 0xF8
    v.ackCtl = ackCtl
    v.eoiMode = eoiMode
    for c in 0..<cpus {
        m.writeVMCR(cpu: c, UInt64(v.v2))
        m.writeHCR(cpu: c, HCR.en)
    }
    return m
}

extension GICModel {
    func put(cpu: Int = 0, _ n: Int, _ lr: ListRegister) {
        switch version {
        case .v3: writeLR(cpu: cpu, n, ICH_LR.encode(lr))
        case .v2: writeLR(cpu: cpu, n, UInt64(GICH_LR.encode(lr)))
        }
    }

    func get(cpu: Int = 0, _ n: Int) -> ListRegister {
        let raw = readLR(cpu: cpu, n)
        switch version {
        case .v3: return ICH_LR.decode(raw)
        case .v2: return GICH_LR.decode(UInt32(truncatingIfNeeded: raw))
        }
    }

    func sys(cpu: Int = 0, _ r: CPUInterfaceRegister) -> UInt64 { readSystemRegister(cpu: cpu, r) }
    func sys(cpu: Int = 0, _ r: CPUInterfaceRegister, _ v: UInt64) { writeSystemRegister(cpu: cpu, r, v) }

    func gicv(cpu: Int = 0, _ off: UInt32) -> UInt32 {
        UInt32(truncatingIfNeeded: readGICV(cpu: cpu, offset: off, width: 4))
    }
    func gicv(cpu: Int = 0, _ off: UInt32, _ v: UInt32) { writeGICV(cpu: cpu, offset: off, width: 4, UInt64(v)) }

    var vmcr0: VMCR {
        version == .v3 ? VMCR(v3: readVMCR(cpu: 0)) : VMCR(v2: UInt32(truncatingIfNeeded: readVMCR(cpu: 0)))
    }

    func hasViolation(_ rule: StaticString, intid: UInt32? = nil) -> Bool {
        violations.contains { $0.is(rule) && (intid == nil || $0.intid == intid!) }
    }
}

func pend(_ id: UInt32, prio: UInt8, group: UInt8 = 1, eoi: Bool = false) -> ListRegister {
    ListRegister(vINTID: id, state: .pending, eoi: eoi, group: group, priority: prio)
}
