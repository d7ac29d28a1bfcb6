import GICArchitecture
import HypSupport

/// The physical GICv3 as the hypervisor drives it: one security state
/// (QEMU virt without EL3: GICD_CTLR.DS = 1), affinity routing, every
/// private interrupt in Group 1, and EOImode 1 so that a mapped interrupt can
/// be priority-dropped at EL2 and deactivated later by the guest (HW bit).
enum HostGIC {
    static let distributorBase: UInt = 0x0800_0000
    static let redistributorBase: UInt = 0x080A_0000

    /// SGIs the hypervisor sends between physical CPUs.
    static let kickSGI: UInt32 = 1
    static let stopSGI: UInt32 = 2
    /// PPIs it takes.
    static let maintenancePPI: UInt32 = 25
    static let virtualTimerPPI: UInt32 = 27
    static let physicalTimerPPI: UInt32 = 30
    /// The PL011's and the PL031's SPIs, passed through to the guest.
    static let uartSPI: UInt32 = 33
    static let rtcSPI: UInt32 = 34

    static let hostPriority: UInt8 = 0x80

    static func redistributor(_ cpu: Int) -> UInt { redistributorBase + UInt(cpu) * UInt(GICR.frameSize) }
    static func sgiFrame(_ cpu: Int) -> UInt { redistributor(cpu) + UInt(GICR.sgiBase) }

    /// Once, on CPU 0: the distributor with affinity routing and Group 1 on.
    static func initDistributor() {
        let d = distributorBase
        mmio_write32(d + UInt(GICD.ctlr), 0)
        waitForRWP()
        // SPIs: Group 1, disabled, not pending or active, until one is passed through.
        let typer = mmio_read32(d + UInt(GICD.typer))
        let lines = Int((typer & 0x1F) + 1) * 32
        var n = 32
        while n < lines {
            let word = UInt(n / 32) * 4
            mmio_write32(d + UInt(GICD.igroupr) + word, 0xFFFF_FFFF)
            mmio_write32(d + UInt(GICD.icenabler) + word, 0xFFFF_FFFF)
            mmio_write32(d + UInt(GICD.icpendr) + word, 0xFFFF_FFFF)
            mmio_write32(d + UInt(GICD.icactiver) + word, 0xFFFF_FFFF)
            n += 32
        }
        mmio_write32(d + UInt(GICD.ctlr), GICD.ctlrARE | GICD.ctlrEnableGrp1)
        waitForRWP()
    }

    /// Take physical SPI `intid` on CPU 0: level-sensitive, host priority,
    /// routed to Aff 0.0.0.0, enabled. Its virtual twin may be routed to any
    /// vCPU; the guest's deactivation through the HW bit reaches the
    /// distributor from whichever CPU runs it.
    static func enableSPI(_ intid: UInt32) {
        let d = distributorBase
        let word = UInt(intid / 32) * 4, bit: UInt32 = 1 << (intid % 32)
        let cfg = d + UInt(GICD.icfgr) + UInt(intid / 16) * 4
        mmio_write32(cfg, mmio_read32(cfg) & ~(2 << ((intid % 16) * 2)))
        let prio = d + UInt(GICD.ipriorityr) + UInt(intid & ~3)
        let shift = (intid % 4) * 8
        mmio_write32(prio, mmio_read32(prio) & ~(0xFF << shift) | UInt32(hostPriority) << shift)
        mmio_write64(d + UInt(GICD.irouter) + UInt(intid) * 8, 0)
        mmio_write32(d + UInt(GICD.isenabler) + word, bit)
        waitForRWP()
    }

    /// GICD_ICFGR of physical SPI `intid` (disabled while it changes, as the
    /// architecture asks).
    static func setEdgeTriggered(_ intid: UInt32, _ edge: Bool) {
        guard intid >= 32 && intid < INTID.spiLimit else { return }
        let d = distributorBase
        let cfg = d + UInt(GICD.icfgr) + UInt(intid / 16) * 4
        let mask: UInt32 = 2 << ((intid % 16) * 2)
        let old = mmio_read32(cfg)
        guard (old & mask != 0) != edge else { return }
        let word = UInt(intid / 32) * 4, bit: UInt32 = 1 << (intid % 32)
        let enabled = mmio_read32(d + UInt(GICD.isenabler) + word) & bit != 0
        if enabled {
            mmio_write32(d + UInt(GICD.icenabler) + word, bit)
            waitForRWP()
        }
        mmio_write32(cfg, edge ? old | mask : old & ~mask)
        if enabled { mmio_write32(d + UInt(GICD.isenabler) + word, bit) }
    }

    static func waitForRWP() {
        while mmio_read32(distributorBase + UInt(GICD.ctlr)) & GICD.ctlrRWP != 0 {}
    }

    /// On every CPU: wake its redistributor, configure its private interrupts,
    /// and enable the CPU interface at EL2.
    static func initCPU(_ cpu: Int) {
        let rd = redistributor(cpu)
        let typer = mmio_read64(rd + UInt(GICR.typer))
        let aff = UInt32(truncatingIfNeeded: typer >> GICR.typerAffinityShift)
        let mpidr = read_mpidr()
        let want = UInt32(mpidr & 0xFF_FFFF) | UInt32((mpidr >> 32) & 0xFF) << 24
        if aff != want { panic("redistributor frame does not match this CPU's affinity") }

        var waker = mmio_read32(rd + UInt(GICR.waker))
        waker &= ~GICR.wakerProcessorSleep
        mmio_write32(rd + UInt(GICR.waker), waker)
        while mmio_read32(rd + UInt(GICR.waker)) & GICR.wakerChildrenAsleep != 0 {}

        let sgi = sgiFrame(cpu)
        mmio_write32(sgi + UInt(GICD.icenabler), 0xFFFF_FFFF)
        mmio_write32(sgi + UInt(GICD.icpendr), 0xFFFF_FFFF)
        mmio_write32(sgi + UInt(GICD.icactiver), 0xFFFF_FFFF)
        mmio_write32(sgi + UInt(GICD.igroupr), 0xFFFF_FFFF)
        var i: UInt = 0
        while i < 32 {
            let p = UInt32(hostPriority)
            mmio_write32(sgi + UInt(GICD.ipriorityr) + i, p | p << 8 | p << 16 | p << 24)
            i += 4
        }
        let enabled: UInt32 = 1 << kickSGI | 1 << stopSGI | 1 << maintenancePPI | 1 << virtualTimerPPI
            | 1 << physicalTimerPPI
        mmio_write32(sgi + UInt(GICD.isenabler), enabled)
        waitForRedistributorRWP(cpu)

        // CPU interface: system registers at EL2 and, for the guest, at EL1.
        write_icc_sre_el2(0xF)  // SRE, DFB, DIB, Enable (EL1 may use SRE)
        hyp_isb()
        write_icc_pmr_el1(0xFF)
        write_icc_bpr1_el1(0)
        write_icc_ctlr_el1(1 << 1)  // EOImode 1: EOIR drops priority, DIR deactivates
        write_icc_igrpen1_el1(1)
        hyp_isb()
    }

    static func waitForRedistributorRWP(_ cpu: Int) {
        while mmio_read32(redistributor(cpu) + UInt(GICR.ctlr)) & (1 << 3) != 0 {}
    }

    /// Acknowledge the highest-priority pending interrupt (1023: none).
    @inline(__always) static func acknowledge() -> UInt32 {
        UInt32(truncatingIfNeeded: read_icc_iar1_el1()) & 0xFF_FFFF
    }

    /// Priority drop only (EOImode 1): the interrupt stays active.
    @inline(__always) static func priorityDrop(_ intid: UInt32) { write_icc_eoir1_el1(UInt64(intid)) }

    @inline(__always) static func deactivate(_ intid: UInt32) { write_icc_dir_el1(UInt64(intid)) }

    /// Send SGI `intid` to physical CPU `cpu` (QEMU virt: Aff0 = cpu % 16, Aff1 = cpu / 16).
    static func sendSGI(_ intid: UInt32, to cpu: Int) {
        let req = SGIRequest(intid: intid, targetList: UInt16(1) << UInt16(cpu % 16), aff1: UInt8(cpu / 16))
        hyp_dsb_ish()
        write_icc_sgi1r_el1(req.rawValue)
        hyp_isb()
    }

    /// Send the stop SGI to every other CPU (IRM = 1: all but self).
    static func stopOtherCPUs() {
        hyp_dsb_ish()
        write_icc_sgi1r_el1(SGIRequest(intid: stopSGI, targetList: 0, irm: true).rawValue)
        hyp_isb()
    }

    // MARK: Physical interrupt state (the vGIC's seed rules act on these)

    /// Frame and bit for a per-interrupt 1-bit register of `intid` as seen by `cpu`.
    @inline(__always)
    static func bitRegister(_ base: UInt32, _ intid: UInt32, cpu: Int) -> (UInt, UInt32) {
        if intid < 32 { return (sgiFrame(cpu) + UInt(base), 1 << intid) }
        return (distributorBase + UInt(base) + UInt(intid / 32) * 4, 1 << (intid % 32))
    }

    static func setActive(_ intid: UInt32, cpu: Int, _ active: Bool) {
        let (a, bit) = bitRegister(active ? GICD.isactiver : GICD.icactiver, intid, cpu: cpu)
        mmio_write32(a, bit)
    }

    static func setPending(_ intid: UInt32, cpu: Int, _ pending: Bool) {
        let (a, bit) = bitRegister(pending ? GICD.ispendr : GICD.icpendr, intid, cpu: cpu)
        mmio_write32(a, bit)
    }

    static func isActive(_ intid: UInt32, cpu: Int) -> Bool {
        let (a, bit) = bitRegister(GICD.isactiver, intid, cpu: cpu)
        return mmio_read32(a) & bit != 0
    }

    static func isPending(_ intid: UInt32, cpu: Int) -> Bool {
        let (a, bit) = bitRegister(GICD.ispendr, intid, cpu: cpu)
        return mmio_read32(a) & bit != 0
    }
}
