import GICArchitecture

// Flush and sync: moving interrupt state between the vGIC and a vCPU's list
// registers (KVM's vgic_flush_lr_state / vgic_fold_lr_state).
//
// Flush writes the best `lrCount` interrupts of the vCPU's ap_list, in this
// order of need:
//
//   class 0  pending (possibly also active) in a group the vCPU has enabled
//   class 1  active and not pending: only its deactivation is left to track
//   class 2  pending in a group the vCPU has disabled
//
// then by priority and INTID. What does not fit is tracked by maintenance
// interrupts: NP and U (room for the pending queue), LRENP (EOIs of active
// interrupts that have no list register arrive as EOIcount), VGrpNE (a
// disabled group with waiting interrupts gets enabled), and ICH_HCR.TDIR so
// that a DIR the hardware cannot match is emulated.
//
// Sync never copies a list register over the vGIC's state: it applies only
// what the guest did since the flush (acknowledged: pending → active;
// deactivated: active → inactive), so that changes the vGIC made meanwhile
// (another vCPU's ICPENDR, a new edge) survive.

extension VGIC {
    /// Enter the guest on vCPU `vcpu`: load its CPU interface if needed and
    /// flush its pending and active interrupts into the list registers.
    public func vcpuEnter(_ vcpu: Int) {
        guard vcpu >= 0 && vcpu < vcpuCount else { return }
        lock.lock()
        defer { lock.unlock() }
        if vcpus[vcpu].inGuest { syncLocked(vcpu) }
        flushLocked(vcpu)
    }

    /// Leave the guest on vCPU `vcpu`: fold the list registers back into the
    /// vGIC's state and save the CPU interface.
    public func vcpuExit(_ vcpu: Int) {
        guard vcpu >= 0 && vcpu < vcpuCount else { return }
        lock.lock()
        defer { lock.unlock() }
        syncLocked(vcpu)
    }

    /// Sort key: class (bits 41:40), then priority (39:32), then INTID
    /// (31:8); bit 0 carries the group, so that what is left out is known
    /// from its key. An interrupt that is active and pending ranks as
    /// active: the CPU interface cannot signal it again before it is
    /// deactivated, so its pending state is not deliverable yet.
    @inline(__always)
    func flushKey(_ s: IRQState, forwarded pendingHere: Bool, _ vmcr: VMCR) -> UInt64 {
        let groupOn = s.group == 0 ? vmcr.enableGroup0 : vmcr.enableGroup1
        let cls: UInt64 = s.active ? 1 : (pendingHere ? (groupOn ? 0 : 2) : 1)
        return cls << 40 | UInt64(s.priority) << 32 | UInt64(s.intid & 0xFF_FFFF) << 8 | UInt64(s.group & 1)
    }

    func flushLocked(_ v: Int) {
        let cpu = physicalCPU(ofVCPU: v)
        if vcpus[v].cpuInterfaceDirty {
            loadCPUInterface(v)
        }
        let vmcr = vcpus[v].vmcr
        var n = 0
        // Bit class * 2 + group: an entry of that class and group was left
        // out of the list registers (class 0 deliverable pending, 1 active,
        // 2 pending in a group the vCPU has disabled).
        var leftOut: UInt32 = 0

        // Select the best lrCount entries by insertion into a sorted scratch
        // list. What the loop does not change is read once.
        let me = Int32(v)
        let asleep = vcpus[v].processorSleep
        let v2 = version == .v2
        let forwarding = (distributorGroup0, distributorGroup1)
        // Once `lrCount` entries are chosen: the last one's key, and its class
        // and priority alone (an entry of a worse class or priority is left
        // out without building its key).
        var worstChosen = UInt64.max
        var worstCoarse = UInt64.max
        var i = vcpus[v].apHead
        while i >= 0 {
            let idx = Int(i)
            let s = UnsafePointer(irqs.base + idx)
            let next = s.pointee.apNext
            let active = s.pointee.active
            let group = s.pointee.group & 1
            // forwarded(s), with the distributor's enables read once.
            let fwd = s.pointee.enabled && s.pointee.pending(v2SGIs: v2) && (group == 0 ? forwarding.0 : forwarding.1)
            // Whether the target oracle says here: an active interrupt stays
            // on this list; a forwarded one belongs here when routed here.
            let here = active || (fwd && (s.pointee.oneOfN ? oneOfNTarget(idx) == me : s.pointee.routedVCPU == me && !asleep))
            if !here {
                let t = target(of: s.pointee, idx, forwarded: fwd)
                apRemove(idx)
                if t >= 0 {
                    apInsert(idx, vcpu: t)
                    platform.kick(vcpu: Int(t))
                } else {
                    releaseLPIIfIdle(idx)  // LPI hook
                }
                i = next
                continue
            }
            // flushKey: class, priority, INTID, group. Class 1 is active (a
            // listed interrupt neither active nor forwarded has left above).
            let cls: UInt64 = active ? 1 : ((group == 0 ? vmcr.enableGroup0 : vmcr.enableGroup1) ? 0 : 2)
            let coarse = cls << 8 | UInt64(s.pointee.priority)
            if coarse > worstCoarse {
                // Worse than every chosen entry: left out (an active LPI
                // loses its active state, as below).
                if cls == 1 && idx >= lpiBase {
                    dropActiveLPI(idx)
                    if irqs[idx].pendingLatch { leftOut |= 1 << 1 }
                } else {
                    leftOut |= 1 << UInt32(truncatingIfNeeded: cls * 2 + UInt64(group))
                }
                i = next
                continue
            }
            let key = coarse << 32 | UInt64(s.pointee.intid & 0xFF_FFFF) << 8 | UInt64(group)
            assert(key == flushKey(s.pointee, forwarded: fwd, vmcr))
            var left = Int32(-1)
            var leftKey = key
            if n < lrCount {
                insertChosen(i, key: key, count: n)
                n += 1
            } else if key < worstChosen {
                left = chosen[n - 1]
                leftKey = worstChosen
                insertChosen(i, key: key, count: n - 1)
            } else {
                left = i
            }
            if n == lrCount {
                worstChosen = chosenKeys[n - 1]
                worstCoarse = worstChosen >> 32
            }
            if left >= 0 && Int(left) >= lpiBase && leftKey >> 40 == 1 && irqs[Int(left)].active {
                // LPI hook: an LPI has no active state outside the CPU
                // interface. One left without a list register is done for
                // the vGIC: the guest's EOI of it only drops the priority
                // (the architecture counts no EOIcount for it), and if it
                // is pending again it waits for room (NP).
                dropActiveLPI(Int(left))
                if irqs[Int(left)].pendingLatch { leftOut |= 1 << 1 }  // pending, group 1 (LPIs are)
                left = -1
            }
            if left >= 0 {
                // The key computed when it was chosen: nothing changed since.
                leftOut |= 1 << UInt32(truncatingIfNeeded: (leftKey >> 40) * 2 + (leftKey & 1))
            }
            i = next
        }

        // Groups with a deliverable pending entry in a list register.
        var pendingIn: (UInt8, UInt8) = (0, 0)
        for k in 0..<n {
            let idx = Int(chosen[k])
            let (lr, source, activeInLR) = makeListRegister(idx)
            if irqs[idx].active && !activeInLR { leftOut |= 1 << 2 }
            if chosenKeys[k] >> 40 == 0 { if lr.group == 0 { pendingIn.0 = 1 } else { pendingIn.1 = 1 } }
            let raw = version == .v3 ? ICH_LR.encode(lr) : UInt64(GICH_LR.encode(lr))
            platform.writeLR(cpu: cpu, k, raw)
            slots[v * 16 + k] = LRSlot(irq: Int32(idx), pending: lr.state.isPending, active: lr.state.isActive,
                                       hw: lr.hw, physicalINTID: lr.pINTID, source: source)
            irqs[idx].lr = Int8(k)
        }
        vcpus[v].lrsUsed = n

        var hcr = HCR(rawValue: HCR.en)
        let pendingLeft = (leftOut & 1 != 0, leftOut & 2 != 0)
        let activeLeft = leftOut & 0b1100 != 0
        let disabledLeft = (leftOut & 0b1_0000 != 0, leftOut & 0b10_0000 != 0)
        if pendingLeft.0 || pendingLeft.1 {
            hcr.set(HCR.npie, true)
            if lrCount >= 2 { hcr.set(HCR.uie, true) }
        }
        if activeLeft { hcr.set(HCR.lrenpie, true) }
        if disabledLeft.0 && !vmcr.enableGroup0 { hcr.set(HCR.vgrp0eie, true) }
        if disabledLeft.1 && !vmcr.enableGroup1 { hcr.set(HCR.vgrp1eie, true) }
        // A group whose pending entries fill list registers while the other
        // group's deliverable interrupts wait: if the guest disables it, its
        // entries can no longer be taken (NP and U do not fire: they are
        // still pending), so the vCPU must exit and flush the other group's.
        if pendingIn.0 != 0 && pendingLeft.1 { hcr.set(HCR.vgrp0die, true) }
        if pendingIn.1 != 0 && pendingLeft.0 { hcr.set(HCR.vgrp1die, true) }
        // DIR must be emulated when the hardware could not match it: an
        // interrupt active without a list register here, or an SPI that
        // another vCPU acknowledged (the guest may deactivate it from here).
        // Not only in EOImode 1 as last seen: the guest can set EOImode and
        // issue a DIR without exiting in between.
        let trapDIR = activeLeft || vcpuCount > 1
        if trapDIR && version == .v3 { hcr.set(HCR.tdir, true) }
        vcpus[v].dirTraps = trapDIR
        platform.writeHCR(cpu: cpu, hcr.rawValue)
        vcpus[v].inGuest = true
    }

    @inline(__always)
    func insertChosen(_ i: Int32, key: UInt64, count: Int) {
        var p = count
        while p > 0 && chosenKeys[p - 1] > key {
            chosen[p] = chosen[p - 1]
            chosenKeys[p] = chosenKeys[p - 1]
            p -= 1
        }
        chosen[p] = i
        chosenKeys[p] = key
    }

    /// The list register for interrupt `i`, the SGI source it carries (GICv2),
    /// and whether it carries the active state.
    func makeListRegister(_ i: Int) -> (ListRegister, UInt8, Bool) {
        let s = irqs[i]
        var pending = s.enabled && isPending(i) && groupEnabledAtDistributor(s.group)
            && !vcpus[Int(s.apOwner)].processorSleep
        var active = s.active
        var lr = ListRegister(vINTID: s.intid, state: .invalid, group: s.group, priority: s.priority)
        var source: UInt8 = 0
        // An SPI re-routed while active: its pending state is the new target's
        // once this vCPU deactivates it, so it is not pending here; the EOI
        // maintenance interrupt (not available with HW) says when to hand it over.
        let handOver = active && pending && s.privateOwner < 0 && s.routedVCPU != s.apOwner
        if handOver {
            pending = false
            if !s.hw { lr.eoi = true }
        }
        if s.hw {
            // The pending state of a HW interrupt that is active is kept at the
            // physical level: a HW entry is never pending and active.
            if active { pending = false }
            lr.hw = true
            lr.pINTID = s.physicalINTID
            twinEntersListRegister(i)
        } else if version == .v2 && s.intid < 16 {
            if pending {
                let activeSourcePending = s.active && s.sgiSources & (1 << s.activeSource) != 0
                source = activeSourcePending ? s.activeSource : UInt8(s.sgiSources.trailingZeroBitCount)
                if s.active && !activeSourcePending { active = false }
                // Another source waits: come back when the guest is done with this one.
                if s.sgiSources & ~(1 << source) != 0 { lr.eoi = true }
            } else {
                source = s.activeSource
            }
            lr.sourceCPU = source
        } else if !s.edge {
            // Level-sensitive: its line is resampled when the guest
            // deactivates it, so the deactivation must exit (EOI maintenance).
            // Never pending and active in one entry: the guest would take it
            // again from the list register even if the line dropped while it
            // ran (KVM never writes P+A for interrupts it resamples).
            if active && pending { pending = false }
            if pending || (active && isPending(i)) || s.notifyDeactivation { lr.eoi = true }
        }
        lr.state = ListRegisterState(pending: pending, active: active)
        return (lr, source, active)
    }

    func syncLocked(_ v: Int) {
        guard vcpus[v].inGuest else { return }
        let cpu = physicalCPU(ofVCPU: v)
        vcpus[v].inGuest = false
        var eoiCount = HCR(rawValue: platform.readHCR(cpu: cpu)).eoiCount
        platform.writeHCR(cpu: cpu, 0)

        var represented = 0
        let used = vcpus[v].lrsUsed
        for k in 0..<used {
            let slot = slots[v * 16 + k]
            let raw = platform.readLR(cpu: cpu, k)
            platform.writeLR(cpu: cpu, k, 0)
            slots[v * 16 + k] = LRSlot()
            chosen[k] = slot.irq
            guard slot.irq >= 0 else { continue }
            let i = Int(slot.irq)
            let state = version == .v3 ? ICH_LR.state(of: raw) : GICH_LR.state(of: UInt32(truncatingIfNeeded: raw))
            let acked = slot.pending && !state.isPending
            let deactivated = (slot.active || acked) && !state.isActive
            if slot.active || acked {
                representedScratch[represented] = slot.irq
                represented += 1
            }
            if acked {
                if version == .v2 && irqs[i].intid < 16 {
                    // The acknowledge consumed this source, unless it sent the SGI again since.
                    if !irqs[i].repended { irqs[i].sgiSources &= ~(1 << slot.source) }
                    irqs[i].activeSource = slot.source
                } else if irqs[i].repended {
                    irqs[i].repended = false
                } else {
                    irqs[i].pendingLatch = false
                }
                if !irqs[i].activeOverridden {
                    irqs[i].active = true
                    irqs[i].acknowledged = true
                }
            }
            if deactivated {
                if !irqs[i].activeOverridden {
                    irqs[i].active = false
                    irqs[i].acknowledged = false
                }
                if irqs[i].notifyDeactivation { recordDeactivation(i, by: v) }
            }
            irqs[i].lr = -1
            irqs[i].repended = false
            irqs[i].activeOverridden = false
            if slot.hw {
                syncTwin(i, slot: slot, cpu: cpu, acknowledged: acked, deactivated: deactivated)
            }
        }
        vcpus[v].lrsUsed = 0

        // EOIs the hardware could not match to a list register: in EOImode 0
        // each one dropped the highest active priority and deactivated the
        // interrupt the guest acknowledged at it -- the highest-priority
        // interrupt acknowledged here and still active without a list
        // register. Interrupts made active by register writes are not
        // candidates (an EOI there would deactivate one the guest never
        // took); only when no acknowledged one is left (a state restored
        // through the register interface, which cannot say what was
        // acknowledged) does any active interrupt stand in.
        //
        // With EOImode 1 throughout the run an EOI only drops a priority
        // (QEMU's virtual interface counts it anyway when no list register
        // matches) and every deactivation is a DIR, which the vGIC traps
        // whenever a list register could be missing: the count says nothing.
        let splitAtEntry = vcpus[v].vmcr.eoiMode
        let enablesAtEntry = (vcpus[v].vmcr.enableGroup0, vcpus[v].vmcr.enableGroup1)
        vcpus[v].vmcr = version == .v3 ? VMCR(v3: platform.readVMCR(cpu: cpu))
            : VMCR(v2: UInt32(truncatingIfNeeded: platform.readVMCR(cpu: cpu)))
        if enablesAtEntry != (vcpus[v].vmcr.enableGroup0, vcpus[v].vmcr.enableGroup1) {
            requeueOneOfN()
        }
        if splitAtEntry && vcpus[v].vmcr.eoiMode { eoiCount = 0 }
        while eoiCount > 0 {
            eoiCount -= 1
            var best = unmatchedEOITarget(v, represented: represented, acknowledgedOnly: true)
            if best < 0 { best = unmatchedEOITarget(v, represented: represented, acknowledgedOnly: false) }
            guard best >= 0 else { break }
            deactivate(Int(best), by: v)
        }

        for r in 0..<apRegisters {
            aprs[v * 8 + r] = platform.readAPR(cpu: cpu, group: 0, index: r)
            if version == .v3 { aprs[v * 8 + 4 + r] = platform.readAPR(cpu: cpu, group: 1, index: r) }
        }

        // Prune: interrupts that no longer belong here move or leave. Only
        // those the list registers held can be out of place: every change to
        // another one went through queue(), which moved it then (a change to
        // one in a running vCPU's list register only kicked that vCPU).
        for k in 0..<used {
            let j = Int(chosen[k])
            guard j >= 0, irqs[j].apOwner == Int32(v) else { continue }
            let t = targetOracle(j)
            if t != Int32(v) {
                apRemove(j)
                if t >= 0 {
                    apInsert(j, vcpu: t)
                    platform.kick(vcpu: Int(t))
                } else {
                    releaseLPIIfIdle(j)  // LPI hook
                }
            }
        }
    }

    /// The highest-priority interrupt on vCPU `v`'s list that is active, not
    /// among the first `represented` entries of `representedScratch`, and
    /// (with `acknowledgedOnly`) acknowledged by the guest; -1 if none.
    func unmatchedEOITarget(_ v: Int, represented: Int, acknowledgedOnly: Bool) -> Int32 {
        var best = Int32(-1)
        var bestKey = UInt32.max
        var j = vcpus[v].apHead
        while j >= 0 {
            let s = irqs[Int(j)]
            // LPI hook: an LPI's EOI is never counted in EOIcount.
            if s.active && (s.acknowledged || !acknowledgedOnly) && Int(j) < lpiBase {
                var isRepresented = false
                for r in 0..<represented where representedScratch[r] == j { isRepresented = true }
                let key = UInt32(s.priority) << 10 | s.intid
                if !isRepresented && key < bestKey {
                    best = j
                    bestKey = key
                }
            }
            j = s.apNext
        }
        return best
    }

    /// Deactivate interrupt `i` on the guest's behalf (an EOIcount, an
    /// emulated DIR, ICACTIVER) as the CPU interface `by` would: the virtual
    /// active state and, for a mapped interrupt, the physical twin's; a level
    /// interrupt's line is sampled again.
    func deactivate(_ i: Int, by v: Int) {
        irqs[i].active = false
        irqs[i].acknowledged = false
        if heldByRunningVCPU(i) { irqs[i].activeOverridden = true }
        if version == .v2 && irqs[i].intid < 16 { irqs[i].activeSource = 0 }
        if irqs[i].hw { twinVirtuallyDeactivated(i) }
        if irqs[i].notifyDeactivation { recordDeactivation(i, by: v) }
        queue(i)
    }

    /// Pending 1-of-N SPIs go where the target oracle says now (a vCPU's
    /// participation changed: its group enables, its redistributor's sleep).
    func requeueOneOfN() {
        guard version == .v3 else { return }
        for i in vcpuCount * 32..<irqs.count where irqs[i].oneOfN && irqs[i].lr < 0 {
            queue(i)
        }
    }

    /// Write the saved VMCR and active priorities into the hardware.
    func loadCPUInterface(_ v: Int) {
        let cpu = physicalCPU(ofVCPU: v)
        let vmcr = vcpus[v].vmcr
        platform.writeVMCR(cpu: cpu, version == .v3 ? vmcr.v3 : UInt64(vmcr.v2))
        for r in 0..<apRegisters {
            platform.writeAPR(cpu: cpu, group: 0, index: r, aprs[v * 8 + r])
            if version == .v3 { platform.writeAPR(cpu: cpu, group: 1, index: r, aprs[v * 8 + 4 + r]) }
        }
        vcpus[v].cpuInterfaceDirty = false
    }
}
