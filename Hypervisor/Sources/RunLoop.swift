import GICArchitecture
import HypSupport
import Synchronization
import VGIC

// The vCPU run loop: enter the guest with the vGIC flushed, take the exit,
// fold the list registers back, handle the exit, repeat.

/// One CPU at a time may stop the others (an emulated access to state a
/// running vCPU's list registers may hold).
let stopLock = SpinLock()
let stopRequested = Atomic<Bool>(false)

/// The physical CPU's life after boot: wait for its vCPU to be turned on,
/// run it until it turns itself off, again.
func serveVCPU(_ v: Int) -> Never {
    let slot = vcpuSlots[v]
    while true {
        waitForPowerOn(slot)
        resetVCPU(slot)
        runVCPU(slot)
    }
}

func checkPanic() {
    if panicking.load(ordering: .relaxed) { halt() }
}

func waitForPowerOn(_ slot: VCPUSlot) {
    while slot.power.load(ordering: .acquiring) != VCPUSlot.onPending
        && slot.power.load(ordering: .acquiring) != VCPUSlot.on {
        checkPanic()
        parkIfStopRequested(slot)
        hyp_wfi()
        drainPhysicalInterrupts(slot)
    }
}

/// The architectural state of a PE that PSCI CPU_ON (or the boot) starts:
/// EL1h with interrupts masked, MMU and caches off, x0 = context ID.
func resetVCPU(_ slot: VCPUSlot) {
    let c = slot.context
    for r in 0..<31 { hyp_ctx_set(c, UInt32(r), 0) }
    c.pointee.pc = slot.entryPoint
    c.pointee.pstate = 0x3C5
    hyp_ctx_set(c, 0, slot.contextID)
    write_sctlr_el1(0x30D0_0800)
    write_cntv_ctl_el0(0)
    write_cntp_ctl_el0(0)
    hyp_isb()
    // A PE coming out of reset has its GIC CPU interface reset too: group
    // enables off, PMR 0, BPRs at their minimum, no active priority.
    try? VM.vgic!.resetCPUInterface(vcpu: slot.index)
    slot.power.store(VCPUSlot.on, ordering: .releasing)
    // The guest prints on the same UART under its own lock: the hypervisor
    // stays quiet while guest vCPUs run, unless asked.
    if slot.index == 0 || VM.verbose { log {
        $0.s("hyp: vCPU ")
        $0.dec(slot.index)
        $0.s(" on at ")
        $0.hex(slot.entryPoint)
    } }
}

enum ExitAction {
    case resume
    case powerOff
}

func runVCPU(_ slot: VCPUSlot) {
    let v = slot.index
    let vgic = VM.vgic!
    while true {
        checkPanic()
        slot.inGuest.store(true, ordering: .sequentiallyConsistent)
        if stopRequested.load(ordering: .sequentiallyConsistent) {
            slot.inGuest.store(false, ordering: .sequentiallyConsistent)
            parkIfStopRequested(slot)
            continue
        }
        slot.kicked.store(false, ordering: .relaxed)
        vgic.vcpuEnter(v)
        let reason = hyp_enter_guest(slot.context)
        // A maintenance condition (ICH_MISR_EL2) is what made this IRQ exit
        // when nothing else is pending; sync below clears it (the vGIC
        // rewrites ICH_HCR_EL2), so the physical PPI 25 is usually gone
        // before it can be acknowledged.
        let maintenance = reason == UInt64(HYP_EXIT_IRQ) && read_ich_misr_el2() != 0
        // Fold the list registers back before saying we are out: another
        // CPU stopping the vCPUs (stopOtherVCPUs) must find this
        // vCPU's state in the vGIC, not still in its list registers.
        vgic.vcpuExit(v)
        slot.inGuest.store(false, ordering: .sequentiallyConsistent)
        let action: ExitAction
        switch reason {
        case UInt64(HYP_EXIT_SYNC): action = handleSynchronousExit(slot)
        case UInt64(HYP_EXIT_IRQ):
            slot.stats.irq += 1
            if maintenance { slot.stats.maintenance += 1 }
            drainPhysicalInterrupts(slot, maintenance: maintenance)
            action = .resume
        case UInt64(HYP_EXIT_SERROR):
            // An asynchronous abort caused by the guest: hand it back as a
            // virtual SError.
            write_hcr_el2(read_hcr_el2() | 1 << 8)
            action = .resume
        default:
            action = .resume
        }
        if case .powerOff = action { return }
    }
}

/// While another CPU has the vCPUs stopped, stay out of the guest.
func parkIfStopRequested(_ slot: VCPUSlot) {
    while stopRequested.load(ordering: .sequentiallyConsistent) {
        checkPanic()
        hyp_wfe()
    }
}

/// Make every other vCPU leave the guest (its exit folds its list registers
/// into the vGIC) and stay out until `resumeOtherVCPUs`; the vGIC calls this
/// (through `HardwarePlatform`) before an access that needs them out.
func stopOtherVCPUs(_ me: Int) {
    stopLock.lock()
    stopRequested.store(true, ordering: .sequentiallyConsistent)
    for c in 0..<VM.vcpuCount where c != me {
        while vcpuSlots[c].inGuest.load(ordering: .sequentiallyConsistent) {
            checkPanic()
            HostGIC.sendSGI(HostGIC.kickSGI, to: c)
            var spin = 0
            while spin < 2000 && vcpuSlots[c].inGuest.load(ordering: .sequentiallyConsistent) { spin += 1 }
        }
    }
}

func resumeOtherVCPUs() {
    stopRequested.store(false, ordering: .sequentiallyConsistent)
    stopLock.unlock()
    hyp_dsb_ish()
    hyp_sev()
}

/// Take every pending physical interrupt. EOImode 1: EOIR only drops the
/// priority; the hypervisor's own SGIs and the maintenance interrupt are
/// deactivated at once, the timers stay active until the guest deactivates
/// their virtual twin through the HW bit.
func drainPhysicalInterrupts(_ slot: VCPUSlot, maintenance: Bool = false) {
    var first = !maintenance
    while true {
        let intid = HostGIC.acknowledge()
        if intid >= INTID.spiLimit {
            if first { slot.stats.spurious += 1 }
            return
        }
        first = false
        HostGIC.priorityDrop(intid)
        switch intid {
        case HostGIC.virtualTimerPPI, HostGIC.physicalTimerPPI:
            slot.stats.timerIRQs += 1
            passThrough(intid, vcpu: slot.index < VM.vcpuCount ? slot.index : nil)
        case HostGIC.uartSPI:
            slot.stats.spis += 1
            passThrough(intid, vcpu: nil)
        case HostGIC.stopSGI:
            HostGIC.deactivate(intid)
            checkPanic()
        case HostGIC.kickSGI:
            slot.stats.kicks += 1
            HostGIC.deactivate(intid)
        default:
            // The maintenance PPI (the exit itself made the vGIC sync), or
            // something that is not ours: deactivate it.
            HostGIC.deactivate(intid)
        }
    }
}

/// A physical interrupt the guest owns, taken and priority-dropped here:
/// its virtual twin takes over the activation (`hardwareInterruptTaken`:
/// one edge, or the line high), and the guest's deactivation through the HW
/// bit ends it. With no VM (yet), or no vCPU for a PPI, it is deactivated.
func passThrough(_ intid: UInt32, vcpu: Int?) {
    guard let g = VM.vgic, intid >= 32 || vcpu != nil else {
        HostGIC.deactivate(intid)
        return
    }
    do {
        try g.hardwareInterruptTaken(intid, vcpu: vcpu)
    } catch {
        HostGIC.deactivate(intid)
    }
}

/// Guest WFI: idle this CPU until the vCPU has an interrupt to take, or
/// someone kicks it.
func idleUntilInterrupt(_ slot: VCPUSlot) {
    let vgic = VM.vgic!
    while true {
        checkPanic()
        if slot.kicked.exchange(false, ordering: .acquiring) { return }
        if stopRequested.load(ordering: .relaxed) { return }
        if vgic.hasPendingInterrupt(vcpu: slot.index) { return }
        hyp_wfi()
        drainPhysicalInterrupts(slot)
    }
}
