import GICArchitecture

/// Who is accessing a register: the guest on a vCPU (architectural
/// behaviour, including the physical side of mapped interrupts), or the VMM
/// saving and restoring state (KVM's uaccess: virtual state only).
enum Accessor {
    case guest
    case vmm
}

/// IIDR: implementer Arm-compatible JEP106 0x43B, revision 3, product 'V'.
let implementerID: UInt32 = 0x5600_343B

extension VGIC {
    // MARK: Guest entry points (trapped accesses)

    /// A trapped guest read. `width` is in bytes. Accesses the architecture
    /// does not define read as zero.
    public func guestMMIORead(vcpu: Int, region: VGICRegion, offset: UInt32, width: Int) -> UInt64 {
        guard vcpu >= 0 && vcpu < vcpuCount else { return 0 }
        lock.lock()
        defer { lock.unlock() }
        return access(requester: vcpu, region: region, offset: offset, width: width, write: false, value: 0,
                      accessor: .guest).value
    }

    /// A trapped guest write. Writes the architecture does not define are ignored.
    public func guestMMIOWrite(vcpu: Int, region: VGICRegion, offset: UInt32, width: Int, value: UInt64) {
        guard vcpu >= 0 && vcpu < vcpuCount else { return }
        lock.lock()
        defer { lock.unlock() }
        _ = access(requester: vcpu, region: region, offset: offset, width: width, write: true, value: value,
                   accessor: .guest)
    }

    /// Whether emulating this trapped access needs every other vCPU out of
    /// the guest first (KVM's halt-guest for active-state access): the
    /// pending and active registers, whose state a running vCPU's list
    /// registers may hold more recently than the vGIC does.
    public func accessNeedsOtherVCPUsStopped(region: VGICRegion, offset: UInt32) -> Bool {
        if vcpuCount == 1 { return false }
        var off = offset
        switch region {
        case .cpuInterface:
            return off == GICC.dir
        case .redistributor:
            guard off >= GICR.sgiBase else { return false }
            off -= GICR.sgiBase
        case .distributor:
            if version == .v2 && off >= GICD.cpendsgir && off < GICD.spendsgir + 0x10 { return true }
        case .its:
            // ITS hook: commands reach running vCPUs by kicks, as SPI changes do.
            return false
        }
        return off >= GICD.ispendr && off < GICD.icactiver + 0x80
    }

    // MARK: Dispatch

    /// Find the register map row for an access. Returns the row (nil: no
    /// register), the offset within the frame, and the vCPU whose private
    /// interrupts the frame holds (-1: requester's, for GICv2 banking).
    /// The row is returned by value, not the map: handing a global map
    /// array out retained and released it on every access.
    @inline(__always)
    func locate(region: VGICRegion, offset: UInt32) -> (range: RegisterRange?, offset: UInt32, owner: Int) {
        switch region {
        case .distributor:
            return (version == .v3 ? row(distributorMapV3, offset) : row(distributorMapV2, offset), offset, -1)
        case .redistributor(let m):
            guard version == .v3, m >= 0, m < vcpuCount, offset < GICR.frameSize else { return (nil, offset, m) }
            if offset >= GICR.sgiBase {
                let o = offset - GICR.sgiBase
                return (row(sgiFrameMapV3, o), o, m)
            }
            return (row(redistributorMapV3, offset), offset, m)
        case .cpuInterface, .its:
            return (nil, offset, -1)
        }
    }

    @inline(__always)
    func row(_ map: [RegisterRange], _ offset: UInt32) -> RegisterRange? {
        let i = findRegister(map, offset)
        return i >= 0 ? map[i] : nil
    }

    /// One register access. `found` is false when no register is there;
    /// `widthOK` false when the width or alignment is not one the register
    /// takes (the access was RAZ/WI).
    func access(requester: Int, region: VGICRegion, offset: UInt32, width: Int, write: Bool, value: UInt64,
                accessor: Accessor) -> (value: UInt64, found: Bool, widthOK: Bool) {
        if case .cpuInterface = region {
            return cpuInterfaceAccess(requester: requester, offset: offset, width: width, write: write,
                                      value: value, accessor: accessor)
        }
        if case .its = region {  // ITS hook (ITSRegisters.swift)
            return itsAccess(offset: offset, width: width, write: write, value: value, accessor: accessor)
        }
        let (range, off, frameOwner) = locate(region: region, offset: offset)
        guard let r = range else { return (0, false, false) }
        guard width == 1 || width == 2 || width == 4 || width == 8,
              r.widths & UInt8(width) != 0, off & UInt32(width - 1) == 0 else {
            return (0, true, false)
        }
        let owner = frameOwner >= 0 ? frameOwner : requester
        if r.bitsPerIRQ != 0 {
            return (perIRQAccess(r, offset: off, width: width, owner: owner, requester: requester,
                                 frameIsRedistributor: frameOwner >= 0, write: write, value: value,
                                 accessor: accessor), true, true)
        }
        return (registerAccess(r.kind, offset: off, width: width, owner: owner, requester: requester,
                               write: write, value: value, accessor: accessor), true, true)
    }

    // MARK: Whole registers

    func registerAccess(_ kind: RegisterKind, offset: UInt32, width: Int, owner: Int, requester: Int, write: Bool,
                        value: UInt64, accessor: Accessor) -> UInt64 {
        switch kind {
        case .raz:
            return 0
        case .redistributorControl:
            // EnableLPIs (LPI.swift; RES0 without an ITS), nothing ever in
            // progress (RWP, UWP 0). CES reads 1, as on QEMU's GICv3 and
            // KVM's (revision 3): a guest may compare it (the differential
            // fuzzer did).
            return UInt64(GICR.ctlrCES | lpiControl(owner: owner, write: write, value: value))
        case .distributorControl:
            if write {
                let g0 = value & UInt64(GICD.ctlrEnableGrp0) != 0
                let g1 = value & UInt64(GICD.ctlrEnableGrp1) != 0
                if g0 != distributorGroup0 || g1 != distributorGroup1 {
                    distributorGroup0 = g0
                    distributorGroup1 = g1
                    for i in 0..<irqs.count { queue(i) }
                }
                return 0
            }
            var v: UInt32 = 0
            if distributorGroup0 { v |= GICD.ctlrEnableGrp0 }
            if distributorGroup1 { v |= GICD.ctlrEnableGrp1 }
            if version == .v3 { v |= GICD.ctlrARE | GICD.ctlrDS }
            return UInt64(v)
        case .distributorType:
            guard !write else { return 0 }
            var v = UInt32(intidLimit + 31) / 32 - 1
            if version == .v3 {
                // IDbits: 10 INTID bits. CPUNumber only counts PEs without
                // affinity routing, which this distributor never runs (as KVM).
                v |= 9 << 19
                // LPI hook: with an ITS, LPIS and 16 INTID bits.
                if hasLPIs { v = v & ~(0x1F << GICD.typerIDbitsShift) | lpiDistributorTypeBits }
            } else {
                v |= UInt32(vcpuCount - 1) << 5
            }
            return UInt64(v)
        case .distributorType2:
            return 0
        case .implementer:
            // The VMM's GICD_IIDR writes select the revision (vmmWrite).
            return write ? 0 : UInt64(implementerID & ~iidrRevisionMask | UInt32(iidrRevision) << 12)
        case .peripheralID2:
            return write ? 0 : (version == .v3 ? 0x3B : 0x2B)
        case .redistributorType:
            guard !write else { return 0 }
            let aff = Affinity(vcpuIndex: owner)
            var v = UInt64(aff.packed) << GICR.typerAffinityShift
            v |= UInt64(owner) << GICR.typerProcessorNumberShift
            // Last: the last frame of a contiguous run of redistributor regions.
            if redistributorLast[owner] { v |= GICR.typerLast }
            v |= lpiRedistributorTypeBits  // LPI hook: PLPIS
            return width == 8 ? v : (offset & 4 != 0 ? v >> 32 : v & 0xFFFF_FFFF)
        case .waker:
            if write {
                vcpus[owner].processorSleep = value & UInt64(GICR.wakerProcessorSleep) != 0
                return 0
            }
            return vcpus[owner].processorSleep ? UInt64(GICR.wakerProcessorSleep | GICR.wakerChildrenAsleep) : 0
        case .softwareInterrupt:
            if write { generateSGIv2(requester: requester, value: UInt32(truncatingIfNeeded: value)) }
            return 0
        case .lpiPropertyBase, .lpiPendingBase, .lpiInvalidate, .lpiInvalidateAll, .lpiSync:
            return lpiRegisterAccess(kind, offset: offset, width: width, owner: owner, write: write, value: value)
        default:
            return 0
        }
    }

    // MARK: Per-interrupt registers

    func perIRQAccess(_ r: RegisterRange, offset: UInt32, width: Int, owner: Int, requester: Int,
                      frameIsRedistributor: Bool, write: Bool, value: UInt64, accessor: Accessor) -> UInt64 {
        let bits = UInt32(r.bitsPerIRQ)
        // IROUTER: one 64-bit register per INTID, taking 32-bit halves too.
        if r.kind == .router {
            let intid = (offset - r.start) / 8
            guard intid >= 32 && intid < intidLimit else { return 0 }
            let i = spiIndex(intid)
            let upper = width == 4 && offset & 4 != 0
            if write {
                var route = irqs[i].route
                if width == 8 { route = value } else if upper {
                    route = route & 0xFFFF_FFFF | (value & 0xFFFF_FFFF) << 32
                } else {
                    route = route & ~0xFFFF_FFFF | value & 0xFFFF_FFFF
                }
                irqs[i].route = route & (0xFF_0000_0000 | irouterIRM | 0xFF_FFFF)
                updateRouting(i)
                queue(i)
                return 0
            }
            let route = irqs[i].route
            return width == 8 ? route : (upper ? route >> 32 : route & 0xFFFF_FFFF)
        }
        let first = (offset - r.start) * 8 / bits
        let count = UInt32(width) * 8 / bits
        let fieldMask: UInt64 = bits == 64 ? ~0 : (1 << UInt64(bits)) - 1
        // A VMM write of GICv3 ISPENDR sets or clears the latch bit by bit
        // (KVM's uaccess): its 0 bits count.
        if write && r.kind.zeroBitsAreIgnored && !(accessor == .vmm && version == .v3 && r.kind == .setPending) {
            writeOneBits(r.kind, first: first, count: count, owner: owner, requester: requester,
                         frameIsRedistributor: frameIsRedistributor, value: value, accessor: accessor)
            return 0
        }
        var result: UInt64 = 0
        var k: UInt32 = 0
        while k < count {
            let intid = first + k
            let shift = UInt64(k * bits)
            k += 1
            guard intid < intidLimit else { continue }
            // GICv3 with affinity routing: the distributor's private-interrupt
            // fields are RAZ/WI; the redistributor has them.
            if intid < 32 && version == .v3 && !frameIsRedistributor { continue }
            let i = index(intid, vcpu: owner)
            if write {
                let field = (value >> shift) & fieldMask
                writeField(r.kind, i, field: field, requester: requester, accessor: accessor)
            } else {
                result |= readField(r.kind, i, requester: requester, accessor: accessor) << shift
            }
        }
        return result
    }

    /// A write to a set/clear register (one bit per INTID), where a 0 bit
    /// does nothing: only the 1 bits are visited, in ascending order, as
    /// the field-by-field loop would. A guest masking or unmasking one
    /// interrupt writes a single bit.
    func writeOneBits(_ kind: RegisterKind, first: UInt32, count: UInt32, owner: Int, requester: Int,
                      frameIsRedistributor: Bool, value: UInt64, accessor: Accessor) {
        var ones = count >= 64 ? value : value & ((1 << UInt64(count)) - 1)
        while ones != 0 {
            let intid = first + UInt32(ones.trailingZeroBitCount)
            ones &= ones - 1
            guard intid < intidLimit else { return }
            if intid < 32 && version == .v3 && !frameIsRedistributor { continue }
            writeField(kind, index(intid, vcpu: owner), field: 1, requester: requester, accessor: accessor)
        }
    }

    @inline(__always)
    func readField(_ kind: RegisterKind, _ i: Int, requester: Int, accessor: Accessor) -> UInt64 {
        let s = irqs[i]
        switch kind {
        case .group:
            return UInt64(s.group)
        case .setEnable, .clearEnable:
            return s.enabled ? 1 : 0
        case .setPending, .clearPending:
            if version == .v2 && s.intid < 16 { return s.sgiSources != 0 ? 1 : 0 }
            // KVM's GICv3 VMM accessors: ISPENDR is the latch, ICPENDR RAZ/WI.
            // Its GICv2 ones read the register as the hardware does.
            if accessor == .vmm && version == .v3 { return kind == .setPending && s.pendingLatch ? 1 : 0 }
            return s.pendingLatch || (!s.edge && currentLineLevel(i)) ? 1 : 0
        case .setActive, .clearActive:
            return s.active ? 1 : 0
        case .priority:
            return UInt64(s.priority)
        case .configuration:
            return s.edge ? 2 : 0
        case .targets:
            if s.intid < 32 { return 1 << UInt64(s.privateOwner) }
            return UInt64(s.targets)
        case .setPendingSGI, .clearPendingSGI:
            return UInt64(s.sgiSources)
        default:
            return 0
        }
    }

    func writeField(_ kind: RegisterKind, _ i: Int, field: UInt64, requester: Int, accessor: Accessor) {
        let intid = irqs[i].intid
        switch kind {
        case .group:
            irqs[i].group = UInt8(field & 1)
            queue(i)
        case .setEnable:
            guard field != 0 else { return }
            irqs[i].enabled = true
            if irqs[i].hw && irqs[i].levelFromPhysical && !irqs[i].edge && accessor == .guest {
                // As KVM's vgic_mmio_write_senable: the device may have changed
                // while the interrupt was disabled (a timer fired, then was
                // turned off): resample its line, and release the physical
                // twin if the line dropped, so that it can fire again.
                let wasHigh = irqs[i].lineLevel
                irqs[i].lineLevel = currentLineLevel(i)
                if wasHigh && !irqs[i].lineLevel && !irqs[i].active && !heldByRunningVCPU(i) {
                    platform.setPhysicalActive(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), false)
                    irqs[i].physicalActiveHeld = false
                }
            }
            queue(i)
        case .clearEnable:
            guard field != 0 else { return }
            irqs[i].enabled = false
            queue(i)
        case .setPending:
            if accessor == .vmm && version == .v3 {
                // KVM's uaccess on GICv3: the latch takes the bit written, set
                // or clear, whatever the configuration (so that a VMM can
                // restore it before ICFGR). Nothing physical is touched.
                let set = field != 0
                guard set != irqs[i].pendingLatch else { return }
                irqs[i].pendingLatch = set
                irqs[i].repended = false
                queue(i)
                return
            }
            guard field != 0 else { return }
            // GICv2 SGIs: pending state is per source, set through SPENDSGIR.
            if version == .v2 && intid < 16 { return }
            if irqs[i].hw && accessor == .guest {
                // The guest may deactivate the virtual interrupt through the HW
                // bit once it is pending: the physical twin must be active.
                holdPhysicalActive(i)
            }
            if irqs[i].pendingLatch && heldByRunningVCPU(i) { irqs[i].repended = true }
            irqs[i].pendingLatch = true
            queue(i)
        case .clearPending:
            guard field != 0, accessor == .guest || version == .v2 else { return }
            if version == .v2 && intid < 16 { return }
            irqs[i].pendingLatch = false
            irqs[i].repended = false
            if irqs[i].hw && accessor == .guest {
                // The device must not raise it again behind the guest's back,
                // and a SPENDR/CPENDR pair must not leave the physical twin
                // masked by an active state nothing will clear.
                platform.setPhysicalPending(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), false)
                if !irqs[i].active {
                    if heldByRunningVCPU(i) {
                        irqs[i].deferredPhysicalDeactivate = true
                    } else {
                        platform.setPhysicalActive(irqs[i].physicalINTID, cpu: physicalTwinCPU(i), false)
                        irqs[i].physicalActiveHeld = false
                    }
                }
            }
            queue(i)
        case .setActive:
            guard field != 0 else { return }
            if version == .v2 && intid < 16 && !irqs[i].active {
                // The source of a GICv2 SGI is not architecturally visible:
                // the VMM's write makes it CPU 0's, as KVM does.
                irqs[i].activeSource = accessor == .vmm ? 0 : UInt8(requester)
            }
            irqs[i].active = true
            if heldByRunningVCPU(i) { irqs[i].activeOverridden = true }
            if irqs[i].hw && accessor == .guest { holdPhysicalActive(i) }
            queue(i)
        case .clearActive:
            guard field != 0 else { return }
            irqs[i].active = false
            irqs[i].acknowledged = false
            if heldByRunningVCPU(i) { irqs[i].activeOverridden = true }
            if irqs[i].hw && accessor == .guest { releasePhysicalActive(i) }
            queue(i)
        case .priority:
            irqs[i].priority = UInt8(field) & priorityMask
            if irqs[i].apOwner >= 0 { platform.kick(vcpu: Int(irqs[i].apOwner)) }
        case .configuration:
            // SGIs are edge-triggered and PPIs level-sensitive, read-only.
            guard intid >= 32 else { return }
            irqs[i].edge = field & 2 != 0
            queue(i)
        case .targets:
            guard intid >= 32 else { return }
            irqs[i].targets = UInt8(field) & existingCPUMask
            updateRouting(i)
            queue(i)
        case .setPendingSGI:
            let add = UInt8(field) & existingCPUMask
            guard add != 0 else { return }
            addSGISources(i, add)
        case .clearPendingSGI:
            let remove = UInt8(field)
            guard remove != 0 else { return }
            irqs[i].sgiSources &= ~remove
            if heldByRunningVCPU(i) && remove & (1 << slots[Int(irqs[i].apOwner) * 16 + Int(irqs[i].lr)].source) != 0 {
                irqs[i].repended = false
            }
            queue(i)
        default:
            return
        }
    }

    /// GICv2: one bit per vCPU that exists.
    var existingCPUMask: UInt8 { UInt8(truncatingIfNeeded: (1 << vcpuCount) - 1) }
}
