import GICArchitecture

// The GICv2 CPU interface the vGIC emulates: the guest's DIR page while the
// vGIC has it trap (the rest of the guest's GICC frame is the hardware GICV
// frame), and the VMM's view of the CPU interface (KVM's CPU_REGS).

extension VGIC {
    /// The guest's trapped `GICV_DIR` (4 bytes, aligned); every other offset
    /// is not the vGIC's.
    func guestCPUInterfaceAccess(requester: Int, offset: UInt32, width: Int, write: Bool,
                                 value: UInt64) -> (value: UInt64, found: Bool, widthOK: Bool) {
        guard version == .v2 else { return (0, false, false) }
        let widthOK = width == 4 && offset & 3 == 0
        if offset == GICC.dir && write && widthOK {
            let v = UInt32(truncatingIfNeeded: value)
            emulateDIR(requester: requester, intid: v & 0x3FF, source: UInt8((v >> 10) & 7))
        }
        return (0, offset == GICC.dir, widthOK)
    }

    /// The VMM's view of vCPU `vcpu`'s `GICC_CTLR`, `PMR` (as
    /// GICH_VMCR.VMPriMask, KVM's ABI), `BPR`, `ABPR` and `APR0..3` (KVM's
    /// CPU_REGS; with 32 preemption levels APR1..3 are RAZ/WI), which live in
    /// the saved VMCR and active priorities while the vCPU is out, and the
    /// read-only `IIDR`.
    func vmmCPUInterfaceAccess(vcpu: Int, offset: UInt32, width: Int, write: Bool,
                               value: UInt64) -> (value: UInt64, found: Bool, widthOK: Bool) {
        guard version == .v2 else { return (0, false, false) }
        let widthOK = width == 4 && offset & 3 == 0
        var vmcr = vcpus[vcpu].vmcr
        var result: UInt64 = 0
        switch offset {
        case GICC.ctlr:
            if write {
                let v = VMCR(v2: UInt32(truncatingIfNeeded: value) & 0x21F)
                vmcr.enableGroup0 = v.enableGroup0
                vmcr.enableGroup1 = v.enableGroup1
                vmcr.ackCtl = v.ackCtl
                vmcr.fiqEn = v.fiqEn
                vmcr.cbpr = v.cbpr
                vmcr.eoiMode = v.eoiMode
            } else {
                result = UInt64(vmcr.v2 & 0x21F)
            }
        case GICC.pmr:
            // KVM's ABI: GICH_VMCR.VMPriMask, the mask's top 5 bits in bits [4:0].
            if write { vmcr.pmr = UInt8(truncatingIfNeeded: value & 0x1F) << 3 } else { result = UInt64(vmcr.pmr >> 3) }
        case GICC.bpr:
            if write { vmcr.bpr0 = max(UInt8(value & 7), 2) } else { result = UInt64(vmcr.bpr0) }
        case GICC.abpr:
            if write { vmcr.bpr1 = max(UInt8(value & 7), 3) } else { result = UInt64(vmcr.bpr1) }
        case GICC.apr0:
            if write { aprs[vcpu * 8] = UInt32(truncatingIfNeeded: value) } else {
                result = UInt64(aprs[vcpu * 8])
            }
        case GICC.apr0 + 4, GICC.apr0 + 8, GICC.apr0 + 12:
            // GICv2's virtual interface has 5 preemption bits: one APR.
            return (0, true, widthOK)
        case GICC.iidr:
            // Read-only: GICv2 architecture, implementer 0x43B (as the GICV frame).
            return (write ? 0 : gicvIIDR, true, widthOK)
        default:
            return (0, false, false)
        }
        if write {
            vcpus[vcpu].vmcr = vmcr
            vcpus[vcpu].cpuInterfaceDirty = true
        }
        return (result, true, widthOK)
    }
}
