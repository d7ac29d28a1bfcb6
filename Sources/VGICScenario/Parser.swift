import GICArchitecture

/// Parses scenario scripts (`docs/scenarios.md`, format 1) into a `Scenario`.
///
/// The parser checks everything a script can get wrong on its own: the
/// grammar, numbers, option keys and values, the machine limits of the `vm`
/// header, vCPU numbers of guest statements, regions and offsets against the
/// GIC version. What only the vGIC can decide (whether an INTID can be raised,
/// mapped or given `cpu=`) is left to its API, so that `!` statements can test
/// that it refuses.
public enum ScenarioParser {
    public static func parse(_ source: String) throws(ParseError) -> Scenario {
        var machine: Machine?
        var statements: [Statement] = []
        var saved = false
        for (index, raw) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = SourceLine(number: index + 1, raw: raw)
            if line.tokens.isEmpty { continue }
            guard let m = machine else {
                machine = try parseHeader(line)
                continue
            }
            let statement = try parseStatement(line, machine: m)
            switch statement.action {
            case .save: saved = true
            case .restore where !saved:
                throw ParseError(line: line.number, token: "restore", expected: "a 'save' before 'restore'")
            default: break
            }
            statements.append(statement)
        }
        guard let machine else {
            // A file of comments and blanks: the header belongs on line 1.
            throw ParseError(line: 1, token: nil, expected: "the 'vm gic=v3|v2 vcpus=N' header")
        }
        return Scenario(machine: machine, statements: statements)
    }

    // MARK: The vm header

    static func parseHeader(_ line: SourceLine) throws(ParseError) -> Machine {
        var c = Cursor(line)
        let first = try c.next(expecting: "the 'vm' header")
        guard first == "vm" else {
            throw c.error(at: first, "the 'vm gic=v3|v2 vcpus=N' header first")
        }
        let o = try c.options(["gic", "vcpus", "irqs", "lrs", "pri-bits", "its", "lpis", "mem"])
        guard let gicToken = o.tokens["gic"] else {
            throw ParseError(line: line.number, token: nil, expected: "gic=v3|v2")
        }
        let version: GICVersion
        switch o.value("gic") {
        case "v3": version = .v3
        case "v2": version = .v2
        default: throw c.error(at: gicToken, "gic=v3|v2")
        }
        guard o.tokens["vcpus"] != nil else {
            throw ParseError(line: line.number, token: nil, expected: "vcpus=N")
        }
        let maxVCPUs = Machine.maximumVCPUs(version)
        let vcpus = try c.integer(o, "vcpus", in: 1...maxVCPUs, "vcpus=1..\(maxVCPUs) for gic=\(version.name)")!
        let irqs = try c.integer(o, "irqs", in: Machine.irqsRange,
                                 "irqs=N, a multiple of 32 from 64 to 1024")
        if let irqs, irqs % 32 != 0 {
            throw c.error(at: o.tokens["irqs"]!, "irqs=N, a multiple of 32 from 64 to 1024")
        }
        let lrs = try c.integer(o, "lrs", in: Machine.listRegistersRange, "lrs=1..16")
        let priBits = try c.integer(o, "pri-bits", in: Machine.priorityBitsRange, "pri-bits=5..8")
        // ITS options (docs/scenarios-its.md).
        let its = try c.integer(o, "its", in: 0...1, "its=0|1") == 1
        if its && version != .v3 { throw c.error(at: o.tokens["its"]!, "its=1 with gic=v3 (an ITS is GICv3's)") }
        let lpis = try c.integer(o, "lpis", in: Machine.lpisRange, "lpis=1..\(Machine.lpisRange.upperBound)")
        if lpis != nil && !its { throw c.error(at: o.tokens["lpis"]!, "lpis= with its=1") }
        let memory = try c.integer(o, "mem", in: Machine.memoryRange, "mem=N bytes, a multiple of 4096 up to 64 MiB")
        if let memory, memory % 4096 != 0 {
            throw c.error(at: o.tokens["mem"]!, "mem=N bytes, a multiple of 4096 up to 64 MiB")
        }
        return Machine(version: version, vcpus: vcpus, irqs: irqs ?? Machine.defaultIRQs,
                       listRegisters: lrs ?? Machine.defaultListRegisters,
                       priorityBits: priBits ?? Machine.defaultPriorityBits, line: line.number, its: its,
                       lpis: lpis ?? Machine.defaultLPIs, memory: memory)
    }

    // MARK: Statements

    static func parseStatement(_ line: SourceLine, machine m: Machine) throws(ParseError) -> Statement {
        var c = Cursor(line)
        let bang = c.takeBang()
        let keyword = try c.next(expecting: "a statement")
        let action: Action
        switch keyword {
        case "cpu": action = try parseGuest(&c, m)
        case "expect": action = try parseExpect(&c, m)
        case "line": action = try parseLine(&c)
        case "pulse":
            let intid = try c.intid()
            let o = try c.options(["cpu"])
            action = .pulse(intid: intid, vcpu: try c.vcpuOption(o))
        case "map": action = try parseMap(&c)
        case "unmap":
            let intid = try c.intid()
            let o = try c.options(["cpu"])
            action = .unmap(intid: intid, vcpu: try c.vcpuOption(o))
        case "phys": action = try parsePhysLine(&c, m)
        case "vmm": action = try parseVMM(&c, m)
        case "save", "restore":
            try c.end()
            action = keyword == "save" ? .save : .restore
        case "mem": action = try parseMemory(&c, m)
        case "msi": action = try parseMSI(&c, m)
        case "vm":
            throw c.error(at: keyword, "a statement (the 'vm' header comes once, first)")
        default:
            throw c.error(at: keyword, "a statement (cpu, expect, line, pulse, map, unmap, phys, vmm, save, restore, mem, msi)")
        }
        if let bang, !action.canBeRejected {
            throw c.error(at: bang, action.isGuest
                ? "no '!' on a guest statement (guests get architectural behaviour, not errors)"
                : "no '!' on a hardware-model statement (it does not call the vGIC's API)")
        }
        return Statement(line: line.number, mustBeRejected: bang != nil, action: action, text: line.text)
    }

    /// `cpu N write|read|msr|mrs|exit ...`
    static func parseGuest(_ c: inout Cursor, _ m: Machine) throws(ParseError) -> Action {
        let cpu = try c.guestCPU(m)
        let verb = try c.next(expecting: m.version == .v3 ? "write, read, msr, mrs or exit" : "write, read or exit")
        switch verb {
        case "write":
            let region = try c.region(m)
            let offsetToken = try c.next(expecting: "an offset")
            let valueToken = try c.next(expecting: "a value")
            let o = try c.options(["w"])
            let width = try c.width(o, allowed: [.bits8, .bits16, .bits32, .bits64])
            let offset = try c.offset(offsetToken, region: region, width: width, m)
            let value = try c.value(valueToken, width: width)
            return .write(cpu: cpu, region: region, offset: offset, value: value, width: width)
        case "read":
            let region = try c.region(m)
            let offsetToken = try c.next(expecting: "an offset")
            let o = try c.options(["w"], arrow: true)
            let width = try c.width(o, allowed: [.bits8, .bits16, .bits32, .bits64])
            let offset = try c.offset(offsetToken, region: region, width: width, m)
            return .read(cpu: cpu, region: region, offset: offset, width: width,
                         expect: try c.expectation(o, width: width))
        case "msr", "mrs":
            guard m.version == .v3 else {
                throw c.error(at: verb, "write, read or exit (msr and mrs need gic=v3)")
            }
            let nameToken = try c.next(expecting: "a register name ICC_*_EL1")
            guard let register = CPUInterfaceRegister(scenarioName: nameToken) else {
                throw c.error(at: nameToken, "a GICv3 register name such as ICC_PMR_EL1")
            }
            if verb == "msr" {
                guard register.isWritable else {
                    throw c.error(at: nameToken, "a writable register (\(nameToken) is read-only)")
                }
                let valueToken = try c.next(expecting: "a value")
                try c.end()
                return .msr(cpu: cpu, register: register, value: try c.value(valueToken, width: .bits64))
            }
            guard register.isReadable else {
                throw c.error(at: nameToken, "a readable register (\(nameToken) is write-only)")
            }
            let o = try c.options([], arrow: true)
            return .mrs(cpu: cpu, register: register, expect: try c.expectation(o, width: .bits64))
        case "exit":
            try c.end()
            return .exit(cpu: cpu)
        case "its":
            guard m.its else { throw c.error(at: verb, "write, read, msr, mrs or exit (its needs its=1)") }
            return .itsCommand(cpu: cpu, command: try ITSCommandText.parse(&c))
        default:
            throw c.error(at: verb, m.version == .v3 ? "write, read, msr, mrs or exit" : "write, read or exit")
        }
    }

    /// `expect cpu N irq 0|1` and `expect phys P pending|active 0|1 [cpu=M]`
    static func parseExpect(_ c: inout Cursor, _ m: Machine) throws(ParseError) -> Action {
        let what = try c.next(expecting: "cpu or phys")
        switch what {
        case "cpu":
            let cpu = try c.guestCPU(m)
            try c.word("irq")
            let signalled = try c.bit()
            try c.end()
            return .expectIRQ(cpu: cpu, signalled: signalled)
        case "phys":
            let (intid, intidToken) = try c.physicalIntid(allowSGI: true)
            let stateToken = try c.next(expecting: "pending or active")
            guard let state = PhysicalState(rawValue: String(stateToken)) else {
                throw c.error(at: stateToken, "pending or active")
            }
            let value = try c.bit()
            let o = try c.options(["cpu"])
            let cpu = try c.physicalCPU(o, intid: intid, intidToken: intidToken, m)
            return .expectPhys(intid: intid, state: state, value: value, cpu: cpu)
        default:
            throw c.error(at: what, "cpu or phys")
        }
    }

    /// `line INTID 0|1 [cpu=N]`
    static func parseLine(_ c: inout Cursor) throws(ParseError) -> Action {
        let intid = try c.intid()
        let level = try c.bit()
        let o = try c.options(["cpu"])
        return .line(intid: intid, level: level, vcpu: try c.vcpuOption(o))
    }

    /// `map INTID pintid=P [cpu=N] [level=phys]`
    static func parseMap(_ c: inout Cursor) throws(ParseError) -> Action {
        let intid = try c.intid()
        let o = try c.options(["pintid", "cpu", "level"])
        guard let pintidToken = o.tokens["pintid"] else {
            throw ParseError(line: c.line.number, token: nil, expected: "pintid=P")
        }
        guard let pintid = Number.parse(o.value("pintid")!), pintid <= UInt32.max else {
            throw c.error(at: pintidToken, "pintid=P, a physical INTID")
        }
        if let levelToken = o.tokens["level"], o.value("level") != "phys" {
            throw c.error(at: levelToken, "level=phys")
        }
        return .map(intid: intid, physicalIntid: UInt32(pintid), vcpu: try c.vcpuOption(o),
                    levelFromPhysical: o.tokens["level"] != nil)
    }

    /// `phys line P 0|1 [cpu=M]` and `phys take P [cpu=M]`
    static func parsePhysLine(_ c: inout Cursor, _ m: Machine) throws(ParseError) -> Action {
        let verb = try c.next(expecting: "line or take")
        guard verb == "line" || verb == "take" else { throw c.error(at: verb, "line or take") }
        let (intid, intidToken) = try c.physicalIntid(allowSGI: false)
        let level = verb == "line" ? try c.bit() : true
        let o = try c.options(["cpu"])
        let cpu = try c.physicalCPU(o, intid: intid, intidToken: intidToken, m)
        return verb == "line" ? .physLine(intid: intid, level: level, cpu: cpu) : .physTake(intid: intid, cpu: cpu)
    }

    /// `vmm write REGION OFFSET VALUE [w=32|64] [cpu=N]` and
    /// `vmm read REGION OFFSET [w=32|64] [cpu=N] -> VALUE|any [mask=M]`
    static func parseVMM(_ c: inout Cursor, _ m: Machine) throws(ParseError) -> Action {
        let verb = try c.next(expecting: "write or read")
        if verb == "its" {
            // ITS statements: KVM's ITS ABI operations.
            let names = ITSOperation.allCases.map(\.rawValue).joined(separator: ", ")
            let t = try c.next(expecting: names)
            guard let op = ITSOperation(rawValue: String(t)) else { throw c.error(at: t, names) }
            try c.end()
            return .vmmITS(op)
        }
        guard verb == "write" || verb == "read" else { throw c.error(at: verb, "write or read") }
        let region = try c.region(m)
        let offsetToken = try c.next(expecting: "an offset")
        let valueToken = verb == "write" ? try c.next(expecting: "a value") : nil
        let o = try c.options(["w", "cpu"], arrow: verb == "read")
        let width = try c.width(o, allowed: [.bits32, .bits64])
        let offset = try c.offset(offsetToken, region: region, width: width, m)
        let vcpu = try c.vcpuOption(o)
        if case .gicr(let owner) = region, let vcpu, vcpu != owner {
            throw c.error(at: o.tokens["cpu"]!, "no cpu= other than the redistributor's own vCPU \(owner)")
        }
        if let valueToken {
            return .vmmWrite(region: region, offset: offset, value: try c.value(valueToken, width: width),
                             width: width, vcpu: vcpu)
        }
        return .vmmRead(region: region, offset: offset, width: width, vcpu: vcpu,
                        expect: try c.expectation(o, width: width))
    }
}

extension ScenarioParser {
    /// `mem write ADDR VALUE [w=8|16|32|64]` and
    /// `mem read ADDR [w=8|16|32|64] -> VALUE|any [mask=M]`: inside guest RAM.
    static func parseMemory(_ c: inout Cursor, _ m: Machine) throws(ParseError) -> Action {
        let verb = try c.next(expecting: "write or read")
        guard verb == "write" || verb == "read" else { throw c.error(at: verb, "write or read") }
        let addressToken = try c.next(expecting: "a guest physical address")
        let valueToken = verb == "write" ? try c.next(expecting: "a value") : nil
        let o = try c.options(["w"], arrow: verb == "read")
        let width = try c.width(o, allowed: [.bits8, .bits16, .bits32, .bits64])
        guard let address = Number.parse(addressToken), m.isRAM(address, bytes: UInt64(width.bytes)) else {
            throw c.error(at: addressToken, "an address inside guest RAM (\(hex(Machine.ramBase)), mem=\(m.memory) bytes)")
        }
        if let valueToken {
            return .memWrite(address: address, value: try c.value(valueToken, width: width), width: width)
        }
        return .memRead(address: address, width: width, expect: try c.expectation(o, width: width))
    }

    /// `msi dev=D event=E [doorbell=A] [-> delivered|unmapped|its-disabled|lpis-disabled]`
    static func parseMSI(_ c: inout Cursor, _ m: Machine) throws(ParseError) -> Action {
        let o = try c.options(["dev", "event", "doorbell"], arrow: true, arrowOptional: true)
        func field(_ key: String, max: UInt64) throws(ParseError) -> UInt64? {
            guard let t = o.tokens[key] else { return nil }
            guard let v = Number.parse(o.value(key)!), v <= max else { throw c.error(at: t, "\(key)=N, at most \(hex(max))") }
            return v
        }
        guard let device = try field("dev", max: UInt64(UInt32.max)) else { throw c.error(at: nil, "dev=D") }
        guard let event = try field("event", max: UInt64(UInt32.max)) else { throw c.error(at: nil, "event=E") }
        let doorbell = try field("doorbell", max: .max)
        var expect: MSIExpectation?
        if let t = o.arrowValue {
            guard let e = MSIExpectation(rawValue: String(t)) else {
                throw c.error(at: t, "delivered, unmapped, its-disabled or lpis-disabled")
            }
            expect = e
        }
        return .msi(device: UInt32(device), event: UInt32(event), doorbell: doorbell, expect: expect)
    }
}

extension Action {
    /// Whether `!` may prefix the statement: only statements that call the
    /// vGIC's API can be rejected by it.
    var canBeRejected: Bool {
        switch self {
        case .line, .pulse, .map, .unmap, .vmmWrite, .vmmRead, .save, .restore, .msi, .vmmITS: true
        case .write, .read, .msr, .mrs, .exit, .expectIRQ, .physLine, .physTake, .expectPhys, .memWrite, .memRead,
             .itsCommand:
            false
        }
    }
}

extension GICVersion {
    var name: String { self == .v3 ? "v3" : "v2" }
}

extension CPUInterfaceRegister {
    init?(scenarioName: Substring) {
        guard let r = Self.allCases.first(where: { $0.name.description == scenarioName }) else { return nil }
        self = r
    }

    /// Registers an `MRS` can read (`ICC_EOIR*`, `ICC_DIR_EL1` and the SGI
    /// generation registers are write-only).
    public var isReadable: Bool {
        switch self {
        case .eoir0, .eoir1, .dir, .sgi0r, .sgi1r, .asgi1r: false
        default: true
        }
    }

    /// Registers an `MSR` can write (`ICC_IAR*`, `ICC_HPPIR*` and `ICC_RPR_EL1`
    /// are read-only).
    public var isWritable: Bool {
        switch self {
        case .iar0, .iar1, .hppir0, .hppir1, .rpr: false
        default: true
        }
    }
}
