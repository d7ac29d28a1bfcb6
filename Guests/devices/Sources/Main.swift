import ConformanceSupport
import GICArchitecture
import GuestSupport

// The device guest: interrupts from real devices of QEMU virt -- the PL011
// UART, the PL031 RTC, the EL1 virtual and physical timers -- taken polled
// and through the IRQ vector, with the seed's operations (GICD_ISPENDR,
// ICPENDR, ISACTIVER, ICACTIVER) made while the device's line is high and
// while it is low. The same binary runs on QEMU's own GICv3 (the reference:
// `-M virt,gic-version=3`, entered at EL1 by QEMU) and under the swift-vgic
// hypervisor, where every one of these lines is a hardware-mapped interrupt
// with a physical twin. It prints one `ok N - name` or `not ok N - name`
// line per check and `N passed, N failed` at the end, then powers the
// machine off through PSCI; devices.mk compares the two logs.
//
// The test framework (jobs on other vCPUs, the IRQ vector's log and hooks,
// polling helpers) is the conformance suite's, Guests/conformance/Sources/
// Framework.swift, compiled in.

@_cdecl("guest_main")
func guestMain(_ cpu: Int, _ deviceTree: UInt64) {
    if cpu == 0 { primary() } else { secondary(cpu) }
}

func primary() {
    allocateShared()
    ticksPerMicrosecond = max(read_cntfrq() / 1_000_000, 1)
    startTicks = read_cntvct()
    say {
        $0.s("# swift-vgic device suite: vCPU 0 at EL")
        $0.dec(Int((read_currentel() >> 2) & 3))
    }
    initThisCPU(0)
    _ = cf_add(slot(0, F.boots), 1)
    mmio_write32(gicd + UInt(GICD.ctlr), GICD.ctlrARE | GICD.ctlrEnableGrp1)
    waitDistributorRWP()
    quietHere(.uart)
    quietHere(.rtc)

    var n = 1
    while n < 16 {
        let r = PSCICall.call(PSCICall.cpuOn, mpidrOf(n), entryAddress(), UInt64(n))
        if r != 0 { break }
        if !spinUntil(us: mustHappenUs, { load(n, F.boots) >= 1 }) {
            say { $0.s("# vCPU "); $0.dec(n); $0.s(" did not come up") }
            break
        }
        n += 1
    }
    cf_store(global(G.vcpus), UInt64(n))
    say { $0.s("# "); $0.dec(n); $0.s(" vCPUs") }

    runDeviceTests()
    finish()
}

func secondary(_ cpu: Int) -> Never {
    let me = thisCPU()
    store(me, F.context, UInt64(cpu))
    let sgi = sgiBase(me)
    store(me, stateAtBoot, UInt64(mmio_read32(sgi + UInt(GICD.isactiver))) | UInt64(mmio_read32(sgi + UInt(GICD.ispendr))) << 32)
    store(me, timersAtBoot, read_cntv_ctl() | read_cntp_ctl() << 8)
    initThisCPU(me)
    _ = cf_add(slot(me, F.boots), 1)
    helperLoop(me)
}

func runDeviceTests() {
    let n = vcpuCount
    for d in [Device.uart, Device.rtc] {
        for t in 0..<n { spiTests(d, t, full: t == 0 || t == n - 1) }
        seedTests(d, n - 1)
    }
    rtcAlarmTest(n - 1)
    for d in [Device.virtualTimer, Device.physicalTimer] {
        for t in 0..<n { timerTests(d, t) }
        seedTests(d, n - 1)
    }
    cpuOffOnTests()
}

// MARK: Bring-up and the state each test starts from

func waitDistributorRWP() {
    _ = spinUntil(us: mustHappenUs) { mmio_read32(gicd + UInt(GICD.ctlr)) & GICD.ctlrRWP == 0 }
}

func waitRedistributorRWP(_ cpu: Int) {
    _ = spinUntil(us: mustHappenUs) { mmio_read32(rdBase(cpu) + UInt(GICR.ctlr)) & GICR.ctlrRWP == 0 }
}

/// Wake this vCPU's redistributor, system-register access on, then the
/// state every test starts from.
func initThisCPU(_ cpu: Int) {
    let rd = rdBase(cpu)
    mmio_write32(rd + UInt(GICR.waker), mmio_read32(rd + UInt(GICR.waker)) & ~GICR.wakerProcessorSleep)
    _ = spinUntil(us: mustHappenUs) { mmio_read32(rd + UInt(GICR.waker)) & GICR.wakerChildrenAsleep == 0 }
    write_icc_sre(read_icc_sre() | 1)
    guest_isb()
    resetThisCPU()
}

/// This vCPU's interrupts masked and its timers off; every private
/// interrupt disabled, inactive, not pending, Group 1 at 0xA0; its CPU
/// interface open (PMR 0xFF, BPR 0, EOImode 0, Group 1 on); no hook, an
/// empty log.
func resetThisCPU() {
    let cpu = thisCPU()
    guest_irq_disable()
    quietHere(.virtualTimer)
    quietHere(.physicalTimer)
    setHook(cpu, nil)
    store(cpu, F.eoiMode1, 0)
    let sgi = sgiBase(cpu)
    mmio_write32(sgi + UInt(GICD.icenabler), 0xFFFF_FFFF)
    waitRedistributorRWP(cpu)
    mmio_write32(sgi + UInt(GICD.icpendr), 0xFFFF_FFFF)
    mmio_write32(sgi + UInt(GICD.icactiver), 0xFFFF_FFFF)
    GIC.groupAndPriorityDefaults(sgi: sgi)
    write_icc_ctlr(read_icc_ctlr() & ~2)
    write_icc_pmr(0xFF)
    write_icc_bpr1(0)
    write_icc_igrpen1(1)
    guest_isb()
    _ = drain()
    clearLog(cpu)
    store(cpu, F.depth, 0)
    for k in 0..<16 { store(cpu, F.scratch + k, 0) }
}

let resetJob: Job = { _ in
    resetThisCPU()
    return 0
}

/// The vCPUs a test uses (vCPU 0 and `cpus`) reset, the others parked;
/// both SPIs disabled, inactive, not pending, level, Group 1 at 0xA0,
/// routed to vCPU 0; every device quiet.
func begin(using cpus: [Int]) {
    involve(cpus)
    for d in [Device.uart, Device.rtc] {
        quietHere(d)
        mmio_write32(dReg(GICD.icenabler, d.intid), bit(d.intid))
        waitDistributorRWP()
        mmio_write32(dReg(GICD.icpendr, d.intid), bit(d.intid))
        mmio_write32(dReg(GICD.icactiver, d.intid), bit(d.intid))
        setEdge(d, false)
        let g = dReg(GICD.igroupr, d.intid)
        mmio_write32(g, mmio_read32(g) | bit(d.intid))
        mmio_write8(gicd + UInt(GICD.ipriorityr + d.intid), 0xA0)
        mmio_write64(gicd + UInt(GICD.irouter + 8 * d.intid), mpidrOf(0))
    }
    for c in 0..<vcpuCount where !parked[c] { runOn(c, resetJob) }
    recorded.removeAll()
}

// MARK: Parking the vCPUs a test does not use

// A helper waiting for jobs spins (WFE does not sleep on QEMU's TCG), and
// with 4 vCPUs on a 2-core host the spinning helpers a test does not use
// take the time of those it does. A parked helper sleeps in WFI (under the
// hypervisor: in the hypervisor's idle loop) with only SGI 15 enabled, the
// doorbell that wakes it.

let wakeSGI: UInt32 = 15
/// Per-vCPU word (the framework leaves it free): 1 while it must stay parked.
let parkWord = 13
nonisolated(unsafe) var parked = [Bool](repeating: false, count: 16)

let parkJob: Job = { _ in
    let cpu = thisCPU()
    resetThisCPU()
    let sgi = sgiBase(cpu)
    mmio_write32(sgi + UInt(GICD.isenabler), 1 << wakeSGI)
    while load(cpu, parkWord) != 0 {
        cf_wfi()
        let a = iar1Now()
        if a < 1020 { eoi1(a) }
    }
    resetThisCPU()
    return 0
}

/// vCPU 0 and `cpus` awake, every other vCPU parked.
func involve(_ cpus: [Int]) {
    for c in 1..<max(vcpuCount, 1) {
        let wanted = cpus.contains(c)
        if wanted && parked[c] {
            store(c, parkWord, 0)
            GIC.sendSGI(wakeSGI, targets: UInt16(1) << UInt16(c))
            if wait(c) == nil { stall("a parked vCPU did not wake up") }
            parked[c] = false
        } else if !wanted && !parked[c] {
            store(c, parkWord, 1)
            post(c, parkJob)
            parked[c] = true
        }
    }
}
