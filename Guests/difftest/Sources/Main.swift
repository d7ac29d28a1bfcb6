import ConformanceSupport
import GICArchitecture
import GuestSupport

// The differential-fuzzing guest (issue 5): a seeded random sequence of GIC
// operations -- distributor and redistributor writes, acknowledges, EOIs,
// DIRs, SGIs, CPU-interface settings, device operations and IRQ windows
// (Devices.swift) -- with every value read logged. The
// same binary runs on QEMU's own GICv3 (the reference, at EL1) and under
// the swift-vgic hypervisor; `make difftest` compares the two logs.
//
// Only vCPU 0 decides: it draws every operation from the seed and runs the
// CPU-interface ones on the vCPU they name (the others wait for requests with
// their interrupts masked, and unmask them only in an IRQ window, until what
// is deliverable was taken). Nothing depends on time, so a
// seed gives the same operations, and a GIC that behaves the same gives the
// same log, on both sides.
//
// The generator keeps to what the architecture defines: EOIs in the order of
// the acknowledges, on the register of the group acknowledged; DIR only with
// EOImode 1 and of an interrupt whose priority was dropped; group, trigger
// and priority changes only to interrupts that are not in a handler; no
// EOImode change with a handler open. Ties between pending interrupts of the
// same priority are decided by INTID on both sides (QEMU's GIC and the
// vGIC's list-register order); the log shows where that is relied on.

@_cdecl("guest_main")
func guestMain(_ cpu: Int, _ deviceTree: UInt64) {
    if cpu == 0 { primary() } else { secondary(cpu) }
}

func secondary(_ cpu: Int) -> Never {
    _ = perform(.bringUp, 0)
    _ = cf_add(slot(cpu, Slot.boots), 1)
    helperLoop(cpu)
}

nonisolated(unsafe) var vcpus = 1

func primary() {
    allocateSlots()
    allocateWindows()
    _ = perform(.bringUp, 0)
    let params = UnsafeMutablePointer<UInt64>(bitPattern: parameterBlock)!
    let first = params[0] == 0 ? 1 : params[0]
    let count = params[1] == 0 ? 1 : params[1]
    let steps = params[2] == 0 ? 200 : Int(params[2])
    // Start every vCPU there is: CPU_ON until one is refused.
    var n = 1
    while n < 16 {
        let r = Int64(bitPattern: guest_hvc(0xC400_0003, mpidrOf(n), entryAddress(), UInt64(n)))
        if r != 0 { break }
        while cf_load(slot(n, Slot.boots)) == 0 {}
        n += 1
    }
    vcpus = n
    say {
        $0.s("# difftest: ")
        $0.dec(n)
        $0.s(" vCPUs, seeds ")
        $0.dec(Int(first))
        $0.s("..")
        $0.dec(Int(first + count - 1))
        $0.s(", ")
        $0.dec(steps)
        $0.s(" operations each")
    }
    var seed = first
    while seed < first + count {
        let run = Run(seed: seed, vcpus: n)
        run.reset()
        for step in 0..<steps { run.step(step) }
        run.groupsOn()
        run.dump(steps)
        run.closeHandlers()
        seed += 1
    }
    say { $0.s("# difftest: end") }
    _ = guest_hvc(0x8400_0008, 0, 0, 0)
    while true { cf_wfi() }
}

// MARK: One seed

/// The interrupts a run uses: every SGI, PPIs no device drives (16-21), the
/// virtual and EL1 physical timer PPIs (their timers driven by the run's
/// device operations; hardware-mapped under the hypervisor), the UART's and
/// the RTC's SPIs (`deviceSPIs`, the same), and two blocks of SPIs no device
/// of QEMU virt drives, one at the top of the implemented range.
let privateIntids: [UInt32] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                               16, 17, 18, 19, 20, 21, 27, 30]
let spiBlocks: [UInt32] = [64, 240]

/// Priorities and PMR values are drawn with five bits: how many more a GIC
/// keeps is IMPLEMENTATION DEFINED (QEMU's distributor keeps 8, the vGIC
/// the 5 of QEMU's virtual CPU interface). Seed 3 on 1 vCPU found this.
let priorityMask: UInt8 = 0xF8

final class Run {
    let seed: UInt64
    let vcpus: Int
    var rng: UInt64
    /// Per vCPU: the acknowledged interrupts whose priority is not dropped
    /// (INTID | group << 31), in acknowledge order.
    var stacks: [[UInt32]]
    /// Per vCPU: interrupts it acknowledged whose priority is dropped (EOImode 1), not yet deactivated.
    var dropped: [[UInt32]]
    var eoiMode1: [Bool]
    var cbpr: [Bool]
    /// Per vCPU: which SGIs are in Group 1 (only the run's own writes change it).
    var sgiGroup1: [UInt32]
    /// Per vCPU: the groups its CPU interface has disabled (bit 0: Group 0,
    /// bit 1: Group 1; Devices.swift says what that restricts).
    var groupOff: [UInt8]
    var step = 0

    init(seed: UInt64, vcpus: Int) {
        self.seed = seed
        self.vcpus = vcpus
        self.rng = seed &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1B5_4A32_D192_ED03
        stacks = [[UInt32]](repeating: [], count: vcpus)
        dropped = [[UInt32]](repeating: [], count: vcpus)
        eoiMode1 = [Bool](repeating: false, count: vcpus)
        cbpr = [Bool](repeating: false, count: vcpus)
        sgiGroup1 = [UInt32](repeating: 0xFFFF, count: vcpus)
        groupOff = [UInt8](repeating: 0, count: vcpus)
    }

    // splitmix64
    func next() -> UInt64 {
        rng = rng &+ 0x9E37_79B9_7F4A_7C15
        var z = rng
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    func chance(_ percent: Int) -> Bool { below(100) < percent }

    func log(_ cpu: Int, _ what: StaticString, _ arg: UInt64, _ value: UInt64? = nil, by actor: Int? = nil) {
        logLine(seed, step, cpu, what, arg, value, by: actor)
    }

    /// Who makes a distributor or redistributor write: mostly vCPU 0, now
    /// and then another vCPU (the vGIC must then reach into the list
    /// registers of a vCPU that is running).
    func pickActor() -> Int { chance(30) ? below(vcpus) : 0 }

    func put32(_ actor: Int, _ a: UInt, _ v: UInt32) {
        _ = runOn(actor, .write32, UInt64(a) << 32 | UInt64(v))
    }

    // MARK: Picking an interrupt

    /// An interrupt and the redistributor bank that holds it (private ones).
    struct Pick {
        var intid: UInt32
        var cpu: Int
        var isPrivate: Bool { intid < 32 }
    }

    func pickInterrupt() -> Pick {
        if chance(50) {
            return Pick(intid: privateIntids[below(privateIntids.count)], cpu: below(vcpus))
        }
        if chance(15) { return Pick(intid: deviceSPIs[below(deviceSPIs.count)], cpu: 0) }
        return Pick(intid: spiBlocks[below(spiBlocks.count)] + UInt32(below(16)), cpu: 0)
    }

    /// The register bank base for a 1-bit-per-INTID register of `p`.
    func bitRegister(_ offset: UInt32, _ p: Pick) -> UInt {
        if p.isPrivate { return sgiBase(p.cpu) + UInt(offset) }
        return gicd + UInt(offset) + UInt(p.intid / 32) * 4
    }

    /// The bits of `p`'s 32-interrupt bank that the run uses.
    func universeMask(_ p: Pick) -> UInt32 {
        if p.isPrivate { return 0x003F_FFFF | 1 << 27 | 1 << 30 }
        var m: UInt32 = 0
        for b in spiBlocks where b / 32 == p.intid / 32 { m |= 0xFFFF << (b % 32) }
        for d in deviceSPIs where d / 32 == p.intid / 32 { m |= 1 << (d % 32) }
        return m
    }

    /// Is `p` in a handler somewhere (acknowledged and not yet deactivated)?
    func inHandler(_ p: Pick) -> Bool {
        for c in 0..<vcpus {
            if p.isPrivate && c != p.cpu { continue }
            for e in stacks[c] where e & 0x7FFF_FFFF == p.intid { return true }
            for e in dropped[c] where e == p.intid { return true }
        }
        return false
    }

    func enabled(_ p: Pick) -> Bool {
        rd32(bitRegister(GICD.isenabler, p)) & (1 << (p.intid % 32)) != 0
    }

    func waitRWP(_ p: Pick) {
        if p.isPrivate {
            while rd32(rdBase(p.cpu) + UInt(GICR.ctlr)) & GICR.ctlrRWP != 0 {}
        } else {
            while rd32(gicd + UInt(GICD.ctlr)) & GICD.ctlrRWP != 0 {}
        }
    }

    // MARK: Operations

    func step(_ s: Int) {
        step = s
        let roll = below(100)
        switch roll {
        case 0..<12: acknowledge()
        case 12..<21: endOfInterrupt()
        case 21..<25: deactivate()
        case 25..<55: stateWrite(roll)
        case 55..<60: configure()
        case 60..<66: sendSGI()
        case 66..<72: cpuSetting()
        case 72..<79: deviceOperation()
        case 79..<82: window()
        default: read()
        }
    }

    func acknowledge() {
        let c = below(vcpus)
        let group: UInt32 = chance(75) ? 1 : 0
        if disabledGroupMayRank(c) {
            log(c, "IAR skipped: a disabled group's interrupt is pending", 0)
            return
        }
        let v = runOn(c, group == 1 ? .iar1 : .iar0)
        if group == 1 { log(c, "ICC_IAR1", 0, v) } else { log(c, "ICC_IAR0", 0, v) }
        let intid = UInt32(truncatingIfNeeded: v & 0xFF_FFFF)
        if intid < 1020 { stacks[c].append(intid | group << 31) }
    }

    func endOfInterrupt() {
        let c = below(vcpus)
        if groupOff[c] != 0 { return read() }
        guard let top = stacks[c].popLast() else { return read() }
        let intid = top & 0x7FFF_FFFF
        if top >> 31 == 1 {
            _ = runOn(c, .eoir1, UInt64(intid))
            log(c, "ICC_EOIR1", UInt64(intid))
        } else {
            _ = runOn(c, .eoir0, UInt64(intid))
            log(c, "ICC_EOIR0", UInt64(intid))
        }
        if eoiMode1[c] { dropped[c].append(intid) }
    }

    /// DIR of a dropped interrupt: by the vCPU that acknowledged it, or, for
    /// an SPI, now and then by another vCPU in EOImode 1.
    func deactivate() {
        let owner = below(vcpus)
        if dropped[owner].isEmpty { return read() }
        let i = below(dropped[owner].count)
        let intid = dropped[owner][i]
        var by = owner
        if intid >= 32 && chance(30) {
            let other = below(vcpus)
            if eoiMode1[other] { by = other }
        }
        if groupOff[by] != 0 { return read() }
        dropped[owner].remove(at: i)
        _ = runOn(by, .dir, UInt64(intid))
        log(by, "ICC_DIR", UInt64(intid))
    }

    /// Set or clear enable, pending or active for one interrupt.
    func stateWrite(_ roll: Int) {
        let p = pickInterrupt()
        var b = UInt32(1) << (p.intid % 32)
        // A third of the writes set or clear several interrupts of the bank
        // at once (the run's interrupts only; other bits stay zero).
        if chance(33) {
            b = UInt32(truncatingIfNeeded: next()) & universeMask(p)
            if roll >= 51 {
                for k in 0..<UInt32(32) where b & (1 << k) != 0 {
                    let q = Pick(intid: p.intid & ~31 | k, cpu: p.cpu)
                    if inHandler(q) { b &= ~(1 << k) }
                }
            }
            if b == 0 { return read() }
        }
        let actor = pickActor()
        let what: UInt64 = b == 1 << (p.intid % 32) ? UInt64(p.intid) : UInt64(p.intid & ~31) << 32 | UInt64(b)
        switch roll {
        case 25..<32:
            put32(actor, bitRegister(GICD.isenabler, p), b)
            log(p.cpu, "ISENABLER", what, by: actor)
        case 32..<35:
            put32(actor, bitRegister(GICD.icenabler, p), b)
            waitRWP(p)
            log(p.cpu, "ICENABLER", what, by: actor)
        case 35..<43:
            put32(actor, bitRegister(GICD.ispendr, p), b)
            log(p.cpu, "ISPENDR", what, by: actor)
        case 43..<47:
            put32(actor, bitRegister(GICD.icpendr, p), b)
            log(p.cpu, "ICPENDR", what, by: actor)
        case 47..<51:
            put32(actor, bitRegister(GICD.isactiver, p), b)
            log(p.cpu, "ISACTIVER", what, by: actor)
        default:
            // Deactivating an interrupt a handler still owns would leave its
            // EOI without an active interrupt: not in a defined sequence.
            if inHandler(p) { return read() }
            put32(actor, bitRegister(GICD.icactiver, p), b)
            log(p.cpu, "ICACTIVER", what, by: actor)
        }
    }

    /// Priority, group, trigger and routing of one interrupt, or the distributor's group enables.
    func configure() {
        let p = pickInterrupt()
        let what = below(5)
        if what != 3 && what != 4 && inHandler(p) { return read() }
        let base = p.isPrivate ? sgiBase(p.cpu) : gicd
        switch what {
        case 0 where !p.isPrivate || p.intid < 20:
            // Four priority fields at once, none of them in a handler.
            let first = p.intid & ~3
            for k in first..<first + 4 where inHandler(Pick(intid: k, cpu: p.cpu)) { return read() }
            let m = UInt32(priorityMask)
            let v = UInt32(truncatingIfNeeded: next()) & (m | m << 8 | m << 16 | m << 24)
            let actor = pickActor()
            put32(actor, base + UInt(GICD.ipriorityr) + UInt(first), v)
            log(p.cpu, "IPRIORITYR word", UInt64(first) << 32 | UInt64(v), by: actor)
        case 0, 1:
            let prio = UInt8(truncatingIfNeeded: next()) & priorityMask
            let actor = pickActor()
            _ = runOn(actor, .write8, UInt64(base + UInt(GICD.ipriorityr) + UInt(p.intid)) << 32 | UInt64(prio))
            log(p.cpu, "IPRIORITYR", UInt64(p.intid) << 8 | UInt64(prio), by: actor)
        case 2:
            // Group or trigger: only while the interrupt is disabled.
            if enabled(p) { return read() }
            if chance(50) || p.isPrivate {
                let a = base + UInt(GICD.igroupr) + UInt(p.intid / 32) * 4
                let g = UInt32(below(2))
                wr32(a, rd32(a) & ~(1 << (p.intid % 32)) | g << (p.intid % 32))
                if p.intid < 16 {
                    sgiGroup1[p.cpu] = sgiGroup1[p.cpu] & ~(1 << p.intid) | g << p.intid
                }
                log(p.cpu, "IGROUPR", UInt64(p.intid) << 8 | UInt64(g))
            } else {
                let a = gicd + UInt(GICD.icfgr) + UInt(p.intid / 16) * 4
                let edge = UInt32(below(2))
                let shift = (p.intid % 16) * 2 + 1
                wr32(a, rd32(a) & ~(1 << shift) | edge << shift)
                log(p.cpu, "ICFGR", UInt64(p.intid) << 8 | UInt64(edge))
            }
        case 3:
            if p.isPrivate { return read() }
            // A vCPU there is, or one past the last (routed nowhere); a
            // 32-bit or a 64-bit access.
            let target = below(vcpus + 1)
            var route = mpidrOf(target)
            if chance(10) { route = 1 << 31 }  // IRM: any one participating vCPU
            let a = gicd + UInt(GICD.irouter) + 8 * UInt(p.intid)
            if chance(50) {
                wr32(a, UInt32(route))
            } else {
                mmio_write64(a, route)
            }
            log(0, "IROUTER", UInt64(p.intid) << 32 | route)
        default:
            let v = GICD.ctlrARE | UInt32(below(4))
            wr32(gicd + UInt(GICD.ctlr), v)
            while rd32(gicd + UInt(GICD.ctlr)) & GICD.ctlrRWP != 0 {}
            log(0, "GICD_CTLR", UInt64(v))
        }
    }

    func sendSGI() {
        let c = below(vcpus)
        let intid = UInt64(below(16))
        var targets = UInt64(below(1 << min(vcpus + 1, 16)))
        if targets == 0 { targets = 1 << UInt64(below(vcpus)) }
        var v = intid << 24 | targets
        if chance(10) { v = intid << 24 | 1 << 40 }
        switch below(10) {
        case 0..<7:
            // With GICD_CTLR.DS == 1 the architecture lets ICC_SGI1R_EL1
            // generate an SGI its target has in Group 0 (the vGIC does, as
            // KVM); QEMU's GIC does not forward it. Keep to SGIs every
            // target has in Group 1 (seed 9 on 1 vCPU found this).
            for t in 0..<vcpus where (v >> 40) & 1 == 1 ? t != c : (targets >> UInt64(t)) & 1 == 1 {
                if sgiGroup1[t] & (1 << UInt32(intid)) == 0 { return read() }
            }
            _ = runOn(c, .sgi1r, v)
            log(c, "ICC_SGI1R", v)
        case 7..<9:
            _ = runOn(c, .sgi0r, v)
            log(c, "ICC_SGI0R", v)
        default:
            _ = runOn(c, .asgi1r, v)
            log(c, "ICC_ASGI1R", v)
        }
    }

    func cpuSetting() {
        let c = below(vcpus)
        let what = below(8)
        // A binary point change with a priority not yet dropped would change
        // how that priority's EOI is matched: UNPREDICTABLE (seed 21 on 1
        // vCPU found this: QEMU's virtual interface then does not deactivate).
        if (what == 3 || what == 4) && !stacks[c].isEmpty { return read() }
        switch what {
        case 0, 1, 2:
            let v = next() & UInt64(priorityMask)
            _ = runOn(c, .writePMR, v)
            log(c, "ICC_PMR=", v)
        case 3:
            let v = UInt64(below(8))
            _ = runOn(c, .writeBPR0, v)
            log(c, "ICC_BPR0=", v)
        case 4:
            let v = UInt64(below(8))
            _ = runOn(c, .writeBPR1, v)
            log(c, "ICC_BPR1=", v)
        case 5, 6:
            // A group disabled at the CPU interface: QEMU's physical
            // interface still takes that group's pending interrupts into its
            // highest-priority choice (HPPIR1 and IAR1 say 1023 behind a
            // Group 0 interrupt it will not signal), while a virtual
            // interface chooses among the list registers of enabled groups
            // only (seed 131 on 2 vCPUs found this). What the generator does
            // on such a vCPU is restricted (disabledGroupMayRank).
            let g: UInt8 = what == 5 ? 1 : 2
            // Off now and then, and not for long (a vCPU with a group off
            // acknowledges less).
            let v: UInt64 = groupOff[c] & g != 0 ? (chance(80) ? 1 : 0) : (chance(25) ? 0 : 1)
            if v == 0 { groupOff[c] |= g } else { groupOff[c] &= ~g }
            if what == 5 {
                _ = runOn(c, .writeIGRPEN0, v)
                log(c, "ICC_IGRPEN0=", v)
            } else {
                _ = runOn(c, .writeIGRPEN1, v)
                log(c, "ICC_IGRPEN1=", v)
            }
        default:
            // EOImode changes only with no handler open on this vCPU.
            // CBPR too only with no priority left to drop.
            var mode = eoiMode1[c]
            if stacks[c].isEmpty && dropped[c].isEmpty { mode = chance(50) }
            var common = cbpr[c]
            if stacks[c].isEmpty { common = chance(50) }
            let v = UInt64(mode ? 2 : 0) | UInt64(common ? 1 : 0)
            _ = runOn(c, .writeCTLR, v)
            eoiMode1[c] = mode
            cbpr[c] = common
            log(c, "ICC_CTLR=", v)
        }
    }

    func read() {
        let p = pickInterrupt()
        let c = p.cpu
        switch below(20) {
        case 0: log(0, "GICD_CTLR", 0, UInt64(rd32(gicd + UInt(GICD.ctlr)) & ~GICD.ctlrRWP))
        case 1: log(c, "ISENABLER", UInt64(p.intid), UInt64(rd32(bitRegister(GICD.isenabler, p))))
        case 2: log(c, "ISPENDR", UInt64(p.intid), UInt64(rd32(bitRegister(GICD.ispendr, p))))
        case 3: log(c, "ICPENDR", UInt64(p.intid), UInt64(rd32(bitRegister(GICD.icpendr, p))))
        case 4: log(c, "ISACTIVER", UInt64(p.intid), UInt64(rd32(bitRegister(GICD.isactiver, p))))
        case 5: log(c, "ICACTIVER", UInt64(p.intid), UInt64(rd32(bitRegister(GICD.icactiver, p))))
        case 6: log(c, "IGROUPR", UInt64(p.intid), UInt64(rd32(bitRegister(GICD.igroupr, p))))
        case 7:
            let base = p.isPrivate ? sgiBase(c) : gicd
            let a = base + UInt(GICD.icfgr) + UInt(p.intid / 16) * 4
            log(c, "ICFGR", UInt64(p.intid), UInt64(rd32(a)))
        case 8:
            let base = p.isPrivate ? sgiBase(c) : gicd
            let a = base + UInt(GICD.ipriorityr) + UInt(p.intid & ~3)
            log(c, "IPRIORITYR", UInt64(p.intid), UInt64(rd32(a)))
        case 9:
            if p.isPrivate {
                // The distributor's banked words are RAZ/WI with affinity
                // routing: a write must change nothing, a read gives 0.
                let reg = [GICD.isenabler, GICD.ispendr, GICD.isactiver, GICD.icenabler, GICD.icpendr,
                           GICD.icactiver, GICD.igroupr, GICD.ipriorityr][below(8)]
                if chance(50) { wr32(gicd + UInt(reg), UInt32(truncatingIfNeeded: next())) }
                log(0, "GICD banked word", UInt64(reg), UInt64(rd32(gicd + UInt(reg))))
                return
            }
            let a = gicd + UInt(GICD.irouter) + 8 * UInt(p.intid)
            if chance(50) {
                log(0, "IROUTER", UInt64(p.intid), UInt64(rd32(a)))
            } else {
                log(0, "IROUTER64", UInt64(p.intid), mmio_read64(a))
            }
        case 10:
            let base = p.isPrivate ? sgiBase(c) : gicd
            log(c, "IPRIORITYR byte", UInt64(p.intid),
                UInt64(mmio_read8(base + UInt(GICD.ipriorityr) + UInt(p.intid))))
        case 11:
            log(c, "GICR_CTLR", 0, UInt64(rd32(rdBase(c) + UInt(GICR.ctlr))))
        default:
            cpuRead(below(vcpus), below(10))
        }
    }

    func cpuRead(_ c: Int, _ which: Int) {
        if which < 2 && disabledGroupMayRank(c) {
            log(c, "HPPIR skipped: a disabled group's interrupt is pending", 0)
            return
        }
        switch which {
        case 0: log(c, "ICC_HPPIR1", 0, runOn(c, .hppir1))
        case 1: log(c, "ICC_HPPIR0", 0, runOn(c, .hppir0))
        case 2: log(c, "ICC_RPR", 0, runOn(c, .rpr))
        case 3: log(c, "ICC_AP1R0", 0, runOn(c, .ap1r0))
        case 4: log(c, "ICC_AP0R0", 0, runOn(c, .ap0r0))
        case 5: log(c, "ICC_PMR", 0, runOn(c, .readPMR))
        case 6: log(c, "ICC_BPR0", 0, runOn(c, .readBPR0))
        case 7: log(c, "ICC_BPR1", 0, runOn(c, .readBPR1))
        case 8: log(c, "ICC_IGRPEN", 0, runOn(c, .readIGRPEN0) | runOn(c, .readIGRPEN1) << 1)
        default: log(c, "ICC_CTLR", 0, runOn(c, .readCTLR) & 3)
        }
    }

    // MARK: Start and end of a seed

    /// Every state a seed can change, read: the pending, active and enable
    /// bits of every bank the run uses and each vCPU's view.
    func dump(_ steps: Int) {
        step = steps
        for c in 0..<vcpus {
            let s = sgiBase(c)
            log(c, "end ISENABLER0", 0, UInt64(rd32(s + UInt(GICD.isenabler))))
            log(c, "end ISPENDR0", 0, UInt64(rd32(s + UInt(GICD.ispendr))))
            log(c, "end ISACTIVER0", 0, UInt64(rd32(s + UInt(GICD.isactiver))))
            log(c, "end ICC_HPPIR1", 0, runOn(c, .hppir1))
            log(c, "end ICC_HPPIR0", 0, runOn(c, .hppir0))
            log(c, "end ICC_RPR", 0, runOn(c, .rpr))
        }
        for b in spiBlocks {
            let w = UInt(b / 32) * 4
            log(0, "end GICD_ISENABLER", UInt64(b), UInt64(rd32(gicd + UInt(GICD.isenabler) + w)))
            log(0, "end GICD_ISPENDR", UInt64(b), UInt64(rd32(gicd + UInt(GICD.ispendr) + w)))
            log(0, "end GICD_ISACTIVER", UInt64(b), UInt64(rd32(gicd + UInt(GICD.isactiver) + w)))
        }
        dumpDevices()
    }

    /// End every handler the run left open, in order (its EOIs and DIRs are
    /// part of the log: they run the same code paths).
    func closeHandlers() {
        step += 1
        for c in 0..<vcpus {
            while let top = stacks[c].popLast() {
                let intid = top & 0x7FFF_FFFF
                _ = runOn(c, top >> 31 == 1 ? .eoir1 : .eoir0, UInt64(intid))
                if eoiMode1[c] { dropped[c].append(intid) }
            }
            for intid in dropped[c] { _ = runOn(c, .dir, UInt64(intid)) }
            dropped[c] = []
            log(c, "closed ICC_RPR", 0, runOn(c, .rpr))
        }
    }

    /// The state every seed starts from, whatever the last one left: every
    /// interrupt the run uses disabled, inactive, not pending, Group 1,
    /// level, priority 0xA0, SPIs routed to vCPU 0; each CPU interface with
    /// EOImode 0, PMR 0xF8, BPRs at their minimum, both groups on.
    func reset() {
        wr32(gicd + UInt(GICD.ctlr), GICD.ctlrARE | GICD.ctlrEnableGrp0 | GICD.ctlrEnableGrp1)
        while rd32(gicd + UInt(GICD.ctlr)) & GICD.ctlrRWP != 0 {}
        resetDevices()
        for c in 0..<vcpus {
            _ = runOn(c, .writeCTLR, 0)
            _ = runOn(c, .writePMR, 0xF8)
            _ = runOn(c, .writeBPR0, 0)
            _ = runOn(c, .writeBPR1, 0)
            _ = runOn(c, .writeIGRPEN0, 1)
            _ = runOn(c, .writeIGRPEN1, 1)
            let s = sgiBase(c)
            wr32(s + UInt(GICD.icenabler), 0xFFFF_FFFF)
            while rd32(rdBase(c) + UInt(GICR.ctlr)) & GICR.ctlrRWP != 0 {}
            wr32(s + UInt(GICD.icpendr), 0xFFFF_FFFF)
            wr32(s + UInt(GICD.icactiver), 0xFFFF_FFFF)
            GIC.groupAndPriorityDefaults(sgi: s)
        }
        for b in spiBlocks {
            let w = UInt(b / 32) * 4
            wr32(gicd + UInt(GICD.icenabler) + w, 0xFFFF_FFFF)
            while rd32(gicd + UInt(GICD.ctlr)) & GICD.ctlrRWP != 0 {}
            wr32(gicd + UInt(GICD.icpendr) + w, 0xFFFF_FFFF)
            wr32(gicd + UInt(GICD.icactiver) + w, 0xFFFF_FFFF)
            wr32(gicd + UInt(GICD.igroupr) + w, 0xFFFF_FFFF)
            wr32(gicd + UInt(GICD.icfgr) + UInt(b / 16) * 4, 0)
            var i: UInt = 0
            while i < 32 {
                wr32(gicd + UInt(GICD.ipriorityr) + UInt(b) + i, 0xA0A0_A0A0)
                i += 4
            }
            for k in 0..<UInt(16) {
                wr32(gicd + UInt(GICD.irouter) + 8 * (UInt(b) + k), 0)
                wr32(gicd + UInt(GICD.irouter) + 8 * (UInt(b) + k) + 4, 0)
            }
        }
        for c in 0..<vcpus { log(c, "start ICC_RPR", 0, runOn(c, .rpr)) }
    }
}
