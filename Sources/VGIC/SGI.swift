import GICArchitecture

// SGI generation: GICv3's ICC_SGI0R/SGI1R/ASGI1R_EL1 (trapped) and GICv2's
// GICD_SGIR with per-source pending state.

extension VGIC {
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
}
