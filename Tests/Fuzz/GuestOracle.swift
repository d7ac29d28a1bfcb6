// The guest fuzzer's oracle: what the vGIC may deliver, and what it owes.
//
// Compiled into the fuzzer binary together with the vGIC sources (one
// module), so it can read the vGIC's internal state where it needs the
// interrupt configuration. It never reads pending or active state from the
// vGIC: those come from its own shadow of the events the VMM and the guest
// caused, so that a vGIC that loses or invents pending state is caught.
//
// Two properties:
//
// 1. No interrupt is acknowledged that was never raised (sound, not exact).
//    Each interrupt (GICv2 SGIs: each source) has credits: one per event
//    that can make it pending (a rising line, a set-pending write, an SGI,
//    SPENDSGIR), one spent per acknowledgement. A level-sensitive interrupt
//    may also be acknowledged again and again while its line is high: an
//    acknowledgement without a credit is allowed when, at some step since
//    the last acknowledgement, the interrupt was level-sensitive and its
//    line could have been high (the VMM's line high or unknown, or the
//    physical line of a `level=phys` mapping high). Over-crediting only
//    weakens the check, so doubtful cases credit.
//
// 2. Every raised interrupt is delivered (eventual delivery to a guest that
//    cooperates). An event that latches the interrupt pending (a rising edge
//    of an edge-triggered interrupt's line from a known-low level, a
//    set-pending write, an SGI) makes it *owed*; an acknowledgement or a
//    clear-pending write settles it. At a drain, the fuzzer plays a
//    cooperative guest on every vCPU (group enables on, PMR at its lowest
//    mask, every active state and active priority cleared, then acknowledge
//    and EOI until nothing comes, a bounded number of rounds). Afterwards
//    every owed interrupt that is enabled, in a group the distributor
//    forwards, routed to a vCPU that exists and of a priority the PMR lets
//    through must have been acknowledged. The property is weaker than
//    "delivered within N steps whatever the guest does" (a guest may mask
//    or never EOI forever); it is what a guest can rely on.

/// The shadow state a snapshot carries: saved with `save`, back with `restore`.
struct ShadowState {
    /// Known input level the VMM drove: 0 low, 1 high, 2 unknown.
    var line: [UInt8]
    /// The interrupts whose `line` is not 0 (so that the per-step work is
    /// proportional to them, not to the number of interrupts).
    var lineNotLow: Set<Int> = []
    var credits: [Int32]
    var owed: [Bool]
    /// Level-sensitive with the line possibly high, at some step since the last ack.
    var levelChance: [Bool]
    /// GICv2 SGIs, per (vCPU * 16 + SGI) * 8 + source.
    var sgiCredits: [Int32]
    var sgiOwed: [Bool]
}

struct GuestOracle {
    let version: GICVersion
    let vcpus: Int
    let intidLimit: UInt32
    var state: ShadowState
    var savedState: ShadowState?
    /// Hardware mappings in force (the runner re-applies them after a restore):
    /// per interrupt index, the physical INTID and whether the level is read from it.
    var mappings: [Int: (pintid: UInt32, levelFromPhysical: Bool)] = [:]
    /// Physical lines high, as `pintid * 8 + cpu` (SPIs: cpu 0).
    var physicalHigh: Set<Int> = []

    init(machine: Machine) {
        version = machine.version
        vcpus = machine.vcpus
        intidLimit = UInt32(min(machine.irqs, 1020))
        let count = vcpus * 32 + Int(intidLimit) - 32
        state = ShadowState(line: [UInt8](repeating: 0, count: count), credits: [Int32](repeating: 0, count: count),
                            owed: [Bool](repeating: false, count: count),
                            levelChance: [Bool](repeating: false, count: count),
                            sgiCredits: [Int32](repeating: 0, count: vcpus * 16 * 8),
                            sgiOwed: [Bool](repeating: false, count: vcpus * 16 * 8))
    }

    var count: Int { state.line.count }

    /// Index of `intid` in `vcpu`'s bank, as the vGIC lays out its interrupts.
    func index(_ intid: UInt32, vcpu: Int) -> Int {
        intid < 32 ? vcpu * 32 + Int(intid) : vcpus * 32 + Int(intid) - 32
    }

    func sgiKey(target: Int, sgi: UInt32, source: Int) -> Int { (target * 16 + Int(sgi)) * 8 + source }

    // MARK: Events

    /// The interrupt a `line`/`pulse`/`map` names, if the vGIC accepts it.
    func injectable(_ intid: UInt32, _ vcpu: Int?) -> Int? {
        guard intid >= 16 && intid < intidLimit else { return nil }
        if intid < 32 {
            guard let v = vcpu, v >= 0, v < vcpus else { return nil }
            return v * 32 + Int(intid)
        }
        return vcpu == nil ? index(intid, vcpu: 0) : nil
    }

    /// The VMM drives a line high: a rising edge unless it was already high.
    mutating func lineHigh(_ i: Int, edgeTriggered: Bool) {
        if state.line[i] != 1 { state.credits[i] += 1 }
        if state.line[i] == 0 && edgeTriggered { state.owed[i] = true }
        setLine(i, 1)
    }

    mutating func lineLow(_ i: Int) { setLine(i, 0) }

    mutating func setLine(_ i: Int, _ level: UInt8) {
        state.line[i] = level
        if level == 0 { state.lineNotLow.remove(i) } else { state.lineNotLow.insert(i) }
    }

    /// A set-pending write or an SGI latched interrupt `i` pending.
    mutating func latched(_ i: Int) {
        state.credits[i] += 1
        state.owed[i] = true
    }

    mutating func cleared(_ i: Int) {
        state.credits[i] = 0
        state.owed[i] = false
    }

    mutating func sgiRaised(target: Int, sgi: UInt32, source: Int) {
        let k = sgiKey(target: target, sgi: sgi, source: source)
        state.sgiCredits[k] += 1
        state.sgiOwed[k] = true
    }

    mutating func sgiCleared(target: Int, sgi: UInt32, source: Int) {
        let k = sgiKey(target: target, sgi: sgi, source: source)
        state.sgiCredits[k] = 0
        state.sgiOwed[k] = false
    }

    /// Effects of a write to the per-interrupt pending registers and the
    /// SGI registers: `bank` is the vCPU whose private interrupts the frame
    /// holds (the requester for the GICv2 distributor, the redistributor's
    /// own vCPU), `requester` the writer. Mirrors the architecture's rules
    /// for which accesses take effect (32-bit aligned for ISPENDR/ICPENDR;
    /// GICv3 distributor private fields RAZ/WI; GICv2 SGIs pending per source).
    mutating func registerWrite(region: Region, offset: UInt32, width: Int, value: UInt64, requester: Int,
                                vmm: Bool = false) {
        var off = offset
        var bank = requester
        var redistributor = false
        switch region {
        case .gicc, .its:
            return
        case .gicr(let m):
            guard version == .v3, m >= 0, m < vcpus, off >= 0x10000, off < 0x20000 else { return }
            off -= 0x10000
            bank = m
            redistributor = true
        case .gicd:
            guard bank >= 0 && bank < vcpus else { return }
        }
        let words: UInt32 = redistributor ? 1 : 32
        let aligned4 = width == 4 && off & 3 == 0
        if vmm && version == .v3 {
            // KVM's GICv3 uaccess: ISPENDR writes each latch as the bit
            // written (a 0 clears it); ICPENDR is RAZ/WI.
            guard aligned4 && off >= 0x200 && off < 0x200 + 4 * words else { return }
            forEachBit(first: (off - 0x200) * 8, value: value, redistributor: redistributor) { intid in
                latched(index(intid, vcpu: bank))
            }
            forEachBit(first: (off - 0x200) * 8, value: ~value & 0xFFFF_FFFF, redistributor: redistributor) { intid in
                cleared(index(intid, vcpu: bank))
            }
            return
        }
        if aligned4 && off >= 0x200 && off < 0x200 + 4 * words {
            forEachBit(first: (off - 0x200) * 8, value: value, redistributor: redistributor) { intid in
                if version == .v2 && intid < 16 { return }
                latched(index(intid, vcpu: bank))
            }
        } else if aligned4 && off >= 0x280 && off < 0x280 + 4 * words {
            forEachBit(first: (off - 0x280) * 8, value: value, redistributor: redistributor) { intid in
                if version == .v2 && intid < 16 { return }
                cleared(index(intid, vcpu: bank))
            }
        } else if version == .v2 && !redistributor {
            let byteField = (width == 1 || width == 4) && off & UInt32(width - 1) == 0
            if off == 0xF00 && aligned4 {
                sgir(UInt32(truncatingIfNeeded: value), requester: requester)
            } else if byteField && off >= 0xF10 && off < 0xF20 {
                for k in 0..<UInt32(width) {
                    let sources = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k)))
                    for s in 0..<8 where sources & (1 << s) != 0 {
                        sgiCleared(target: bank, sgi: off - 0xF10 + k, source: s)
                    }
                }
            } else if byteField && off >= 0xF20 && off < 0xF30 {
                for k in 0..<UInt32(width) {
                    let sources = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k)))
                    for s in 0..<min(vcpus, 8) where sources & (1 << s) != 0 {
                        sgiRaised(target: bank, sgi: off - 0xF20 + k, source: s)
                    }
                }
            }
        }
    }

    func forEachBit(first: UInt32, value: UInt64, redistributor: Bool, _ body: (UInt32) -> Void) {
        for k in 0..<32 where value & (1 << UInt64(k)) != 0 {
            let intid = first + UInt32(k)
            guard intid < intidLimit else { continue }
            // GICv3 with affinity routing: the distributor's private fields are RAZ/WI.
            if version == .v3 && !redistributor && intid < 32 { continue }
            body(intid)
        }
    }

    /// `GICD_SGIR` (GICv2).
    mutating func sgir(_ v: UInt32, requester: Int) {
        let sgi = v & 0xF
        var targets: Int
        switch (v >> 24) & 3 {
        case 0: targets = Int((v >> 16) & 0xFF)
        case 1: targets = 0xFF & ~(1 << requester)
        case 2: targets = 1 << requester
        default: return
        }
        for t in 0..<vcpus where targets & (1 << t) != 0 {
            sgiRaised(target: t, sgi: sgi, source: requester)
        }
    }

    /// `ICC_SGI0R_EL1`, `ICC_SGI1R_EL1`, `ICC_ASGI1R_EL1` (GICv3): the
    /// architecture's target selection, computed from each vCPU's affinity
    /// (the vGIC computes it the other way round). SGI0R and ASGI1R raise
    /// only Group 0 SGIs (one security state), SGI1R either group.
    mutating func sgiRegister(_ value: UInt64, register: CPUInterfaceRegister, requester: Int,
                              group: (Int, UInt32) -> UInt8) {
        let req = SGIRequest(rawValue: value)
        for t in 0..<vcpus {
            let aff = Affinity(vcpuIndex: t)
            let hit: Bool
            if req.irm {
                hit = t != requester
            } else {
                // RS is RES0 (ICC_CTLR_EL1.RSS = 0: Aff0 is 0..15), so the
                // CPU interface ignores it, as KVM does.
                hit = aff.aff3 == req.aff3 && aff.aff2 == req.aff2 && aff.aff1 == req.aff1
                    && req.targetList & (1 << UInt16(aff.aff0)) != 0
            }
            guard hit else { continue }
            if register != .sgi1r && group(t, req.intid) != 0 { continue }
            latched(index(req.intid, vcpu: t))
        }
    }

    // MARK: Acknowledgements

    /// vCPU `vcpu` acknowledged `value` (an IAR read that was not spurious).
    /// Returns what is wrong, or nil.
    mutating func acknowledged(_ value: UInt64, vcpu: Int) -> String? {
        let intid = UInt32(value & (version == .v3 ? 0xFF_FFFF : 0x3FF))
        guard intid < intidLimit else { return "vCPU \(vcpu) acknowledged INTID \(intid), beyond the VM's irqs" }
        if version == .v2 && intid < 16 {
            let source = Int((value >> 10) & 7)
            guard source < vcpus else { return "vCPU \(vcpu) acknowledged SGI \(intid) from vCPU \(source), which does not exist" }
            let k = sgiKey(target: vcpu, sgi: intid, source: source)
            guard state.sgiCredits[k] > 0 else {
                return "vCPU \(vcpu) acknowledged SGI \(intid) from vCPU \(source), never raised (or already acknowledged)"
            }
            state.sgiCredits[k] -= 1
            state.sgiOwed[k] = false
            return nil
        }
        let i = index(intid, vcpu: vcpu)
        guard state.credits[i] > 0 || state.levelChance[i] else {
            return "vCPU \(vcpu) acknowledged INTID \(intid), never raised since its last acknowledgement"
                + " (no edge, no set-pending write, no SGI; not level-sensitive with its line high)"
        }
        if state.credits[i] > 0 { state.credits[i] -= 1 }
        state.owed[i] = false
        state.levelChance[i] = false
        return nil
    }

    // MARK: After every step

    /// The line of interrupt `i` could be high now.
    func linePossiblyHigh(_ i: Int) -> Bool {
        if state.line[i] != 0 { return true }
        if let m = mappings[i], m.levelFromPhysical {
            let cpu = m.pintid < 32 ? i / 32 : 0
            return physicalHigh.contains(Int(m.pintid) * 8 + cpu)
        }
        return false
    }

    /// Level chances from the configuration the step left (`edge(i)`: the
    /// vGIC's trigger configuration of interrupt `i`).
    mutating func afterStep(edge: (Int) -> Bool) {
        for (i, m) in mappings where m.levelFromPhysical {
            // The vGIC copies the physical level into the line on every exit.
            setLine(i, 2)
        }
        // Only an interrupt whose line is not known low can be level-pending.
        for i in state.lineNotLow where !edge(i) && linePossiblyHigh(i) {
            state.levelChance[i] = true
        }
    }

    mutating func save() { savedState = state }

    mutating func restore() {
        if let savedState { state = savedState }
    }
}
