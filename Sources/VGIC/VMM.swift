import GICArchitecture

extension VGIC {
    /// The VMM reads a register (KVM's device-attribute access): the virtual
    /// state only, with every vCPU out of the guest. GICv3's `ISPENDR`
    /// reports the pending latch alone and its `ICPENDR` reads 0 (KVM's
    /// uaccess); GICv2's `ISPENDR`/`ICPENDR` read the latch OR the line, as
    /// the hardware register does. `vcpu` names the vCPU whose banked
    /// registers are meant (GICv2 distributor, CPU interface); for a
    /// redistributor the region names it.
    public func vmmRead(region: VGICRegion, offset: UInt32, width: Int, vcpu: Int = 0) throws(VGICError) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        let r = try vmmCheck(region: region, width: width, vcpu: vcpu)
        let result = access(requester: r, region: region, offset: offset, width: width, write: false, value: 0,
                            accessor: .vmm)
        guard result.found else { throw .noSuchRegister(offset) }
        guard result.widthOK else { throw .invalidAccessWidth(width) }
        return result.value
    }

    /// The VMM writes a register: virtual state only, with KVM's uaccess
    /// semantics: GICv3 `ISPENDR` writes set or clear the pending latch
    /// (the line level is LEVEL_INFO's) and `ICPENDR` is RAZ/WI; GICv2
    /// `ISPENDR`/`ICPENDR` set/clear the latch; `ISACTIVER`/`ICACTIVER`
    /// change the virtual active state, mapped interrupts included (KVM
    /// drops those writes for mapped interrupts; a restore here gets the
    /// state it saved); `GICD_IIDR` selects a supported revision; `TYPER`s
    /// and other read-only registers ignore the write. The physical twin of a
    /// mapped interrupt is never touched.
    public func vmmWrite(region: VGICRegion, offset: UInt32, width: Int, value: UInt64, vcpu: Int = 0) throws(VGICError) {
        lock.lock()
        defer { lock.unlock() }
        let r = try vmmCheck(region: region, width: width, vcpu: vcpu)
        // Check first so that a refused access changes nothing.
        let probe = access(requester: r, region: region, offset: offset, width: width, write: false, value: 0,
                           accessor: .vmm)
        guard probe.found else { throw .noSuchRegister(offset) }
        guard probe.widthOK else { throw .invalidAccessWidth(width) }
        if region == .distributor && offset == GICD.iidr {
            // KVM's uaccess: the VMM selects the revision it expects.
            try vmmWriteIIDR(value)
            return
        }
        if region == .its {  // ITS hook: KVM's uaccess (ITSRegisters.swift)
            try vmmWriteITS(offset: offset, width: width, value: value)
            return
        }
        if region == .distributor && offset == GICD.typer2 && version == .v3 {
            // KVM's uaccess: only the value read (nASSGIcap cannot be enabled).
            if value != 0 { throw .register(.typer2Fixed) }
            return
        }
        _ = access(requester: r, region: region, offset: offset, width: width, write: true, value: value,
                   accessor: .vmm)
    }

    func vmmCheck(region: VGICRegion, width: Int, vcpu: Int) throws(VGICError) -> Int {
        guard width == 4 || width == 8 else { throw .invalidAccessWidth(width) }
        var requester = vcpu
        switch region {
        case .redistributor(let m):
            guard version == .v3 else { throw .noSuchRegister(0) }
            guard m >= 0 && m < vcpuCount else { throw .noSuchVCPU(m) }
            requester = m
        case .cpuInterface:
            guard version == .v2 else { throw .noSuchRegister(0) }
        case .its:
            guard its.present else { throw .its(.noITS) }  // ITS hook
        case .distributor:
            break
        }
        guard requester >= 0 && requester < vcpuCount else { throw .noSuchVCPU(requester) }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
        return requester
    }

    /// Reset the VMCR of a vCPU through the VMM (GICv3 ICC registers, for
    /// save/restore), with the vCPU out of the guest.
    public func vmmCPUInterface(vcpu: Int) throws(VGICError) -> VMCR {
        guard vcpu >= 0 && vcpu < vcpuCount else { throw .noSuchVCPU(vcpu) }
        lock.lock()
        defer { lock.unlock() }
        return vcpus[vcpu].vmcr
    }

    // MARK: GICD_IIDR

    /// The VMM's GICD_IIDR write: the same value as read, but for a Revision
    /// this vGIC implements.
    func vmmWriteIIDR(_ value: UInt64) throws(VGICError) {
        let current = implementerID & ~iidrRevisionMask | UInt32(iidrRevision) << 12
        let v = UInt32(truncatingIfNeeded: value)
        if value >> 32 != 0 || (v ^ current) & ~iidrRevisionMask != 0 { throw .register(.iidrFieldsReadOnly) }
        let revision = UInt8((v & iidrRevisionMask) >> 12)
        guard supportedIIDRRevisions.contains(revision) else { throw .register(.iidrRevisionNotSupported) }
        iidrRevision = revision
    }
}

/// `GICD_IIDR.Revision` values this vGIC implements (the guest-visible
/// behaviour each one stands for): revision 3 is the only one so far. A VMM
/// restoring a VM writes the IIDR it saved; a revision missing here means the
/// destination cannot behave as the source did, and the write is refused.
let supportedIIDRRevisions: [UInt8] = [3]
let latestIIDRRevision: UInt8 = 3
let iidrRevisionMask: UInt32 = 0xF000

/// `GICC_IIDR` as the VMM reads it (the GICV frame's value): architecture
/// version 2, implementer 0x43B.
let gicvIIDR: UInt64 = 0x0002_043B
