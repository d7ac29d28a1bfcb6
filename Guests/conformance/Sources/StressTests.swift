import ConformanceSupport
import GICArchitecture

// More active and pending interrupts than a hypervisor has list registers
// (QEMU's GICv3 CPU interface has 4): nested preemption 12 deep, and 16 SGIs
// plus 16 SPIs pending at once.

let nestDepth: UInt32 = 12

/// Nested handler: SGI k makes SGI k+1 (one priority step higher) pending and
/// unmasks interrupts, so SGI k+1 preempts it; exits are logged in scratch.
let nestHook: Hook = { intid in
    let cpu = thisCPU()
    if intid + 1 < nestDepth {
        pend(intid + 1)
        guest_irq_enable()
        _ = spinUntil(us: mustHappenUs) { load(cpu, F.scratch + Int(intid) + 1) != 0 }
        guest_irq_disable()
    }
    let exits = load(cpu, F.scratch + 15)
    store(cpu, F.scratch + 15, exits + 1)
    store(cpu, F.scratch + Int(intid), exits + 1)
    eoi1(intid)
}

func nestedPreemption(_ cpu: Int) -> UInt64 {
    _ = resetThisCPU()
    for k in 0..<nestDepth {
        setPriority(k, UInt8(0xC0 - 0x10 * k))
        enable(k)
    }
    setHook(cpu, nestHook)
    pend(0)
    guest_irq_enable()
    _ = spinUntil(us: mustHappenUs) { load(cpu, F.scratch + 0) != 0 }
    guest_irq_disable()
    setHook(cpu, nil)
    // Entry order, depths and running priorities; exit order.
    var entriesOK = logCount(cpu) == Int(nestDepth)
    for k in 0..<min(logCount(cpu), Int(nestDepth)) {
        let e = logEntry(cpu, k)
        if e & 0xFFFF != UInt64(k) || (e >> 16) & 0xFF != UInt64(k + 1) || (e >> 24) & 0xFF != UInt64(0xC0 - 0x10 * k) {
            entriesOK = false
        }
    }
    var exitsOK = true
    for k in 0..<Int(nestDepth) where load(cpu, F.scratch + k) != UInt64(Int(nestDepth) - k) { exitsOK = false }
    var r: UInt64 = 0
    if entriesOK { r |= 1 }
    if exitsOK { r |= 2 }
    if load(cpu, F.maxDepth) == UInt64(nestDepth) { r |= 4 }
    if rpr() == 0xFF && read_icc_ap1r0() == 0 { r |= 8 }
    var inactive = true
    for k in 0..<nestDepth where isActive(k) || isPending(k) { inactive = false }
    if inactive { r |= 16 }
    return r
}

let nestedJob: Job = { _ in nestedPreemption(thisCPU()) }

/// 16 SGIs and 16 SPIs pending at once, with priorities 0x00..0xF0 in steps
/// of 8 (SGI i: 16 i, SPI j: 16 j + 8, the last one 0xF0: PMR 0xFF may read
/// 0xF8 with 5 priority bits, which masks 0xF8).
func manyPendingSetup(_ cpu: Int) {
    for s: UInt32 in 0..<16 {
        setPriority(s, UInt8(16 * s), cpu: cpu)
        let p = s == 15 ? 0xF0 : 16 * s + 8
        setPriority(testSPI + s, UInt8(p))
        route(testSPI + s, to: cpu)
        enable(testSPI + s)
    }
    wr32(sgiBase(cpu) + UInt(GICD.isenabler), 0xFFFF)
}

func priorityOf(_ intid: UInt32) -> UInt64 {
    if intid < 16 { return UInt64(16 * intid) }
    let j = intid - testSPI
    return j == 15 ? 0xF0 : UInt64(16 * j + 8)
}

/// Returns bit 0: each of the 32 taken exactly once; bit 1: in priority
/// order; bit 2: nothing left pending or active.
func manyPendingResult(_ cpu: Int) -> UInt64 {
    var r: UInt64 = 0
    var once = logCount(cpu) == 32
    for s: UInt32 in 0..<16 where received(cpu, s) != 1 || received(cpu, testSPI + s) != 1 { once = false }
    if once { r |= 1 }
    var ordered = true
    var previous: UInt64 = 0
    for i in 0..<min(logCount(cpu), F.logCapacity) {
        let p = priorityOf(logIntid(cpu, i))
        if p < previous { ordered = false }
        previous = p
    }
    if ordered { r |= 2 }
    var clean = rd32(sgiBase(cpu) + UInt(GICD.ispendr)) & 0xFFFF == 0
        && rd32(sgiBase(cpu) + UInt(GICD.isactiver)) & 0xFFFF == 0
    for s: UInt32 in 0..<16 where isPending(testSPI + s) || isActive(testSPI + s) { clean = false }
    if clean { r |= 4 }
    return r
}

let takeManyJob: Job = { _ in
    let cpu = thisCPU()
    guest_irq_enable()
    _ = spinUntil(us: mustHappenUs) { logCount(cpu) >= 32 }
    delay(us: mustNotHappenUs)
    guest_irq_disable()
    return manyPendingResult(cpu)
}

func stressTests() {
    section("More interrupts than list registers")
    begin()
    let r = nestedPreemption(0)
    check(r & 1 != 0, "nested preemption 12 deep: entered in priority order, RPR at each level right")
    check(r & 2 != 0, "nested preemption 12 deep: left in reverse order")
    check(r & 4 != 0, "nested preemption 12 deep: 12 handlers active at once")
    check(r & 8 != 0, "nested preemption 12 deep: running priority idle and AP1R0 clear afterwards")
    check(r & 16 != 0, "nested preemption 12 deep: all 12 inactive afterwards")
    if vcpuCount >= 2 {
        begin()
        let last = vcpuCount - 1
        checkEq(runOn(last, nestedJob), 31, "nested preemption 12 deep on the last vCPU", cpu: last)
    } else {
        skip("nested preemption on another vCPU", needs: 2)
    }

    // 32 pending on vCPU 0, made pending by its own ISPENDR writes.
    begin()
    manyPendingSetup(0)
    wr32(sgiBase(0) + UInt(GICD.ispendr), 0xFFFF)
    wr32(dReg(GICD.ispendr, testSPI), 0xFFFF << (testSPI % 32))
    checkEq(UInt64(rd32(sgiBase(0) + UInt(GICD.ispendr)) & 0xFFFF), 0xFFFF, "16 SGIs pending at once")
    checkEq(UInt64(rd32(dReg(GICD.ispendr, testSPI)) >> (testSPI % 32) & 0xFFFF), 0xFFFF, "16 SPIs pending at once")
    let m = takeManyJob(0)
    check(m & 1 != 0, "16 SGIs + 16 SPIs pending at once: each taken exactly once")
    check(m & 2 != 0, "16 SGIs + 16 SPIs pending at once: taken in priority order")
    check(m & 4 != 0, "16 SGIs + 16 SPIs pending at once: none left pending or active")

    // The same on the last vCPU, the SGIs sent by vCPU 0 through ICC_SGI1R_EL1.
    if vcpuCount >= 2 {
        begin()
        let last = vcpuCount - 1
        manyPendingSetup(last)
        for s: UInt32 in 0..<16 { sendSGI1(s, targets: UInt16(1) << UInt16(last)) }
        wr32(dReg(GICD.ispendr, testSPI), 0xFFFF << (testSPI % 32))
        _ = spinUntil(us: mustHappenUs) { rd32(sgiBase(last) + UInt(GICD.ispendr)) & 0xFFFF == 0xFFFF }
        checkEq(runOn(last, takeManyJob), 7, "16 SGIs (sent by vCPU 0) + 16 SPIs on the last vCPU: once each, in order, clean",
                cpu: last)
    } else {
        skip("32 pending interrupts on another vCPU", needs: 2)
    }
}

// MARK: EOImode 1 with more active interrupts than list registers

/// 8 SGIs acknowledged and priority-dropped one inside the other (EOImode 1),
/// then deactivated by DIR in the opposite order of a stack: 0 first.
func splitDeactivationDeep() -> (Bool, Bool, Bool) {
    _ = resetThisCPU()
    write_icc_ctlr(read_icc_ctlr() | 2)
    guest_isb()
    for k: UInt32 in 0..<8 {
        setPriority(k, UInt8(0x90 - 0x10 * k))
        enable(k)
    }
    var taken = true
    for k: UInt32 in 0..<8 {
        pend(k)
        let a = iar1Now()
        if a != k { taken = false }
        if a < 1020 { eoi1(a) }
    }
    var allActive = true
    for k: UInt32 in 0..<8 where !isActive(k) { allActive = false }
    let dropped = rpr() == 0xFF
    for k: UInt32 in 0..<8 { write_icc_dir(UInt64(k)) }
    guest_isb()
    var noneActive = true
    for k: UInt32 in 0..<8 where isActive(k) { noneActive = false }
    write_icc_ctlr(read_icc_ctlr() & ~2)
    guest_isb()
    return (taken && dropped, allActive, noneActive)
}

// MARK: WFI

/// Job: wait in WFI with interrupts masked until something is pending (the
/// virtual timer in 1 s is the backstop); returns the highest pending INTID.
let wfiJob: Job = { _ in
    _ = resetThisCPU()
    enable(4)
    enable(virtualTimerPPI)
    armTimer(us: 1_000_000)
    store(thisCPU(), F.scratch, 1)
    cf_wfi()
    let h = hppir1()
    timerOff()
    return UInt64(h)
}

func deepAndIdleTests() {
    section("EOImode 1 deep, WFI")
    begin()
    let (taken, active, inactive) = splitDeactivationDeep()
    check(taken, "EOImode 1: 8 SGIs taken one inside the other, every priority dropped")
    check(active, "EOImode 1: all 8 still active (more than the list registers)")
    check(inactive, "EOImode 1: DIR deactivates each of the 8")

    begin()
    enable(virtualTimerPPI)
    armTimer(us: 300)
    cf_wfi()
    checkEq(UInt64(hppir1()), UInt64(virtualTimerPPI), "WFI with IRQs masked wakes up for the virtual timer")
    timerOff()

    if vcpuCount >= 2 {
        begin()
        post(1, wfiJob)
        _ = spinUntil(us: mustHappenUs) { load(1, F.scratch) == 1 }
        delay(us: 2000)
        sendSGI1(4, targets: 2)
        checkEq(wait(1) ?? 0xDEAD, 4, "a vCPU in WFI with IRQs masked wakes up for an SGI")
    } else {
        skip("WFI woken by another vCPU's SGI", needs: 2)
    }
}
