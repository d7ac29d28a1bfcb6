import ConformanceSupport
import GICArchitecture
import GuestSupport

// The devices of QEMU virt whose interrupt lines a guest can raise and lower
// by itself, with no input from outside:
//
//   the PL011 UART (SPI, INTID 33): a write to UARTDR completes at once and
//     sets the transmit interrupt (UARTRIS bit 5); UARTIMSC bit 5 unmasks
//     it, UARTICR bit 5 clears it. The byte written is a carriage return,
//     which compare.sh strips from the logs.
//   the PL031 RTC (SPI, INTID 34): a match register equal to the current
//     count raises the alarm at once (RTCRIS bit 0); RTCIMSC bit 0 unmasks
//     it, RTCICR bit 0 clears it. A match one second ahead is a real alarm.
//   the EL1 virtual and physical timers (PPIs 27 and 30 of each vCPU): the
//     line is ENABLE && !IMASK && ISTATUS; CVAL 0 makes ISTATUS hold.
//
// Under the hypervisor each line is passed through as a hardware-mapped
// interrupt (the physical twin of docs/physical-twin.md); on QEMU's own GIC
// (the reference) the line goes straight to the GIC.

/// The devices' interrupt bits: all of the UART's (UARTRIS/MIS/ICR), the
/// RTC's alarm.
let uartAllInterrupts: UInt32 = 0x7FF
let rtcAlarm: UInt32 = 1

let virtualTimerPPI: UInt32 = 27
let physicalTimerPPI: UInt32 = 30

enum Device: Int {
    case uart = 0
    case rtc = 1
    case virtualTimer = 2
    case physicalTimer = 3

    static let all: [Device] = [.uart, .rtc, .virtualTimer, .physicalTimer]

    var intid: UInt32 {
        switch self {
        case .uart: return 33
        case .rtc: return 34
        case .virtualTimer: return virtualTimerPPI
        case .physicalTimer: return physicalTimerPPI
        }
    }

    var isSPI: Bool { intid >= 32 }

    var name: StaticString {
        switch self {
        case .uart: return "UART (SPI 33)"
        case .rtc: return "RTC (SPI 34)"
        case .virtualTimer: return "virtual timer (PPI 27)"
        case .physicalTimer: return "physical timer (PPI 30)"
        }
    }
}

// MARK: The line, from the vCPU that drives it (any vCPU for the SPIs'
// devices; the owning vCPU for a timer, whose registers are its own)

/// Raise the device's line (unmask its interrupt and set its condition).
func raiseHere(_ d: Device) {
    switch d {
    case .uart:
        mmio_write32(uart + PL011.imsc, PL011.tx)
        mmio_write32(uart + PL011.dr, 0x0D)
    case .rtc:
        mmio_write32(rtc + PL031.imsc, rtcAlarm)
        // A match equal to the count raises the alarm at once; if the count
        // moved on between the read and the write, the match is a whole
        // wrap-around away: try again.
        var tries = 0
        while mmio_read32(rtc + PL031.ris) & rtcAlarm == 0 && tries < 8 {
            mmio_write32(rtc + PL031.mr, mmio_read32(rtc + PL031.dr))
            tries += 1
        }
    case .virtualTimer:
        write_cntv_cval(0)
        write_cntv_ctl(1)
    case .physicalTimer:
        write_cntp_cval(0)
        write_cntp_ctl(1)
    }
    guest_dsb()
    guest_isb()
}

/// Lower the device's line: clear its condition (the mask stays as it is).
func lowerHere(_ d: Device) {
    switch d {
    case .uart: mmio_write32(uart + PL011.icr, PL011.tx)
    case .rtc: mmio_write32(rtc + PL031.icr, rtcAlarm)
    case .virtualTimer: write_cntv_ctl(0)
    case .physicalTimer: write_cntp_ctl(0)
    }
    guest_dsb()
    guest_isb()
}

/// Mask the device and clear every condition it has.
func quietHere(_ d: Device) {
    switch d {
    case .uart:
        mmio_write32(uart + PL011.imsc, 0)
        mmio_write32(uart + PL011.icr, uartAllInterrupts)
    case .rtc:
        mmio_write32(rtc + PL031.imsc, 0)
        mmio_write32(rtc + PL031.icr, rtcAlarm)
    // QEMU 7.2 recomputes a timer's output only when ENABLE or IMASK
    // changes, and a CPU reset changes neither the output nor (when it was
    // already 0) makes a later write of 0 a change: the line can stay high
    // with the timer disabled. ENABLE set with a compare value that never
    // comes, then cleared, makes the output follow the registers.
    case .virtualTimer:
        write_cntv_cval(~0)
        write_cntv_ctl(1)
        guest_isb()
        write_cntv_ctl(0)
    case .physicalTimer:
        write_cntp_cval(~0)
        write_cntp_ctl(1)
        guest_isb()
        write_cntp_ctl(0)
    }
    guest_dsb()
    guest_isb()
}

/// The device's own view of its line: the masked interrupt status of the
/// UART and the RTC, ENABLE && !IMASK && ISTATUS of a timer.
func lineHere(_ d: Device) -> Bool {
    switch d {
    case .uart: return mmio_read32(uart + PL011.mis) & PL011.tx != 0
    case .rtc: return mmio_read32(rtc + PL031.mis) & rtcAlarm != 0
    case .virtualTimer: return read_cntv_ctl() & 7 == 5
    case .physicalTimer: return read_cntp_ctl() & 7 == 5
    }
}

/// The device's raw interrupt status (before its mask), for the logs.
func rawStatusHere(_ d: Device) -> UInt64 {
    switch d {
    case .uart: return UInt64(mmio_read32(uart + PL011.ris))
    case .rtc: return UInt64(mmio_read32(rtc + PL031.ris))
    case .virtualTimer: return read_cntv_ctl()
    case .physicalTimer: return read_cntp_ctl()
    }
}

enum LineOp: UInt64 {
    case raise = 0, lower, quiet, line, raw
}

/// Job: a line operation on the device in `arg` (device | op << 8), on the
/// vCPU that runs it.
let lineJob: Job = { arg in
    let d = Device(rawValue: Int(arg & 0xFF)) ?? .uart
    switch LineOp(rawValue: arg >> 8) ?? .line {
    case .raise: raiseHere(d)
    case .lower: lowerHere(d)
    case .quiet: quietHere(d)
    case .line: return lineHere(d) ? 1 : 0
    case .raw: return rawStatusHere(d)
    }
    return 0
}

/// Where device `d`'s line is driven from when its interrupt belongs to
/// vCPU `owner`: the owner itself for a timer, vCPU 0 for the UART and RTC.
func driver(_ d: Device, _ owner: Int) -> Int { d.isSPI ? 0 : owner }

func lineOp(_ d: Device, _ owner: Int, _ op: LineOp) -> UInt64 {
    runOn(driver(d, owner), lineJob, UInt64(d.rawValue) | op.rawValue << 8)
}
func raise(_ d: Device, _ owner: Int) { _ = lineOp(d, owner, .raise) }
func lower(_ d: Device, _ owner: Int) { _ = lineOp(d, owner, .lower) }
func quiet(_ d: Device, _ owner: Int) { _ = lineOp(d, owner, .quiet) }
func lineHigh(_ d: Device, _ owner: Int) -> Bool { lineOp(d, owner, .line) != 0 }
