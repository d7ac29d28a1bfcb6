import GICArchitecture

// Register access, shared by the guest's trapped accesses (GuestAccess.swift)
// and the VMM's (VMM.swift): find the register map row, check the width,
// run the row's handler. A row names a handler for the guest and one for
// the VMM (KVM's uaccess handlers); most rows name the same one.

/// Who is accessing a register: the guest on a vCPU (architectural
/// behaviour, including the physical side of mapped interrupts), or the VMM
/// saving and restoring state (KVM's uaccess: virtual state only). It only
/// chooses the row's handler.
enum Accessor {
    case guest
    case vmm
}

/// IIDR: implementer Arm-compatible JEP106 0x43B, revision 3, product 'V'.
let implementerID: UInt32 = 0x5600_343B

extension VGIC {
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
            let b = Int(offset >> 7)
            if b < distributorBlocks.count {
                let k = Int(distributorBlocks[b])
                if k != 0 { return (distributorRows[k - 1], offset, -1) }
            }
            return (version == .v3 ? row(distributorMapV3, offset) : row(distributorMapV2, offset), offset, -1)
        case .redistributor(let m):
            guard version == .v3, m >= 0, m < vcpuCount, offset < GICR.frameSize else { return (nil, offset, m) }
            if offset >= GICR.sgiBase {
                let o = offset - GICR.sgiBase
                return (row(sgiFrameMapV3, sgiFrameBlocksV3, o), o, m)
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

    /// The row for `offset`, decoded by its 128-byte block where one row
    /// covers the block (`blockIndex`), else found by search.
    @inline(__always)
    func row(_ map: [RegisterRange], _ blocks: [UInt8], _ offset: UInt32) -> RegisterRange? {
        let b = Int(offset >> 7)
        if b < blocks.count {
            let k = Int(blocks[b])
            if k != 0 { return map[k - 1] }
        }
        return row(map, offset)
    }

    /// One register access. `found` is false when no register is there;
    /// `widthOK` false when the width or alignment is not one the register
    /// takes (the access was RAZ/WI).
    func access(requester: Int, region: VGICRegion, offset: UInt32, width: Int, write: Bool, value: UInt64,
                accessor: Accessor) -> (value: UInt64, found: Bool, widthOK: Bool) {
        if case .cpuInterface = region {
            if accessor == .guest {
                return guestCPUInterfaceAccess(requester: requester, offset: offset, width: width, write: write,
                                               value: value)
            }
            return vmmCPUInterfaceAccess(vcpu: requester, offset: offset, width: width, write: write, value: value)
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
        let kind = accessor == .guest ? r.kind : r.vmmKind
        if r.bitsPerIRQ != 0 {
            return (perIRQAccess(r, kind, offset: off, width: width, owner: owner, requester: requester,
                                 frameIsRedistributor: frameOwner >= 0, write: write, value: value), true, true)
        }
        return (registerAccess(kind, offset: off, width: width, owner: owner, requester: requester,
                               write: write, value: value), true, true)
    }

    // MARK: Whole registers

    func registerAccess(_ kind: RegisterKind, offset: UInt32, width: Int, owner: Int, requester: Int, write: Bool,
                        value: UInt64) -> UInt64 {
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
                let sleep = value & UInt64(GICR.wakerProcessorSleep) != 0
                guard sleep != vcpus[owner].processorSleep else { return 0 }
                vcpus[owner].processorSleep = sleep
                if sleep {
                    // Pending interrupts stop being forwarded to it: a
                    // running vCPU exits, and its sync moves them off; those
                    // of a vCPU that is out move off now.
                    if vcpus[owner].inGuest {
                        platform.kick(vcpu: owner)
                    } else {
                        var j = vcpus[owner].apHead
                        while j >= 0 {
                            let next = irqs[Int(j)].apNext
                            queue(Int(j))
                            j = next
                        }
                    }
                } else {
                    // Awake: what waited in the distributor for it comes.
                    for i in 0..<irqs.count where irqs[i].routedVCPU == Int32(owner) || irqs[i].oneOfN {
                        queue(i)
                    }
                }
                requeueOneOfN()
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

    func perIRQAccess(_ r: RegisterRange, _ kind: RegisterKind, offset: UInt32, width: Int, owner: Int,
                      requester: Int, frameIsRedistributor: Bool, write: Bool, value: UInt64) -> UInt64 {
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
        if !write && width == 4 && (kind == .setEnable || kind == .clearEnable || kind == .userSetEnable) {
            // One word of enables: the mirror has it as the register lays it out.
            guard first < intidLimit, first >= 32 || version == .v2 || frameIsRedistributor else { return 0 }
            return UInt64(enabledWords[index(first, vcpu: owner) >> 5])
        }
        let fieldMask: UInt64 = bits == 64 ? ~0 : (1 << UInt64(bits)) - 1
        if write && kind.zeroBitsAreIgnored {
            writeOneBits(kind, first: first, count: count, owner: owner, requester: requester,
                         frameIsRedistributor: frameIsRedistributor, value: value)
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
                writeField(kind, i, field: field, requester: requester)
            } else {
                result |= readField(kind, i) << shift
            }
        }
        return result
    }

    /// A write to a set/clear register (one bit per INTID), where a 0 bit
    /// does nothing: only the 1 bits are visited, in ascending order, as
    /// the field-by-field loop would. A guest masking or unmasking one
    /// interrupt writes a single bit.
    func writeOneBits(_ kind: RegisterKind, first: UInt32, count: UInt32, owner: Int, requester: Int,
                      frameIsRedistributor: Bool, value: UInt64) {
        var ones = count >= 64 ? value : value & ((1 << UInt64(count)) - 1)
        while ones != 0 {
            let intid = first + UInt32(ones.trailingZeroBitCount)
            ones &= ones - 1
            guard intid < intidLimit else { return }
            if intid < 32 && version == .v3 && !frameIsRedistributor { continue }
            writeField(kind, index(intid, vcpu: owner), field: 1, requester: requester)
        }
    }

    @inline(__always)
    func readField(_ kind: RegisterKind, _ i: Int) -> UInt64 {
        let s = irqs[i]
        switch kind {
        case .group:
            return UInt64(s.group)
        case .setEnable, .clearEnable, .userSetEnable:
            return s.enabled ? 1 : 0
        case .setPending, .clearPending:
            if version == .v2 && s.intid < 16 { return s.sgiSources != 0 ? 1 : 0 }
            return s.pendingLatch || (!s.edge && inputLevel(i)) || pendingBehindHeldTwin(i) ? 1 : 0
        case .userSetPending, .userClearPending:
            if version == .v2 && s.intid < 16 { return s.sgiSources != 0 ? 1 : 0 }
            return s.pendingLatch || (!s.edge && inputLevel(i)) ? 1 : 0
        case .userPendingLatch:
            // KVM's GICv3 uaccess: ISPENDR is the latch alone.
            return s.pendingLatch ? 1 : 0
        case .setActive, .clearActive, .userSetActive, .userClearActive:
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

    func writeField(_ kind: RegisterKind, _ i: Int, field: UInt64, requester: Int) {
        let intid = irqs[i].intid
        switch kind {
        case .group:
            irqs[i].group = UInt8(field & 1)
            queue(i)
        case .setEnable:
            guard field != 0 else { return }
            setEnabled(i, true)
            if irqs[i].hw { twinEnabled(i) }
            queue(i)
        case .userSetEnable:
            guard field != 0 else { return }
            setEnabled(i, true)
            queue(i)
        case .clearEnable:
            guard field != 0 else { return }
            setEnabled(i, false)
            queue(i)
        case .setPending:
            guard field != 0 else { return }
            // GICv2 SGIs: pending state is per source, set through SPENDSGIR.
            if version == .v2 && intid < 16 { return }
            if irqs[i].hw { twinSetPending(i) }
            latchPending(i)
        case .userSetPending:
            guard field != 0, !(version == .v2 && intid < 16) else { return }
            latchPending(i)
        case .userPendingLatch:
            // KVM's uaccess on GICv3: the latch takes the bit written, set or
            // clear, whatever the configuration (so that a VMM can restore it
            // before ICFGR). Nothing physical is touched.
            let set = field != 0
            guard set != irqs[i].pendingLatch else { return }
            irqs[i].pendingLatch = set
            irqs[i].repended = false
            queue(i)
        case .clearPending, .userClearPending:
            guard field != 0, !(version == .v2 && intid < 16) else { return }
            irqs[i].pendingLatch = false
            irqs[i].repended = false
            if kind == .clearPending && irqs[i].hw { twinClearPending(i) }
            queue(i)
        case .setActive, .userSetActive:
            guard field != 0 else { return }
            if version == .v2 && intid < 16 && !irqs[i].active {
                // The source of a GICv2 SGI is not architecturally visible:
                // the VMM's write makes it CPU 0's, as KVM does.
                irqs[i].activeSource = kind == .userSetActive ? 0 : UInt8(requester)
            }
            irqs[i].active = true
            if heldByRunningVCPU(i) { irqs[i].activeOverridden = true }
            if kind == .setActive && irqs[i].hw { twinSetActive(i, true) }
            queue(i)
        case .clearActive:
            guard field != 0, irqs[i].active else { return }
            deactivate(i, by: requester)
        case .userClearActive:
            guard field != 0 else { return }
            irqs[i].active = false
            irqs[i].acknowledged = false
            queue(i)
        case .priority:
            irqs[i].priority = UInt8(field) & priorityMask
            if irqs[i].apOwner >= 0 { platform.kick(vcpu: Int(irqs[i].apOwner)) }
        case .configuration:
            // SGIs are edge-triggered and PPIs level-sensitive, read-only.
            guard intid >= 32 else { return }
            let edge = field & 2 != 0
            if edge != irqs[i].edge {
                irqs[i].edge = edge
                twinConfigured(i)
            }
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
            if heldByRunningVCPU(i) && remove & (1 << slotOf(i).source) != 0 {
                irqs[i].repended = false
            }
            queue(i)
        default:
            return
        }
    }

    /// Set the pending latch of `i` (a new edge, a pending write): if a
    /// running vCPU's list register holds it pending, the guest acknowledging
    /// that entry does not consume this one.
    @inline(__always) func latchPending(_ i: Int) {
        if irqs[i].pendingLatch && heldByRunningVCPU(i) { irqs[i].repended = true }
        irqs[i].pendingLatch = true
        queue(i)
    }

    /// GICv2: one bit per vCPU that exists.
    var existingCPUMask: UInt8 { UInt8(truncatingIfNeeded: (1 << vcpuCount) - 1) }
}
