import ConformanceSupport
import GICArchitecture
import GuestSupport

// The difftest guest's machine (QEMU virt's fixed GIC addresses are the
// runtime's, Guests/runtime/Sources/Layout.swift): the shared words
// vCPU 0 uses to run CPU-interface operations on the other vCPUs, and the
// one-line log format both runs print.

/// Where `make difftest` puts the run's parameters (a QEMU loader device,
/// the same address in both runs): the first seed, the number of seeds and
/// the operations per seed. Zero words mean the defaults.
let parameterBlock: UInt = 0x5DFF_FFC0

// MARK: vCPU 0 runs operations on the others

/// Per-vCPU words: a request number, the operation and its operand, the
/// result and the number of the last request done.
enum Slot {
    static let request = 0
    static let op = 1
    static let value = 2
    static let result = 3
    static let done = 4
    static let boots = 5
    static let stride = 8
}

nonisolated(unsafe) var slots: UnsafeMutablePointer<UInt64>? = nil

@inline(__always) func slot(_ cpu: Int, _ field: Int) -> UnsafeMutablePointer<UInt64> {
    slots! + cpu * Slot.stride + field
}

func allocateSlots() {
    let p = UnsafeMutablePointer<UInt64>.allocate(capacity: 16 * Slot.stride)
    p.initialize(repeating: 0, count: 16 * Slot.stride)
    slots = p
}

/// Run CPU-interface operation `op` on vCPU `cpu` (vCPU 0 itself or a
/// helper), return what it read.
func runOn(_ cpu: Int, _ op: CPUOp, _ value: UInt64 = 0) -> UInt64 {
    if cpu == thisCPU() { return perform(op, value) }
    cf_store(slot(cpu, Slot.op), UInt64(op.rawValue))
    cf_store(slot(cpu, Slot.value), value)
    let r = cf_add(slot(cpu, Slot.request), 1)
    cf_sev()
    while cf_load(slot(cpu, Slot.done)) != r {}
    return cf_load(slot(cpu, Slot.result))
}

func helperLoop(_ cpu: Int) -> Never {
    while true {
        let r = cf_load(slot(cpu, Slot.request))
        if r == cf_load(slot(cpu, Slot.done)) {
            cf_wfe()
            continue
        }
        let op = CPUOp(rawValue: UInt8(truncatingIfNeeded: cf_load(slot(cpu, Slot.op)))) ?? .sync
        let result = perform(op, cf_load(slot(cpu, Slot.value)))
        cf_store(slot(cpu, Slot.result), result)
        cf_store(slot(cpu, Slot.done), r)
    }
}

/// The operations a vCPU performs on its own CPU interface.
enum CPUOp: UInt8 {
    case sync
    case iar0, iar1, eoir0, eoir1, dir
    case hppir0, hppir1, rpr, ap0r0, ap1r0
    case writePMR, readPMR, writeBPR0, readBPR0, writeBPR1, readBPR1
    case writeIGRPEN0, readIGRPEN0, writeIGRPEN1, readIGRPEN1
    case writeCTLR, readCTLR
    case sgi1r, sgi0r, asgi1r
    case bringUp
    /// A distributor or redistributor write: address << 32 | value.
    case write32, write8
    /// A timer operation, the timers' controls, an IRQ window (Devices.swift).
    case timer, timerControls, window
}

/// One operation, after a read of GICD_CTLR: under the hypervisor that read
/// traps, and the vCPU re-enters with its list registers flushed from the
/// vGIC's state, so anything another vCPU made pending for it is in its
/// list registers before it looks (on QEMU's GIC the read only reads).
func perform(_ op: CPUOp, _ value: UInt64) -> UInt64 {
    _ = rd32(gicd + UInt(GICD.ctlr))
    var r: UInt64 = 0
    switch op {
    case .sync: break
    case .iar0: r = read_icc_iar0()
    case .iar1: r = read_icc_iar1()
    case .eoir0: write_icc_eoir0(value)
    case .eoir1: write_icc_eoir1(value)
    case .dir: write_icc_dir(value)
    case .hppir0: r = read_icc_hppir0()
    case .hppir1: r = read_icc_hppir1()
    case .rpr: r = read_icc_rpr()
    case .ap0r0: r = read_icc_ap0r0()
    case .ap1r0: r = read_icc_ap1r0()
    case .writePMR: write_icc_pmr(value)
    case .readPMR: r = read_icc_pmr()
    case .writeBPR0: write_icc_bpr0(value)
    case .readBPR0: r = read_icc_bpr0()
    case .writeBPR1: write_icc_bpr1(value)
    case .readBPR1: r = read_icc_bpr1()
    case .writeIGRPEN0: write_icc_igrpen0(value)
    case .readIGRPEN0: r = read_icc_igrpen0()
    case .writeIGRPEN1: write_icc_igrpen1(value)
    case .readIGRPEN1: r = read_icc_igrpen1()
    case .writeCTLR: write_icc_ctlr(value)
    case .readCTLR: r = read_icc_ctlr()
    case .sgi1r: guest_dsb(); write_icc_sgi1r(value)
    case .sgi0r: guest_dsb(); write_icc_sgi0r(value)
    case .asgi1r: guest_dsb(); write_icc_asgi1r(value)
    case .bringUp: bringUpThisCPU()
    case .write32: wr32(UInt(value >> 32), UInt32(truncatingIfNeeded: value))
    case .write8: mmio_write8(UInt(value >> 32), UInt8(truncatingIfNeeded: value))
    case .timer: timerOperation(value)
    case .timerControls: r = timerControls()
    case .window: r = openWindow()
    }
    guest_isb()
    return r
}

/// Wake this vCPU's redistributor, system-register access on, the timers off.
func bringUpThisCPU() {
    let rd = rdBase(thisCPU())
    wr32(rd + UInt(GICR.waker), rd32(rd + UInt(GICR.waker)) & ~GICR.wakerProcessorSleep)
    while rd32(rd + UInt(GICR.waker)) & GICR.wakerChildrenAsleep != 0 {}
    write_icc_sre(read_icc_sre() | 1)
    write_cntv_ctl(0)
    write_cntp_ctl(0)
    guest_isb()
}

// MARK: The log

/// One logged line: `D seed:step vCPU what(arg) [by vCPU] [= value]`. Both runs print the
/// same lines for the same seed when the GICs agree; compare.sh compares
/// the `D` lines.
func logLine(_ seed: UInt64, _ step: Int, _ cpu: Int, _ what: StaticString, _ arg: UInt64, _ value: UInt64?,
             by actor: Int? = nil) {
    say {
        $0.s("D ")
        $0.dec(Int(seed))
        $0.c(0x3A)
        $0.dec(step)
        $0.s(" c")
        $0.dec(cpu)
        $0.c(0x20)
        $0.s(what)
        $0.c(0x28)
        $0.hex(arg)
        $0.c(0x29)
        if let a = actor, a != cpu {
            $0.s(" by c")
            $0.dec(a)
        }
        if let v = value {
            $0.s(" = ")
            $0.hex(v)
        }
    }
}

// MARK: Exceptions: none is expected but IRQs in an IRQ window

/// Any other exception is a finding: the line ends the log (the other run
/// will not have it), and the vCPU stops.
func unexpected(_ what: StaticString) -> Never {
    say {
        $0.s("D unexpected ")
        $0.s(what)
        $0.s(" on vCPU ")
        $0.dec(thisCPU())
        $0.s(", ESR_EL1 ")
        $0.hex(read_esr_el1())
        $0.s(" ELR_EL1 ")
        $0.hex(read_elr_el1())
    }
    while true { cf_wfi() }
}

@_cdecl("guest_sync")
func guestSync(_ frame: UnsafeMutablePointer<UInt64>) { unexpected("synchronous exception") }
@_cdecl("guest_irq")
func guestIRQ(_ frame: UnsafeMutablePointer<UInt64>) {
    if !windowIRQ(frame) { unexpected("IRQ") }
}
@_cdecl("guest_fault")
func guestFault(_ frame: UnsafeMutablePointer<UInt64>) { unexpected("exception vector") }
