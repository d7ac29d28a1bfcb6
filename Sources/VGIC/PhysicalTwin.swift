import GICArchitecture

// The physical twin of a hardware-mapped interrupt, its whole life in one
// place (docs/physical-twin.md draws it). No other file touches the
// physical interrupt state or the fields that track it.
//
// A mapped interrupt V (a PPI of one vCPU, or an SPI) has a twin P: a PPI on
// the physical CPU that runs V's vCPU, or a physical SPI. A list register
// holding V carries the HW bit and P's INTID, and the guest's deactivation
// of V deactivates P in hardware. The architecture allows that only while P
// is active, so the vGIC makes P active before V can be in a list register
// ("holds" P), and makes it inactive again when V no longer needs it
// ("releases" P). Who moves P:
//
//   device   raises P's line: P pending.
//   host     acknowledges P (P active) and reports it with
//            `hardwareInterruptTaken`: the vGIC now holds P; V is pending
//            (level: its line is high; edge: one edge).
//   guest    deactivates V through a HW list register: P inactive, without
//            an exit. Its ISPENDR/ICPENDR/ISACTIVER/ICACTIVER writes on V
//            reach P through the vGIC (the seed's rules below).
//   vGIC     holds P before V enters a list register; releases it when V is
//            neither pending nor active (at sync, after an emulated
//            deactivation, on unmap, restore or a vCPU reset).
//
// `physicalActiveHeld` is the vGIC's belief that P is active and that
// releasing it is the vGIC's job. While a running vCPU's HW list register
// holds V the guest may end P at any moment, so a release then waits for
// that vCPU's exit (`deferredPhysicalDeactivate`), and a host activation then
// is marked (`twinRetaken`) so that the exit does not mistake the guest's
// earlier deactivation for the end of the new activation.
//
// Level-sensitive mapped interrupts: the guest's acknowledge of a pending HW
// entry consumes the line (KVM's populate_lr clears line_level when it writes
// the entry; here it stays set while the entry is pending, so that the
// vGIC's own state says pending as long as the list register does); the
// device asserting again after the guest's deactivation raises P again and
// the host reports it. With an input-level reader (`levelFromPhysical`, KVM's
// get_input_level) the vGIC also samples the device's line at every sync and
// emulated deactivation, so that an interrupt whose device went quiet is not
// delivered again.

/// A physical twin found active while its virtual interrupt has no reason
/// to hold it (`firstLeakedTwin`).
public struct TwinLeak: Equatable, Sendable {
    /// The mapped interrupt's INTID.
    public var intid: UInt32
    /// The vCPU that owns it, for a PPI.
    public var vcpu: Int?
    /// Its twin's INTID.
    public var physicalINTID: UInt32
}

extension VGIC {
    // MARK: Mapping (the VMM)

    /// Make `intid` (a PPI of `vcpu`, or an SPI) a hardware-mapped interrupt
    /// whose physical twin is `physicalIntid` (a PPI on the physical CPU that
    /// runs `vcpu`, or a physical SPI). With `levelFromPhysical` the vGIC
    /// reads a level-sensitive interrupt's input from the twin's line
    /// (`VGICPlatform.physicalLineLevel`).
    public func map(_ intid: UInt32, vcpu: Int? = nil, physicalIntid: UInt32,
                    levelFromPhysical: Bool = false) throws(VGICError) {
        if intid < 16 && intid < intidLimit { throw .sgiCannotBeMapped(intid) }
        let i = try checkInjectable(intid, vcpu: vcpu)
        if intid < 32 ? !INTID.isPPI(physicalIntid) : !INTID.isSPI(physicalIntid) {
            throw .invalidPhysicalINTID(physicalIntid)
        }
        lock.lock()
        defer { lock.unlock() }
        if irqs[i].hw { throw .alreadyMapped(intid) }
        let cpu = intid < 32 ? physicalCPU(ofVCPU: vcpu ?? 0) : 0
        for j in 0..<irqs.count where irqs[j].hw && irqs[j].physicalINTID == physicalIntid
            && physicalTwinCPU(j) == cpu {
            throw .physicalTwinInUse(physicalIntid)
        }
        irqs[i].hw = true
        irqs[i].physicalINTID = physicalIntid
        irqs[i].levelFromPhysical = levelFromPhysical
        irqs[i].physicalActiveHeld = false
        irqs[i].deferredPhysicalDeactivate = false
        irqs[i].twinRetaken = false
        irqs[i].lineReported = false
        twinConfigured(i)
        if irqs[i].apOwner >= 0 { platform.kick(vcpu: Int(irqs[i].apOwner)) }
    }

    /// Undo `map`. A physical twin the vGIC holds active is released (at once,
    /// or when the vCPU holding the interrupt in a list register exits).
    public func unmap(_ intid: UInt32, vcpu: Int? = nil) throws(VGICError) {
        if intid < 16 && intid < intidLimit { throw .sgiCannotBeMapped(intid) }
        let i = try checkInjectable(intid, vcpu: vcpu)
        lock.lock()
        defer { lock.unlock() }
        if !irqs[i].hw { throw .notMapped(intid) }
        // A running HW list register still names the twin: its sync releases
        // it (syncTwin), whether or not the guest deactivates it first.
        if irqs[i].physicalActiveHeld && !heldByRunningVCPU(i) {
            platform.setPhysicalActive(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), false)
        }
        irqs[i].hw = false
        irqs[i].levelFromPhysical = false
        irqs[i].physicalActiveHeld = false
        irqs[i].deferredPhysicalDeactivate = false
        irqs[i].twinRetaken = false
        irqs[i].lineReported = false
        if irqs[i].apOwner >= 0 { platform.kick(vcpu: Int(irqs[i].apOwner)) }
    }

    // MARK: The host takes the twin

    /// The host acknowledged the physical twin of mapped interrupt `intid`
    /// (for a PPI, on the physical CPU that runs `vcpu`) and dropped its
    /// priority without deactivating it: the twin is active, and the vGIC
    /// holds it until the guest deactivates the virtual interrupt or it is
    /// released. Every call is one activation: an edge-triggered interrupt
    /// latches one edge (KVM latches every level-1 injection of an edge
    /// interrupt), a level-sensitive one has its line high.
    public func hardwareInterruptTaken(_ intid: UInt32, vcpu: Int? = nil) throws(VGICError) {
        let i = try checkInjectable(intid, vcpu: vcpu)
        lock.lock()
        defer { lock.unlock() }
        guard irqs[i].hw else { throw .notMapped(intid) }
        // Between the host's acknowledge and this report the vGIC may have
        // released the twin (another vCPU's ICACTIVER or ICPENDR): then the
        // activation is gone, and only the virtual interrupt's pending state
        // is left to report (the twin is held again when it enters a list
        // register).
        let inRunningHWEntry = heldByRunningVCPU(i) && slotOf(i).hw
        if inRunningHWEntry { irqs[i].lineReported = true }
        if platform.physicalActive(irqs[i].physicalINTID, cpu: physicalTwinCPU(i)) {
            if inRunningHWEntry { irqs[i].twinRetaken = true }
            irqs[i].physicalActiveHeld = true
            irqs[i].deferredPhysicalDeactivate = false
        }
        if irqs[i].edge {
            if irqs[i].pendingLatch && heldByRunningVCPU(i) { irqs[i].repended = true }
            irqs[i].pendingLatch = true
        } else {
            irqs[i].lineLevel = true
        }
        queue(i)
        // Not deliverable now (disabled, group off): the twin stays held, so
        // the device cannot interrupt the host again for it; enabling it
        // resamples (twinEnabled).
        if irqs[i].apOwner >= 0 { platform.kick(vcpu: Int(irqs[i].apOwner)) }
    }

    // MARK: Holding and releasing

    /// Physical CPU whose private interrupt is the twin of mapped interrupt
    /// `i` (SPIs: any; the platform ignores it).
    @inline(__always) func physicalTwinCPU(_ i: Int) -> Int {
        let o = irqs[i].privateOwner
        return o >= 0 ? physicalCPU(ofVCPU: Int(o)) : 0
    }

    /// What flush put in the list register that holds interrupt `i` now.
    @inline(__always) func slotOf(_ i: Int) -> LRSlot {
        slots[Int(irqs[i].apOwner) * 16 + Int(irqs[i].lr)]
    }

    /// Make the twin active (the guest may now deactivate it through a HW
    /// list register), unless the vGIC already holds it.
    func holdTwin(_ i: Int) {
        if !irqs[i].physicalActiveHeld {
            platform.setPhysicalActive(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), true)
            irqs[i].physicalActiveHeld = true
        }
        irqs[i].deferredPhysicalDeactivate = false
    }

    /// Make the twin inactive, unless a running vCPU's HW list register holds
    /// the interrupt: then the guest may still deactivate it through the HW
    /// bit, and the twin must stay active until that vCPU exits.
    func releaseTwin(_ i: Int) {
        if heldByRunningVCPU(i) {
            irqs[i].deferredPhysicalDeactivate = true
            platform.kick(vcpu: Int(irqs[i].apOwner))
            return
        }
        platform.setPhysicalActive(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), false)
        irqs[i].physicalActiveHeld = false
        irqs[i].deferredPhysicalDeactivate = false
    }

    /// Whether the virtual interrupt gives the twin a reason to be held:
    /// active, or pending by its latch or its (sampled) line.
    @inline(__always) func twinHasVirtualReason(_ i: Int) -> Bool {
        let s = irqs[i]
        return s.active || s.pendingLatch || (!s.edge && s.lineLevel)
    }

    /// The vGIC holds the twin only while the virtual interrupt is pending or
    /// active: once it is neither (the line dropped, the guest cleared it),
    /// the twin is released so that the device can interrupt again. A release
    /// asked for while a running vCPU held the interrupt happens now.
    func settleTwin(_ i: Int) {
        guard irqs[i].hw else { return }
        let idle = !irqs[i].active && !twinHasVirtualReason(i)
        if irqs[i].deferredPhysicalDeactivate || (irqs[i].physicalActiveHeld && idle) {
            if !irqs[i].active { releaseTwin(i) }
            irqs[i].deferredPhysicalDeactivate = false
        }
    }

    // MARK: List registers

    /// Flush puts mapped interrupt `i` in a list register: hold the twin first.
    func twinEntersListRegister(_ i: Int) {
        holdTwin(i)
    }

    /// Sync found list register `slot` (it had the HW bit) as the guest left
    /// it: acknowledged (it was pending, it is no more) or not, deactivated
    /// or not.
    func syncTwin(_ i: Int, slot: LRSlot, cpu: Int, acknowledged: Bool, deactivated: Bool) {
        let retaken = irqs[i].twinRetaken
        let reported = irqs[i].lineReported
        irqs[i].twinRetaken = false
        irqs[i].lineReported = false
        let sameTwin = irqs[i].hw && irqs[i].physicalINTID == slot.physicalINTID
        if !sameTwin {
            // Unmapped or remapped while a HW entry held it: release the old
            // twin, unless the guest's deactivation already did.
            if !deactivated { platform.setPhysicalActive(slot.physicalINTID, cpu: cpu, false) }
            return
        }
        if deactivated && !retaken {
            // The guest's deactivation deactivated the twin.
            irqs[i].physicalActiveHeld = false
            irqs[i].deferredPhysicalDeactivate = false
        }
        // The guest took the activation the line stood for; a report since
        // the flush is a new one.
        if acknowledged && !irqs[i].edge && !reported { irqs[i].lineLevel = false }
        resampleLine(i)
        settleTwin(i)
    }

    // MARK: Input levels

    /// The input level of interrupt `i` as a guest read of ISPENDR shows it:
    /// the device's line for mapped level-sensitive interrupts that have a
    /// reader, the line as the vGIC knows it otherwise.
    @inline(__always) func inputLevel(_ i: Int) -> Bool {
        if irqs[i].hw && irqs[i].levelFromPhysical {
            return platform.physicalLineLevel(irqs[i].physicalINTID, cpu: physicalTwinCPU(i))
        }
        return irqs[i].lineLevel
    }

    /// An edge (or a level) the device raised while the vGIC holds the twin
    /// active waits at the physical level, behind that activation: for the
    /// guest's ISPENDR it is the virtual interrupt's pending state, as a GIC
    /// shows an edge that came while the interrupt was active. (The host
    /// reports it once the guest's deactivation lets the twin be taken.)
    @inline(__always) func pendingBehindHeldTwin(_ i: Int) -> Bool {
        irqs[i].hw && irqs[i].physicalActiveHeld
            && platform.physicalPending(irqs[i].physicalINTID, cpu: physicalTwinCPU(i))
    }

    /// Sample the device's line of a mapped level-sensitive interrupt that
    /// has a reader.
    @inline(__always) func resampleLine(_ i: Int) {
        guard irqs[i].hw && irqs[i].levelFromPhysical && !irqs[i].edge else { return }
        irqs[i].lineLevel = platform.physicalLineLevel(irqs[i].physicalINTID, cpu: physicalTwinCPU(i))
    }

    /// The guest enabled mapped interrupt `i` (ISENABLER; KVM's
    /// vgic_mmio_write_senable): the device may have changed while it was
    /// disabled (a timer fired, then was turned off; a driver serviced its
    /// device by polling). Sample its line -- from the reader, or else from
    /// the twin's pending state, KVM's fallback -- and release the twin if
    /// the line dropped, so that the device can interrupt again.
    func twinEnabled(_ i: Int) {
        guard irqs[i].hw && !irqs[i].edge else { return }
        let wasHigh = irqs[i].lineLevel
        irqs[i].lineLevel = irqs[i].levelFromPhysical
            ? platform.physicalLineLevel(irqs[i].physicalINTID, cpu: physicalTwinCPU(i))
            : platform.physicalPending(irqs[i].physicalINTID, cpu: physicalTwinCPU(i))
        if wasHigh && !irqs[i].lineLevel && irqs[i].physicalActiveHeld && !irqs[i].active
            && !irqs[i].pendingLatch {
            releaseTwin(i)
        }
    }

    // MARK: The twin's trigger

    /// A mapped SPI's twin gets the trigger of the virtual interrupt
    /// (GICD_ICFGR, written by the guest or the VMM; at map and restore): a
    /// level-sensitive twin would be pending again after every deactivation
    /// while its device holds the line high, and each such activation would
    /// reach an edge-triggered virtual interrupt as one more edge. With an
    /// edge-triggered twin only a new edge of the line makes it pending. (A
    /// PPI's trigger is fixed.) A twin held for a level line that the guest
    /// makes edge-triggered has no reason left (a level is no edge): it is
    /// released, or the device could never interrupt again.
    func twinConfigured(_ i: Int) {
        guard irqs[i].hw && irqs[i].intid >= 32 else { return }
        platform.setPhysicalEdgeTriggered(irqs[i].physicalINTID, irqs[i].edge)
        settleTwin(i)
    }

    // MARK: The guest's distributor writes on a mapped interrupt (the seed)

    /// GICD_ISPENDR: the guest may deactivate the virtual interrupt through
    /// the HW bit once it is pending, so the twin must be active.
    func twinSetPending(_ i: Int) {
        holdTwin(i)
    }

    /// GICD_ICPENDR: the device must not raise it again behind the guest's
    /// back (the twin's pending state is cleared), and a SPENDR/CPENDR pair
    /// must not leave the twin masked by an active state nothing will clear.
    func twinClearPending(_ i: Int) {
        platform.setPhysicalPending(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), false)
        if !irqs[i].active { releaseTwin(i) }
    }

    /// GICD_ISACTIVER / ICACTIVER: the twin follows. A PPI's twin is the one
    /// on the physical CPU of the owning vCPU, whichever vCPU wrote (KVM
    /// gives up on a PPI written from another vCPU; the platform reaches
    /// every CPU's private interrupts).
    func twinSetActive(_ i: Int, _ active: Bool) {
        if active { holdTwin(i) } else { twinVirtuallyDeactivated(i) }
    }

    /// The virtual interrupt was deactivated other than through its own HW
    /// list register (an emulated DIR, an EOIcount, ICACTIVER, a reset):
    /// release the twin and sample the device's line again.
    func twinVirtuallyDeactivated(_ i: Int) {
        if irqs[i].physicalActiveHeld || heldByRunningVCPU(i) { releaseTwin(i) }
        resampleLine(i)
    }

    // MARK: Resets and restores

    /// A PE reset of vCPU `vcpu` (PSCI CPU_ON after CPU_OFF): its mapped
    /// private interrupts are inactive, not pending, their lines low and
    /// their twins released (KVM's kvm_vgic_reset_mapped_irq). A device still
    /// asserting raises the twin again.
    func resetMappedPrivateInterrupts(vcpu: Int) {
        for id in 16..<32 {
            let i = vcpu * 32 + id
            guard irqs[i].hw else { continue }
            irqs[i].active = false
            irqs[i].acknowledged = false
            irqs[i].pendingLatch = false
            irqs[i].lineLevel = false
            if irqs[i].physicalActiveHeld {
                platform.setPhysicalActive(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), false)
                irqs[i].physicalActiveHeld = false
            }
            irqs[i].deferredPhysicalDeactivate = false
            irqs[i].twinRetaken = false
            irqs[i].lineReported = false
            queue(i)
        }
    }

    /// Before a restore: every twin the vGIC holds is released (mappings
    /// are the VMM's and survive; a twin is held again when its interrupt
    /// next enters a list register).
    func releaseAllTwins() {
        for i in 0..<irqs.count where irqs[i].hw && irqs[i].physicalActiveHeld {
            platform.setPhysicalActive(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), false)
            irqs[i].physicalActiveHeld = false
            irqs[i].deferredPhysicalDeactivate = false
            irqs[i].twinRetaken = false
            irqs[i].lineReported = false
        }
    }

    /// A restore replaces an interrupt's state: the mapping, which is the
    /// VMM's and not the snapshot's, carries over from `old` into `new`.
    func keepMapping(of old: IRQState, in new: inout IRQState) {
        new.hw = old.hw
        new.physicalINTID = old.physicalINTID
        new.levelFromPhysical = old.levelFromPhysical
    }

    // MARK: Audit

    /// The first mapped interrupt whose twin is active while the virtual
    /// interrupt has no reason to hold it (neither active nor pending by its
    /// latch, its sampled line or its device's line), or nil. Every vCPU must
    /// be out of the guest (a running one may be deactivating a twin), or
    /// nil is returned without looking. The platform is asked for the twin's
    /// state on the physical CPU of each mapped PPI's vCPU.
    public func firstLeakedTwin() -> TwinLeak? {
        lock.lock()
        defer { lock.unlock() }
        for v in 0..<vcpuCount where vcpus[v].inGuest { return nil }
        for i in 0..<irqs.count where irqs[i].hw {
            let s = irqs[i]
            guard platform.physicalActive(s.physicalINTID, cpu: physicalTwinCPU(i)) else { continue }
            if twinHasVirtualReason(i) || (!s.edge && inputLevel(i)) { continue }
            return TwinLeak(intid: s.intid, vcpu: s.privateOwner >= 0 ? Int(s.privateOwner) : nil,
                            physicalINTID: s.physicalINTID)
        }
        return nil
    }
}
