import GICArchitecture

// Where the guest finds the vGIC's frames, and the trapped accesses
// dispatched by guest physical address (a hypervisor's data-abort handler
// calls these with the faulting IPA).

/// A place in the vGIC's register frames.
public struct VGICLocation: Equatable, Sendable {
    public var region: VGICRegion
    public var offset: UInt32

    public init(region: VGICRegion, offset: UInt32) {
        self.region = region
        self.offset = offset
    }
}

/// Where the guest finds the vGIC's frames in its physical address space.
public struct VGICAddressMap: Equatable, Sendable {
    /// `GICD_*`: 64 KiB (GICv3) or 4 KiB (GICv2).
    public internal(set) var distributorBase: UInt64?
    /// GICv2 `GICC_*` (the guest's GICV frame): 8 KiB.
    public internal(set) var cpuInterfaceBase: UInt64?
    /// GICv3 redistributor regions, in index order.
    public internal(set) var redistributorRegions: [RedistributorRegion] = []
    /// The regions came from `setRedistributorBase` (KVM's
    /// `KVM_VGIC_V3_ADDR_TYPE_REDIST`): one region of every vCPU.
    public internal(set) var singleRedistributorBase = false
    /// The ITS (`GITS_*`, 128 KiB), GICv3 (ITS hook).
    public internal(set) var itsBase: UInt64?

    public init() {}

    /// Redistributor frames available.
    public var redistributorCapacity: Int {
        var n = 0
        for r in redistributorRegions { n += r.count }
        return n
    }

    /// The frame and offset of a guest physical address, or nil when no
    /// frame of the vGIC is there (including the frames of a redistributor
    /// region beyond the last vCPU).
    func locate(_ address: UInt64, version: GICVersion, vcpuCount: Int) -> VGICLocation? {
        if let d = distributorBase {
            let size = UInt64(version == .v3 ? GICD.sizeV3 : GICD.sizeV2)
            if address >= d && address - d < size {
                return VGICLocation(region: .distributor, offset: UInt32(address - d))
            }
        }
        if let t = itsBase, address >= t && address - t < UInt64(GITS.frameSize) {
            return VGICLocation(region: .its, offset: UInt32(address - t))
        }
        if version == .v2 {
            if let c = cpuInterfaceBase, address >= c && address - c < UInt64(GICC.size) {
                return VGICLocation(region: .cpuInterface, offset: UInt32(address - c))
            }
            return nil
        }
        var first = 0
        for r in redistributorRegions {
            if address >= r.base && address - r.base < r.size {
                let frame = Int((address - r.base) / UInt64(GICR.frameSize))
                let v = first + frame
                guard v < vcpuCount else { return nil }
                return VGICLocation(region: .redistributor(v),
                                    offset: UInt32((address - r.base) % UInt64(GICR.frameSize)))
            }
            first += r.count
        }
        return nil
    }

    /// The guest physical address of a frame (the inverse of `locate`), or
    /// nil when the frame has no address.
    func address(of region: VGICRegion) -> UInt64? {
        switch region {
        case .distributor:
            return distributorBase
        case .cpuInterface:
            return cpuInterfaceBase
        case .its:
            return itsBase
        case .redistributor(let v):
            var first = 0
            for r in redistributorRegions {
                if v >= first && v < first + r.count {
                    return r.base + UInt64(v - first) * UInt64(GICR.frameSize)
                }
                first += r.count
            }
            return nil
        }
    }

    /// `GICR_TYPER.Last` per vCPU (KVM's vgic_mmio_vcpu_rdist_is_last): the
    /// last redistributor a region holds, unless the region is full and
    /// another region that holds redistributors starts where it ends. With
    /// no regions, the last vCPU's.
    func redistributorLastFlags(vcpuCount: Int) -> [Bool] {
        var last = [Bool](repeating: false, count: vcpuCount)
        if redistributorRegions.isEmpty {
            if vcpuCount > 0 { last[vcpuCount - 1] = true }
            return last
        }
        // Redistributors used in each region.
        var used = [Int](repeating: 0, count: redistributorRegions.count)
        var left = vcpuCount
        for (k, r) in redistributorRegions.enumerated() {
            used[k] = min(r.count, left)
            left -= used[k]
        }
        var first = 0
        for (k, r) in redistributorRegions.enumerated() {
            if used[k] > 0 {
                var isLast = true
                if used[k] == r.count {
                    for (j, s) in redistributorRegions.enumerated() where s.base == r.end && used[j] > 0 {
                        isLast = false
                    }
                }
                last[first + used[k] - 1] = isLast
            }
            first += used[k]
        }
        return last
    }
}

extension VGIC {
    // MARK: Address-based dispatch of trapped accesses

    /// The frame and offset of a guest physical address, or nil when the
    /// address is not the vGIC's (the hypervisor routes it elsewhere).
    public func location(ofAddress address: UInt64) -> VGICLocation? {
        addressMap.locate(address, version: version, vcpuCount: vcpuCount)
    }

    /// The guest physical address of a frame's first byte (for example where
    /// the hypervisor maps the hardware GICV frame: `.cpuInterface`), or nil
    /// when the frame has no address.
    public func baseAddress(of region: VGICRegion) -> UInt64? {
        addressMap.address(of: region)
    }

    /// A trapped guest read at a guest physical address: nil when the
    /// address is not the vGIC's.
    public func guestMMIORead(vcpu: Int, address: UInt64, width: Int) -> UInt64? {
        guard let l = location(ofAddress: address) else { return nil }
        return guestMMIORead(vcpu: vcpu, region: l.region, offset: l.offset, width: width)
    }

    /// A trapped guest write at a guest physical address: false when the
    /// address is not the vGIC's.
    @discardableResult
    public func guestMMIOWrite(vcpu: Int, address: UInt64, width: Int, value: UInt64) -> Bool {
        guard let l = location(ofAddress: address) else { return false }
        guestMMIOWrite(vcpu: vcpu, region: l.region, offset: l.offset, width: width, value: value)
        return true
    }
}
