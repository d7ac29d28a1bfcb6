import ConformanceSupport
import GICArchitecture
import GuestSupport

// The conformance guest's test framework.
//
// vCPU 0 runs every test in order and makes every check; the other vCPUs are
// helpers that run jobs vCPU 0 posts to them (a C function pointer and an
// argument, a result back) and otherwise idle with interrupts as the test
// left them. Because only one flow of control checks, the `ok N - name`
// lines come out in the same order on every run, which is what lets the
// reference log (QEMU's own GIC) and the hypervisor's log be compared line
// by line.

// MARK: The machine (QEMU virt; the runtime's Layout.swift has the addresses)

@inline(__always) func rd64(_ a: UInt) -> UInt64 { mmio_read64(a) }
@inline(__always) func wr64(_ a: UInt, _ v: UInt64) { mmio_write64(a, v) }

/// A distributor register of the bank that holds `intid` (1 bit per INTID).
@inline(__always) func dReg(_ base: UInt32, _ intid: UInt32) -> UInt { gicd + UInt(base) + UInt(intid / 32) * 4 }
@inline(__always) func bit(_ intid: UInt32) -> UInt32 { 1 << (intid % 32) }

// MARK: Time

nonisolated(unsafe) var ticksPerMicrosecond: UInt64 = 62

func ticks(us: UInt64) -> UInt64 { ticksPerMicrosecond * us }

/// Spin until `done` or `us` microseconds pass; true if `done`.
func spinUntil(us: UInt64, _ done: () -> Bool) -> Bool {
    let deadline = read_cntvct() + ticks(us: us)
    while !done() {
        if read_cntvct() > deadline { return done() }
    }
    return true
}

/// Let `us` microseconds pass (interrupts as they are).
func delay(us: UInt64) {
    let deadline = read_cntvct() + ticks(us: us)
    while read_cntvct() < deadline {}
}

/// How long to wait for something that must happen (generous: the host is
/// shared), and how long to watch for something that must not.
let mustHappenUs: UInt64 = 2_000_000
let mustNotHappenUs: UInt64 = 3_000

// MARK: Shared memory: per-vCPU slots of 64-bit words

enum F {
    static let request = 0       // job sequence number posted by vCPU 0
    static let done = 1          // last job sequence number finished
    static let function = 2      // the job (a C function pointer)
    static let argument = 3
    static let result = 4
    static let boots = 5         // times this vCPU came up (PSCI CPU_ON)
    static let hook = 6          // IRQ hook (a C function pointer) or 0
    static let logCount = 7      // interrupts acknowledged through the IRQ vector
    static let eoiMode1 = 8      // default handler: DIR after EOIR
    static let timerEarly = 9    // virtual-timer IRQs taken before CVAL
    static let depth = 10        // current IRQ nesting depth
    static let maxDepth = 11
    static let context = 12      // x0 at the last (re)start
    static let wakerAtBoot = 13  // GICR_WAKER before this vCPU woke its redistributor
    static let igrpen1AtBoot = 14 // ICC_IGRPEN1_EL1 as this vCPU came up
    static let scratch = 16      // 16 words for tests
    static let log = 64          // logCount entries (intid | depth << 16 | RPR << 24)
    static let logCapacity = 448
    static let stride = 512
}

nonisolated(unsafe) var sharedWords: UnsafeMutablePointer<UInt64>? = nil
nonisolated(unsafe) var globalWords: UnsafeMutablePointer<UInt64>? = nil

enum G {
    static let vcpus = 0
    static let checks = 1
    static let passed = 2
    static let failed = 3
    static let go = 4            // start flag for jobs that must run at once
    static let skipped = 5
    static let knownFailures = 6
    static let scratch = 8       // 8 words
}

@inline(__always) func slot(_ cpu: Int, _ field: Int) -> UnsafeMutablePointer<UInt64> {
    sharedWords! + cpu * F.stride + field
}
@inline(__always) func load(_ cpu: Int, _ field: Int) -> UInt64 { cf_load(slot(cpu, field)) }
@inline(__always) func store(_ cpu: Int, _ field: Int, _ v: UInt64) { cf_store(slot(cpu, field), v) }
@inline(__always) func global(_ i: Int) -> UnsafeMutablePointer<UInt64> { globalWords! + i }

var vcpuCount: Int { Int(cf_load(global(G.vcpus))) }

func allocateShared() {
    let words = 16 * F.stride + 64
    let p = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
    p.initialize(repeating: 0, count: words)
    sharedWords = p
    globalWords = p + 16 * F.stride
}

// MARK: Output: one line per check

/// A known, documented departure from the architecture on one side: QEMU's
/// own GIC (the reference) or the hypervisor. The check still tests the
/// architecture; the waiver names what the departure makes it see (`seen`,
/// one value or a few). A failure that sees one of them is the departure:
/// its line carries a TAP `# TODO` directive naming the side and the
/// reason, and compare.sh accepts it on that side only. A failure that sees
/// anything else is a failure like any other. A pass keeps the directive
/// (TAP: a TODO that passed), which compare.sh reports on the waiver's side
/// as a stale waiver, unless the departure is `intermittent`.
struct Known {
    enum Side { case qemu, hypervisor }
    let side: Side
    let why: StaticString
    let seen: [UInt64]
    let intermittent: Bool

    static func qemu(_ why: StaticString, seen: UInt64..., intermittent: Bool = false) -> Known {
        Known(side: .qemu, why: why, seen: seen, intermittent: intermittent)
    }
    static func hypervisor(_ why: StaticString, seen: UInt64..., intermittent: Bool = false) -> Known {
        Known(side: .hypervisor, why: why, seen: seen, intermittent: intermittent)
    }
}

/// One check line. `got` is what the check saw, matched against a waiver
/// and shown when the check fails.
func emit(_ ok: Bool, _ got: UInt64?, _ name: StaticString, _ index: Int?, _ known: Known?) {
    let n = Int(cf_add(global(G.checks), 1))
    var departure: Known? = nil
    if let k = known, ok || k.seen.contains(got ?? ~0) { departure = k }
    if ok {
        _ = cf_add(global(G.passed), 1)
    } else if departure != nil {
        _ = cf_add(global(G.knownFailures), 1)
    } else {
        _ = cf_add(global(G.failed), 1)
    }
    say {
        if !ok { $0.s("not ") }
        $0.s("ok ")
        $0.dec(n)
        $0.s(" - ")
        $0.s(name)
        if let i = index { $0.s(" (vCPU "); $0.dec(i); $0.s(")") }
        if let k = departure {
            $0.s(k.side == .qemu ? " # TODO QEMU departs from the architecture" : " # TODO hypervisor departs from the architecture")
            if k.intermittent { $0.s(" (intermittently)") }
            $0.s(": ")
            $0.s(k.why)
        }
    }
    if !ok, let k = known, departure == nil {
        say {
            $0.s(k.side == .qemu ? "#   not QEMU's known departure, which sees " : "#   not the hypervisor's known departure, which sees ")
            for (i, v) in k.seen.enumerated() {
                if i > 0 { $0.s(" or ") }
                $0.hex(v)
            }
        }
    }
}

/// One check. `cpu` names the vCPU the check is about, if not vCPU 0 alone.
/// (A check that may meet a known departure says what it saw: `check(_:seeing:)`.)
func check(_ ok: Bool, _ name: StaticString, cpu: Int? = nil) {
    emit(ok, nil, name, cpu, nil)
}

/// A check whose verdict is `ok` and whose observation is `got`: the log
/// shows `got` when the check fails, and a waiver matches it.
func check(_ ok: Bool, seeing got: UInt64, _ name: StaticString, cpu: Int? = nil, known: Known? = nil) {
    emit(ok, got, name, cpu, known)
    if !ok { say { $0.s("#   got "); $0.hex(got) } }
}

/// A check of a value, which the log shows when it is wrong.
func checkEq(_ got: UInt64, _ expected: UInt64, _ name: StaticString, cpu: Int? = nil, known: Known? = nil) {
    emit(got == expected, got, name, cpu, known)
    if got != expected {
        say { $0.s("#   got "); $0.hex(got); $0.s(", expected "); $0.hex(expected) }
    }
}

/// A comment line (ignored when the two logs are compared).
func note(_ text: StaticString) { say { $0.s("# "); $0.s(text) } }
func noteValue(_ text: StaticString, _ v: UInt64) { say { $0.s("#   "); $0.s(text); $0.s(" "); $0.hex(v) } }

/// A test that needs more vCPUs than this run has.
func skip(_ name: StaticString, needs: Int) {
    _ = cf_add(global(G.skipped), 1)
    say { $0.s("# skip: "); $0.s(name); $0.s(" (needs "); $0.dec(needs); $0.s(" vCPUs)") }
}

nonisolated(unsafe) var startTicks: UInt64 = 0

/// A section heading, with the time since the start (a comment: not compared).
func section(_ name: StaticString) {
    let ms = (read_cntvct() - startTicks) / ticks(us: 1000)
    say { $0.s("# "); $0.s(name); $0.s(" (at "); $0.dec(Int(ms)); $0.s(" ms)") }
}

// MARK: Jobs on other vCPUs

typealias Job = @convention(c) (UInt64) -> UInt64

/// Post `job(arg)` to helper `cpu` without waiting.
func post(_ cpu: Int, _ job: Job, _ arg: UInt64 = 0) {
    store(cpu, F.function, unsafeBitCast(job, to: UInt64.self))
    store(cpu, F.argument, arg)
    _ = cf_add(slot(cpu, F.request), 1)
    cf_sev()
}

/// Wait for helper `cpu`'s job; nil if it did not finish in time.
func wait(_ cpu: Int, us: UInt64 = 5_000_000) -> UInt64? {
    let finished = spinUntil(us: us) { load(cpu, F.done) == load(cpu, F.request) }
    if !finished {
        say { $0.s("# vCPU "); $0.dec(cpu); $0.s(": job timed out") }
        return nil
    }
    return load(cpu, F.result)
}

/// Run `job(arg)` on `cpu` (vCPU 0 runs it itself) and return its result.
@discardableResult
func runOn(_ cpu: Int, _ job: Job, _ arg: UInt64 = 0) -> UInt64 {
    if cpu == thisCPU() { return job(arg) }
    post(cpu, job, arg)
    return wait(cpu) ?? 0xDEAD_DEAD
}

/// Run `job` on every vCPU, one after the other.
func runOnAll(_ job: Job, _ arg: UInt64 = 0) {
    for c in 0..<vcpuCount { runOn(c, job, arg) }
}

/// A helper's life: take jobs until powered off.
func helperLoop(_ cpu: Int) -> Never {
    store(cpu, F.done, load(cpu, F.request))
    while true {
        let r = load(cpu, F.request)
        if r == load(cpu, F.done) {
            cf_wfe()
            continue
        }
        let job = unsafeBitCast(load(cpu, F.function), to: Job.self)
        let result = job(load(cpu, F.argument))
        store(cpu, F.result, result)
        store(cpu, F.done, r)
    }
}

// MARK: Interrupts taken through the IRQ vector

/// A test's own IRQ handling: it gets each acknowledged INTID and must EOI it.
typealias Hook = @convention(c) (UInt32) -> Void

func setHook(_ cpu: Int, _ hook: Hook?) {
    if let h = hook {
        store(cpu, F.hook, unsafeBitCast(h, to: UInt64.self))
    } else {
        store(cpu, F.hook, 0)
    }
}

func logCount(_ cpu: Int) -> Int { Int(load(cpu, F.logCount)) }
func logEntry(_ cpu: Int, _ i: Int) -> UInt64 { load(cpu, F.log + i) }
func logIntid(_ cpu: Int, _ i: Int) -> UInt32 { UInt32(logEntry(cpu, i) & 0xFFFF) }

/// How many times `intid` was taken on `cpu` since the log was cleared.
func received(_ cpu: Int, _ intid: UInt32) -> Int {
    var k = 0
    for i in 0..<min(logCount(cpu), F.logCapacity) where logIntid(cpu, i) == intid { k += 1 }
    return k
}

func clearLog(_ cpu: Int) {
    store(cpu, F.logCount, 0)
    store(cpu, F.timerEarly, 0)
    store(cpu, F.maxDepth, 0)
}

@_cdecl("guest_irq")
func guestIRQ(_ frame: UnsafeMutablePointer<UInt64>) {
    let cpu = thisCPU()
    let depth = cf_add(slot(cpu, F.depth), 1)
    if depth > load(cpu, F.maxDepth) { store(cpu, F.maxDepth, depth) }
    while true {
        let intid = UInt32(read_icc_iar1() & 0xFF_FFFF)
        if intid >= 1020 { break }
        let n = Int(load(cpu, F.logCount))
        if n < F.logCapacity {
            store(cpu, F.log + n, UInt64(intid) | depth << 16 | (read_icc_rpr() & 0xFF) << 24)
        }
        store(cpu, F.logCount, UInt64(n + 1))
        let hook = load(cpu, F.hook)
        if hook != 0 {
            unsafeBitCast(hook, to: Hook.self)(intid)
            continue
        }
        if intid == virtualTimerPPI {
            if read_cntvct() < read_cntv_cval() { _ = cf_add(slot(cpu, F.timerEarly), 1) }
            // Mask the timer: its level drops before the EOI.
            write_cntv_ctl(read_cntv_ctl() | 2)
            guest_isb()
        } else if intid == 30 {
            write_cntp_ctl(read_cntp_ctl() | 2)
            guest_isb()
        }
        write_icc_eoir1(UInt64(intid))
        if load(cpu, F.eoiMode1) != 0 { write_icc_dir(UInt64(intid)) }
        guest_isb()
    }
    _ = cf_add(slot(cpu, F.depth), UInt64(bitPattern: -1))
}

@_cdecl("guest_sync")
func guestSync(_ frame: UnsafeMutablePointer<UInt64>) {
    say {
        $0.s("# vCPU ")
        $0.dec(thisCPU())
        $0.s(": unexpected synchronous exception, ESR_EL1 ")
        $0.hex(read_esr_el1())
        $0.s(" FAR_EL1 ")
        $0.hex(read_far_el1())
        $0.s(" ELR_EL1 ")
        $0.hex(read_elr_el1())
    }
    emit(false, nil, "no unexpected exception", thisCPU(), nil)
    while true { cf_wfi() }
}

@_cdecl("guest_fault")
func guestFault(_ frame: UnsafeMutablePointer<UInt64>) {
    say { $0.s("# vCPU "); $0.dec(thisCPU()); $0.s(": unexpected exception vector, ESR_EL1 "); $0.hex(read_esr_el1()) }
    emit(false, nil, "no unexpected exception", thisCPU(), nil)
    while true { cf_wfi() }
}

// MARK: Polling the CPU interface with interrupts masked

/// Acknowledge the next Group 1 interrupt, waiting up to `us`; 1023 if none.
func pollIAR1(us: UInt64 = mustHappenUs) -> UInt32 {
    var intid: UInt32 = 1023
    _ = spinUntil(us: us) {
        intid = UInt32(read_icc_iar1() & 0xFF_FFFF)
        return intid < 1020
    }
    return intid
}

/// IAR1 now, without waiting.
func iar1Now() -> UInt32 { UInt32(read_icc_iar1() & 0xFF_FFFF) }

func eoi1(_ intid: UInt32) {
    write_icc_eoir1(UInt64(intid))
    guest_isb()
}

/// Acknowledge and EOI everything pending for this vCPU (both groups).
func drain() -> Int {
    var n = 0
    while n < 64 {
        let a = iar1Now()
        if a >= 1020 { break }
        eoi1(a)
        if read_icc_ctlr() & 2 != 0 { write_icc_dir(UInt64(a)) }
        n += 1
    }
    while n < 128 {
        let a = UInt32(read_icc_iar0() & 0xFF_FFFF)
        if a >= 1020 { break }
        write_icc_eoir0(UInt64(a))
        if read_icc_ctlr() & 2 != 0 { write_icc_dir(UInt64(a)) }
        guest_isb()
        n += 1
    }
    return n
}
