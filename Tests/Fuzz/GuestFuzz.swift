// libFuzzer target: sequences of guest register accesses and VMM operations
// against the vGIC on the GIC hardware model, driven through the scenario
// runner (its timing rules: traps, kicks, maintenance), with the oracle of
// GuestOracle.swift and the vGIC's own invariants checked after every step.
//
// Input: one header byte (GIC version, vCPUs 1-4, list registers 1-4,
// priority bits, irqs 64 or 96), one set-up byte, then operations, one
// opcode byte each followed by its operands (zeros once the input ends).
// `VGIC_FUZZ_PRINT=1 ./fuzz-guest FILE` prints the scenario an input decodes
// to; a finding prints it too, as a script `vgic scenario` runs.

import GICArchitecture
import VGIC
import VGICModelPlatform
import VGICScenario

@_cdecl("LLVMFuzzerTestOneInput")
public func vgicGuestFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var fuzz = GuestFuzz(FuzzInput(data, size))
    fuzz.run()
    return 0
}

struct GuestFuzz {
    static let printScript = environmentFlag("VGIC_FUZZ_PRINT")
    /// Operations after the set-up: enough for deep states, few enough for speed.
    static let maxOperations = 200

    var input: FuzzInput
    let machine: Machine
    var runner: Runner
    var oracle: GuestOracle
    var statements: [Statement] = []
    /// The scenario as script lines: the statements, and comments for the
    /// VMM API calls the scenario language has no statement for.
    var lines: [String] = []
    /// Per vCPU, what it acknowledged and has not EOIed yet: the IAR value
    /// and its group (GICv2: the AIAR path counts as group 1).
    var acked: [[(UInt64, Int)]]
    var saved = false
    /// Inside the set-up or a drain.
    var batch = false

    init(_ input: FuzzInput) {
        var input = input
        let h = input.u8()
        let v3 = h & 1 == 0
        machine = Machine(version: v3 ? .v3 : .v2, vcpus: Int(h >> 1 & 3) + 1, irqs: h & 0x80 != 0 ? 96 : 64,
                          listRegisters: Int(h >> 3 & 3) + 1, priorityBits: v3 ? Int(h >> 5 & 3) + 5 : 5)
        self.input = input
        runner = Runner(scenario: Scenario(machine: machine, statements: []))
        runner.allowRefusals = true
        oracle = GuestOracle(machine: machine)
        acked = [[(UInt64, Int)]](repeating: [], count: machine.vcpus)
    }

    var v3: Bool { machine.version == .v3 }
    var vgic: VGIC<ModelPlatform> { runner.vgic! }

    mutating func run() {
        if let failure = runner.start() { finding("the VM could not be created: \(failure)") }
        let setUpFlags = input.u8()
        if setUpFlags & 1 == 0 { setUp(enableAll: setUpFlags & 2 == 0) }
        var n = 0
        while !input.exhausted && n < GuestFuzz.maxOperations {
            operation()
            n += 1
        }
        drain()
        if GuestFuzz.printScript { print(script(note: nil)) }
    }

    // MARK: Reporting

    func script(note: String?) -> String {
        var text = [machine.header] + lines
        if let note { text.append("# ^ \(note)") }
        return text.joined(separator: "\n")
    }

    func fail(_ message: String) -> Never {
        finding("\(message)\n--- scenario (line numbers count the header as 1) ---\n\(script(note: message))\n---")
    }

    // MARK: Stepping

    /// Runs one statement through the runner and checks the oracle after it,
    /// and the vGIC's invariants unless `batch` (the set-up and the drain
    /// check those once, at their end: the work is per interrupt).
    mutating func step(_ action: Action) {
        let s = Statement(line: lines.count + 2, action: action)
        statements.append(s)
        lines.append(s.script)
        var sgiGroups: [UInt8] = []
        if case .msr(_, let r, _) = action, r.alwaysTraps {
            sgiGroups = (0..<machine.vcpus * 16).map { vgic.irqs[($0 / 16) * 32 + $0 % 16].group }
        }
        if let failure = runner.step(s, trace: { _, _ in }) {
            fail("line \(s.line): \(failure)")
        }
        let accepted = runner.lastRefusal == nil
        switch action {
        case .line(let intid, let level, let vcpu):
            if accepted, let i = oracle.injectable(intid, vcpu) {
                if level { oracle.lineHigh(i, edgeTriggered: vgic.irqs[i].edge) } else { oracle.lineLow(i) }
            }
        case .pulse(let intid, let vcpu):
            if accepted, let i = oracle.injectable(intid, vcpu) {
                oracle.lineHigh(i, edgeTriggered: vgic.irqs[i].edge)
                oracle.lineLow(i)
            }
        case .write(let cpu, let region, let offset, let value, let width):
            oracle.registerWrite(region: region, offset: offset, width: Int(width.bytes), value: value, requester: cpu)
        case .vmmWrite(let region, let offset, let value, let width, let vcpu):
            if accepted {
                oracle.registerWrite(region: region, offset: offset, width: Int(width.bytes), value: value,
                                     requester: vcpu ?? region.owner, vmm: true)
            }
        case .msr(let cpu, let register, let value) where register.alwaysTraps:
            oracle.sgiRegister(value, register: register, requester: cpu) { t, sgi in sgiGroups[t * 16 + Int(sgi)] }
        case .mrs(let cpu, let register, _) where register == .iar0 || register == .iar1:
            acknowledged(cpu, register == .iar0 ? 0 : 1)
        case .read(let cpu, .gicc, let offset, .bits32, _) where !v3 && (offset == GICC.iar || offset == GICC.aiar):
            acknowledged(cpu, offset == GICC.iar ? 0 : 1)
        case .read(let cpu, let region, let offset, .bits32, _):
            checkPendingRead(cpu: cpu, region: region, offset: offset)
        case .physTake(let pintid, let cpu):
            // One activation of the mapped interrupt: an edge, or its line
            // high (sampled or consumed later: unknown to the oracle).
            if let m = oracle.mappings.first(where: { $0.value.pintid == pintid && (pintid >= 32 || $0.key / 32 == cpu) }) {
                let i = m.key
                if vgic.irqs[i].edge {
                    oracle.latched(i)
                } else {
                    oracle.state.credits[i] += 1
                    oracle.setLine(i, 2)
                }
            }
        case .map(let intid, let pintid, let vcpu, let levelFromPhysical):
            if accepted, let i = oracle.injectable(intid, vcpu) {
                oracle.mappings[i] = (pintid, levelFromPhysical)
            }
        case .unmap(let intid, let vcpu):
            if accepted, let i = oracle.injectable(intid, vcpu) {
                // The line keeps the physical level last copied into it.
                if oracle.mappings[i]?.levelFromPhysical == true { oracle.setLine(i, 2) }
                oracle.mappings[i] = nil
            }
        case .physLine(let intid, let level, let cpu):
            let key = Int(intid) * 8 + (intid < 32 ? cpu : 0)
            if level { oracle.physicalHigh.insert(key) } else { oracle.physicalHigh.remove(key) }
        case .save:
            oracle.save()
            saved = true
        case .restore:
            oracle.restore()
            for c in 0..<machine.vcpus { acked[c].removeAll() }
        default:
            break
        }
        let g = vgic
        oracle.afterStep { g.irqs[$0].edge }
        if !batch { checkInvariants() }
    }

    func checkInvariants() {
        if let problem = vgicInvariants(vgic) { fail("after line \(lines.count + 1): vGIC invariant: \(problem)") }
    }

    /// An IAR read on `cpu` returned `runner.lastValue`.
    mutating func acknowledged(_ cpu: Int, _ group: Int) {
        guard let value = runner.lastValue else { return }
        let intid = value & (v3 ? 0xFF_FFFF : 0x3FF)
        guard intid < 1020 || intid >= 1024 else { return }
        if let problem = oracle.acknowledged(value, vcpu: cpu) { fail("line \(lines.count + 1): \(problem)") }
        // Every change of an interrupt's enable or group makes the vCPU
        // holding it exit before the next statement: what the guest can
        // acknowledge is enabled, in a group the distributor forwards.
        let s = vgic.irqs[oracle.index(UInt32(intid), vcpu: cpu)]
        if !s.enabled || !(s.group == 0 ? vgic.distributorGroup0 : vgic.distributorGroup1) {
            fail("line \(lines.count + 1): vCPU \(cpu) acknowledged INTID \(intid) while it is"
                 + (s.enabled ? " in group \(s.group), which the distributor does not forward" : " disabled"))
        }
        acked[cpu].append((value, group))
    }

    // MARK: Decoding operations

    mutating func cpu() -> Int { input.below(machine.vcpus) }

    /// A vCPU index for a VMM operation: sometimes one that does not exist.
    mutating func vmmCPU() -> Int { input.below(machine.vcpus + 1) }

    mutating func widthOf(_ b: UInt8) -> AccessWidth { [AccessWidth.bits8, .bits16, .bits32, .bits64][Int(b & 3)] }

    /// A value: compact forms first (zero, all ones, one bit, a byte), then raw.
    mutating func value(_ w: AccessWidth) -> UInt64 {
        let v: UInt64
        switch input.u8() & 7 {
        case 0: v = 0
        case 1: v = .max
        case 2: v = 1 << UInt64(input.u8() & 63)
        case 3: v = UInt64(input.u8())
        case 4: v = UInt64(input.u16())
        case 5: v = UInt64(input.u32())
        case 6: v = UInt64(input.u8()) << 24 | UInt64(input.u8())
        default: v = input.u64()
        }
        return v & w.valueMask
    }

    /// An INTID: mostly one the VM has, sometimes one beyond it.
    mutating func intid() -> UInt32 {
        let b = input.u8()
        if b & 0xC0 == 0xC0 { return UInt32(b & 0x3F) + UInt32(machine.irqs) - 8 }
        return UInt32(b) % UInt32(machine.irqs)
    }

    /// A region, mostly one the GIC version has.
    mutating func region(_ c: Int) -> Region {
        switch input.u8() & 7 {
        case 0, 1, 2: return .gicd
        case 3, 4: return v3 ? .gicr(c) : .gicc
        case 5: return v3 ? .gicr(cpu()) : .gicc
        case 6: return .gicr(input.below(machine.vcpus + 2))
        default: return v3 ? .gicc : .gicr(0)
        }
    }

    /// An offset in `region`: a register chosen from the map (with an
    /// index into its block), anywhere in the frame, or anywhere at all.
    mutating func offset(_ region: Region, _ width: AccessWidth) -> UInt32 {
        let mode = input.u8()
        let k = UInt32(input.u8())
        let irqs = UInt32(machine.irqs)
        var o: UInt32
        switch mode & 3 {
        case 0, 1:
            switch region {
            case .gicd:
                let bases: [UInt32] = [GICD.ctlr, GICD.typer, GICD.iidr, GICD.typer2, GICD.igroupr, GICD.isenabler,
                                       GICD.icenabler, GICD.ispendr, GICD.icpendr, GICD.isactiver, GICD.icactiver,
                                       GICD.ipriorityr, GICD.itargetsr, GICD.icfgr, GICD.igrpmodr, GICD.nsacr,
                                       GICD.sgir, GICD.cpendsgir, GICD.spendsgir, GICD.irouter,
                                       v3 ? GICD.pidr2V3 : GICD.pidr2V2]
                let base = bases[Int(mode >> 2) % bases.count]
                switch base {
                case GICD.ipriorityr, GICD.itargetsr: o = base + k % (irqs + 4)
                case GICD.icfgr: o = base + 4 * (k % (irqs / 16 + 1))
                case GICD.irouter: o = base + 8 * (k % (irqs + 2)) + (mode & 0x80 != 0 ? 4 : 0)
                case GICD.cpendsgir, GICD.spendsgir: o = base + k % 16
                case GICD.igroupr...GICD.icactiver, GICD.igrpmodr, GICD.nsacr: o = base + 4 * (k % (irqs / 32 + 1))
                default: o = base
                }
            case .gicr:
                let bases: [UInt32] = [GICR.ctlr, GICR.iidr, GICR.typer, GICR.typer + 4, GICR.statusr, GICR.waker,
                                       GICR.propbaser, GICR.pendbaser, GICR.pidr2]
                let sgiBases: [UInt32] = [GICD.igroupr, GICD.isenabler, GICD.icenabler, GICD.ispendr, GICD.icpendr,
                                          GICD.isactiver, GICD.icactiver, GICD.ipriorityr, GICD.icfgr,
                                          GICD.igrpmodr, GICD.nsacr]
                if mode & 4 != 0 {
                    let base = sgiBases[Int(mode >> 3) % sgiBases.count]
                    o = GICR.sgiBase + base + (base == GICD.ipriorityr ? k % 36 : (base == GICD.icfgr ? 4 * (k % 3) : 0))
                } else {
                    o = bases[Int(mode >> 3) % bases.count]
                }
            case .its:
                // The ITS has its own fuzzer; here only its control registers.
                o = GITS.ctlr + 8 * (k % 32)
            case .gicc:
                let bases: [UInt32] = [GICC.ctlr, GICC.pmr, GICC.bpr, GICC.iar, GICC.eoir, GICC.rpr, GICC.hppir,
                                       GICC.abpr, GICC.aiar, GICC.aeoir, GICC.ahppir, GICC.apr0, GICC.nsapr0,
                                       GICC.iidr, GICC.dir]
                o = bases[Int(mode >> 2) % bases.count]
            }
            // Now and then misaligned.
            if mode & 0x40 != 0 && k & 0x80 != 0 { o += UInt32(k & 3) }
        case 2:
            let size: UInt32 = switch region {
            case .gicd: v3 ? GICD.sizeV3 : GICD.sizeV2
            case .gicr: GICR.frameSize
            case .gicc: GICC.size
            case .its: GITS.frameSize
            }
            o = (k << 16 | UInt32(input.u16())) % size
        default:
            o = k << 16 | UInt32(input.u16())
        }
        if mode & 0x20 != 0 && mode & 3 != 3 {
            // Aligned to the width, as most accesses are.
            o &= ~(width.bytes - 1)
        }
        return o
    }

    /// One operation decoded from the input.
    mutating func operation() {
        let op = input.u8()
        switch op % 27 {
        case 0, 1, 2, 3:
            let c = cpu()
            let w = widthOf(input.u8())
            let r = region(c)
            let o = offset(r, w)
            step(.write(cpu: c, region: r, offset: o, value: value(w), width: w))
        case 4, 5:
            let c = cpu()
            let w = widthOf(input.u8())
            let r = region(c)
            step(.read(cpu: c, region: r, offset: offset(r, w), width: w, expect: .any))
        case 6:
            // CPU interface writes the hardware handles (and DIR, which may trap).
            let c = cpu()
            if v3 {
                let regs: [CPUInterfaceRegister] = [.pmr, .bpr0, .bpr1, .ctlr, .igrpen0, .igrpen1, .ap0r0, .ap0r1,
                                                    .ap0r2, .ap0r3, .ap1r0, .ap1r1, .ap1r2, .ap1r3, .eoir0, .eoir1,
                                                    .dir, .sre]
                let r = regs[input.below(regs.count)]
                step(.msr(cpu: c, register: r, value: value(.bits64)))
            } else {
                let offs: [UInt32] = [GICC.ctlr, GICC.pmr, GICC.bpr, GICC.abpr, GICC.apr0, GICC.eoir, GICC.aeoir,
                                      GICC.dir]
                step(.write(cpu: c, region: .gicc, offset: offs[input.below(offs.count)], value: value(.bits32),
                            width: .bits32))
            }
        case 7, 8, 9:
            let c = cpu()
            if v3 {
                step(.mrs(cpu: c, register: input.bool() ? .iar1 : .iar0, expect: .any))
            } else {
                step(.read(cpu: c, region: .gicc, offset: input.bool() ? GICC.iar : GICC.aiar, width: .bits32,
                           expect: .any))
            }
        case 10, 11:
            // EOI what the vCPU acknowledged last, perhaps with the other
            // group's register, then perhaps DIR.
            let c = cpu()
            let how = input.u8()
            guard let (v, group) = acked[c].popLast() else { return step(.exit(cpu: c)) }
            let g = how & 1 != 0 ? 1 - group : group
            if v3 {
                step(.msr(cpu: c, register: g == 0 ? .eoir0 : .eoir1, value: v))
                if how & 2 != 0 { step(.msr(cpu: c, register: .dir, value: v)) }
            } else {
                step(.write(cpu: c, region: .gicc, offset: g == 0 ? GICC.eoir : GICC.aeoir, value: v, width: .bits32))
                if how & 2 != 0 { step(.write(cpu: c, region: .gicc, offset: GICC.dir, value: v, width: .bits32)) }
            }
        case 12:
            let c = cpu()
            if v3 {
                let regs: [CPUInterfaceRegister] = [.hppir0, .hppir1, .rpr, .pmr, .bpr0, .bpr1, .ctlr, .igrpen0,
                                                    .igrpen1, .ap0r0, .ap1r0, .ap1r1, .ap1r2, .ap1r3, .sre]
                step(.mrs(cpu: c, register: regs[input.below(regs.count)], expect: .any))
            } else {
                let offs: [UInt32] = [GICC.ctlr, GICC.pmr, GICC.bpr, GICC.rpr, GICC.hppir, GICC.abpr, GICC.ahppir,
                                      GICC.apr0, GICC.iidr]
                step(.read(cpu: c, region: .gicc, offset: offs[input.below(offs.count)], width: .bits32, expect: .any))
            }
        case 13:
            // Software-generated interrupts.
            let c = cpu()
            let sgi = UInt64(input.u8() & 0xF)
            let t = input.u8()
            if v3 {
                let regs: [CPUInterfaceRegister] = [.sgi1r, .sgi1r, .sgi0r, .asgi1r]
                let irm: UInt64 = t & 0x80 != 0 ? 1 << 40 : 0
                let rs: UInt64 = t & 0x40 != 0 ? UInt64(input.u8() & 0xF) << 44 : 0
                let aff1: UInt64 = t & 0x20 != 0 ? UInt64(input.u8()) << 16 : 0
                step(.msr(cpu: c, register: regs[Int(t & 3)], value: sgi << 24 | irm | rs | aff1 | UInt64(t & 0x1F)))
            } else if t & 0x80 != 0 {
                let o = (t & 0x40 != 0 ? GICD.spendsgir : GICD.cpendsgir) + UInt32(sgi)
                step(.write(cpu: c, region: .gicd, offset: o, value: UInt64(input.u8()), width: .bits8))
            } else {
                step(.write(cpu: c, region: .gicd, offset: GICD.sgir,
                            value: UInt64(t & 3) << 24 | UInt64(input.u8()) << 16 | sgi, width: .bits32))
            }
        case 14, 15:
            let id = intid()
            let c = vmmCPU()
            step(.line(intid: id, level: input.bool(), vcpu: id < 32 ? c : (input.u8() == 0xFF ? c : nil)))
        case 16, 17:
            let id = intid()
            let c = vmmCPU()
            step(.pulse(intid: id, vcpu: id < 32 ? c : nil))
        case 18:
            let id = intid()
            let c = vmmCPU()
            let b = input.u8()
            if b & 1 != 0 {
                step(.unmap(intid: id, vcpu: id < 32 ? c : nil))
            } else {
                // Twin: the same INTID, or another of its class.
                let p = b & 2 != 0 ? id : (id < 32 ? 16 + UInt32(b >> 2) % 16 : 32 + UInt32(b >> 2) % 64)
                step(.map(intid: id, physicalIntid: p, vcpu: id < 32 ? c : nil, levelFromPhysical: b & 4 != 0))
            }
        case 19:
            let b = input.u8()
            let p = b & 1 != 0 ? 16 + UInt32(b >> 1) % 16 : UInt32(b >> 1) % UInt32(machine.irqs - 32) + 32
            step(.physLine(intid: p, level: input.bool(), cpu: p < 32 ? cpu() : 0))
        case 20:
            let c = vmmCPU()
            let w: AccessWidth = input.bool() ? .bits64 : .bits32
            let r = region(c)
            let o = offset(r, w)
            let v = value(w)
            if case .gicr = r { return step(.vmmWrite(region: r, offset: o, value: v, width: w, vcpu: nil)) }
            step(.vmmWrite(region: r, offset: o, value: v, width: w, vcpu: c))
        case 21:
            let c = vmmCPU()
            let w: AccessWidth = input.bool() ? .bits64 : .bits32
            let r = region(c)
            let o = offset(r, w)
            if case .gicr = r { return step(.vmmRead(region: r, offset: o, width: w, vcpu: nil, expect: .any)) }
            step(.vmmRead(region: r, offset: o, width: w, vcpu: c, expect: .any))
        case 24:
            // GICv3 CPU system registers through the VMM (KVM's CPU_SYSREGS).
            let c = vmmCPU()
            let regs: [CPUInterfaceRegister] = [.pmr, .bpr0, .bpr1, .ctlr, .sre, .igrpen0, .igrpen1, .ap0r0, .ap0r1,
                                                .ap0r2, .ap0r3, .ap1r0, .ap1r1, .ap1r2, .ap1r3, .iar1]
            let r = regs[input.below(regs.count)]
            let b = input.u8()
            if b & 1 != 0 {
                vmmCall("vmm read \(r.name) of vCPU \(c)") { g throws(VGICError) in _ = try g.vmmReadSystemRegister(vcpu: c, r) }
            } else {
                var v = value(.bits64)
                if r == .ctlr && b & 2 != 0 {
                    // Mostly a CTLR that describes this CPU interface (else refused).
                    v = UInt64(machine.priorityBits - 1) << ICCCTLR.priBitsShift | ICCCTLR.a3v | v & 3
                }
                vmmCall("vmm write \(r.name) of vCPU \(c) \(hex(v))") { g throws(VGICError) in
                    try g.vmmWriteSystemRegister(vcpu: c, r, v)
                }
            }
        case 25:
            // Line levels through the VMM (KVM's LEVEL_INFO).
            let c = vmmCPU()
            let b = input.u8()
            let first = UInt32(b & 0x7F) % UInt32(machine.irqs / 32 + 1) * 32 + (b & 0x80 != 0 ? UInt32(input.u8() & 31) : 0)
            if input.bool() {
                vmmCall("vmm read line levels from INTID \(first) of vCPU \(c)") { g throws(VGICError) in
                    _ = try g.vmmLineLevels(vcpu: c, firstINTID: first)
                }
            } else {
                let bits = UInt32(truncatingIfNeeded: value(.bits32))
                let accepted = vmmCall("vmm set line levels from INTID \(first) of vCPU \(c) to \(hex(UInt64(bits)))") {
                    g throws(VGICError) in try g.vmmSetLineLevels(vcpu: c, firstINTID: first, bits)
                }
                if accepted {
                    // The lines alone: no edge, no latch, whatever the configuration.
                    for n in 0..<UInt32(32) {
                        let intid = first + n
                        guard intid >= 16 && intid < oracle.intidLimit else { continue }
                        oracle.setLine(oracle.index(intid, vcpu: c), bits & (1 << n) != 0 ? 1 : 0)
                    }
                    let g = vgic
                    oracle.afterStep { g.irqs[$0].edge }
                }
            }
        case 26:
            physicalActivation()
        case 22:
            let b = input.u8()
            if b & 3 == 0 {
                drain()
            } else if b & 1 != 0 || !saved {
                step(.save)
            } else {
                step(.restore)
            }
        default:
            step(.exit(cpu: cpu()))
        }
    }

    /// A device raises the twin of a mapped interrupt and the host takes it
    /// (`phys take`), when the model can: the twin pending and inactive.
    mutating func physicalActivation() {
        let k = Int(input.u8())
        let mapped = oracle.mappings.sorted { $0.key < $1.key }
        guard !mapped.isEmpty else { return step(.exit(cpu: cpu())) }
        let (i, m) = mapped[k % mapped.count]
        let cpu = m.pintid < 32 ? i / 32 : 0
        let model = runner.model
        if !model.physicalPending(m.pintid, cpu: cpu) { step(.physLine(intid: m.pintid, level: true, cpu: cpu)) }
        guard model.physicalPending(m.pintid, cpu: cpu), !model.physicalActive(m.pintid, cpu: cpu) else { return }
        step(.physTake(intid: m.pintid, cpu: cpu))
    }

    /// A guest read of ISPENDR: a bit set needs a reason the oracle knows
    /// (a credit, a level that may be high); a bit clear must not be an
    /// interrupt the oracle knows latched and not yet taken.
    func checkPendingRead(cpu: Int, region: Region, offset: UInt32) {
        guard let value = runner.lastValue, offset & 3 == 0 else { return }
        var off = offset
        var bank = cpu
        var redistributor = false
        switch region {
        case .gicc, .its:
            return
        case .gicr(let m):
            guard v3, m >= 0, m < machine.vcpus, off >= GICR.sgiBase else { return }
            off -= GICR.sgiBase
            bank = m
            redistributor = true
        case .gicd:
            break
        }
        let words: UInt32 = redistributor ? 1 : 32
        guard off >= GICD.ispendr && off < GICD.ispendr + 4 * words else { return }
        let first = (off - GICD.ispendr) * 8
        for k in 0..<UInt32(32) {
            let intid = first + k
            guard intid < oracle.intidLimit, !(v3 && !redistributor && intid < 32), !(!v3 && intid < 16) else { continue }
            let i = oracle.index(intid, vcpu: bank)
            let set = value & (1 << UInt64(k)) != 0
            if set && oracle.state.credits[i] == 0 && !oracle.state.levelChance[i] && !oracle.linePossiblyHigh(i)
                && !(oracle.mappings[i] != nil && !vgic.irqs[i].edge) {
                fail("line \(lines.count + 1): ISPENDR shows INTID \(intid) pending, which nothing raised")
            }
            if !set && oracle.state.owed[i] {
                fail("line \(lines.count + 1): ISPENDR shows INTID \(intid) not pending, but it was latched and not taken")
            }
        }
    }

    /// A VMM request the scenario language has no statement for, made on
    /// the vGIC directly with every vCPU out of the guest (as the API
    /// requires). A refusal must leave the vGIC as it was. Returns whether
    /// the vGIC accepted it.
    @discardableResult
    mutating func vmmCall(_ what: String, _ body: (VGIC<ModelPlatform>) throws(VGICError) -> Void) -> Bool {
        for c in 0..<machine.vcpus { step(.exit(cpu: c)) }
        let g = vgic
        let before: VGICSnapshot
        do {
            before = try g.snapshotState()
        } catch {
            fail("every vCPU is out, yet the vGIC refuses a snapshot: \(error.message)")
        }
        var accepted = true
        do {
            try body(g)
            lines.append("# \(what) (VMM API)")
        } catch {
            accepted = false
            lines.append("# \(what) (VMM API): refused: \(error.message)")
            if (try? g.snapshotState()) != before { fail("a refused VMM request changed the vGIC: \(what)") }
        }
        checkInvariants()
        return accepted
    }

    // MARK: Set-up and drain

    /// A guest that switches everything on, so that raised interrupts get
    /// somewhere: distributor groups, CPU interfaces, and (with `enableAll`)
    /// every interrupt enabled, edge-triggered SPIs, spread over the vCPUs.
    mutating func setUp(enableAll: Bool) {
        batch = true
        defer {
            batch = false
            checkInvariants()
        }
        let words = UInt32(machine.irqs / 32)
        step(.write(cpu: 0, region: .gicd, offset: GICD.ctlr, value: v3 ? 0x13 : 0x3, width: .bits32))
        if enableAll {
            for w in 1..<words {
                step(.write(cpu: 0, region: .gicd, offset: GICD.isenabler + 4 * w, value: 0xFFFF_FFFF, width: .bits32))
                step(.write(cpu: 0, region: .gicd, offset: GICD.icfgr + 8 * w, value: 0xAAAA_AAAA, width: .bits32))
            }
            for id in stride(from: UInt32(32), to: UInt32(machine.irqs), by: 4) where !v3 {
                // Four SPIs per word, spread round-robin over the vCPUs.
                var targets: UInt64 = 0
                for k in 0..<4 { targets |= UInt64(1 << ((Int(id) + k) % machine.vcpus)) << (8 * UInt64(k)) }
                step(.write(cpu: 0, region: .gicd, offset: GICD.itargetsr + id, value: targets, width: .bits32))
            }
        }
        for c in 0..<machine.vcpus {
            if v3 {
                if enableAll {
                    step(.write(cpu: c, region: .gicr(c), offset: GICR.sgiBase + GICD.isenabler, value: 0xFFFF_FFFF,
                                width: .bits32))
                }
                step(.msr(cpu: c, register: .pmr, value: 0xF0))
                step(.msr(cpu: c, register: .igrpen0, value: 1))
                step(.msr(cpu: c, register: .igrpen1, value: 1))
            } else {
                if enableAll {
                    step(.write(cpu: c, region: .gicd, offset: GICD.isenabler, value: 0xFFFF_FFFF, width: .bits32))
                }
                step(.write(cpu: c, region: .gicc, offset: GICC.pmr, value: 0xF0, width: .bits32))
                step(.write(cpu: c, region: .gicc, offset: GICC.ctlr, value: 0x7, width: .bits32))
            }
        }
    }

    /// A cooperative guest on every vCPU takes every interrupt it can get;
    /// afterwards every owed interrupt that could be delivered must have been.
    mutating func drain() {
        batch = true
        defer { batch = false }
        let words = UInt32(machine.irqs / 32)
        for c in 0..<machine.vcpus {
            if v3 {
                // Awake: a sleeping redistributor gets nothing forwarded.
                step(.write(cpu: c, region: .gicr(c), offset: GICR.waker, value: 0, width: .bits32))
                step(.msr(cpu: c, register: .ctlr, value: 2))  // EOImode 1: EOIR drops, DIR deactivates
                step(.msr(cpu: c, register: .pmr, value: 0xFF))
                step(.msr(cpu: c, register: .igrpen0, value: 1))
                step(.msr(cpu: c, register: .igrpen1, value: 1))
                deactivateAll(cpu: c, region: .gicr(c), base: GICR.sgiBase)
            } else {
                step(.write(cpu: c, region: .gicc, offset: GICC.ctlr, value: 0x207, width: .bits32))
                step(.write(cpu: c, region: .gicc, offset: GICC.pmr, value: 0xFF, width: .bits32))
                deactivateAll(cpu: c, region: .gicd, base: 0)
            }
        }
        for w in 1..<words {
            deactivateAll(cpu: 0, region: .gicd, base: 4 * w)
        }
        for c in 0..<machine.vcpus {
            if v3 {
                for r in [CPUInterfaceRegister.ap0r0, .ap0r1, .ap0r2, .ap0r3, .ap1r0, .ap1r1, .ap1r2, .ap1r3] {
                    step(.msr(cpu: c, register: r, value: 0))
                }
            } else {
                step(.write(cpu: c, region: .gicc, offset: GICC.apr0, value: 0, width: .bits32))
            }
            acked[c].removeAll()
        }

        // Acknowledge, drop the priority, deactivate; an interrupt that comes
        // back (level-sensitive with its line high) is left active the second time.
        var seen: [UInt64: Int] = [:]
        var takenInDrain: Set<Int> = []
        let rounds = 16 + 2 * oracle.count
        var round = 0
        var progress = true
        while progress {
            progress = false
            if round == rounds { fail("drain: interrupts still coming after \(rounds) rounds") }
            round += 1
            for c in 0..<machine.vcpus {
                for group in v3 ? [1, 0] : [0] {
                    if v3 {
                        step(.mrs(cpu: c, register: group == 0 ? .iar0 : .iar1, expect: .any))
                    } else {
                        step(.read(cpu: c, region: .gicc, offset: GICC.iar, width: .bits32, expect: .any))
                    }
                    guard let v = runner.lastValue, v & 0x3FF < 1020 else { continue }
                    takenInDrain.insert(oracle.index(UInt32(v & (v3 ? 0xFF_FFFF : 0x3FF)), vcpu: c))
                    acked[c].removeAll()
                    progress = true
                    let key = UInt64(c) << 32 | v
                    seen[key, default: 0] += 1
                    if v3 {
                        step(.msr(cpu: c, register: group == 0 ? .eoir0 : .eoir1, value: v))
                        if seen[key]! == 1 { step(.msr(cpu: c, register: .dir, value: v)) }
                    } else {
                        step(.write(cpu: c, region: .gicc, offset: GICC.eoir, value: v, width: .bits32))
                        if seen[key]! == 1 {
                            step(.write(cpu: c, region: .gicc, offset: GICC.dir, value: v, width: .bits32))
                        }
                    }
                }
            }
        }
        checkInvariants()
        if let problem = undelivered(takenInDrain) {
            fail("after the drain ending at line \(lines.count + 1): \(problem)")
        }
        // Quiescence: no physical twin held without a virtual reason.
        for c in 0..<machine.vcpus { step(.exit(cpu: c)) }
        if let leak = vgic.firstLeakedTwin() {
            fail("after the drain ending at line \(lines.count + 1): physical \(leak.physicalINTID), twin of INTID"
                 + " \(leak.intid)\(leak.vcpu.map { " of vCPU \($0)" } ?? ""), is active with no virtual reason")
        }
    }

    /// The guest reads one ISACTIVER word and clears the active states it
    /// shows (touching only those: a clear-active write re-queues the
    /// interrupts it names, which would hide lost queueing elsewhere).
    mutating func deactivateAll(cpu c: Int, region: Region, base: UInt32) {
        step(.read(cpu: c, region: region, offset: base + GICD.isactiver, width: .bits32, expect: .any))
        if let active = runner.lastValue, active != 0 {
            step(.write(cpu: c, region: region, offset: base + GICD.icactiver, value: active, width: .bits32))
        }
    }

    /// The PMR of vCPU `v` as its CPU interface holds it.
    func pmr(_ v: Int) -> UInt8 {
        let model = runner.model
        return UInt8(truncatingIfNeeded: v3 ? model.readSystemRegister(cpu: v, .pmr)
                                            : model.readGICV(cpu: v, offset: GICC.pmr, width: 4))
    }

    /// An owed interrupt that a cooperative guest should have been given:
    /// one latched pending and not taken, or a level-sensitive one (not
    /// mapped: a mapped one's level is its twin's) whose line the VMM holds
    /// high, which the drain must have taken at least once (`taken`).
    func undelivered(_ taken: Set<Int>) -> String? {
        let g = vgic
        for i in 0..<oracle.count
        where oracle.state.owed[i]
            || (oracle.state.line[i] == 1 && !g.irqs[i].edge && !g.irqs[i].hw && !taken.contains(i)) {
            let s = g.irqs[i]
            guard s.enabled, s.group == 0 ? g.distributorGroup0 : g.distributorGroup1 else { continue }
            let target: Int
            if s.privateOwner >= 0 {
                target = Int(s.privateOwner)
            } else if v3 {
                if s.route & irouterIRM != 0 {
                    target = 0
                } else {
                    guard let t = Affinity(irouter: s.route).vcpuIndex, t < machine.vcpus else { continue }
                    target = t
                }
            } else {
                guard s.targets != 0 else { continue }
                target = s.targets.trailingZeroBitCount
            }
            guard s.priority < pmr(target) else { continue }
            let bank = s.privateOwner >= 0 ? " of vCPU \(s.privateOwner)" : ""
            return "INTID \(s.intid)\(bank) was raised (enabled, group \(s.group) on, priority \(hex(UInt64(s.priority))),"
                + " routed to vCPU \(target)) but never delivered"
        }
        if !v3 {
            for t in 0..<machine.vcpus {
                for sgi in 0..<16 {
                    let s = g.irqs[t * 32 + sgi]
                    guard s.enabled, s.group == 0 ? g.distributorGroup0 : g.distributorGroup1,
                          s.priority < pmr(t) else { continue }
                    for source in 0..<machine.vcpus
                    where oracle.state.sgiOwed[oracle.sgiKey(target: t, sgi: UInt32(sgi), source: source)] {
                        return "SGI \(sgi) from vCPU \(source) to vCPU \(t) was raised but never delivered"
                    }
                }
            }
        }
        return nil
    }
}
