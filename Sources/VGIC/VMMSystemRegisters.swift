import GICArchitecture

// The VMM's save/restore of a GICv3 vCPU's CPU interface (KVM's
// KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS, Documentation/virt/kvm/devices/
// arm-vgic-v3.rst): the saved ICH_VMCR_EL2 and active-priority registers of a
// vCPU that is out of the guest, in the ICC_*_EL1 layout; a write marks them
// to be loaded on its next entry. The rules every VMM register access
// follows (VGICRegisterRule) are here too.

/// A rule of the VMM's register accessors; `VGICError.register(rule)` names
/// the one a request broke.
public enum VGICRegisterRule: UInt8, Equatable, Sendable, CaseIterable {
    /// CPU system registers are GICv3's; a GICv2 CPU interface is reached
    /// through `vmmRead(region: .cpuInterface, ...)`.
    case systemRegistersNeedGICv3
    /// Only ICC_PMR, BPR0, BPR1, CTLR, SRE, IGRPEN0, IGRPEN1, AP0R<n> and
    /// AP1R<n> hold state to save and restore.
    case notASaveRestoreRegister
    /// AP0R<n>/AP1R<n> exist only for the implemented preemption bits.
    case activePriorityRegisterNotImplemented
    /// ICC_CTLR_EL1.PRIbits must be the vGIC's priority bits.
    case ctlrPriorityBits
    /// ICC_CTLR_EL1.IDbits must be 0 (16-bit INTIDs).
    case ctlrIDBits
    /// ICC_CTLR_EL1.SEIS must be 0 (no system errors).
    case ctlrSEIS
    /// ICC_CTLR_EL1.A3V must be 1 (Aff3 in SGI targets).
    case ctlrA3V
    /// ICC_SRE_EL1.SRE cannot be cleared: the system-register interface is the only one.
    case sreCannotBeCleared
    /// GICD_IIDR: only the Revision field may differ from the value read.
    case iidrFieldsReadOnly
    /// GICD_IIDR: a revision this vGIC does not implement.
    case iidrRevisionNotSupported
    /// LEVEL_INFO: the first INTID must be a multiple of 32.
    case levelInfoNotAligned
    /// GICD_TYPER2 describes the implementation: a write must be the value
    /// read (no nASSGIcap: there are no GICv4.1 vSGIs to enable).
    case typer2Fixed

    public var message: StaticString {
        switch self {
        case .systemRegistersNeedGICv3: "CPU system registers exist on GICv3 only (GICv2: the CPU interface region)"
        case .notASaveRestoreRegister:
            "only ICC_PMR, BPR0, BPR1, CTLR, SRE, IGRPEN0, IGRPEN1, AP0R<n> and AP1R<n> are VMM-accessible"
        case .activePriorityRegisterNotImplemented: "this active-priority register is not implemented"
        case .ctlrPriorityBits: "ICC_CTLR_EL1.PRIbits must match the implemented priority bits"
        case .ctlrIDBits: "ICC_CTLR_EL1.IDbits must be 0 (16-bit INTIDs)"
        case .ctlrSEIS: "ICC_CTLR_EL1.SEIS must be 0"
        case .ctlrA3V: "ICC_CTLR_EL1.A3V must be 1"
        case .sreCannotBeCleared: "ICC_SRE_EL1.SRE must be 1"
        case .iidrFieldsReadOnly: "GICD_IIDR: only the Revision field can be written"
        case .iidrRevisionNotSupported: "GICD_IIDR: revision not supported"
        case .levelInfoNotAligned: "LEVEL_INFO: the first INTID must be a multiple of 32"
        case .typer2Fixed: "GICD_TYPER2 can only be written with the value read"
        }
    }

    /// The errno KVM returns for the same request.
    public var kvmErrno: Int32 {
        switch self {
        case .systemRegistersNeedGICv3, .notASaveRestoreRegister: 6  // ENXIO
        default: 22  // EINVAL
        }
    }
}

/// `ICC_CTLR_EL1` fields.
enum ICCCTLR {
    static let cbpr: UInt64 = 1 << 0
    static let eoiMode: UInt64 = 1 << 1
    static let priBitsShift: UInt64 = 8
    static let idBitsShift: UInt64 = 11
    static let seis: UInt64 = 1 << 14
    static let a3v: UInt64 = 1 << 15
}

/// `ICC_SRE_EL1`: SRE, DFB and DIB set, read-only.
let iccSREValue: UInt64 = 0x7

extension CPUInterfaceRegister {
    /// The registers KVM's CPU_SYSREGS group saves and restores.
    public var isVMMAccessible: Bool {
        switch self {
        case .pmr, .bpr0, .bpr1, .ctlr, .sre, .igrpen0, .igrpen1, .ap0r0, .ap0r1, .ap0r2, .ap0r3,
             .ap1r0, .ap1r1, .ap1r2, .ap1r3:
            true
        default:
            false
        }
    }

    /// The `instr` field of KVM's CPU_SYSREGS attribute: Op0 [15:14], Op1
    /// [13:11], CRn [10:7], CRm [6:3], Op2 [2:0] (every ICC register has
    /// Op0 = 3, Op1 = 0). Nil for registers that group does not reach.
    public var kvmSysregEncoding: UInt16? {
        let crn: UInt16, crm: UInt16, op2: UInt16
        switch self {
        case .pmr: (crn, crm, op2) = (4, 6, 0)
        case .bpr0: (crn, crm, op2) = (12, 8, 3)
        case .ap0r0, .ap0r1, .ap0r2, .ap0r3:
            (crn, crm, op2) = (12, 8, 4 + UInt16(rawValue - CPUInterfaceRegister.ap0r0.rawValue))
        case .ap1r0, .ap1r1, .ap1r2, .ap1r3:
            (crn, crm, op2) = (12, 9, UInt16(rawValue - CPUInterfaceRegister.ap1r0.rawValue))
        case .bpr1: (crn, crm, op2) = (12, 12, 3)
        case .ctlr: (crn, crm, op2) = (12, 12, 4)
        case .sre: (crn, crm, op2) = (12, 12, 5)
        case .igrpen0: (crn, crm, op2) = (12, 12, 6)
        case .igrpen1: (crn, crm, op2) = (12, 12, 7)
        default: return nil
        }
        return 3 << 14 | crn << 7 | crm << 3 | op2
    }

    /// The register a CPU_SYSREGS `instr` field names, if the group reaches it.
    public init?(kvmSysregEncoding e: UInt16) {
        for r in CPUInterfaceRegister.allCases where r.kvmSysregEncoding == e {
            self = r
            return
        }
        return nil
    }
}

extension VGIC {
    // MARK: GICv3 CPU system registers (KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS)

    /// The VMM reads a CPU system register of vCPU `vcpu` (out of the guest):
    /// its saved VMCR and active priorities, in the `ICC_*_EL1` layout.
    public func vmmReadSystemRegister(vcpu: Int, _ reg: CPUInterfaceRegister) throws(VGICError) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        try vmmSystemRegisterCheck(vcpu: vcpu, reg)
        let v = vcpus[vcpu].vmcr
        switch reg {
        case .pmr: return UInt64(v.pmr)
        case .bpr0: return UInt64(v.bpr0)
        case .bpr1: return v.cbpr ? UInt64(min(v.bpr0 + 1, 7)) : UInt64(v.bpr1)
        case .ctlr:
            var c = UInt64(configuration.priorityBits - 1) << ICCCTLR.priBitsShift | ICCCTLR.a3v
            if v.cbpr { c |= ICCCTLR.cbpr }
            if v.eoiMode { c |= ICCCTLR.eoiMode }
            return c
        case .sre: return iccSREValue
        case .igrpen0: return v.enableGroup0 ? 1 : 0
        case .igrpen1: return v.enableGroup1 ? 1 : 0
        default:
            let slot = try aprSlot(vcpu: vcpu, reg)
            return UInt64(aprs[slot])
        }
    }

    /// The VMM writes a CPU system register of vCPU `vcpu` (out of the
    /// guest). The value is what the guest's CPU interface would hold (PMR
    /// without its unimplemented bits, BPRs at least their minimum; BPR1 is
    /// ignored while CTLR.CBPR is set); the next `vcpuEnter` loads it.
    public func vmmWriteSystemRegister(vcpu: Int, _ reg: CPUInterfaceRegister, _ value: UInt64) throws(VGICError) {
        lock.lock()
        defer { lock.unlock() }
        try vmmSystemRegisterCheck(vcpu: vcpu, reg)
        var v = vcpus[vcpu].vmcr
        let minBPR0 = UInt8(7 - min(configuration.priorityBits, 7))
        switch reg {
        case .pmr:
            v.pmr = UInt8(truncatingIfNeeded: value) & priorityMask
        case .bpr0:
            v.bpr0 = max(UInt8(value & 7), minBPR0)
        case .bpr1:
            if !v.cbpr { v.bpr1 = max(UInt8(value & 7), minBPR0 + 1) }
        case .ctlr:
            // Identification fields must describe this CPU interface (a VM
            // saved on other hardware cannot be restored here otherwise).
            if Int((value >> ICCCTLR.priBitsShift) & 7) + 1 != configuration.priorityBits {
                throw .register(.ctlrPriorityBits)
            }
            if (value >> ICCCTLR.idBitsShift) & 7 != 0 { throw .register(.ctlrIDBits) }
            if value & ICCCTLR.seis != 0 { throw .register(.ctlrSEIS) }
            if value & ICCCTLR.a3v == 0 { throw .register(.ctlrA3V) }
            v.cbpr = value & ICCCTLR.cbpr != 0
            v.eoiMode = value & ICCCTLR.eoiMode != 0
        case .sre:
            if value & 1 == 0 { throw .register(.sreCannotBeCleared) }
            return
        case .igrpen0:
            v.enableGroup0 = value & 1 != 0
        case .igrpen1:
            v.enableGroup1 = value & 1 != 0
        default:
            let slot = try aprSlot(vcpu: vcpu, reg)
            aprs[slot] = UInt32(truncatingIfNeeded: value)
            vcpus[vcpu].cpuInterfaceDirty = true
            return
        }
        vcpus[vcpu].vmcr = v
        vcpus[vcpu].cpuInterfaceDirty = true
    }

    func vmmSystemRegisterCheck(vcpu: Int, _ reg: CPUInterfaceRegister) throws(VGICError) {
        guard version == .v3 else { throw .register(.systemRegistersNeedGICv3) }
        guard vcpu >= 0 && vcpu < vcpuCount else { throw .noSuchVCPU(vcpu) }
        guard reg.isVMMAccessible else { throw .register(.notASaveRestoreRegister) }
        if vcpus[vcpu].inGuest { throw .vcpuRunning(vcpu) }
    }

    /// Index in `aprs` of an AP0R<n>/AP1R<n> register.
    func aprSlot(vcpu: Int, _ reg: CPUInterfaceRegister) throws(VGICError) -> Int {
        let group1 = reg.rawValue >= CPUInterfaceRegister.ap1r0.rawValue
        let n = Int(reg.rawValue - (group1 ? CPUInterfaceRegister.ap1r0 : CPUInterfaceRegister.ap0r0).rawValue)
        guard n < apRegisters else { throw .register(.activePriorityRegisterNotImplemented) }
        return vcpu * 8 + (group1 ? 4 : 0) + n
    }
}
