import ConformanceSupport
import GICArchitecture
import GuestSupport

// The GIC side of a device's interrupt: its configuration, its state as the
// guest reads it, the seed's writes from any vCPU, and taking it on the
// vCPU it belongs to -- polled with interrupts masked, or through the IRQ
// vector.

/// GICD_ICFGR: edge-triggered or level-sensitive (SPIs; the interrupt must
/// be disabled).
func setEdge(_ d: Device, _ edge: Bool) {
    let a = gicd + UInt(GICD.icfgr + (d.intid / 16) * 4)
    let shift = (d.intid % 16) * 2 + 1
    mmio_write32(a, mmio_read32(a) & ~(UInt32(1) << shift) | (edge ? UInt32(1) << shift : 0))
}

func isEdge(_ d: Device) -> Bool {
    let a = gicd + UInt(GICD.icfgr + (d.intid / 16) * 4)
    return mmio_read32(a) >> ((d.intid % 16) * 2 + 1) & 1 != 0
}

/// The register of bank `reg` (ISENABLER, ICPENDR, ...) that holds the
/// device's interrupt owned by vCPU `owner`: the distributor's for an SPI,
/// the owner's redistributor for a PPI.
func stateAddress(_ reg: UInt32, _ d: Device, _ owner: Int) -> UInt {
    d.isSPI ? dReg(reg, d.intid) : sgiBase(owner) + UInt(reg)
}

/// What the calling vCPU reads of the interrupt's state.
func stateBit(_ reg: UInt32, _ d: Device, _ owner: Int) -> Bool {
    mmio_read32(stateAddress(reg, d, owner)) & bit(d.intid) != 0
}
func pendingNow(_ d: Device, _ owner: Int) -> Bool { stateBit(GICD.ispendr, d, owner) }
func activeNow(_ d: Device, _ owner: Int) -> Bool { stateBit(GICD.isactiver, d, owner) }

/// Pending within the must-happen time (a device's line reaches a GIC
/// through a host under the hypervisor), or not pending after the
/// must-not-happen window.
func becomesPending(_ d: Device, _ owner: Int) -> Bool {
    spinUntil(us: mustHappenUs) { pendingNow(d, owner) }
}
func staysNotPending(_ d: Device, _ owner: Int) -> Bool {
    delay(us: mustNotHappenUs)
    return !pendingNow(d, owner)
}

/// Job: a 32-bit write, `address << 32 | value`.
let write32Job: Job = { arg in
    mmio_write32(UInt(arg >> 32), UInt32(truncatingIfNeeded: arg))
    guest_dsb()
    return 0
}

/// vCPU `actor` writes the interrupt's bit of bank `reg` (the seed's
/// operations, enables); ICENABLER waits for the write to take effect.
func writeState(_ reg: UInt32, _ d: Device, _ owner: Int, by actor: Int) {
    runOn(actor, write32Job, UInt64(stateAddress(reg, d, owner)) << 32 | UInt64(bit(d.intid)))
    if reg == GICD.icenabler {
        if d.isSPI { waitDistributorRWP() } else { waitRedistributorRWP(owner) }
    }
}

/// The device's interrupt configured for vCPU `owner`: quiet device,
/// disabled, inactive, not pending, edge or level (SPIs), routed to the
/// owner (SPIs), then enabled; vCPU 0, the owner and `actor` reset, every
/// other vCPU parked.
func prepare(_ d: Device, _ owner: Int, edge: Bool = false, actor: Int = 0) {
    begin(using: [owner, actor])
    subject = (d, owner)
    cf_store(global(G.scratch), UInt64(d.rawValue))
    if d.isSPI {
        setEdge(d, edge)
        mmio_write64(gicd + UInt(GICD.irouter + 8 * d.intid), mpidrOf(owner))
    }
    writeState(GICD.isenabler, d, owner, by: 0)
}

// MARK: Taking it on its vCPU

/// Job: acknowledge the next interrupt, waiting up to the must-happen time.
let takeJob: Job = { _ in UInt64(pollIAR1()) }
/// Job: watch the must-not-happen window; an interrupt that comes is
/// acknowledged, ended and returned (1023: none came).
let nothingJob: Job = { _ in
    let a = pollIAR1(us: mustNotHappenUs)
    if a < 1020 { eoi1(a) }
    return UInt64(a)
}
let eoiJob: Job = { intid in
    eoi1(UInt32(truncatingIfNeeded: intid))
    return 0
}
/// Job: a distributor read (under the hypervisor it traps: the vCPU exits
/// and re-enters with its list registers flushed), then IAR1 at once.
let exitThenIARJob: Job = { _ in
    _ = mmio_read32(gicd + UInt(GICD.ctlr))
    guest_isb()
    return UInt64(pollIAR1(us: mustNotHappenUs))
}

func take(_ cpu: Int) -> UInt64 { runOn(cpu, takeJob) }
func nothing(_ cpu: Int) -> UInt64 { runOn(cpu, nothingJob) }
func eoi(_ cpu: Int, _ intid: UInt64) { runOn(cpu, eoiJob, intid) }

/// Job (interrupts masked): `arg` rounds of: the subject device's line
/// raised and its interrupt taken; the line lowered and the interrupt ended;
/// then, with no exit in between, the line raised again and lowered a few
/// microseconds later (under the hypervisor the host may take the twin in
/// between, while this vCPU's list register still names the interrupt it
/// just deactivated); then a distributor read (an exit) and nothing may be
/// taken. Returns the rounds whose interrupt came | interrupts taken after a
/// pulse << 16; stops at the first round whose interrupt never came.
let pulseJob: Job = { rounds in
    let d = Device(rawValue: Int(cf_load(global(G.scratch)))) ?? .uart
    let widths: [UInt64] = [0, 5, 20, 50, 200]
    var taken: UInt64 = 0, extra: UInt64 = 0
    for k in 0..<Int(rounds) {
        raiseHere(d)
        let a = pollIAR1()
        if a != d.intid {
            lowerHere(d)
            if a < 1020 { eoi1(a) }
            break
        }
        taken += 1
        lowerHere(d)
        eoi1(a)
        raiseHere(d)
        delay(us: widths[k % widths.count])
        lowerHere(d)
        _ = mmio_read32(gicd + UInt(GICD.ctlr))
        let b = pollIAR1(us: mustNotHappenUs)
        if b < 1020 {
            eoi1(b)
            extra += 1
        }
    }
    return taken | extra << 16
}

// MARK: Through the IRQ vector

/// IRQ hook: the subject device's interrupt (G.scratch) taken through the
/// vector is counted (F.scratch), its line lowered and the interrupt ended;
/// while fewer than G.scratch + 1 were taken, the line is raised again right
/// after the EOI, with no exit in between. Anything else is ended (the
/// framework's log counts it).
let reassertHook: Hook = { intid in
    let cpu = thisCPU()
    let d = Device(rawValue: Int(cf_load(global(G.scratch)))) ?? .uart
    guard intid == d.intid else {
        eoi1(intid)
        return
    }
    let k = cf_add(slot(cpu, F.scratch), 1)
    if k == 1 { store(cpu, F.scratch + 1, read_cntvct()) }
    lowerHere(d)
    eoi1(intid)
    if k < cf_load(global(G.scratch + 1)) { raiseHere(d) }
}

/// Job: with the reassert hook, take the subject device's interrupt through
/// the IRQ vector `arg` times (interrupts unmasked until then, or the
/// must-happen time), then watch the must-not window. Returns the count
/// taken | other interrupts taken << 16.
let vectorJob: Job = { times in
    let cpu = thisCPU()
    let d = Device(rawValue: Int(cf_load(global(G.scratch)))) ?? .uart
    store(cpu, F.scratch, 0)
    clearLog(cpu)
    cf_store(global(G.scratch + 1), times)
    setHook(cpu, reassertHook)
    guest_irq_enable()
    _ = spinUntil(us: mustHappenUs) { load(cpu, F.scratch) >= times }
    delay(us: mustNotHappenUs)
    guest_irq_disable()
    setHook(cpu, nil)
    let mine = load(cpu, F.scratch)
    let others = UInt64(logCount(cpu)) - UInt64(received(cpu, d.intid))
    return mine | others << 16
}
