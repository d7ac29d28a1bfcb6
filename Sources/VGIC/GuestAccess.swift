import GICArchitecture

// The guest's trapped accesses: distributor and redistributor frames, the
// GICv2 CPU interface's DIR page, and the GICv3 CPU-interface system
// registers that trap (SGI generation, DIR). An access that needs the other
// vCPUs out of the guest gets them out here, so that no caller can forget
// (KVM's vgic_access_active_prepare).

extension VGIC {
    // MARK: Memory-mapped frames

    /// A trapped guest read. `width` is in bytes. Accesses the architecture
    /// does not define read as zero.
    public func guestMMIORead(vcpu: Int, region: VGICRegion, offset: UInt32, width: Int) -> UInt64 {
        guard vcpu >= 0 && vcpu < vcpuCount else { return 0 }
        if case .distributor = region, width == 4, offset &- GICD.isenabler < 0x100, offset & 3 == 0 {
            // GICD_ISENABLER<n>/ICENABLER<n>, a guest's most frequent read:
            // one word of the enable mirror (what perIRQAccess would return).
            let first = (offset & 0x7F) * 8
            guard first < intidLimit, first >= 32 || version == .v2 else { return 0 }
            lock.lock()
            defer { lock.unlock() }
            return UInt64(enabledWords[index(first, vcpu: vcpu) >> 5])
        }
        if accessNeedsOtherVCPUsOut(region: region, offset: offset) {
            return withOtherVCPUsOut(vcpu) {
                access(requester: vcpu, region: region, offset: offset, width: width, write: false, value: 0,
                       accessor: .guest).value
            }
        }
        lock.lock()
        defer { lock.unlock() }
        return access(requester: vcpu, region: region, offset: offset, width: width, write: false, value: 0,
                      accessor: .guest).value
    }

    /// A trapped guest write. Writes the architecture does not define are ignored.
    public func guestMMIOWrite(vcpu: Int, region: VGICRegion, offset: UInt32, width: Int, value: UInt64) {
        guard vcpu >= 0 && vcpu < vcpuCount else { return }
        if accessNeedsOtherVCPUsOut(region: region, offset: offset) {
            withOtherVCPUsOut(vcpu) {
                _ = access(requester: vcpu, region: region, offset: offset, width: width, write: true,
                           value: value, accessor: .guest)
            }
            return
        }
        lock.lock()
        defer { lock.unlock() }
        _ = access(requester: vcpu, region: region, offset: offset, width: width, write: true, value: value,
                   accessor: .guest)
    }

    // MARK: CPU-interface system registers

    /// A trapped write of a GICv3 CPU-interface system register:
    /// `ICC_SGI0R_EL1`, `ICC_SGI1R_EL1`, `ICC_ASGI1R_EL1` (SGI generation) and
    /// `ICC_DIR_EL1` (when the vGIC asked for DIR to trap). Other registers
    /// are the hardware's; a write of one here is ignored.
    public func guestSystemRegisterWrite(vcpu: Int, _ reg: CPUInterfaceRegister, _ value: UInt64) {
        guard vcpu >= 0 && vcpu < vcpuCount, version == .v3 else { return }
        if reg == .dir {
            // A DIR may deactivate an SPI that another vCPU's list register holds.
            let intid = UInt32(truncatingIfNeeded: value) & 0xFF_FFFF
            if vcpuCount > 1 {
                withOtherVCPUsOut(vcpu) { emulateDIR(requester: vcpu, intid: intid, source: 0) }
            } else {
                lock.lock()
                emulateDIR(requester: vcpu, intid: intid, source: 0)
                lock.unlock()
            }
            return
        }
        lock.lock()
        defer { lock.unlock() }
        switch reg {
        case .sgi1r:
            generateSGIv3(requester: vcpu, SGIRequest(rawValue: value), group1Allowed: true)
        case .sgi0r, .asgi1r:
            // With one security state, ASGI1R has no "other" group to reach:
            // like SGI0R it raises only Group 0 SGIs.
            generateSGIv3(requester: vcpu, SGIRequest(rawValue: value), group1Allowed: false)
        default:
            return
        }
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
        deactivate(i, by: requester)
    }

    // MARK: The other vCPUs out of the guest

    /// Whether emulating this trapped access needs every other vCPU out of
    /// the guest first (KVM's halt-guest for active-state access): the
    /// pending and active registers, whose state a running vCPU's list
    /// registers may hold more recently than the vGIC does, and the GICv2
    /// DIR page.
    func accessNeedsOtherVCPUsOut(region: VGICRegion, offset: UInt32) -> Bool {
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

    /// Run `body` under the vGIC lock with every vCPU but `requester` out of
    /// the guest. On a platform that reaches every CPU's list registers (a
    /// hardware model) the vGIC folds the running ones itself and flushes
    /// them back afterwards; otherwise the platform stops them (each exits
    /// through `vcpuExit`) before the lock is taken -- lock (0) of the order
    /// at the top of VGIC.swift -- and lets them go after it is released.
    @inline(never)
    func withOtherVCPUsOut<R>(_ requester: Int, _ body: () -> R) -> R {
        let remote = platform.reachesEveryCPUsListRegisters
        if !remote { platform.stopOtherVCPUs(requester: requester) }
        lock.lock()
        if remote {
            for v in 0..<vcpuCount where v != requester && vcpus[v].inGuest {
                syncLocked(v)
                vcpus[v].foldedForAccess = true
            }
        }
        let result = body()
        if remote {
            for v in 0..<vcpuCount where vcpus[v].foldedForAccess {
                vcpus[v].foldedForAccess = false
                flushLocked(v)
            }
        }
        lock.unlock()
        if !remote { platform.resumeOtherVCPUs(requester: requester) }
        return result
    }
}
