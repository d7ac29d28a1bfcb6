import GICArchitecture
import GuestSupport

// The demo guest: on every vCPU it takes virtual-timer interrupts, sends and
// receives SGIs, drives its timer PPI's pending and active state through its
// redistributor (the path the vGIC forwards to the physical twin), checks a
// few register accesses and PSCI calls, then vCPU 0 prints the summary and
// powers the machine off.

enum Shared {
    static let vcpuCount = 0
    static let booted = 1
    static let barrierCount = 2
    static let barrierGeneration = 3
    static let passed = 4
    static let failed = 5
    static let done = 6
    static let timerIRQs = 16        // + vCPU
    static let timerEarly = 32       // + vCPU
    static let ringSGIs = 48         // + vCPU
    static let broadcastSGIs = 64    // + vCPU
    static let listSGIs = 80         // + vCPU
    static let unexpected = 96       // + vCPU
    static let physicalTimerIRQs = 112  // + vCPU

    @inline(__always) static func at(_ i: Int) -> UnsafeMutablePointer<UInt32> { guest_shared() + i }
    @inline(__always) static func load(_ i: Int) -> UInt32 { atomic_load32(at(i)) }
    @inline(__always) static func add(_ i: Int, _ v: UInt32 = 1) -> UInt32 { atomic_add32(at(i), v) }
    @inline(__always) static func store(_ i: Int, _ v: UInt32) { atomic_store32(at(i), v) }
}

let timerPPI: UInt32 = 27
let physicalTimerPPI: UInt32 = 30
let ringSGI: UInt32 = 1
let broadcastSGI: UInt32 = 2
let listSGI: UInt32 = 3

func check(_ ok: Bool, _ name: StaticString) {
    if ok {
        _ = Shared.add(Shared.passed)
    } else {
        _ = Shared.add(Shared.failed)
        say { $0.s("demo: vCPU "); $0.dec(myCPU()); $0.s(": FAIL: "); $0.s(name) }
    }
}

/// All vCPUs meet here (sense by generation number). A vCPU that waits
/// longer than 30 s says so and powers the machine off: a stall is a named
/// failure, not a silent timeout.
func barrier() {
    let n = Shared.load(Shared.vcpuCount)
    let generation = Shared.load(Shared.barrierGeneration)
    if Shared.add(Shared.barrierCount) == n {
        Shared.store(Shared.barrierCount, 0)
        _ = Shared.add(Shared.barrierGeneration)
    } else if !waitUntil(us: 30_000_000, { Shared.load(Shared.barrierGeneration) != generation }) {
        stall("barrier: another vCPU did not arrive", count: Shared.load(Shared.barrierCount), of: n)
    }
}

/// Give up: report where, then PSCI SYSTEM_OFF (the summary line that
/// test-hyp looks for is never printed).
func stall(_ what: StaticString, count: UInt32, of n: UInt32) -> Never {
    say {
        $0.s("demo: vCPU "); $0.dec(myCPU()); $0.s(": FAIL: "); $0.s(what)
        $0.s(" ("); $0.dec(Int(count)); $0.s(" of "); $0.dec(Int(n)); $0.s(")")
    }
    _ = PSCICall.call(PSCICall.systemOff)
    while true { guest_wfi() }
}

/// Ticks of the virtual counter in `us` microseconds.
func ticks(us: UInt64) -> UInt64 { read_cntfrq() / 1_000_000 * us }

/// Spin until `done` or `us` microseconds pass. With `sleep` (called with
/// IRQs unmasked) it waits in WFI between checks: IRQs are masked while it
/// checks and sleeps, so an interrupt that makes `done` true cannot be taken
/// between the check and the WFI (which would then sleep for ever: the
/// timer tests' handler disables the timer); WFI wakes for a pending
/// interrupt whatever PSTATE.I says, and unmasking takes it.
func waitUntil(us: UInt64, sleep: Bool = false, _ done: () -> Bool) -> Bool {
    let deadline = read_cntvct() + ticks(us: us)
    while true {
        if sleep { guest_irq_disable() }
        if done() {
            if sleep { guest_irq_enable() }
            return true
        }
        if read_cntvct() > deadline {
            if sleep { guest_irq_enable() }
            return false
        }
        if sleep {
            guest_wfi()
            guest_irq_enable()
        }
    }
}

@_cdecl("guest_main")
func guestMain(_ cpu: Int, _ deviceTree: UInt64) {
    if cpu == 0 {
        say {
            $0.s("demo: vCPU 0 at EL")
            $0.dec(Int((read_currentel() >> 2) & 3))
            $0.s(", device tree at ")
            $0.hex(deviceTree)
        }
        GIC.enableDistributor()
        var n = 1
        while n < 16 {
            if PSCICall.call(PSCICall.cpuOn, UInt64(n), entryAddress(), UInt64(n)) != 0 { break }
            n += 1
        }
        Shared.store(Shared.vcpuCount, UInt32(n))
        say { $0.s("demo: started "); $0.dec(n); $0.s(" vCPUs") }
    } else {
        while Shared.load(Shared.vcpuCount) == 0 {}
    }
    // Every vCPU counts itself in. (vCPU 0 once stored 1 here after
    // publishing the count: a secondary's increment in between was lost and
    // every vCPU waited below for ever.)
    _ = Shared.add(Shared.booted)
    runTests(cpu)
}

func runTests(_ cpu: Int) {
    let n = Int(Shared.load(Shared.vcpuCount))
    if !waitUntil(us: 30_000_000, { Shared.load(Shared.booted) >= UInt32(n) }) {
        stall("not every vCPU booted", count: Shared.load(Shared.booted), of: UInt32(n))
    }

    guard let rd = GIC.findRedistributor() else {
        check(false, "no redistributor matches this vCPU's MPIDR")
        finish(cpu, n)
        return
    }
    check(rd == GIC.redistributors + UInt(cpu) * UInt(GICR.frameSize), "redistributor frame order")
    GIC.initCPU(redistributor: rd, enabled: 1 << ringSGI | 1 << broadcastSGI | 1 << listSGI | 1 << timerPPI
        | 1 << physicalTimerPPI)
    guest_irq_enable()
    barrier()

    timerTest(cpu, rounds: 5)
    barrier()
    sgiTests(cpu, n)
    barrier()
    redistributorStateTests(cpu, rd)
    barrier()
    timerTest(cpu, rounds: 1)
    physicalTimerTest(cpu, rounds: 3)
    splitDeactivationTest(cpu, rd)
    accessWidthTests(cpu, rd)
    if cpu == 0 { psciTests() }
    barrier()
    finish(cpu, n)
}

// MARK: Virtual timer

func timerTest(_ cpu: Int, rounds: Int) {
    let before = Int(Shared.load(Shared.timerIRQs + cpu))
    for k in 1...rounds {
        write_cntv_cval(read_cntvct() + ticks(us: 500))
        write_cntv_ctl(1)  // ENABLE, not masked
        guest_isb()
        let got = waitUntil(us: 10_000_000, sleep: true) { Int(Shared.load(Shared.timerIRQs + cpu)) >= before + k }
        if !got {
            check(false, "virtual timer interrupt did not arrive")
            return
        }
    }
    check(Int(Shared.load(Shared.timerIRQs + cpu)) == before + rounds, "virtual timer interrupt count")
    check(Shared.load(Shared.timerEarly + cpu) == 0, "virtual timer interrupt before its deadline")
}

/// The EL1 physical timer (CNTP_*, PPI 30): mapped like the virtual one.
func physicalTimerTest(_ cpu: Int, rounds: Int) {
    let before = Int(Shared.load(Shared.physicalTimerIRQs + cpu))
    for k in 1...rounds {
        write_cntp_cval(read_cntpct() + ticks(us: 300))
        write_cntp_ctl(1)
        guest_isb()
        let got = waitUntil(us: 10_000_000, sleep: true) {
            Int(Shared.load(Shared.physicalTimerIRQs + cpu)) >= before + k
        }
        if !got {
            check(false, "physical timer interrupt did not arrive")
            return
        }
    }
    check(Int(Shared.load(Shared.physicalTimerIRQs + cpu)) == before + rounds, "physical timer interrupt count")
}

// MARK: SGIs

func sgiTests(_ cpu: Int, _ n: Int) {
    // A ring: each vCPU sends 10 SGIs to the next, one at a time.
    let next = (cpu + 1) % n
    if n > 1 {
        for _ in 0..<10 {
            let before = Shared.load(Shared.ringSGIs + next)
            GIC.sendSGI(ringSGI, targets: 1 << UInt16(next))
            if !waitUntil(us: 10_000_000, { Shared.load(Shared.ringSGIs + next) > before }) {
                check(false, "ring SGI not received")
                break
            }
        }
    }
    barrier()
    check(n == 1 || Shared.load(Shared.ringSGIs + cpu) == 10, "ring SGIs received")

    // Broadcast (IRM): the vCPUs take turns, so that no two requests coalesce.
    for round in 0..<n {
        if round == cpu { GIC.sendSGI(broadcastSGI, targets: 0, allButSelf: true) }
        let expected = UInt32(round < cpu ? round + 1 : round)
        _ = waitUntil(us: 10_000_000) { Shared.load(Shared.broadcastSGIs + cpu) >= expected }
        barrier()
    }
    check(Shared.load(Shared.broadcastSGIs + cpu) == UInt32(n - 1), "broadcast SGIs received")

    // A target list naming every vCPU, the sender included.
    if cpu == 0 { GIC.sendSGI(listSGI, targets: UInt16((1 << n) - 1)) }
    _ = waitUntil(us: 10_000_000) { Shared.load(Shared.listSGIs + cpu) >= 1 }
    barrier()
    check(Shared.load(Shared.listSGIs + cpu) == 1, "target-list SGI received once")
}

// MARK: The timer PPI's pending and active state through the redistributor

func redistributorStateTests(_ cpu: Int, _ rd: UInt) {
    let sgi = rd + UInt(GICR.sgiBase)
    let bit: UInt32 = 1 << timerPPI
    let base = Int(Shared.load(Shared.timerIRQs + cpu))
    write_cntv_ctl(0)
    guest_irq_disable()

    // Pending, acknowledged, active, deactivated by EOI (the HW bit).
    mmio_write32(sgi + UInt(GICD.ispendr), bit)
    check(mmio_read32(sgi + UInt(GICD.ispendr)) & bit != 0, "ISPENDR0 shows the timer PPI pending")
    let intid = UInt32(read_icc_iar1() & 0xFF_FFFF)
    check(intid == timerPPI, "the pending timer PPI is acknowledged")
    if intid == timerPPI {
        check(mmio_read32(sgi + UInt(GICD.isactiver)) & bit != 0, "ISACTIVER0 shows it active after IAR")
        write_icc_eoir1(UInt64(intid))
        guest_isb()
        check(mmio_read32(sgi + UInt(GICD.isactiver)) & bit == 0, "EOI deactivates it")
    } else if intid < 1020 {
        write_icc_eoir1(UInt64(intid))
    }
    check(mmio_read32(sgi + UInt(GICD.ispendr)) & bit == 0, "not pending after EOI")

    // Pending, then cleared before anyone takes it.
    mmio_write32(sgi + UInt(GICD.ispendr), bit)
    mmio_write32(sgi + UInt(GICD.icpendr), bit)
    check(mmio_read32(sgi + UInt(GICD.ispendr)) & bit == 0, "ICPENDR0 clears the pending state")
    let none = UInt32(read_icc_iar1() & 0xFF_FFFF)
    check(none == 1023, "nothing to acknowledge after ICPENDR0")
    if none < 1020 { write_icc_eoir1(UInt64(none)) }

    // Active set and cleared through the redistributor.
    mmio_write32(sgi + UInt(GICD.isactiver), bit)
    check(mmio_read32(sgi + UInt(GICD.isactiver)) & bit != 0, "ISACTIVER0 sets the active state")
    mmio_write32(sgi + UInt(GICD.icactiver), bit)
    check(mmio_read32(sgi + UInt(GICD.isactiver)) & bit == 0, "ICACTIVER0 clears the active state")

    // Active blocks the timer; clearing active lets it through.
    mmio_write32(sgi + UInt(GICD.isactiver), bit)
    guest_irq_enable()
    write_cntv_cval(read_cntvct())
    write_cntv_ctl(1)
    guest_isb()
    let blocked = !waitUntil(us: 3000) { Int(Shared.load(Shared.timerIRQs + cpu)) > base }
    check(blocked, "an active timer PPI is not delivered again")
    mmio_write32(sgi + UInt(GICD.icactiver), bit)
    let delivered = waitUntil(us: 10_000_000, sleep: true) { Int(Shared.load(Shared.timerIRQs + cpu)) > base }
    check(delivered, "the timer PPI arrives once its active state is cleared")
    write_cntv_ctl(0)
}

// MARK: EOImode 1: priority drop by EOIR, deactivation by DIR

/// With ICC_CTLR_EL1.EOImode = 1 the vGIC asks for DIR to trap (more than
/// one vCPU); the hypervisor hands the write to the vGIC, which deactivates.
func splitDeactivationTest(_ cpu: Int, _ rd: UInt) {
    let sgi = rd + UInt(GICR.sgiBase)
    let bit: UInt32 = 1 << listSGI
    guest_irq_disable()
    write_icc_ctlr(read_icc_ctlr() | 2)
    guest_isb()
    GIC.sendSGI(listSGI, targets: 1 << UInt16(cpu))
    var intid: UInt32 = 1023
    _ = waitUntil(us: 10_000_000) {
        intid = UInt32(read_icc_iar1() & 0xFF_FFFF)
        return intid != 1023
    }
    check(intid == listSGI, "SGI to self acknowledged (EOImode 1)")
    if intid < 1020 {
        write_icc_eoir1(UInt64(intid))
        check(mmio_read32(sgi + UInt(GICD.isactiver)) & bit != 0, "still active after EOIR in EOImode 1")
        write_icc_dir(UInt64(intid))
        guest_isb()
        check(mmio_read32(sgi + UInt(GICD.isactiver)) & bit == 0, "DIR deactivates (EOImode 1)")
    }
    write_icc_ctlr(read_icc_ctlr() & ~2)
    guest_isb()
    guest_irq_enable()
}

// MARK: Access widths and sign extension

func accessWidthTests(_ cpu: Int, _ rd: UInt) {
    let sgi = rd + UInt(GICR.sgiBase)
    let prio = sgi + UInt(GICD.ipriorityr) + 5
    mmio_write8(prio, 0x80)
    check(mmio_read8(prio) == 0x80, "byte access to IPRIORITYR")
    check(mmio_read8_signed(prio) == -128, "sign-extending byte load (LDRSB)")
    check(mmio_read32(sgi + UInt(GICD.ipriorityr) + 4) == 0xA0A0_80A0, "word view of a byte write")
    mmio_write8(prio, 0xA0)
    let typer = mmio_read64(rd + UInt(GICR.typer))
    check(typer >> 32 == UInt64(cpu), "64-bit GICR_TYPER read")
    check(mmio_read32(GIC.distributor + UInt(GICD.ctlr)) & GICD.ctlrEnableGrp1 != 0, "GICD_CTLR reads back")
}

// MARK: PSCI

func psciTests() {
    check(PSCICall.call(PSCICall.version) == 0x1_0000, "PSCI_VERSION is 1.0")
    check(PSCICall.call(PSCICall.features, PSCICall.cpuOn) == 0, "PSCI_FEATURES(CPU_ON)")
    check(PSCICall.call(PSCICall.features, 0x8400_00FF) == -1, "PSCI_FEATURES(unknown) is NOT_SUPPORTED")
    check(PSCICall.call(0x8400_00FF) == -1, "an unknown function is NOT_SUPPORTED")
    check(PSCICall.call(PSCICall.affinityInfo, 0, 0) == 0, "AFFINITY_INFO(self) is ON")
    check(PSCICall.call(PSCICall.cpuOn, 0, entryAddress(), 0) == -4, "CPU_ON(self) is ALREADY_ON")
    check(PSCICall.call(PSCICall.cpuOn, 0x55, entryAddress(), 0) == -2, "CPU_ON(no such CPU)")
    check(PSCICall.call(PSCICall.migrateInfoType) == 2, "MIGRATE_INFO_TYPE")
}

// MARK: The end

func finish(_ cpu: Int, _ n: Int) {
    say {
        $0.s("demo: vCPU ")
        $0.dec(cpu)
        $0.s(": ")
        $0.dec(Int(Shared.load(Shared.timerIRQs + cpu)))
        $0.s(" + ")
        $0.dec(Int(Shared.load(Shared.physicalTimerIRQs + cpu)))
        $0.s(" timer IRQs (virtual + physical), ")
        $0.dec(Int(Shared.load(Shared.ringSGIs + cpu) + Shared.load(Shared.broadcastSGIs + cpu)
            + Shared.load(Shared.listSGIs + cpu)))
        $0.s(" SGIs")
    }
    check(Shared.load(Shared.unexpected + cpu) == 0, "no unexpected interrupt")
    guest_irq_disable()
    _ = Shared.add(Shared.done)
    if cpu != 0 {
        _ = PSCICall.call(PSCICall.cpuOff)
        check(false, "CPU_OFF returned")
        while true { guest_wfi() }
    }
    _ = waitUntil(us: 5_000_000) { Shared.load(Shared.done) == UInt32(n) }
    for t in 1..<max(n, 1) {
        let off = waitUntil(us: 5_000_000) { PSCICall.call(PSCICall.affinityInfo, UInt64(t), 0) == 1 }
        check(off, "AFFINITY_INFO says OFF after CPU_OFF")
    }
    let passed = Int(Shared.load(Shared.passed)), failed = Int(Shared.load(Shared.failed))
    say { $0.s("demo: "); $0.dec(n); $0.s(" vCPUs: "); $0.dec(passed); $0.s(" passed, "); $0.dec(failed); $0.s(" failed") }
    _ = PSCICall.call(PSCICall.systemOff)
}

// MARK: Exceptions

@_cdecl("guest_irq")
func guestIRQ(_ frame: UnsafeMutablePointer<UInt64>) {
    let cpu = myCPU()
    while true {
        let intid = UInt32(read_icc_iar1() & 0xFF_FFFF)
        if intid >= 1020 { return }
        switch intid {
        case timerPPI:
            if read_cntvct() < read_cntv_cval() { _ = Shared.add(Shared.timerEarly + cpu) }
            write_cntv_ctl(0)  // the line drops; the next test arms it again
            guest_isb()
            _ = Shared.add(Shared.timerIRQs + cpu)
        case physicalTimerPPI:
            write_cntp_ctl(0)
            guest_isb()
            _ = Shared.add(Shared.physicalTimerIRQs + cpu)
        case ringSGI: _ = Shared.add(Shared.ringSGIs + cpu)
        case broadcastSGI: _ = Shared.add(Shared.broadcastSGIs + cpu)
        case listSGI: _ = Shared.add(Shared.listSGIs + cpu)
        default:
            _ = Shared.add(Shared.unexpected + cpu)
            say { $0.s("demo: vCPU "); $0.dec(cpu); $0.s(": unexpected interrupt "); $0.dec(Int(intid)) }
        }
        write_icc_eoir1(UInt64(intid))
    }
}

@_cdecl("guest_sync")
func guestSync(_ frame: UnsafeMutablePointer<UInt64>) {
    say {
        $0.s("demo: vCPU ")
        $0.dec(myCPU())
        $0.s(": unexpected synchronous exception, ESR_EL1 ")
        $0.hex(read_esr_el1())
        $0.s(" FAR_EL1 ")
        $0.hex(read_far_el1())
        $0.s(" ELR_EL1 ")
        $0.hex(read_elr_el1())
    }
    _ = Shared.add(Shared.failed)
    while true { guest_wfi() }
}

@_cdecl("guest_fault")
func guestFault(_ frame: UnsafeMutablePointer<UInt64>) {
    say { $0.s("demo: unexpected exception vector, ESR_EL1 "); $0.hex(read_esr_el1()) }
    _ = Shared.add(Shared.failed)
    while true { guest_wfi() }
}
