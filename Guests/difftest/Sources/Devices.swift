import ConformanceSupport
import GICArchitecture
import GuestSupport

// The difftest's device operations, its asynchronous delivery and its
// CPU-interface group disables (Guests/difftest/README.md says what they
// compare and why each is deterministic on both sides).
//
// Devices: each vCPU's EL1 virtual and physical timers (PPIs 27 and 30),
// the PL031 RTC's alarm (SPI 34) and the PL011 UART's transmit interrupt
// (SPI 33): real lines, hardware-mapped interrupts under the hypervisor.
// Only states that do not depend on time: a timer's condition holds at once
// (CVAL 0) or never (CVAL all ones); the RTC's match equals its count (the
// alarm at once). After every device operation the vCPU that made it reads
// GICD_CTLR: under the hypervisor the read traps, and the vCPU re-enters
// only after the physical interrupt its operation raised was taken and
// reported (a physical SPI goes to CPU 0, which runs vCPU 0, the one that
// drives the UART and the RTC; a timer's PPI goes to its own CPU).

/// The run's device SPIs.
let deviceSPIs: [UInt32] = [33, 34]

// MARK: On the vCPU the operation names

/// A timer operation: `which << 8 | mode`, which 0 = virtual, 1 = physical;
/// mode 0 off, 1 condition holds, 2 condition holds but masked (IMASK),
/// 3 enabled, condition never. Then a trapped read (see above).
func timerOperation(_ value: UInt64) {
    let mode = value & 0xFF
    let cval: UInt64 = mode == 3 ? ~0 : 0
    let ctl: UInt64 = [0, 1, 3, 1][Int(mode & 3)]
    if value >> 8 == 0 {
        write_cntv_cval(cval)
        write_cntv_ctl(ctl)
    } else {
        write_cntp_cval(cval)
        write_cntp_ctl(ctl)
    }
    guest_isb()
    _ = mmio_read32(gicd + UInt(GICD.ctlr))
}

/// CNTV_CTL_EL0 | CNTP_CTL_EL0 << 8 (ENABLE, IMASK, ISTATUS).
func timerControls() -> UInt64 { read_cntv_ctl() & 7 | (read_cntp_ctl() & 7) << 8 }

/// The RTC (0: alarm now, 1: unmask, 2: mask, 3: clear) or the UART (4:
/// unmask TX, 5: mask TX, 6: a write to UARTDR, 7: clear TX), then a
/// trapped read. A match equal to the count raises the alarm at once; if the
/// count moved on between the read and the write, try again.
func spiDeviceOperation(_ what: Int) {
    switch what {
    case 0:
        var tries = 0
        while mmio_read32(rtc + PL031.ris) & 1 == 0 && tries < 8 {
            mmio_write32(rtc + PL031.mr, mmio_read32(rtc + PL031.dr))
            tries += 1
        }
    case 1: mmio_write32(rtc + PL031.imsc, 1)
    case 2: mmio_write32(rtc + PL031.imsc, 0)
    case 3: mmio_write32(rtc + PL031.icr, 1)
    case 4: mmio_write32(uart + PL011.imsc, PL011.tx)
    case 5: mmio_write32(uart + PL011.imsc, 0)
    case 6: mmio_write32(uart + PL011.dr, 0x0D)
    default: mmio_write32(uart + PL011.icr, PL011.tx)
    }
    guest_dsb()
    _ = mmio_read32(gicd + UInt(GICD.ctlr))
}

/// Every device quiet: the UART's and the RTC's interrupts masked and
/// cleared (vCPU 0), this vCPU's timers off.
func quietDevices() {
    mmio_write32(uart + PL011.imsc, 0)
    mmio_write32(uart + PL011.icr, 0x7FF)
    mmio_write32(rtc + PL031.imsc, 0)
    mmio_write32(rtc + PL031.icr, 1)
    guest_dsb()
}

// MARK: Asynchronous delivery: a window with IRQs unmasked

/// Per vCPU: [0] interrupts taken, [1] window open, [2...] what was taken
/// (INTID | running priority after the acknowledge << 16).
let windowStride = 32
let windowCapacity = 24
nonisolated(unsafe) var windowWords: UnsafeMutablePointer<UInt64>? = nil

func allocateWindows() {
    let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 16 * windowStride)
    p.initialize(repeating: 0, count: 16 * windowStride)
    windowWords = p
}

/// Open PSTATE.I on this vCPU until what is deliverable was taken: a trapped
/// read (under the hypervisor an exit, after which the vGIC flushes what
/// did not fit in the list registers) until the count stays the same three
/// times. Returns the count.
func openWindow() -> UInt64 {
    let w = windowWords! + thisCPU() * windowStride
    cf_store(w, 0)
    cf_store(w + 1, 1)
    guest_irq_enable()
    var last: UInt64 = ~0
    var still = 0
    for _ in 0..<64 where still < 3 {
        _ = mmio_read32(gicd + UInt(GICD.ctlr))
        guest_isb()
        let n = cf_load(w)
        if n == last { still += 1 } else { still = 0; last = n }
    }
    guest_irq_disable()
    cf_store(w + 1, 0)
    return cf_load(w)
}

/// The IRQ vector while a window is open: acknowledge (IAR1), record, quiet
/// the device a device interrupt came from (a level line held high would
/// come back at once), EOI (and DIR in EOImode 1), until nothing is left.
/// After `windowCapacity` interrupts it stops and returns with PSTATE.I set
/// (a storm: the logs will differ in the count).
func windowIRQ(_ frame: UnsafeMutablePointer<UInt64>) -> Bool {
    let cpu = thisCPU()
    let w = windowWords! + cpu * windowStride
    guard cf_load(w + 1) != 0 else { return false }
    while true {
        let n = Int(cf_load(w))
        if n >= windowCapacity {
            frame[21] |= 0x80
            break
        }
        let intid = read_icc_iar1() & 0xFF_FFFF
        if intid >= 1020 { break }
        cf_store(w + 2 + n, intid | (read_icc_rpr() & 0xFF) << 16)
        cf_store(w, UInt64(n + 1))
        switch intid {
        case 27: write_cntv_ctl(read_cntv_ctl() | 2)
        case 30: write_cntp_ctl(read_cntp_ctl() | 2)
        case 33: mmio_write32(uart + PL011.icr, PL011.tx)
        case 34: mmio_write32(rtc + PL031.icr, 1)
        default: break
        }
        guest_isb()
        write_icc_eoir1(intid)
        if read_icc_ctlr() & 2 != 0 { write_icc_dir(intid) }
        guest_isb()
    }
    return true
}

func windowEntry(_ cpu: Int, _ k: Int) -> UInt64 { cf_load(windowWords! + cpu * windowStride + 2 + k) }

// MARK: The generator's side

extension Run {
    /// A device operation, a device interrupt enabled, a device SPI made
    /// edge-triggered or level-sensitive, or a read of a device's own state.
    func deviceOperation() {
        if chance(10) {
            // Disabled while its trigger changes (the generator's rule), then enabled.
            let p = Pick(intid: deviceSPIs[below(deviceSPIs.count)], cpu: 0)
            if inHandler(p) { return read() }
            let edge = UInt32(below(2))
            mmio_write32(bitRegister(GICD.icenabler, p), 1 << (p.intid % 32))
            waitRWP(p)
            let a = gicd + UInt(GICD.icfgr) + UInt(p.intid / 16) * 4
            let shift = (p.intid % 16) * 2 + 1
            mmio_write32(a, mmio_read32(a) & ~(1 << shift) | edge << shift)
            mmio_write32(bitRegister(GICD.isenabler, p), 1 << (p.intid % 32))
            log(0, "device SPI trigger, enabled", UInt64(p.intid) << 8 | UInt64(edge))
            return
        }
        if chance(20) {
            let p = chance(50) ? Pick(intid: chance(50) ? 27 : 30, cpu: below(vcpus))
                : Pick(intid: deviceSPIs[below(deviceSPIs.count)], cpu: 0)
            let actor = pickActor()
            put32(actor, bitRegister(GICD.isenabler, p), 1 << (p.intid % 32))
            log(p.cpu, "ISENABLER", UInt64(p.intid), by: actor)
            return
        }
        switch below(10) {
        case 0..<4:
            let c = below(vcpus)
            let which = UInt64(below(2))
            let mode = UInt64(below(4))
            _ = runOn(c, .timer, which << 8 | mode)
            log(c, which == 0 ? "CNTV mode" : "CNTP mode", mode)
        case 4..<6:
            let what = below(4)
            spiDeviceOperation(what)
            log(0, "RTC op", UInt64(what))
        case 6..<8:
            let what = 4 + below(4)
            spiDeviceOperation(what)
            log(0, "UART op", UInt64(what - 4))
        default:
            switch below(3) {
            case 0:
                let c = below(vcpus)
                log(c, "CNTV_CTL | CNTP_CTL << 8", 0, runOn(c, .timerControls))
            case 1: log(0, "RTCMIS", 0, UInt64(mmio_read32(rtc + PL031.mis)))
            default: log(0, "UARTMIS & TX", 0, UInt64(mmio_read32(uart + PL011.mis) & PL011.tx))
            }
        }
    }

    /// A window with IRQs unmasked on one vCPU; what it took, in order.
    func window() {
        let c = below(vcpus)
        if disabledGroupMayRank(c) {
            log(c, "IRQ window skipped: a disabled group's interrupt is pending", 0)
            return
        }
        let n = runOn(c, .window)
        log(c, "IRQ window", 0, n)
        for k in 0..<min(Int(n), windowCapacity) { log(c, "IRQ taken", UInt64(k), windowEntry(c, k)) }
    }

    // MARK: A group disabled at the CPU interface

    /// With a group disabled at vCPU `c`'s CPU interface, QEMU's physical
    /// CPU interface (the reference) still ranks that group's pending
    /// interrupts: one of them can hide the other group's from HPPIR, IAR
    /// and the IRQ signal, where a virtual CPU interface chooses among the
    /// list registers of enabled groups only. The generator therefore
    /// acknowledges, reads HPPIR and opens windows on such a vCPU only when
    /// no interrupt of a disabled group is pending and enabled for it (its
    /// SGIs and PPIs; the run's SPIs routed to it or by IRM), and makes no
    /// EOI or DIR there until its groups are on again.
    func disabledGroupMayRank(_ c: Int) -> Bool {
        let off = groupOff[c]
        guard off != 0 else { return false }
        func candidates(_ pend: UInt32, _ enabled: UInt32, _ group1: UInt32) -> UInt32 {
            var offMask: UInt32 = 0
            if off & 1 != 0 { offMask |= ~group1 }
            if off & 2 != 0 { offMask |= group1 }
            return pend & enabled & offMask
        }
        let s = sgiBase(c)
        if candidates(mmio_read32(s + UInt(GICD.ispendr)), mmio_read32(s + UInt(GICD.isenabler)),
                      mmio_read32(s + UInt(GICD.igroupr))) != 0 { return true }
        for word in [UInt32(1), 2, 7] {
            let w = UInt(word) * 4
            var m = candidates(mmio_read32(gicd + UInt(GICD.ispendr) + w),
                               mmio_read32(gicd + UInt(GICD.isenabler) + w),
                               mmio_read32(gicd + UInt(GICD.igroupr) + w))
            while m != 0 {
                let b = UInt32(m.trailingZeroBitCount)
                m &= m - 1
                let route = mmio_read64(gicd + UInt(GICD.irouter) + 8 * UInt(word * 32 + b))
                if route & (1 << 31) != 0 || route & 0xFF_00FF_FFFF == mpidrOf(c) { return true }
            }
        }
        return false
    }

    // MARK: Start and end of a seed

    /// The devices quiet, every vCPU's timers off, the device SPIs' bank
    /// (INTIDs 32-63) like the run's other SPI banks: disabled, inactive,
    /// not pending, Group 1, level, 0xA0; the device SPIs routed to vCPU 0.
    /// (The bank's other SPIs are never used; writing them too keeps every
    /// bit a read of the bank logs at a value the run chose, not at the
    /// GIC's reset value, which is IMPLEMENTATION DEFINED: QEMU's groups
    /// reset to 0, the vGIC's to 1 as KVM's.)
    func resetDevices() {
        quietDevices()
        for c in 0..<vcpus {
            _ = runOn(c, .timer, 0)
            _ = runOn(c, .timer, 1 << 8)
        }
        let w = UInt(4)
        mmio_write32(gicd + UInt(GICD.icenabler) + w, 0xFFFF_FFFF)
        while mmio_read32(gicd + UInt(GICD.ctlr)) & GICD.ctlrRWP != 0 {}
        mmio_write32(gicd + UInt(GICD.icpendr) + w, 0xFFFF_FFFF)
        mmio_write32(gicd + UInt(GICD.icactiver) + w, 0xFFFF_FFFF)
        mmio_write32(gicd + UInt(GICD.igroupr) + w, 0xFFFF_FFFF)
        mmio_write32(gicd + UInt(GICD.icfgr) + 8, 0)
        mmio_write32(gicd + UInt(GICD.icfgr) + 12, 0)
        var i: UInt = 32
        while i < 64 {
            mmio_write32(gicd + UInt(GICD.ipriorityr) + i, 0xA0A0_A0A0)
            i += 4
        }
        for spi in deviceSPIs { mmio_write64(gicd + UInt(GICD.irouter) + 8 * UInt(spi), 0) }
    }

    /// The devices' own state at the end of a seed.
    func dumpDevices() {
        for c in 0..<vcpus { log(c, "end CNTV_CTL | CNTP_CTL << 8", 0, runOn(c, .timerControls)) }
        log(0, "end RTCMIS", 0, UInt64(mmio_read32(rtc + PL031.mis)))
        log(0, "end UARTMIS & TX", 0, UInt64(mmio_read32(uart + PL011.mis) & PL011.tx))
        let w = UInt(4)
        log(0, "end GICD_ISENABLER", 32, UInt64(mmio_read32(gicd + UInt(GICD.isenabler) + w)))
        log(0, "end GICD_ISPENDR", 32, UInt64(mmio_read32(gicd + UInt(GICD.ispendr) + w)))
        log(0, "end GICD_ISACTIVER", 32, UInt64(mmio_read32(gicd + UInt(GICD.isactiver) + w)))
    }

    /// Every vCPU's CPU-interface groups on again (before the end's reads).
    func groupsOn() {
        for c in 0..<vcpus where groupOff[c] != 0 {
            if groupOff[c] & 1 != 0 { _ = runOn(c, .writeIGRPEN0, 1) }
            if groupOff[c] & 2 != 0 { _ = runOn(c, .writeIGRPEN1, 1) }
            log(c, "groups on again", UInt64(groupOff[c]))
            groupOff[c] = 0
        }
    }
}
