import GICArchitecture
import GuestSupport

// The fuzz guest: every vCPU throws random accesses at everything that traps
// to the hypervisor — the distributor, the redistributor frames (and the ones
// past the last vCPU), unmapped memory (the hypervisor's own included), the
// SGI and DIR system registers, implementation-defined registers, HVC and
// SMC with random function IDs and arguments — for FUZZ_SECONDS of virtual
// time, taking whatever exceptions come back. The hypervisor must neither
// crash nor hang: the run ends with a summary and PSCI SYSTEM_OFF.

enum Slot {
    static let vcpuCount = 0
    static let booted = 1
    static let done = 2
    static let operations = 8        // + vCPU
    static let exceptions = 24       // + vCPU
    static let interrupts = 40       // + vCPU

    @inline(__always) static func at(_ i: Int) -> UnsafeMutablePointer<UInt32> { guest_shared() + i }
    @inline(__always) static func load(_ i: Int) -> UInt32 { atomic_load32(at(i)) }
    @inline(__always) static func add(_ i: Int, _ v: UInt32 = 1) -> UInt32 { atomic_add32(at(i), v) }
    @inline(__always) static func store(_ i: Int, _ v: UInt32) { atomic_store32(at(i), v) }
}

/// xorshift64*, one per vCPU (deterministic from the vCPU index).
struct Random {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    mutating func below(_ n: UInt64) -> UInt64 { next() % n }
}

@_cdecl("guest_main")
func guestMain(_ cpu: Int, _ deviceTree: UInt64) {
    if cpu == 0 {
        say { $0.s("fuzz: vCPU 0 up; "); $0.dec(Int(fuzz_seconds())); $0.s(" seconds of random traps per vCPU") }
        GIC.enableDistributor()
        var n = 1
        while n < 16 {
            if PSCICall.call(PSCICall.cpuOn, UInt64(n), entryAddress(), UInt64(n)) != 0 { break }
            n += 1
        }
        Slot.store(Slot.vcpuCount, UInt32(n))
    } else {
        while Slot.load(Slot.vcpuCount) == 0 {}
    }
    _ = Slot.add(Slot.booted)
    let n = Int(Slot.load(Slot.vcpuCount))
    while Slot.load(Slot.booted) < UInt32(n) {}
    if let rd = GIC.findRedistributor() {
        GIC.initCPU(redistributor: rd, enabled: 0xFFFF | 1 << 27)
    }
    armTimer()
    guest_irq_enable()
    fuzz(cpu, n)
}

func armTimer() {
    write_cntv_cval(read_cntvct() + read_cntfrq() / 1000)
    write_cntv_ctl(1)
}

func fuzz(_ cpu: Int, _ n: Int) {
    var rng = Random(seed: UInt64(cpu + 1) * 7919)
    let frequency = read_cntfrq()
    let start = read_cntvct()
    let end = start + frequency * fuzz_seconds()
    var nextReport = start + frequency * 10
    var ops: UInt32 = 0
    while true {
        for _ in 0..<64 { operation(&rng, cpu, n) }
        ops += 64
        _ = Slot.add(Slot.operations + cpu, 64)
        let now = read_cntvct()
        if now >= end { break }
        if cpu == 0 && now >= nextReport {
            nextReport += frequency * 10
            var total = 0
            for c in 0..<n { total += Int(Slot.load(Slot.operations + c)) }
            say { $0.s("fuzz: "); $0.dec(Int((now - start) / frequency)); $0.s(" s, "); $0.dec(total); $0.s(" operations") }
        }
    }
    guest_irq_disable()
    _ = Slot.add(Slot.done)
    if cpu != 0 {
        while true { guest_wfi() }
    }
    // The others may be slow to notice the end: give them time, then report.
    let deadline = read_cntvct() + frequency * 30
    while Slot.load(Slot.done) < UInt32(n) && read_cntvct() < deadline {}
    var total = 0, exceptions = 0, interrupts = 0
    for c in 0..<n {
        total += Int(Slot.load(Slot.operations + c))
        exceptions += Int(Slot.load(Slot.exceptions + c))
        interrupts += Int(Slot.load(Slot.interrupts + c))
    }
    say {
        $0.s("fuzz: ")
        $0.dec(n)
        $0.s(" vCPUs, ")
        $0.dec(Int(Slot.load(Slot.done)))
        $0.s(" finished: ")
        $0.dec(total)
        $0.s(" operations, ")
        $0.dec(exceptions)
        $0.s(" exceptions taken, ")
        $0.dec(interrupts)
        $0.s(" interrupts: survived")
    }
    _ = PSCICall.call(PSCICall.systemOff)
}

/// Somewhere in the GIC frames, biased towards registers that exist.
func gicAddress(_ rng: inout Random, _ n: Int) -> UInt {
    switch rng.below(4) {
    case 0:
        // Distributor: the per-interrupt registers, IROUTER, or anywhere.
        switch rng.below(3) {
        case 0: return GIC.distributor + UInt(rng.below(0x1000))
        case 1: return GIC.distributor + 0x6000 + UInt(rng.below(0x2000))
        default: return GIC.distributor + UInt(rng.below(0x10000))
        }
    case 1:
        // A redistributor, possibly one past the last vCPU.
        let frame = GIC.redistributors + UInt(rng.below(UInt64(n + 2))) * UInt(GICR.frameSize)
        return frame + UInt(rng.below(0x100))
    case 2:
        let frame = GIC.redistributors + UInt(rng.below(UInt64(n))) * UInt(GICR.frameSize)
        return frame + UInt(GICR.sgiBase) + UInt(rng.below(0xE00))
    default:
        return GIC.redistributors + UInt(rng.below(UInt64(n) * UInt64(GICR.frameSize)))
    }
}

/// A random value, often a small or all-ones one.
func value(_ rng: inout Random) -> UInt64 {
    switch rng.below(4) {
    case 0: return rng.below(4)
    case 1: return ~0
    case 2: return 1 << rng.below(64)
    default: return rng.next()
    }
}

/// Memory nobody gave the guest: the ITS, virtio-mmio, the GPIO, PCIe, the
/// hypervisor itself, beyond RAM.
let unmapped: [UInt] = [0x0808_0000, 0x0A00_0000, 0x0903_0000, 0x1000_0000, 0x5E00_0000, 0x5F00_0000,
                        0x6000_0000, 0x0801_0000]

func operation(_ rng: inout Random, _ cpu: Int, _ n: Int) {
    let op = rng.below(100)
    switch op {
    case 0..<35:
        let a = gicAddress(&rng, n)
        let v = value(&rng)
        switch rng.below(4) {
        case 0: mmio_write8(a, UInt8(truncatingIfNeeded: v))
        case 1: mmio_write16(a & ~1, UInt16(truncatingIfNeeded: v))
        case 2: mmio_write32(a & ~3, UInt32(truncatingIfNeeded: v))
        default: mmio_write64(a & ~7, v)
        }
    case 35..<55:
        let a = gicAddress(&rng, n)
        var sink: UInt64 = 0
        switch rng.below(6) {
        case 0: sink = UInt64(mmio_read8(a))
        case 1: sink = UInt64(mmio_read16(a & ~1))
        case 2: sink = UInt64(mmio_read32(a & ~3))
        case 3: sink = mmio_read64(a & ~7)
        case 4: sink = UInt64(bitPattern: mmio_read8_signed(a))
        default: sink = UInt64(bitPattern: mmio_read32_signed(a & ~3))
        }
        if sink == 0x1234_5678_9ABC_DEF0 { _ = Slot.add(Slot.interrupts + cpu, 0) }
    case 55..<60:
        let a = gicAddress(&rng, n)
        switch rng.below(4) {
        case 0: _ = mmio_read_pair(a & ~15)
        case 1: _ = mmio_write_writeback(a & ~3, UInt32(truncatingIfNeeded: rng.next()))
        case 2: mmio_write32_zero(a & ~3)
        default: _ = mmio_read16_signed_w(a & ~1)
        }
    case 60..<64:
        let a = unmapped[Int(rng.below(UInt64(unmapped.count)))] + UInt(rng.below(0x1000) & ~7)
        if rng.below(2) == 0 { mmio_write32(a, UInt32(truncatingIfNeeded: rng.next())) } else { _ = mmio_read64(a) }
    case 64..<76:
        // SGIs: random requests, including IRM broadcasts and range selectors.
        let v = rng.below(3) == 0 ? rng.next() : SGIRequest(intid: UInt32(rng.below(16)),
                                                            targetList: UInt16(truncatingIfNeeded: rng.next()),
                                                            irm: rng.below(8) == 0).rawValue
        switch rng.below(4) {
        case 0: write_icc_sgi0r(v)
        case 1: write_icc_asgi1r(v)
        default: write_icc_sgi1r(v)
        }
    case 76..<82:
        switch rng.below(6) {
        case 0: write_icc_dir(rng.below(64))
        case 1: write_icc_eoir1(rng.below(64))
        case 2: write_icc_pmr(rng.below(2) == 0 ? 0xFF : rng.below(256))
        case 3: write_icc_ctlr(rng.below(4) & 2)  // EOImode on or off
        case 4:
            let i = read_icc_iar1() & 0xFF_FFFF
            if i < 1020 {
                write_icc_eoir1(i)
                write_icc_dir(i)
            }
        default: write_icc_igrpen1(rng.below(4) == 0 ? 0 : 1)
        }
    case 82..<94:
        hypercall(&rng, n)
    case 94..<97:
        var fid = rng.next()
        if forbidden(fid) { fid = 0x8400_0000 }
        guest_smc(fid, rng.next())
    case 97..<99:
        _ = read_impdef()
    default:
        armTimer()
    }
}

/// Calls that would end or stall the run (the point is to keep going).
func forbidden(_ fid: UInt64) -> Bool {
    switch fid & 0xFFFF_FFFF {
    case 0x8400_0002, 0x8400_0008, 0x8400_0009, 0x8400_0001, 0xC400_0001: return true
    default: return false
    }
}

/// Function IDs worth hitting: PSCI's and SMCCC's.
let knownFunctions: [UInt64] = [0x8400_0000, 0x8400_000A, 0x8400_0003, 0xC400_0003, 0x8400_0004, 0xC400_0004,
                                0x8400_0006, 0x8000_0000, 0x8000_0001, 0xC400_0005]

func hypercall(_ rng: inout Random, _ n: Int) {
    let known = knownFunctions
    var fid = rng.below(2) == 0 ? known[Int(rng.below(UInt64(known.count)))] : rng.next()
    if rng.below(4) == 0 { fid |= rng.next() << 32 }
    if forbidden(fid) { return }
    var a1 = value(&rng), a2 = value(&rng)
    // CPU_ON of an existing vCPU with a real entry point sometimes (they are
    // all on: ALREADY_ON), with random ones otherwise.
    if rng.below(2) == 0 {
        a1 = rng.below(UInt64(n + 1))
        a2 = entryAddress()
    }
    _ = PSCICall.call(fid, a1, a2, value(&rng))
}

// MARK: Exceptions: count them and carry on

@_cdecl("guest_irq")
func guestIRQ(_ frame: UnsafeMutablePointer<UInt64>) {
    let cpu = myCPU()
    let eoiMode = read_icc_ctlr() & 2 != 0
    for _ in 0..<8 {
        let intid = read_icc_iar1() & 0xFF_FFFF
        if intid >= 1020 { return }
        if intid == 27 { armTimer() }
        _ = Slot.add(Slot.interrupts + cpu)
        write_icc_eoir1(intid)
        if eoiMode { write_icc_dir(intid) }
    }
}

/// An injected abort or undefined instruction (or the guest's own alignment
/// fault): skip the instruction. boot.S restores ELR_EL1 from frame[20].
@_cdecl("guest_sync")
func guestSync(_ frame: UnsafeMutablePointer<UInt64>) {
    _ = Slot.add(Slot.exceptions + myCPU())
    frame[20] += 4
}

@_cdecl("guest_fault")
func guestFault(_ frame: UnsafeMutablePointer<UInt64>) {
    // SError or an exception from an unexpected vector: count it, go on.
    _ = Slot.add(Slot.exceptions + myCPU())
}
