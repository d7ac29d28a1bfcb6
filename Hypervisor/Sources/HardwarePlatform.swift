import GICArchitecture
import HypSupport
import Synchronization
import VGIC

/// The vGIC's platform on real hardware: this CPU's `ICH_*_EL2` registers
/// (the vGIC only touches them for the vCPU this CPU runs), the physical
/// distributor and redistributors for the mapped interrupts' twins, and
/// physical SGIs to make another CPU's vCPU exit.
struct HardwarePlatform: VGICPlatform {
    func readLR(cpu: Int, _ n: Int) -> UInt64 {
        switch n {
        case 0: return read_ich_lr0_el2()
        case 1: return read_ich_lr1_el2()
        case 2: return read_ich_lr2_el2()
        case 3: return read_ich_lr3_el2()
        case 4: return read_ich_lr4_el2()
        case 5: return read_ich_lr5_el2()
        case 6: return read_ich_lr6_el2()
        case 7: return read_ich_lr7_el2()
        case 8: return read_ich_lr8_el2()
        case 9: return read_ich_lr9_el2()
        case 10: return read_ich_lr10_el2()
        case 11: return read_ich_lr11_el2()
        case 12: return read_ich_lr12_el2()
        case 13: return read_ich_lr13_el2()
        case 14: return read_ich_lr14_el2()
        case 15: return read_ich_lr15_el2()
        default: return 0
        }
    }

    func writeLR(cpu: Int, _ n: Int, _ value: UInt64) {
        switch n {
        case 0: write_ich_lr0_el2(value)
        case 1: write_ich_lr1_el2(value)
        case 2: write_ich_lr2_el2(value)
        case 3: write_ich_lr3_el2(value)
        case 4: write_ich_lr4_el2(value)
        case 5: write_ich_lr5_el2(value)
        case 6: write_ich_lr6_el2(value)
        case 7: write_ich_lr7_el2(value)
        case 8: write_ich_lr8_el2(value)
        case 9: write_ich_lr9_el2(value)
        case 10: write_ich_lr10_el2(value)
        case 11: write_ich_lr11_el2(value)
        case 12: write_ich_lr12_el2(value)
        case 13: write_ich_lr13_el2(value)
        case 14: write_ich_lr14_el2(value)
        case 15: write_ich_lr15_el2(value)
        default: return
        }
    }

    func readHCR(cpu: Int) -> UInt64 { read_ich_hcr_el2() }

    func writeHCR(cpu: Int, _ value: UInt64) {
        write_ich_hcr_el2(value)
        hyp_isb()
    }

    /// From ICH_VTR_EL2 (set before the vGIC is built).
    nonisolated(unsafe) static var listRegisters = 0
    func readVMCR(cpu: Int) -> UInt64 { read_ich_vmcr_el2() }
    func writeVMCR(cpu: Int, _ value: UInt64) { write_ich_vmcr_el2(value) }

    func readAPR(cpu: Int, group: Int, index: Int) -> UInt32 {
        let v: UInt64
        switch (group, index) {
        case (0, 0): v = read_ich_ap0r0_el2()
        case (0, 1): v = read_ich_ap0r1_el2()
        case (0, 2): v = read_ich_ap0r2_el2()
        case (0, 3): v = read_ich_ap0r3_el2()
        case (1, 0): v = read_ich_ap1r0_el2()
        case (1, 1): v = read_ich_ap1r1_el2()
        case (1, 2): v = read_ich_ap1r2_el2()
        case (1, 3): v = read_ich_ap1r3_el2()
        default: v = 0
        }
        return UInt32(truncatingIfNeeded: v)
    }

    func writeAPR(cpu: Int, group: Int, index: Int, _ value: UInt32) {
        let v = UInt64(value)
        switch (group, index) {
        case (0, 0): write_ich_ap0r0_el2(v)
        case (0, 1): write_ich_ap0r1_el2(v)
        case (0, 2): write_ich_ap0r2_el2(v)
        case (0, 3): write_ich_ap0r3_el2(v)
        case (1, 0): write_ich_ap1r0_el2(v)
        case (1, 1): write_ich_ap1r1_el2(v)
        case (1, 2): write_ich_ap1r2_el2(v)
        case (1, 3): write_ich_ap1r3_el2(v)
        default: return
        }
    }

    func setPhysicalActive(_ intid: UInt32, cpu: Int, _ active: Bool) {
        HostGIC.setActive(intid, cpu: cpu, active)
    }

    func setPhysicalPending(_ intid: UInt32, cpu: Int, _ pending: Bool) {
        HostGIC.setPending(intid, cpu: cpu, pending)
    }

    func physicalActive(_ intid: UInt32, cpu: Int) -> Bool { HostGIC.isActive(intid, cpu: cpu) }
    func physicalPending(_ intid: UInt32, cpu: Int) -> Bool { HostGIC.isPending(intid, cpu: cpu) }

    /// The timers' output: asserted while enabled, not masked, and the
    /// condition is met (`CNT*_CTL_EL0` ENABLE, IMASK, ISTATUS). The timer
    /// registers are the running CPU's; for another CPU's PPI the best
    /// available answer is that redistributor's pending bit.
    func physicalLineLevel(_ intid: UInt32, cpu: Int) -> Bool {
        // The UART's output: any unmasked interrupt condition (UARTMIS).
        if intid == HostGIC.uartSPI { return mmio_read32(UInt(VM.uartBase) + 0x40) & 0x7FF != 0 }
        guard cpu == currentCPU() else { return HostGIC.isPending(intid, cpu: cpu) }
        let ctl: UInt64
        switch intid {
        case HostGIC.virtualTimerPPI: ctl = read_cntv_ctl_el0()
        case HostGIC.physicalTimerPPI: ctl = read_cntp_ctl_el0()
        default: return HostGIC.isPending(intid, cpu: cpu)
        }
        return ctl & 0b111 == 0b101
    }

    /// List registers are CPU-local: the vGIC asks to stop the other vCPUs.
    var reachesEveryCPUsListRegisters: Bool { false }
    func stopOtherVCPUs(requester: Int) { Hypervisor.stopOtherVCPUs(requester) }
    func resumeOtherVCPUs(requester: Int) { Hypervisor.resumeOtherVCPUs() }

    /// Make vCPU `vcpu` (on physical CPU `vcpu`) look at its interrupts: a
    /// flag for its run loop, and a physical SGI when it is another CPU (the
    /// SGI makes it leave the guest, or wakes it from WFI).
    func kick(vcpu: Int) {
        guard vcpu >= 0 && vcpu < vcpuSlots.count else { return }
        vcpuSlots[vcpu].kicked.store(true, ordering: .releasing)
        if vcpu != currentCPU() { HostGIC.sendSGI(HostGIC.kickSGI, to: vcpu) }
    }
}
