import GICArchitecture
import GuestSupport

/// The guest's view of the GICv3 the hypervisor emulates: the distributor
/// and the redistributors trap to the vGIC; the CPU interface is the
/// hardware's virtual one (ICV_* behind the ICC_* names).
enum GIC {
    static let distributor = gicd
    static let redistributors = gicrFrames

    /// Find this vCPU's redistributor the way kvm-unit-tests and Linux do:
    /// walk the frames until GICR_TYPER's affinity matches MPIDR (or Last).
    static func findRedistributor() -> UInt? {
        let m = read_mpidr()
        let aff = UInt32(m & 0xFF_FFFF) | UInt32((m >> 32) & 0xFF) << 24
        var frame = redistributors
        for _ in 0..<64 {
            let typer = mmio_read64(frame + UInt(GICR.typer))
            if UInt32(truncatingIfNeeded: typer >> 32) == aff { return frame }
            if typer & GICR.typerLast != 0 { return nil }
            frame += UInt(GICR.frameSize)
        }
        return nil
    }

    static func enableDistributor() {
        mmio_write32(distributor + UInt(GICD.ctlr), GICD.ctlrARE | GICD.ctlrEnableGrp1)
    }

    /// Wake the redistributor, put every private interrupt in Group 1 at
    /// priority 0xA0, enable `enabled`, and turn the CPU interface on.
    static func initCPU(redistributor rd: UInt, enabled: UInt32) {
        let w = mmio_read32(rd + UInt(GICR.waker)) & ~GICR.wakerProcessorSleep
        mmio_write32(rd + UInt(GICR.waker), w)
        while mmio_read32(rd + UInt(GICR.waker)) & GICR.wakerChildrenAsleep != 0 {}
        let sgi = rd + UInt(GICR.sgiBase)
        groupAndPriorityDefaults(sgi: sgi)
        mmio_write32(sgi + UInt(GICD.icenabler), ~enabled)
        mmio_write32(sgi + UInt(GICD.isenabler), enabled)
        write_icc_sre(read_icc_sre() | 1)
        guest_isb()
        write_icc_pmr(0xFF)
        write_icc_bpr1(0)
        write_icc_igrpen1(1)
        guest_isb()
    }

    /// Every private interrupt of the redistributor whose SGI_base frame is
    /// `sgi` in Group 1 at priority 0xA0.
    static func groupAndPriorityDefaults(sgi: UInt) {
        mmio_write32(sgi + UInt(GICD.igroupr), 0xFFFF_FFFF)
        var i: UInt = 0
        while i < 32 {
            mmio_write32(sgi + UInt(GICD.ipriorityr) + i, 0xA0A0_A0A0)
            i += 4
        }
    }

    /// ICC_SGI1R_EL1 to a list of vCPUs (Aff0 < 16, Aff1 = 0) or, with
    /// `allButSelf`, to every other vCPU.
    static func sendSGI(_ intid: UInt32, targets: UInt16, allButSelf: Bool = false) {
        guest_dsb()
        write_icc_sgi1r(SGIRequest(intid: intid, targetList: targets, irm: allButSelf).rawValue)
        guest_isb()
    }
}
