import ConformanceSupport
import GICArchitecture

// Enable, pending and active state; priorities, preemption and the CPU
// interface's masks; group enables; EOImode 0 and 1.

/// The register of bank `base` (ISENABLER, ICPENDR, ...) holding `intid`
/// for the calling vCPU: its redistributor for SGIs and PPIs, the
/// distributor for SPIs.
func stateReg(_ base: UInt32, _ intid: UInt32, cpu: Int = thisCPU()) -> UInt {
    intid < 32 ? sgiBase(cpu) + UInt(base) : dReg(base, intid)
}
func isSet(_ base: UInt32, _ intid: UInt32, cpu: Int = thisCPU()) -> Bool {
    rd32(stateReg(base, intid, cpu: cpu)) & bit(intid) != 0
}
func setBit(_ base: UInt32, _ intid: UInt32, cpu: Int = thisCPU()) {
    wr32(stateReg(base, intid, cpu: cpu), bit(intid))
}
func setPriority(_ intid: UInt32, _ p: UInt8, cpu: Int = thisCPU()) {
    let a = intid < 32 ? sgiBase(cpu) + UInt(GICD.ipriorityr + intid) : gicd + UInt(GICD.ipriorityr + intid)
    mmio_write8(a, p)
}
func enable(_ intid: UInt32, cpu: Int = thisCPU()) { setBit(GICD.isenabler, intid, cpu: cpu) }
func disable(_ intid: UInt32, cpu: Int = thisCPU()) { setBit(GICD.icenabler, intid, cpu: cpu) }
func pend(_ intid: UInt32, cpu: Int = thisCPU()) { setBit(GICD.ispendr, intid, cpu: cpu) }
func unpend(_ intid: UInt32, cpu: Int = thisCPU()) { setBit(GICD.icpendr, intid, cpu: cpu) }
func activate(_ intid: UInt32, cpu: Int = thisCPU()) { setBit(GICD.isactiver, intid, cpu: cpu) }
func deactivate(_ intid: UInt32, cpu: Int = thisCPU()) { setBit(GICD.icactiver, intid, cpu: cpu) }
func isPending(_ intid: UInt32, cpu: Int = thisCPU()) -> Bool { isSet(GICD.ispendr, intid, cpu: cpu) }
func isActive(_ intid: UInt32, cpu: Int = thisCPU()) -> Bool { isSet(GICD.isactiver, intid, cpu: cpu) }
func isEnabled(_ intid: UInt32, cpu: Int = thisCPU()) -> Bool { isSet(GICD.isenabler, intid, cpu: cpu) }
func route(_ spi: UInt32, to cpu: Int) { wr64(gicd + UInt(GICD.irouter + 8 * spi), mpidrOf(cpu)) }
func hppir1() -> UInt32 { UInt32(read_icc_hppir1() & 0xFF_FFFF) }
func rpr() -> UInt64 { read_icc_rpr() & 0xFF }
/// ISR_EL1.I: an IRQ (virtual IRQ under a hypervisor) is signalled.
func irqSignalled() -> Bool { read_isr() & (1 << 7) != 0 }
func fiqSignalled() -> Bool { read_isr() & (1 << 6) != 0 }

// MARK: Enable, pending, active

/// The state machine of one interrupt, driven through its set/clear
/// registers and the CPU interface (interrupts masked, polling).
func stateMachine(_ intid: UInt32, _ kind: StaticString) {
    begin()
    say { $0.s("# "); $0.s(kind); $0.s(" "); $0.dec(Int(intid)) }
    if intid >= 32 { route(intid, to: 0) }
    enable(intid)
    let en = isEnabled(intid) && rd32(stateReg(GICD.icenabler, intid)) & bit(intid) != 0
    disable(intid)
    check(en && !isEnabled(intid), "ISENABLER sets and ICENABLER clears the enable bit")

    pend(intid)
    let pendingBoth = isPending(intid) && rd32(stateReg(GICD.icpendr, intid)) & bit(intid) != 0
    check(pendingBoth, "ISPENDR sets the pending bit (ISPENDR and ICPENDR read it)")
    check(hppir1() == 1023 && iar1Now() == 1023, "a pending but disabled interrupt is not signalled")
    enable(intid)
    checkEq(UInt64(hppir1()), UInt64(intid), "once enabled it is the highest priority pending (HPPIR1)")
    check(irqSignalled(), "and it is signalled (ISR_EL1.I)")
    let a = iar1Now()
    checkEq(UInt64(a), UInt64(intid), "IAR1 acknowledges it")
    check(isActive(intid) && !isPending(intid), "acknowledged: active, not pending")
    checkEq(rpr(), 0xA0, "the running priority is its priority")
    if a < 1020 { eoi1(a) }
    check(!isActive(intid) && rpr() == 0xFF, "EOIR (EOImode 0) deactivates it and drops the priority")

    pend(intid)
    unpend(intid)
    check(!isPending(intid) && iar1Now() == 1023, "ICPENDR clears the pending state: nothing to acknowledge")

    pend(intid)
    let signalled = hppir1() == intid
    disable(intid)
    check(signalled && hppir1() == 1023 && iar1Now() == 1023 && isPending(intid),
          "ICENABLER withdraws a signalled interrupt, which stays pending")
    enable(intid)
    let r = iar1Now()
    if r < 1020 { eoi1(r) }
    checkEq(UInt64(r), UInt64(intid), "enabled again: acknowledged")

    activate(intid)
    let act = isActive(intid) && rd32(stateReg(GICD.icactiver, intid)) & bit(intid) != 0
    deactivate(intid)
    check(act && !isActive(intid), "ISACTIVER sets and ICACTIVER clears the active bit")

    activate(intid)
    pend(intid)
    let blocked = iar1Now() == 1023
    check(blocked && isActive(intid) && isPending(intid), "active and pending: not signalled again")
    deactivate(intid)
    let b = pollIAR1()
    checkEq(UInt64(b), UInt64(intid), "after ICACTIVER the pending one is acknowledged")
    if b < 1020 { eoi1(b) }
    disable(intid)
}

func enablePendingActiveTests() {
    section("Enable, pending and active state")
    stateMachine(5, "SGI")
    stateMachine(20, "PPI")
    stateMachine(testSPI + 3, "SPI")
}

// MARK: Priorities, preemption, PMR, BPR, RPR, HPPIR

func priorityTests() {
    section("Priorities, PMR, BPR, RPR, HPPIR")
    begin()
    setPriority(1, 0x80)
    setPriority(2, 0x40)
    setPriority(3, 0x40)
    enable(1)
    enable(2)
    enable(3)
    pend(1)
    pend(2)
    checkEq(UInt64(hppir1()), 2, "HPPIR1 names the higher-priority of two pending interrupts")
    let first = iar1Now()
    checkEq(UInt64(first), 2, "IAR1 acknowledges the higher-priority interrupt first")
    checkEq(rpr(), 0x40, "RPR is the active interrupt's priority")
    checkEq(UInt64(hppir1()), 1, "HPPIR1 names a pending interrupt that cannot preempt")
    checkEq(UInt64(iar1Now()), 1023, "a lower-priority interrupt is not acknowledged while a higher one is active")
    pend(3)
    checkEq(UInt64(iar1Now()), 1023, "an equal-priority interrupt is not acknowledged either")
    unpend(3)
    if first < 1020 { eoi1(first) }
    let second = iar1Now()
    checkEq(UInt64(second), 1, "after the EOI the lower-priority one is acknowledged")
    if second < 1020 { eoi1(second) }
    checkEq(rpr(), 0xFF, "RPR is idle after both EOIs")

    // SPI against SGI priority.
    begin()
    route(testSPI, to: 0)
    setPriority(testSPI, 0x30)
    setPriority(4, 0x50)
    enable(testSPI)
    enable(4)
    pend(4)
    pend(testSPI)
    let s1 = iar1Now()
    if s1 < 1020 { eoi1(s1) }
    let s2 = iar1Now()
    if s2 < 1020 { eoi1(s2) }
    check(s1 == testSPI && s2 == 4, "an SPI of higher priority comes before a pending SGI")

    // The priority mask.
    begin()
    setPriority(6, 0x80)
    enable(6)
    write_icc_pmr(0x80)
    guest_isb()
    pend(6)
    check(iar1Now() == 1023 && !irqSignalled(), "PMR masks an interrupt of equal priority")
    checkEq(UInt64(hppir1()), 6, "HPPIR1 still names the masked interrupt")
    setPriority(6, 0x70)
    check(irqSignalled(), "raising the interrupt's priority above PMR signals it")
    write_icc_pmr(0x70)
    guest_isb()
    check(!irqSignalled(), "lowering PMR to its priority masks it again")
    write_icc_pmr(0xFF)
    guest_isb()
    let m = iar1Now()
    checkEq(UInt64(m), 6, "PMR open: acknowledged")
    if m < 1020 { eoi1(m) }

    // Preemption and the binary point: priorities 0x90 then 0x80 differ in
    // bit 4. For Group 1, ICC_BPR1_EL1 = N makes bits [7:N] the group
    // priority (GroupBits(): one less than BPR0's [7:N+1]), so bit 4 is
    // group priority with BPR1 = 4 and subpriority with BPR1 = 5.
    for bpr: UInt64 in [4, 5] {
        begin()
        write_icc_bpr1(bpr)
        guest_isb()
        setPriority(1, 0x90)
        setPriority(2, 0x80)
        enable(1)
        enable(2)
        setHook(0, { intid in
            if intid == 1 {
                pend(2)
                guest_irq_enable()
                delay(us: 2000)
                guest_irq_disable()
            }
            eoi1(intid)
        })
        pend(1)
        guest_irq_enable()
        _ = spinUntil(us: mustHappenUs) { logCount(0) >= 2 }
        guest_irq_disable()
        let n = logCount(0)
        let d1 = (logEntry(0, 0) >> 16) & 0xFF, d2 = (logEntry(0, 1) >> 16) & 0xFF
        let r2 = (logEntry(0, 1) >> 24) & 0xFF
        if bpr == 4 {
            check(n == 2 && logIntid(0, 1) == 2 && d1 == 1 && d2 == 2,
                  "BPR1 = 4: 0x80 preempts an active 0x90 (group priorities differ)")
            checkEq(r2, 0x80, "RPR in the nested handler is the preempting priority")
        } else {
            check(n == 2 && logIntid(0, 1) == 2 && d1 == 1 && d2 == 1,
                  "BPR1 = 5: 0x80 does not preempt 0x90 (same group priority)")
        }
    }
}

// MARK: Group enables

func groupTests() {
    section("Group enables")
    begin()
    route(testSPI, to: 0)
    enable(testSPI)
    wr32(gicd + UInt(GICD.ctlr), GICD.ctlrARE)
    waitRWP()
    pend(testSPI)
    check(iar1Now() == 1023 && !irqSignalled(), "GICD_CTLR.EnableGrp1 = 0: a Group 1 SPI is not signalled")
    enableDistributor(grp0: false)
    let a = iar1Now()
    checkEq(UInt64(a), UInt64(testSPI), "GICD_CTLR.EnableGrp1 = 1: it is")
    if a < 1020 { eoi1(a) }

    // Group 1 disabled at the distributor while the SPI is signalled.
    begin()
    route(testSPI, to: 0)
    enable(testSPI)
    pend(testSPI)
    let was = hppir1()
    wr32(gicd + UInt(GICD.ctlr), GICD.ctlrARE)
    waitRWP()
    check(was == testSPI && iar1Now() == 1023 && !irqSignalled(),
          "GICD_CTLR.EnableGrp1 cleared while an SPI is signalled: withdrawn")
    enableDistributor(grp0: false)
    let w = iar1Now()
    if w < 1020 { eoi1(w) }
    checkEq(UInt64(w), UInt64(testSPI), "set again: the SPI is taken")

    begin()
    enable(7)
    wr32(gicd + UInt(GICD.ctlr), GICD.ctlrARE)
    waitRWP()
    pend(7)
    check(iar1Now() == 1023, "GICD_CTLR.EnableGrp1 = 0 also holds back a Group 1 SGI")
    enableDistributor(grp0: false)
    let s = iar1Now()
    if s < 1020 { eoi1(s) }

    begin()
    enable(7)
    write_icc_igrpen1(0)
    guest_isb()
    pend(7)
    check(iar1Now() == 1023 && !irqSignalled(), "ICC_IGRPEN1_EL1 = 0: nothing signalled")
    write_icc_igrpen1(1)
    guest_isb()
    let b = iar1Now()
    checkEq(UInt64(b), 7, "ICC_IGRPEN1_EL1 = 1: acknowledged")
    if b < 1020 { eoi1(b) }

    // Group 0: signalled as FIQ (masked here; ISR_EL1.F shows it).
    begin()
    enableDistributor(grp0: true)
    wr32(sgiBase(0) + UInt(GICD.igroupr), ~(UInt32(1) << 8))
    setPriority(8, 0x60)
    enable(8)
    pend(8)
    check(!fiqSignalled() && read_icc_iar0() & 0xFF_FFFF == 1023, "ICC_IGRPEN0_EL1 = 0: a Group 0 SGI is not signalled")
    write_icc_igrpen0(1)
    guest_isb()
    check(fiqSignalled() && !irqSignalled(), "ICC_IGRPEN0_EL1 = 1: a Group 0 SGI is a FIQ (ISR_EL1.F)")
    checkEq(UInt64(iar1Now()), 1023, "IAR1 does not acknowledge a Group 0 interrupt")
    checkEq(read_icc_hppir0() & 0xFF_FFFF, 8, "HPPIR0 names it")
    let g0 = UInt32(read_icc_iar0() & 0xFF_FFFF)
    checkEq(UInt64(g0), 8, "IAR0 acknowledges it")
    // A Group 1 interrupt of lower priority waits for the Group 0 one.
    setPriority(9, 0x70)
    enable(9)
    pend(9)
    checkEq(UInt64(iar1Now()), 1023, "an active Group 0 interrupt blocks a lower-priority Group 1 one")
    if g0 < 1020 {
        write_icc_eoir0(UInt64(g0))
        guest_isb()
    }
    check(!isActive(8), "EOIR0 deactivates the Group 0 interrupt")
    let g1 = iar1Now()
    checkEq(UInt64(g1), 9, "then the Group 1 interrupt is acknowledged")
    if g1 < 1020 { eoi1(g1) }
    // A signalled Group 1 SGI moved to Group 0 becomes a FIQ.
    setPriority(13, 0x60)
    enable(13)
    pend(13)
    let before = hppir1() == 13 && irqSignalled()
    wr32(sgiBase(0) + UInt(GICD.igroupr), ~(UInt32(1) << 13))
    let moved = fiqSignalled() && !irqSignalled() && iar1Now() == 1023
    check(before && moved, "IGROUPR: a signalled Group 1 SGI moved to Group 0 is signalled as FIQ")
    let g13 = UInt32(read_icc_iar0() & 0xFF_FFFF)
    checkEq(UInt64(g13), 13, "and IAR0 takes it")
    if g13 < 1020 {
        write_icc_eoir0(UInt64(g13))
        guest_isb()
    }
    write_icc_igrpen0(0)
    wr32(sgiBase(0) + UInt(GICD.igroupr), 0xFFFF_FFFF)
    enableDistributor(grp0: false)
}

// MARK: EOImode 1: priority drop and deactivation apart

func splitEOI(_ intid: UInt32, _ kind: StaticString) {
    begin()
    say { $0.s("# EOImode 1, "); $0.s(kind); $0.s(" "); $0.dec(Int(intid)) }
    if intid >= 32 { route(intid, to: 0) }
    enable(intid)
    write_icc_ctlr(read_icc_ctlr() | 2)
    guest_isb()
    pend(intid)
    let a = pollIAR1()
    checkEq(UInt64(a), UInt64(intid), "EOImode 1: acknowledged")
    if a >= 1020 { return }
    eoi1(a)
    checkEq(rpr(), 0xFF, "EOImode 1: EOIR drops the running priority")
    check(isActive(intid), "EOImode 1: still active after EOIR")
    pend(intid)
    checkEq(UInt64(iar1Now()), 1023, "EOImode 1: pending again but not signalled while active")
    write_icc_dir(UInt64(intid))
    guest_isb()
    let again = iar1Now()
    checkEq(UInt64(again), UInt64(intid), "EOImode 1: DIR deactivates it and the pending one is taken")
    if again < 1020 {
        eoi1(again)
        write_icc_dir(UInt64(again))
        guest_isb()
    }
    check(!isActive(intid) && !isPending(intid), "EOImode 1: EOIR + DIR leave it inactive")
    write_icc_ctlr(read_icc_ctlr() & ~2)
    guest_isb()
}

func eoiModeTests() {
    section("EOImode 0 and 1, DIR")
    splitEOI(10, "SGI")
    splitEOI(21, "PPI")
    splitEOI(testSPI + 5, "SPI")

    // After a priority drop another interrupt of lower priority can be taken
    // while the first is still active.
    begin()
    write_icc_ctlr(read_icc_ctlr() | 2)
    guest_isb()
    setPriority(11, 0x40)
    setPriority(12, 0x80)
    enable(11)
    enable(12)
    pend(11)
    pend(12)
    let a = iar1Now()
    if a < 1020 { eoi1(a) }
    let b = iar1Now()
    check(a == 11 && b == 12 && isActive(11), "EOImode 1: after the drop a lower priority is taken, the first still active")
    if b < 1020 { eoi1(b) }
    write_icc_dir(11)
    write_icc_dir(12)
    guest_isb()
    check(!isActive(11) && !isActive(12), "EOImode 1: DIR in any order deactivates both")
    write_icc_ctlr(read_icc_ctlr() & ~2)
    guest_isb()

    // DIR of an SPI that another vCPU acknowledged and dropped.
    if vcpuCount >= 2 {
        begin()
        let spi = testSPI + 6
        route(spi, to: 1)
        enable(spi)
        pend(spi)
        let took = runOn(1, { arg in
            write_icc_ctlr(read_icc_ctlr() | 2)
            guest_isb()
            let a = pollIAR1()
            if a < 1020 { eoi1(a) }
            return UInt64(a)
        }, UInt64(spi))
        checkEq(took, UInt64(spi), "vCPU 1 acknowledges an SPI routed to it and drops its priority (EOImode 1)")
        // vCPU 1 took the SPI in a list register and has not exited since:
        // reading ISACTIVER makes the hypervisor stop vCPU 1 and fold its
        // list registers first (its run loop folds them before it says "out
        // of the guest"; the other order was a race this check found).
        check(isActive(spi), "the SPI is active, read while vCPU 1 has not exited since it took it")
        runOn(1, { _ in
            foldOwnListRegisters()
            return 0
        })
        check(isActive(spi), "the SPI is still active")
        write_icc_ctlr(read_icc_ctlr() | 2)
        guest_isb()
        write_icc_dir(UInt64(spi))
        guest_isb()
        check(!isActive(spi), "DIR on vCPU 0 deactivates the SPI vCPU 1 took")
        write_icc_ctlr(read_icc_ctlr() & ~2)
        guest_isb()
        pend(spi)
        let again = runOn(1, { _ in
            let a = pollIAR1()
            if a < 1020 {
                eoi1(a)
                write_icc_dir(UInt64(a))
                guest_isb()
            }
            write_icc_ctlr(read_icc_ctlr() & ~2)
            guest_isb()
            foldOwnListRegisters()
            return UInt64(a) | rpr() << 32
        })
        checkEq(again, UInt64(spi) | 0xFF << 32, "vCPU 1 takes the SPI again, and its running priority is idle")
    } else {
        skip("DIR of an SPI on another vCPU", needs: 2)
    }
}
