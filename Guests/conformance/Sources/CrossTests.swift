import ConformanceSupport
import GICArchitecture

// One vCPU changing the state of an interrupt another vCPU holds: the
// hypervisor must reach into the other vCPU's list registers.

/// Job: the highest pending Group 1 interrupt, once one shows (2 s at most).
let waitHPPIRJob: Job = { _ in
    var h: UInt32 = 1023
    _ = spinUntil(us: mustHappenUs) {
        h = hppir1()
        return h < 1020
    }
    return UInt64(h)
}

/// Job: IAR1 after a short wait for anything to arrive.
let lateIARJob: Job = { _ in
    delay(us: mustNotHappenUs)
    let a = iar1Now()
    return UInt64(a)
}

/// A trapped access by a vCPU to its own redistributor. Under the
/// hypervisor it makes that vCPU exit, so its list registers are folded back
/// before the job returns: what another vCPU reads next is not racing that
/// exit (see `foldRace` and the race in the hypervisor's run loop it shows).
func foldOwnListRegisters() {
    _ = rd32(sgiBase(thisCPU()) + UInt(GICD.isactiver))
}

let ackJob: Job = { _ in
    let a = pollIAR1()
    foldOwnListRegisters()
    return UInt64(a)
}
let eoiJob: Job = { intid in
    eoi1(UInt32(intid))
    foldOwnListRegisters()
    return rpr()
}

func crossVCPUTests() {
    section("State changed by another vCPU")
    guard vcpuCount >= 2 else {
        skip("one vCPU changing another's interrupts", needs: 2)
        return
    }
    // An SPI pending on vCPU 1 (its interrupts masked), cleared by vCPU 0.
    begin()
    let spi = testSPI + 14
    route(spi, to: 1)
    enable(spi)
    pend(spi)
    checkEq(runOn(1, waitHPPIRJob), UInt64(spi), "vCPU 1 sees the SPI routed to it pending (HPPIR1)")
    unpend(spi)
    checkEq(runOn(1, lateIARJob), 1023, "ICPENDR on vCPU 0 withdraws it from vCPU 1")

    // An SPI active on vCPU 1, deactivated by vCPU 0 through ICACTIVER.
    pend(spi)
    checkEq(runOn(1, ackJob), UInt64(spi), "vCPU 1 acknowledges the SPI")
    check(isActive(spi), "vCPU 0 reads it active")
    deactivate(spi)
    check(!isActive(spi), "ICACTIVER on vCPU 0 deactivates it")
    checkEq(runOn(1, eoiJob, UInt64(spi)), 0xFF, "vCPU 1's EOI still drops its running priority")
    pend(spi)
    let again = runOn(1, ackJob)
    checkEq(again, UInt64(spi), "made pending again, vCPU 1 takes it")
    runOn(1, eoiJob, again)

    // A disabled-while-pending SPI on vCPU 1.
    pend(spi)
    _ = runOn(1, waitHPPIRJob)
    disable(spi)
    checkEq(runOn(1, lateIARJob), 1023, "ICENABLER on vCPU 0 withdraws a pending SPI from vCPU 1")
    enable(spi)
    let back = runOn(1, ackJob)
    checkEq(back, UInt64(spi), "re-enabled, vCPU 1 takes it")
    runOn(1, eoiJob, back)

    // SGIs pending and active on vCPU 1, seen and changed through its redistributor.
    begin()
    enable(3, cpu: 1)
    sendSGI1(3, targets: 2)
    let seen = spinUntil(us: mustHappenUs) { isPending(3, cpu: 1) }
    check(seen, "an SGI sent to vCPU 1 shows in its GICR_ISPENDR0")
    unpend(3, cpu: 1)
    checkEq(runOn(1, lateIARJob), 1023, "GICR_ICPENDR0 of vCPU 1 written by vCPU 0 withdraws the SGI")
    sendSGI1(3, targets: 2)
    checkEq(runOn(1, ackJob), 3, "sent again, vCPU 1 takes it")
    sendSGI1(3, targets: 2)
    let both = spinUntil(us: mustHappenUs) { isPending(3, cpu: 1) } && isActive(3, cpu: 1)
    check(both, "sent while active: vCPU 1's SGI is active and pending")
    runOn(1, eoiJob, 3)
    let twice = runOn(1, ackJob)
    checkEq(twice, 3, "after the EOI vCPU 1 takes it again")
    runOn(1, eoiJob, twice)
    checkEq(runOn(1, lateIARJob), 1023, "and only once")
}
