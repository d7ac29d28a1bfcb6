import GICArchitecture

// Telling the VMM when the guest has deactivated a level-sensitive
// interrupt, so that it can resample the line of the device it emulates or
// forwards (KVM's irqfd resample, kvm_notify_acked_irq). Allocation-free:
// each vCPU has a bitmap of the INTIDs whose deactivation it saw, which the
// VMM drains after that vCPU's exits.
//
// A deactivation is recorded where the vGIC learns of it: the guest's own
// (a list register at sync, an EOIcount, an emulated DIR, an ICACTIVER
// write) and for a PPI always in the bitmap of the vCPU that owns it, so that
// (vCPU, INTID) names it. The guest deactivates an interrupt the vGIC put
// in a list register without exiting; the vGIC sets the list register's EOI
// bit for such interrupts (but for HW ones, whose list registers have none),
// so that the deactivation exits at once.

extension VGIC {
    /// Words of 64 INTIDs in one vCPU's deactivation record.
    @inline(__always) var deactivationWords: Int { (Int(intidLimit) + 63) / 64 }

    /// Ask to hear of the guest's deactivations of level-sensitive
    /// interrupt `intid` (a PPI of `vcpu`, or an SPI), or stop hearing of
    /// them. SGIs have no line to resample and are refused.
    public func setDeactivationNotification(_ intid: UInt32, vcpu: Int? = nil, _ enabled: Bool) throws(VGICError) {
        let i = try checkInjectable(intid, vcpu: vcpu)
        lock.lock()
        defer { lock.unlock() }
        irqs[i].notifyDeactivation = enabled
        // A running vCPU holding it needs the EOI bit in its list register.
        if irqs[i].apOwner >= 0 { platform.kick(vcpu: Int(irqs[i].apOwner)) }
    }

    /// Call `body` with each INTID whose deactivation vCPU `vcpu`'s record
    /// holds (PPIs: that vCPU's own), in ascending order, and empty the
    /// record. `body` runs without the vGIC lock: it may call the vGIC (for
    /// example `setLine` to resample the line). A deactivation recorded while
    /// it runs is delivered by the next call. Nothing is allocated.
    public func takeDeactivations(vcpu: Int, _ body: (UInt32) -> Void) {
        guard vcpu >= 0 && vcpu < vcpuCount else { return }
        while true {
            lock.lock()
            let words = vcpus[vcpu].deactivatedWords
            guard words != 0 else {
                lock.unlock()
                return
            }
            let w = words.trailingZeroBitCount
            vcpus[vcpu].deactivatedWords &= ~(1 << UInt32(w))
            let slot = vcpu * deactivationWords + w
            var bits = deactivated[slot]
            deactivated[slot] = 0
            lock.unlock()
            while bits != 0 {
                let b = bits.trailingZeroBitCount
                bits &= bits - 1
                body(UInt32(w * 64 + b))
            }
        }
    }

    /// Note that the guest deactivated interrupt `i`, seen on vCPU `v`.
    func recordDeactivation(_ i: Int, by v: Int) {
        let owner = irqs[i].privateOwner >= 0 ? Int(irqs[i].privateOwner) : v
        let intid = Int(irqs[i].intid)
        deactivated[owner * deactivationWords + intid / 64] |= 1 << UInt64(intid % 64)
        vcpus[owner].deactivatedWords |= 1 << UInt32(intid / 64)
    }
}
