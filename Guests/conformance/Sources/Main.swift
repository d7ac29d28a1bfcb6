import ConformanceSupport
import GICArchitecture
import GuestSupport

// The conformance guest: the same binary runs on QEMU's own GICv3 (the
// reference: `-M virt,gic-version=3`, entered at EL1 by QEMU) and under the
// swift-vgic hypervisor (entered at EL1 by it). It prints one `ok N - name`
// or `not ok N - name` line per check and `N passed, N failed` at the end,
// then powers the machine off through PSCI. conformance.mk compares the two
// logs line by line.
//
// The guest uses no device tree: QEMU virt's addresses are fixed, and both
// the reference (no EL2, no EL3: QEMU's PSCI conduit is HVC) and the
// hypervisor take PSCI calls by HVC.

let virtualTimerPPI: UInt32 = 27

@_cdecl("guest_main")
func guestMain(_ cpu: Int, _ deviceTree: UInt64) {
    // boot.S passes 0 on the boot vCPU and the CPU_ON context ID on the others.
    if cpu == 0 {
        primary()
    } else {
        secondary(cpu)
    }
}

func primary() {
    allocateShared()
    ticksPerMicrosecond = max(read_cntfrq() / 1_000_000, 1)
    startTicks = read_cntvct()
    say {
        $0.s("# swift-vgic conformance suite: vCPU 0 at EL")
        $0.dec(Int((read_currentel() >> 2) & 3))
        $0.s(", GICD_IIDR ")
        $0.hex(UInt64(rd32(gicd + UInt(GICD.iidr))))
        $0.s(", GICD_TYPER ")
        $0.hex(UInt64(rd32(gicd + UInt(GICD.typer))))
    }
    store(0, F.context, 0)
    initThisCPU(0)
    _ = cf_add(slot(0, F.boots), 1)
    enableDistributor(grp0: false)

    // Start every vCPU there is: CPU_ON until it says there is no such CPU.
    var n = 1
    while n < 16 {
        let r = PSCICall.call(PSCICall.cpuOn, mpidrOf(n), entryAddress(), UInt64(n))
        if r != 0 { break }
        let up = spinUntil(us: mustHappenUs) { load(n, F.boots) >= 1 }
        if !up {
            say { $0.s("# vCPU "); $0.dec(n); $0.s(" did not come up") }
            break
        }
        n += 1
    }
    cf_store(global(G.vcpus), UInt64(n))
    say { $0.s("# "); $0.dec(n); $0.s(" vCPUs") }

    runAllTests()
    section("End")

    let passed = Int(cf_load(global(G.passed))), failed = Int(cf_load(global(G.failed)))
    let skipped = Int(cf_load(global(G.skipped)))
    let known = Int(cf_load(global(G.knownFailures)))
    say { $0.s("# "); $0.dec(skipped); $0.s(" tests skipped (too few vCPUs), "); $0.dec(known); $0.s(" known departures (TODO)") }
    say { $0.dec(passed); $0.s(" passed, "); $0.dec(failed); $0.s(" failed") }
    _ = PSCICall.call(PSCICall.systemOff)
    while true { cf_wfi() }
}

func secondary(_ cpu: Int) -> Never {
    // x0 at CPU_ON is the context ID, which boot.S also uses as the stack
    // index: vCPU 0 passes the vCPU's index.
    store(thisCPU(), F.context, UInt64(cpu))
    store(thisCPU(), F.igrpen1AtBoot, read_icc_igrpen1())
    initThisCPU(thisCPU())
    _ = cf_add(slot(thisCPU(), F.boots), 1)
    helperLoop(thisCPU())
}

func runAllTests() {
    distributorRegisterTests()
    redistributorRegisterTests()
    cpuInterfaceRegisterTests()
    enablePendingActiveTests()
    priorityTests()
    groupTests()
    eoiModeTests()
    sgiTests()
    spiRoutingTests()
    crossVCPUTests()
    levelEdgeTests()
    stressTests()
    deepAndIdleTests()
    timerTests()
    seedPathTests()
    psciTests()
}

// MARK: Bring-up and the state every test starts from

func waitRWP() {
    _ = spinUntil(us: mustHappenUs) { rd32(gicd + UInt(GICD.ctlr)) & GICD.ctlrRWP == 0 }
}

func enableDistributor(grp0: Bool) {
    var v = GICD.ctlrARE | GICD.ctlrEnableGrp1
    if grp0 { v |= GICD.ctlrEnableGrp0 }
    wr32(gicd + UInt(GICD.ctlr), v)
    waitRWP()
}

/// Wake this vCPU's redistributor and turn its CPU interface on.
func initThisCPU(_ cpu: Int) {
    let rd = rdBase(cpu)
    store(cpu, F.wakerAtBoot, UInt64(rd32(rd + UInt(GICR.waker))))
    wr32(rd + UInt(GICR.waker), rd32(rd + UInt(GICR.waker)) & ~GICR.wakerProcessorSleep)
    _ = spinUntil(us: mustHappenUs) { rd32(rd + UInt(GICR.waker)) & GICR.wakerChildrenAsleep == 0 }
    write_icc_sre(read_icc_sre() | 1)
    guest_isb()
    // No drain here: an SPI made pending for this vCPU while it was off must
    // survive its start (a drain with Group 1 still enabled, as the
    // hypervisor leaves it across CPU_OFF/CPU_ON, would take it).
    _ = resetThisCPU(drainPending: false)
}

/// This vCPU's GIC state for the start of a test: every private interrupt
/// disabled, inactive, not pending, Group 1, priority 0xA0; PMR open, BPRs
/// at their minimum, EOImode 0, Group 1 on, Group 0 off; timers off; IRQs
/// masked; an empty log. Returns the running priority (0xFF if idle).
func resetThisCPU(drainPending: Bool = true) -> UInt64 {
    let cpu = thisCPU()
    guest_irq_disable()
    write_cntv_ctl(0)
    write_cntp_ctl(0)
    guest_isb()
    setHook(cpu, nil)
    store(cpu, F.eoiMode1, 0)
    let sgi = sgiBase(cpu)
    wr32(sgi + UInt(GICD.icenabler), 0xFFFF_FFFF)
    wr32(sgi + UInt(GICD.icpendr), 0xFFFF_FFFF)
    wr32(sgi + UInt(GICD.icactiver), 0xFFFF_FFFF)
    GIC.groupAndPriorityDefaults(sgi: sgi)
    if drainPending { _ = drain() }
    write_icc_ctlr(read_icc_ctlr() & ~2)
    write_icc_pmr(0xFF)
    write_icc_bpr0(0)
    write_icc_bpr1(0)
    write_icc_igrpen0(0)
    write_icc_igrpen1(1)
    guest_isb()
    clearLog(cpu)
    store(cpu, F.depth, 0)
    for k in 0..<16 { store(cpu, F.scratch + k, 0) }
    return read_icc_rpr() & 0xFF
}

let resetJob: Job = { _ in resetThisCPU() }

/// Number of implemented INTIDs (32 × (ITLinesNumber + 1), at most 1020).
func intidLimit() -> UInt32 {
    let lines = rd32(gicd + UInt(GICD.typer)) & 0x1F
    return min(32 * (lines + 1), 1020)
}

/// The SPIs the tests use: no device of QEMU virt drives them.
let testSPI: UInt32 = 96

/// The distributor's state for the start of a test: every SPI disabled,
/// inactive, not pending, Group 1, level, priority 0xA0, routed to vCPU 0;
/// affinity routing and Group 1 on.
func resetDistributor() {
    enableDistributor(grp0: false)
    let limit = intidLimit()
    var w: UInt32 = 32
    while w < limit {
        wr32(dReg(GICD.icenabler, w), 0xFFFF_FFFF)
        wr32(dReg(GICD.icpendr, w), 0xFFFF_FFFF)
        wr32(dReg(GICD.icactiver, w), 0xFFFF_FFFF)
        wr32(dReg(GICD.igroupr, w), 0xFFFF_FFFF)
        w += 32
    }
    var p: UInt32 = 32
    while p < limit {
        wr32(gicd + UInt(GICD.ipriorityr + p), 0xA0A0_A0A0)
        p += 4
    }
    var c: UInt32 = 32
    while c < limit {
        wr32(gicd + UInt(GICD.icfgr + c / 4), 0)
        c += 16
    }
    for intid in testSPI..<testSPI + 64 where intid < limit {
        wr64(gicd + UInt(GICD.irouter + 8 * intid), 0)
    }
}

/// Every test starts here: all vCPUs and the distributor reset.
func begin() {
    resetDistributor()
    for c in 0..<vcpuCount {
        let rpr = runOn(c, resetJob)
        if rpr != 0xFF {
            say { $0.s("# vCPU "); $0.dec(c); $0.s(": running priority not idle after reset: "); $0.hex(rpr) }
        }
    }
}
