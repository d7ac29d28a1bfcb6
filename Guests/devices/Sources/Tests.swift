import ConformanceSupport
import GICArchitecture
import GuestSupport

// The device tests. Each group of checks ends with `settled`: what the
// guest can see (the interrupt's pending and active bits, the device's own
// interrupt status) and that the device can interrupt again. A physical
// twin left active under the hypervisor makes the device dead to the guest:
// its next assertion never arrives, and the run stops there (`stall`).

func heading(_ d: Device, _ t: Int, _ what: StaticString) {
    let ms = (read_cntvct() - startTicks) / ticks(us: 1000)
    say {
        $0.s("# ")
        $0.s(d.name)
        $0.s(d.isSPI ? " to vCPU " : " of vCPU ")
        $0.dec(t)
        $0.s(": ")
        $0.s(what)
        $0.s(" (at ")
        $0.dec(Int(ms))
        $0.s(" ms)")
    }
}

/// After a group of checks: the device's raw and masked interrupt status
/// clear (the UART's and the RTC's RIS and MIS; a timer's line), the
/// interrupt neither pending nor active, and the device can interrupt again
/// (taken once, polled). The value checked: raw status | line | pending |
/// active, bits 3 to 0.
func settled(_ d: Device, _ t: Int) {
    let raw: Bool
    switch d {
    case .uart: raw = lineOp(d, t, .raw) & UInt64(PL011.tx) != 0
    case .rtc: raw = lineOp(d, t, .raw) & UInt64(rtcAlarm) != 0
    default: raw = false
    }
    let line = lineHigh(d, t), p = pendingNow(d, t), a = activeNow(d, t)
    expectEq((raw ? 8 : 0) | (line ? 4 : 0) | (p ? 2 : 0) | (a ? 1 : 0), 0,
             "settled: RIS and MIS clear, not pending, inactive")
    raise(d, t)
    let x = take(t)
    if x != UInt64(d.intid) {
        lower(d, t)
        if x < 1020 { eoi(t, x) }
        stall("settled: raised again, the interrupt never came (the device is dead to the guest)")
    }
    lower(d, t)
    eoi(t, x)
    let again = nothing(t)
    expect(again == 1023 && !pendingNow(d, t) && !activeNow(d, t), "settled: raised again, taken once, then nothing")
}

// MARK: The UART and the RTC: routed to each vCPU, level and edge

/// `full`: the edge-triggered groups too (routed to the first and the last
/// vCPU: the physical SPI's own CPU and another one under the hypervisor).
func spiTests(_ d: Device, _ t: Int, full: Bool) {
    let id = UInt64(d.intid)
    heading(d, t, "level, polled")
    prepare(d, t)
    expect(!isEdge(d), "GICD_ICFGR reads level-sensitive")
    raise(d, t)
    let a = take(t)
    expectEq(a, id, "level: taken (polled) by the vCPU it is routed to")
    expect(activeNow(d, t) && pendingNow(d, t), "level: acknowledged with the line high: active and pending")
    lower(d, t)
    expect(spinUntil(us: mustHappenUs) { !pendingNow(d, t) } && activeNow(d, t),
           "level: line lowered while active: active, not pending")
    eoi(t, a)
    expect(!activeNow(d, t) && !pendingNow(d, t) && nothing(t) == 1023, "level: EOI: inactive, nothing more")
    raise(d, t)
    let b = take(t)
    eoi(t, b)
    let c = take(t)
    expect(b == id && c == id, "level: EOI with the line still high: taken again")
    lower(d, t)
    if c < 1020 { eoi(t, c) }
    expect(nothing(t) == 1023, "level: line lowered before the next EOI: nothing more")
    settled(d, t)
    report()
    pulseTests(d, t)
    spiVectorTests(d, t, edge: false)
    guard full else { return }

    heading(d, t, "edge, polled")
    prepare(d, t, edge: true)
    expect(isEdge(d), "GICD_ICFGR reads edge-triggered")
    raise(d, t)
    let e = take(t)
    expectEq(e, id, "edge: the rising edge is taken")
    expect(activeNow(d, t) && !pendingNow(d, t), "edge: acknowledged with the line high: active, not pending")
    eoi(t, e)
    expectEq(nothing(t), 1023, "edge: EOI with the line still high: no new edge, nothing more")
    expect(!activeNow(d, t) && !pendingNow(d, t), "edge: then inactive, not pending")
    lower(d, t)
    raise(d, t)
    let f = take(t)
    expectEq(f, id, "edge: line lowered and raised again: the new edge is taken")
    lower(d, t)
    raise(d, t)
    expect(becomesPending(d, t) && activeNow(d, t), "edge: another edge while active: active and pending")
    eoi(t, f)
    let g = take(t)
    expectEq(g, id, "edge: after the EOI the edge that came while active is taken")
    eoi(t, g)
    expectEq(nothing(t), 1023, "edge: then nothing more")
    lower(d, t)
    raise(d, t)
    let pendingEdge = becomesPending(d, t)
    writeState(GICD.icpendr, d, t, by: 0)
    expect(pendingEdge && staysNotPending(d, t) && nothing(t) == 1023,
           "edge: ICPENDR of a pending edge with the line still high: not pending, not taken")
    lower(d, t)
    settled(d, t)
    report()

    heading(d, t, "level made edge-triggered with the line held high")
    prepare(d, t)
    raise(d, t)
    let pendingLevel = becomesPending(d, t)
    writeState(GICD.icenabler, d, t, by: 0)
    setEdge(d, true)
    writeState(GICD.isenabler, d, t, by: 0)
    let n1 = nothing(t)
    expect(pendingLevel && !pendingNow(d, t) && n1 == 1023,
           "pending by its level; disabled, made edge-triggered, enabled: a level is no edge, nothing pending or taken")
    lower(d, t)
    raise(d, t)
    let k = take(t)
    expectEq(k, id, "then a rising edge is taken")
    lower(d, t)
    if k < 1020 { eoi(t, k) }
    settled(d, t)
    report()
    spiVectorTests(d, t, edge: true)
}

/// The device re-asserts right after the guest's EOI and drops its line
/// again before the vCPU exits (issue 9's first defect: the twin the host
/// took then must not be left active).
func pulseTests(_ d: Device, _ t: Int) {
    heading(d, t, "a pulse right after each EOI, polled")
    prepare(d, t)
    expectEq(runOn(t, pulseJob, 15), 15,
             "15 rounds: each interrupt taken; a pulse right after its EOI, gone before an exit, is not taken")
    settled(d, t)
    report()
}

/// Through the IRQ vector: the handler lowers the line, EOIs, and raises it
/// again at once, with no exit in between (8 times).
func spiVectorTests(_ d: Device, _ t: Int, edge: Bool) {
    heading(d, t, edge ? "edge, IRQ vector" : "level, IRQ vector")
    prepare(d, t, edge: edge)
    raise(d, t)
    let r = runOn(t, vectorJob, 8)
    if edge {
        expectEq(r, 8, "edge, IRQ vector: raised again right after each EOI: 8 interrupts, nothing else")
    } else {
        expectEq(r, 8, "level, IRQ vector: raised again right after each EOI: 8 interrupts, nothing else")
    }
    settled(d, t)
    report()
}

// MARK: The seed's operations, from the owning vCPU and from another

func seedTests(_ d: Device, _ t: Int) {
    let n = vcpuCount
    var actors = [t]
    if n >= 2 {
        actors.append((t + 1) % n)
    } else {
        skip("the seed's operations from another vCPU", needs: 2)
    }
    let id = UInt64(d.intid)
    for who in actors {
        heading(d, t, who == t ? "the seed's operations, by its own vCPU" : "the seed's operations, by another vCPU")
        prepare(d, t, actor: who)

        writeState(GICD.ispendr, d, t, by: who)
        let p1 = pendingNow(d, t)
        let x1 = take(t)
        let active1 = activeNow(d, t), pending1 = pendingNow(d, t)
        if x1 < 1020 { eoi(t, x1) }
        expect(p1 && x1 == id && active1 && !pending1,
               "line low: ISPENDR: pending; taken; then active, not pending", by: who)
        expect(nothing(t) == 1023 && !activeNow(d, t) && !pendingNow(d, t),
               "line low: ISPENDR: after the EOI inactive, nothing more", by: who)

        writeState(GICD.ispendr, d, t, by: who)
        writeState(GICD.icpendr, d, t, by: who)
        expect(!pendingNow(d, t) && nothing(t) == 1023, "line low: ISPENDR then ICPENDR: not pending, not taken", by: who)
        raise(d, t)
        let x2 = take(t)
        lower(d, t)
        if x2 < 1020 { eoi(t, x2) }
        expectEq(x2, id, "line low: after ISPENDR and ICPENDR the device's next assertion is taken", by: who)

        writeState(GICD.isactiver, d, t, by: who)
        let active3 = activeNow(d, t)
        raise(d, t)
        let pending3 = becomesPending(d, t)
        let y3 = nothing(t)
        expect(active3 && pending3 && y3 == 1023,
               "ISACTIVER, then the line rises: active and pending, not taken", by: who)
        writeState(GICD.icactiver, d, t, by: who)
        let x3 = take(t)
        expectEq(x3, id, "then ICACTIVER: taken", by: who)
        lower(d, t)
        if x3 < 1020 { eoi(t, x3) }
        expect(nothing(t) == 1023 && !activeNow(d, t) && !pendingNow(d, t),
               "line lowered, EOI: inactive, nothing more", by: who)

        raise(d, t)
        let pending4 = becomesPending(d, t)
        writeState(GICD.icpendr, d, t, by: who)
        let still4 = pendingNow(d, t)
        let x4 = take(t)
        expect(pending4 && still4 && x4 == id,
               "line high: ICPENDR does not clear a level interrupt: still pending, taken", by: who)
        lower(d, t)
        if x4 < 1020 { eoi(t, x4) }
        expectEq(nothing(t), 1023, "line lowered, EOI: nothing more", by: who)

        raise(d, t)
        let x5 = take(t)
        writeState(GICD.icactiver, d, t, by: who)
        let active5 = activeNow(d, t), pending5 = pendingNow(d, t)
        let early5 = nothing(t)
        if x5 < 1020 { eoi(t, x5) }
        let y5 = take(t)
        expect(x5 == id && !active5 && pending5 && early5 == 1023 && y5 == id,
               "line high, acknowledged: ICACTIVER: inactive and pending, taken again after the EOI", by: who)
        lower(d, t)
        if y5 < 1020 { eoi(t, y5) }
        expectEq(nothing(t), 1023, "line lowered, EOI: nothing more", by: who)

        raise(d, t)
        let x6 = take(t)
        writeState(GICD.ispendr, d, t, by: who)
        lower(d, t)
        let pending6 = pendingNow(d, t)
        if x6 < 1020 { eoi(t, x6) }
        let y6 = runOn(t, exitThenIARJob)
        if y6 < 1020 { eoi(t, y6) }
        expect(x6 == id && pending6 && y6 == id && nothing(t) == 1023,
               "ISPENDR while active, line lowered: after the EOI the pending latch is taken once", by: who)

        writeState(GICD.icenabler, d, t, by: who)
        raise(d, t)
        let pending7 = becomesPending(d, t)
        let y7 = nothing(t)
        writeState(GICD.isenabler, d, t, by: who)
        let x7 = take(t)
        expect(pending7 && y7 == 1023 && x7 == id,
               "disabled while the line is high: pending, not taken; enabled: taken", by: who)
        writeState(GICD.icenabler, d, t, by: who)
        lower(d, t)
        if x7 < 1020 { eoi(t, x7) }
        writeState(GICD.isenabler, d, t, by: who)
        expect(nothing(t) == 1023 && !pendingNow(d, t) && !activeNow(d, t),
               "disabled while active, line lowered, EOI, enabled: nothing", by: who)

        writeState(GICD.icenabler, d, t, by: who)
        raise(d, t)
        let pending8 = becomesPending(d, t)
        lower(d, t)
        let low8 = spinUntil(us: mustHappenUs) { !pendingNow(d, t) }
        writeState(GICD.isenabler, d, t, by: who)
        expect(pending8 && low8 && nothing(t) == 1023,
               "disabled, the line rose and fell: not pending; enabled: nothing", by: who)
        settled(d, t)
        report()
    }
}

// MARK: The RTC's alarm, one second ahead

func rtcAlarmTest(_ t: Int) {
    let d = Device.rtc
    heading(d, t, "the alarm one second ahead, IRQ vector")
    prepare(d, t)
    mmio_write32(rtc + PL031.imsc, rtcAlarm)
    // The count must not move between its read and the match's write (the
    // match would then be the count: an alarm at once).
    var match: UInt32 = 0
    for _ in 0..<3 {
        mmio_write32(rtc + PL031.icr, rtcAlarm)
        let now = mmio_read32(rtc + PL031.dr)
        match = now &+ 1
        mmio_write32(rtc + PL031.mr, match)
        if mmio_read32(rtc + PL031.dr) == now { break }
    }
    let early = mmio_read32(rtc + PL031.ris) & rtcAlarm != 0
    let r = runOn(t, vectorJob, 1)
    let count = mmio_read32(rtc + PL031.dr)
    expect(!early, "the match one second ahead: no alarm yet")
    expectEq(r, 1, "the alarm is taken once through the IRQ vector")
    expect(count &- match < 0x8000_0000, "the alarm came once the count reached the match")
    settled(d, t)
    report()
}

// MARK: The timers: each vCPU's own

/// Job: arm the subject timer `arg` microseconds ahead.
let armTimerJob: Job = { us in
    let d = Device(rawValue: Int(cf_load(global(G.scratch)))) ?? .virtualTimer
    if d == .virtualTimer {
        write_cntv_cval(read_cntvct() + ticks(us: us))
        write_cntv_ctl(1)
    } else {
        write_cntp_cval(read_cntpct() + ticks(us: us))
        write_cntp_ctl(1)
    }
    guest_isb()
    return 0
}

/// Job: the subject timer's CVAL.
let timerCVALJob: Job = { _ in
    let d = Device(rawValue: Int(cf_load(global(G.scratch)))) ?? .virtualTimer
    return d == .virtualTimer ? read_cntv_cval() : read_cntp_cval()
}

func timerTests(_ d: Device, _ t: Int) {
    let id = UInt64(d.intid)
    heading(d, t, "polled")
    prepare(d, t)
    raise(d, t)
    let a = take(t)
    expectEq(a, id, "taken (polled) by its vCPU")
    expect(activeNow(d, t) && pendingNow(d, t), "acknowledged with the line high: active and pending")
    lower(d, t)
    expect(spinUntil(us: mustHappenUs) { !pendingNow(d, t) } && activeNow(d, t),
           "line lowered while active: active, not pending")
    eoi(t, a)
    expect(!activeNow(d, t) && !pendingNow(d, t) && nothing(t) == 1023, "EOI: inactive, nothing more")
    raise(d, t)
    let b = take(t)
    eoi(t, b)
    let c = take(t)
    expect(b == id && c == id, "EOI with the line still high: taken again")
    lower(d, t)
    if c < 1020 { eoi(t, c) }
    expect(nothing(t) == 1023, "line lowered before the next EOI: nothing more")
    settled(d, t)
    report()

    pulseTests(d, t)

    heading(d, t, "IRQ vector")
    prepare(d, t)
    raise(d, t)
    expectEq(runOn(t, vectorJob, 8), 8, "IRQ vector: raised again right after each EOI: 8 interrupts, nothing else")
    runOn(t, armTimerJob, 1000)
    let r = runOn(t, vectorJob, 1)
    let cval = runOn(t, timerCVALJob)
    let takenAt = load(t, F.scratch + 1)
    expectEq(r, 1, "IRQ vector: armed 1 ms ahead: taken once")
    expect(takenAt >= cval, "IRQ vector: not before its deadline")
    settled(d, t)
    report()
}

// MARK: CPU_OFF and CPU_ON of a vCPU whose timer PPI is active

/// Per-vCPU words (the framework leaves them free): GICR_ISACTIVER0 |
/// GICR_ISPENDR0 << 32, and CNTV_CTL_EL0 | CNTP_CTL_EL0 << 8, as the vCPU
/// came up.
let stateAtBoot = 15
let timersAtBoot = 14

/// QEMU 7.2 recomputes a timer's output only when its ENABLE or IMASK bit
/// changes: a CPU reset leaves the line to the GIC as it was. The check
/// below sees PPI pending << 1 | timer condition holds: QEMU's departure is
/// 0b10, pending with the timer disabled.
let qemuTimerReset = Known.qemu("a CPU reset leaves the timer's output to the GIC as it was (7.2 recomputes it only when ENABLE or IMASK changes)",
                                seen: 0b10)

let cpuOffJob: Job = { _ in
    guest_irq_disable()
    _ = PSCICall.call(PSCICall.cpuOff)
    return 0xBAD
}

func cpuOffOnTests() {
    let n = vcpuCount
    guard n >= 2 else {
        skip("CPU_OFF and CPU_ON with an active timer PPI", needs: 2)
        return
    }
    let t = n - 1
    for d in [Device.virtualTimer, Device.physicalTimer] {
        let id = UInt64(d.intid)
        heading(d, t, "CPU_OFF with the PPI active, then CPU_ON")
        prepare(d, t)
        raise(d, t)
        let a = take(t)
        expect(a == id && activeNow(d, t), "acknowledged with the line high, not ended: active")
        let boots = load(t, F.boots)
        post(t, cpuOffJob)
        let off = spinUntil(us: mustHappenUs) { PSCICall.call(PSCICall.affinityInfo, mpidrOf(t), 0) == 1 }
        expect(off, "CPU_OFF with the PPI active: AFFINITY_INFO says OFF")
        let on = PSCICall.call(PSCICall.cpuOn, mpidrOf(t), entryAddress(), UInt64(t))
        let up = spinUntil(us: mustHappenUs) { load(t, F.boots) > boots }
        if on != 0 || !up { stall("CPU_ON after CPU_OFF: the vCPU did not come back") }
        let atBoot = load(t, stateAtBoot)
        let ctl = load(t, timersAtBoot) >> (d == .virtualTimer ? 0 : 8) & 7
        let pendingAtBoot: UInt64 = atBoot >> 32 & (1 << id) == 0 ? 0 : 1
        let conditionAtBoot: UInt64 = ctl == 5 ? 1 : 0
        expect(pendingAtBoot == conditionAtBoot, seeing: pendingAtBoot << 1 | conditionAtBoot,
               "after CPU_ON: the PPI is pending exactly when CNT*_CTL says the timer's condition holds",
               known: qemuTimerReset)
        noteValue("GICR_ISACTIVER0 | ISPENDR0 << 32 as the vCPU came back:", atBoot)
        noteValue("CNT*_CTL_EL0 as the vCPU came back:", ctl)
        writeState(GICD.isenabler, d, t, by: t)
        settled(d, t)
        report()
    }
}
