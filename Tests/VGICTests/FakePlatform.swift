import GICArchitecture
@testable import VGIC

/// A recording platform: plain storage for the virtualization registers and
/// the physical interrupt state, so tests can play the guest by editing list
/// registers and can see exactly what the vGIC asked of the hardware.
final class FakePlatform: VGICPlatform, @unchecked Sendable {
    struct PhysKey: Hashable { var intid: UInt32; var cpu: Int }

    var lrs: [[UInt64]]
    var hcr: [UInt64]
    var vmcr: [UInt64]
    var apr: [[UInt32]]
    var physActive: Set<PhysKey> = []
    var physPending: Set<PhysKey> = []
    var physLine: Set<PhysKey> = []
    var kicks: [Int] = []
    /// Every physical-state write, in order: (intid, cpu, "active"/"pending", value).
    var physicalWrites: [(UInt32, Int, String, Bool)] = []

    init(cpus: Int) {
        lrs = Array(repeating: Array(repeating: 0, count: 16), count: cpus)
        hcr = Array(repeating: 0, count: cpus)
        vmcr = Array(repeating: 0, count: cpus)
        apr = Array(repeating: Array(repeating: 0, count: 8), count: cpus)
    }

    func key(_ intid: UInt32, _ cpu: Int) -> PhysKey { PhysKey(intid: intid, cpu: intid < 32 ? cpu : -1) }

    func readLR(cpu: Int, _ n: Int) -> UInt64 { lrs[cpu][n] }
    func writeLR(cpu: Int, _ n: Int, _ value: UInt64) { lrs[cpu][n] = value }
    func readHCR(cpu: Int) -> UInt64 { hcr[cpu] }
    func writeHCR(cpu: Int, _ value: UInt64) { hcr[cpu] = value }
    func readVMCR(cpu: Int) -> UInt64 { vmcr[cpu] }
    func writeVMCR(cpu: Int, _ value: UInt64) { vmcr[cpu] = value }
    func readAPR(cpu: Int, group: Int, index: Int) -> UInt32 { apr[cpu][group * 4 + index] }
    func writeAPR(cpu: Int, group: Int, index: Int, _ value: UInt32) { apr[cpu][group * 4 + index] = value }
    func setPhysicalActive(_ intid: UInt32, cpu: Int, _ active: Bool) {
        physicalWrites.append((intid, cpu, "active", active))
        if active { physActive.insert(key(intid, cpu)) } else { physActive.remove(key(intid, cpu)) }
    }
    func setPhysicalPending(_ intid: UInt32, cpu: Int, _ pending: Bool) {
        physicalWrites.append((intid, cpu, "pending", pending))
        if pending { physPending.insert(key(intid, cpu)) } else { physPending.remove(key(intid, cpu)) }
    }
    func physicalActive(_ intid: UInt32, cpu: Int) -> Bool { physActive.contains(key(intid, cpu)) }
    func physicalPending(_ intid: UInt32, cpu: Int) -> Bool { physPending.contains(key(intid, cpu)) }
    func physicalLineLevel(_ intid: UInt32, cpu: Int) -> Bool { physLine.contains(key(intid, cpu)) }
    func kick(vcpu: Int) { kicks.append(vcpu) }
    /// Play a hardware model (true: the vGIC folds other vCPUs itself) or
    /// real CPU-local list registers (false: it asks to stop them).
    var reachesEveryCPUsListRegisters = true
    /// `stopOtherVCPUs` / `resumeOtherVCPUs` calls: (requester, stop?).
    var stops: [(Int, Bool)] = []
    func stopOtherVCPUs(requester: Int) { stops.append((requester, true)) }
    func resumeOtherVCPUs(requester: Int) { stops.append((requester, false)) }

    /// The guest programs its CPU interface (ICC_PMR, IGRPEN, CTLR) while running.
    func setGuestVMCR(_ g: VGIC<FakePlatform>, _ cpu: Int, _ v: VMCR) {
        g.vcpuEnter(cpu)
        vmcr[cpu] = v.v3
        g.vcpuExit(cpu)
    }

    // Guest helpers on the raw GICv3 list registers.
    func lr(_ cpu: Int, _ n: Int) -> ListRegister { ICH_LR.decode(lrs[cpu][n]) }
    func setState(_ cpu: Int, _ n: Int, _ s: ListRegisterState) {
        var l = lr(cpu, n)
        l.state = s
        lrs[cpu][n] = ICH_LR.encode(l)
    }
    func validLRs(_ cpu: Int) -> [ListRegister] { (0..<16).map { lr(cpu, $0) }.filter { $0.state != .invalid } }
    /// The guest's EOIs that no list register matched (ICH_HCR_EL2.EOIcount).
    func countUnmatchedEOIs(_ cpu: Int, _ n: UInt32 = 1) {
        var h = HCR(rawValue: hcr[cpu])
        h.eoiCount = n
        hcr[cpu] = h.rawValue
    }
}

typealias TestVGIC = VGIC<FakePlatform>

func makeV3(vcpus: Int = 2, irqs: Int = 128, lrs: Int = 4) throws -> (TestVGIC, FakePlatform) {
    let p = FakePlatform(cpus: vcpus)
    let g = try TestVGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: vcpus, irqCount: irqs,
                                                         listRegisters: lrs), platform: p)
    // Guest setup: distributor groups on, everything enabled at the CPU interface.
    g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ctlr, width: 4, value: 0x13)
    var vmcr = VMCR()
    vmcr.enableGroup0 = true
    vmcr.enableGroup1 = true
    vmcr.pmr = 0xF8
    for c in 0..<vcpus { p.setGuestVMCR(g, c, vmcr) }
    return (g, p)
}

extension TestVGIC {
    /// Enable SPI/PPI `intid` with `priority`, edge or level, routed to vCPU `to`.
    func setUp(_ intid: UInt32, on vcpu: Int = 0, edge: Bool, priority: UInt8 = 0xA0, to target: Int = 0) {
        let frame: VGICRegion = intid < 32 ? .redistributor(vcpu) : .distributor
        let base: UInt32 = intid < 32 ? GICR.sgiBase : 0
        let word = intid / 32, bit = intid % 32
        guestMMIOWrite(vcpu: vcpu, region: frame, offset: base + GICD.isenabler + 4 * word, width: 4, value: 1 << UInt64(bit))
        guestMMIOWrite(vcpu: vcpu, region: frame, offset: base + GICD.ipriorityr + intid, width: 1, value: UInt64(priority))
        if intid >= 32 {
            let cfg = guestMMIORead(vcpu: vcpu, region: frame, offset: GICD.icfgr + 4 * (intid / 16), width: 4)
            let sh = UInt64((intid % 16) * 2)
            let v = edge ? cfg | (2 << sh) : cfg & ~(2 << sh)
            guestMMIOWrite(vcpu: vcpu, region: frame, offset: GICD.icfgr + 4 * (intid / 16), width: 4, value: v)
            guestMMIOWrite(vcpu: vcpu, region: .distributor, offset: GICD.irouter + 8 * intid, width: 8,
                           value: Affinity(vcpuIndex: target).irouter)
        }
    }
}
