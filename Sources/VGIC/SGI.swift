import GICArchitecture

extension VGIC {
    /// A trapped write of a GICv3 CPU-interface system register:
    /// `ICC_SGI0R_EL1`, `ICC_SGI1R_EL1`, `ICC_ASGI1R_EL1` (SGI generation) and
    /// `ICC_DIR_EL1` (when the vGIC asked for DIR to trap). Other registers
    /// are the hardware's; a write of one here is ignored.
    public func guestSystemRegisterWrite(vcpu: Int, _ reg: CPUInterfaceRegister, _ value: UInt64) {
        guard vcpu >= 0 && vcpu < vcpuCount, version == .v3 else { return }
        lock.lock()
        defer { lock.unlock() }
        switch reg {
        case .sgi1r:
            generateSGIv3(requester: vcpu, SGIRequest(rawValue: value), group1Allowed: true)
        case .sgi0r, .asgi1r:
            // With one security state, ASGI1R has no "other" group to reach:
            // like SGI0R it raises only Group 0 SGIs.
            generateSGIv3(requester: vcpu, SGIRequest(rawValue: value), group1Allowed: false)
        case .dir:
            emulateDIR(requester: vcpu, intid: UInt32(truncatingIfNeeded: value) & 0xFF_FFFF, source: 0)
        default:
            return
        }
    }

    /// Whether emulating a trapped system-register write needs the other
    /// vCPUs out of the guest first: a DIR may deactivate an SPI that another
    /// vCPU's list register holds.
    public func systemRegisterNeedsOtherVCPUsStopped(_ reg: CPUInterfaceRegister) -> Bool {
        reg == .dir && vcpuCount > 1
    }

    /// `ICC_SGI*R_EL1`: the target list (Aff3.Aff2.Aff1 and 16 Aff0 values;
    /// RS is RES0) or, with IRM, every vCPU but the requester.
    func generateSGIv3(requester: Int, _ req: SGIRequest, group1Allowed: Bool) {
        let intid = req.intid
        if req.irm {
            for t in 0..<vcpuCount where t != requester {
                raiseSGIv3(t * 32 + Int(intid), group1Allowed: group1Allowed)
            }
            return
        }
        var list = req.targetList
        while list != 0 {
            let bit = list.trailingZeroBitCount
            list &= list - 1
            // RS is RES0 (ICC_CTLR_EL1.RSS and GICD_TYPER.RSS are 0: every
            // vCPU has Aff0 < 16), so a write ignores it: bit n names Aff0 = n.
            let aff = Affinity(aff0: UInt8(bit), aff1: req.aff1, aff2: req.aff2, aff3: req.aff3)
            guard let t = aff.vcpuIndex, t < vcpuCount else { continue }
            raiseSGIv3(t * 32 + Int(intid), group1Allowed: group1Allowed)
        }
    }

    @inline(__always)
    func raiseSGIv3(_ i: Int, group1Allowed: Bool) {
        // An access for Group 0 raises only Group 0 SGIs; one for Group 1 either.
        guard irqs[i].group == 0 || group1Allowed else { return }
        if irqs[i].pendingLatch && heldByRunningVCPU(i) { irqs[i].repended = true }
        irqs[i].pendingLatch = true
        queue(i)
    }

    /// `GICD_SGIR` (GICv2): the SGI becomes pending from the requester on each target.
    func generateSGIv2(requester: Int, value: UInt32) {
        let intid = GICDSGIR.intid(value)
        var targets: UInt8
        switch GICDSGIR.filter(value) {
        case GICDSGIR.filterList: targets = GICDSGIR.targets(value)
        case GICDSGIR.filterAllButSelf: targets = ~(1 << UInt8(requester))
        case GICDSGIR.filterSelf: targets = 1 << UInt8(requester)
        default: return
        }
        targets &= existingCPUMask
        while targets != 0 {
            let t = targets.trailingZeroBitCount
            targets &= targets - 1
            addSGISources(t * 32 + Int(intid), 1 << UInt8(requester))
        }
    }

    /// GICv2: SGI `i` becomes pending from the sources in `add`. When a
    /// running vCPU's list register holds it pending from one of them, the
    /// guest may have acknowledged that one since the flush: the sync must not
    /// consume this new SGI for it (KVM takes the source bit out at flush and
    /// puts it back at sync for the same reason).
    func addSGISources(_ i: Int, _ add: UInt8) {
        if heldByRunningVCPU(i) {
            let slot = slots[Int(irqs[i].apOwner) * 16 + Int(irqs[i].lr)]
            if slot.pending && add & (1 << slot.source) != 0 { irqs[i].repended = true }
        }
        irqs[i].sgiSources |= add
        queue(i)
    }

    /// An emulated DIR (trapped `ICC_DIR_EL1` or `GICV_DIR`): deactivate the
    /// interrupt wherever it is active, which may be on another vCPU than the
    /// requester (an SPI it acknowledged), including its physical twin.
    /// Ignored in EOImode 0, as the CPU interface ignores it.
    func emulateDIR(requester: Int, intid: UInt32, source: UInt8) {
        guard vcpus[requester].vmcr.eoiMode, intid < intidLimit else { return }
        let i = index(intid, vcpu: requester)
        guard irqs[i].active else { return }
        if version == .v2 && intid < 16 && irqs[i].activeSource != source { return }
        deactivate(i)
    }

    /// GICv2 CPU interface: the guest's trapped `GICV_DIR`; the VMM's view of
    /// `GICC_CTLR`, `PMR` (as GICH_VMCR.VMPriMask, KVM's ABI), `BPR`, `ABPR`
    /// and `APR0..3` (KVM's CPU_REGS; with 32 preemption levels APR1..3 are
    /// RAZ/WI), which live in the saved VMCR and active priorities while the
    /// vCPU is out, and the read-only `IIDR`.
    func cpuInterfaceAccess(requester: Int, offset: UInt32, width: Int, write: Bool, value: UInt64,
                            accessor: Accessor) -> (value: UInt64, found: Bool, widthOK: Bool) {
        guard version == .v2 else { return (0, false, false) }
        let widthOK = width == 4 && offset & 3 == 0
        if accessor == .guest {
            if offset == GICC.dir && write && widthOK {
                let v = UInt32(truncatingIfNeeded: value)
                emulateDIR(requester: requester, intid: v & 0x3FF, source: UInt8((v >> 10) & 7))
            }
            return (0, offset == GICC.dir, widthOK)
        }
        var vmcr = vcpus[requester].vmcr
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
            if write { aprs[requester * 8] = UInt32(truncatingIfNeeded: value) } else {
                result = UInt64(aprs[requester * 8])
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
            vcpus[requester].vmcr = vmcr
            vcpus[requester].cpuInterfaceDirty = true
        }
        return (result, true, widthOK)
    }
}
