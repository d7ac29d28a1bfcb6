import GICArchitecture

// Statements and machines back to script text: generated scenarios (the
// property tests, the fuzzer's reproducers) print as scripts that
// `vgic scenario` runs.

extension Machine {
    /// The `vm ...` header line.
    public var header: String {
        "vm gic=\(version.name) vcpus=\(vcpus) irqs=\(irqs) lrs=\(listRegisters) pri-bits=\(priorityBits)"
            + (its ? " its=1 lpis=\(lpis)" : "") + (memory != (its ? Machine.defaultITSMemory : 0) ? " mem=\(memory)" : "")
    }
}

extension Action {
    /// The statement as a script line (without the `!`).
    public var script: String {
        switch self {
        case .write(let cpu, let region, let offset, let value, let width):
            return "cpu \(cpu) write \(region) \(hex(UInt64(offset))) \(hex(value))\(widthOption(width))"
        case .read(let cpu, let region, let offset, let width, let expect):
            return "cpu \(cpu) read \(region) \(hex(UInt64(offset)))\(widthOption(width)) -> \(expectText(expect))"
        case .msr(let cpu, let register, let value):
            return "cpu \(cpu) msr \(register.name) \(hex(value))"
        case .mrs(let cpu, let register, let expect):
            return "cpu \(cpu) mrs \(register.name) -> \(expectText(expect))"
        case .exit(let cpu):
            return "cpu \(cpu) exit"
        case .expectIRQ(let cpu, let signalled):
            return "expect cpu \(cpu) irq \(signalled ? 1 : 0)"
        case .line(let intid, let level, let vcpu):
            return "line \(intid) \(level ? 1 : 0)\(cpuOption(vcpu))"
        case .pulse(let intid, let vcpu):
            return "pulse \(intid)\(cpuOption(vcpu))"
        case .map(let intid, let physicalIntid, let vcpu, let levelFromPhysical):
            return "map \(intid) pintid=\(physicalIntid)\(cpuOption(vcpu))\(levelFromPhysical ? " level=phys" : "")"
        case .unmap(let intid, let vcpu):
            return "unmap \(intid)\(cpuOption(vcpu))"
        case .physLine(let intid, let level, let cpu):
            return "phys line \(intid) \(level ? 1 : 0)\(INTID.isPrivate(intid) ? " cpu=\(cpu)" : "")"
        case .physTake(let intid, let cpu):
            return "phys take \(intid)\(INTID.isPrivate(intid) ? " cpu=\(cpu)" : "")"
        case .expectPhys(let intid, let state, let value, let cpu):
            return "expect phys \(intid) \(state.rawValue) \(value ? 1 : 0)\(INTID.isPrivate(intid) ? " cpu=\(cpu)" : "")"
        case .vmmWrite(let region, let offset, let value, let width, let vcpu):
            return "vmm write \(region) \(hex(UInt64(offset))) \(hex(value))\(widthOption(width))\(cpuOption(vcpu))"
        case .vmmRead(let region, let offset, let width, let vcpu, let expect):
            return "vmm read \(region) \(hex(UInt64(offset)))\(widthOption(width))\(cpuOption(vcpu)) -> \(expectText(expect))"
        case .save:
            return "save"
        case .restore:
            return "restore"
        case .memWrite(let address, let value, let width):
            return "mem write \(hex(address)) \(hex(value))\(widthOption(width))"
        case .memRead(let address, let width, let expect):
            return "mem read \(hex(address))\(widthOption(width)) -> \(expectText(expect))"
        case .itsCommand(let cpu, let command):
            return "cpu \(cpu) its \(ITSCommandText.text(command))"
        case .vmmITS(let op):
            return "vmm its \(op.rawValue)"
        case .msi(let device, let event, let doorbell, let expect):
            return "msi dev=\(device) event=\(event)\(doorbell.map { " doorbell=\(hex($0))" } ?? "")"
                + (expect.map { " -> \($0.rawValue)" } ?? "")
        }
    }

    private func widthOption(_ w: AccessWidth) -> String { w == .bits32 ? "" : " w=\(w.rawValue)" }
    private func cpuOption(_ v: Int?) -> String { v.map { " cpu=\($0)" } ?? "" }
    private func expectText(_ e: Expectation) -> String {
        switch e {
        case .any: "any"
        case .value(let v, nil): hex(v)
        case .value(let v, let mask?): "\(hex(v)) mask=\(hex(mask))"
        }
    }
}

extension Statement {
    /// The statement as a script line.
    public var script: String { (mustBeRejected ? "!" : "") + action.script }
}

extension Scenario {
    /// The whole scenario as a script.
    public var script: String {
        ([machine.header] + statements.map(\.script)).joined(separator: "\n") + "\n"
    }
}
