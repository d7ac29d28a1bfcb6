import GICArchitecture
import GICModel
import VGIC
import VGICModelPlatform

/// Executes a parsed scenario on the hosted vGIC over the GIC hardware model,
/// with the timing rules of `docs/scenarios.md` ("Time"):
///
/// - a guest statement enters its vCPU if it is out (the vGIC flushes);
/// - a trapped access (every `gicd`/`gicr` access, `ICC_SGI*R_EL1` writes,
///   `ICC_DIR_EL1` while `ICH_HCR_EL2.TDIR` is set, the GICv2 `GICV_DIR` page
///   while the vGIC says DIR traps) exits the vCPU, is emulated by the vGIC,
///   and re-enters it; other CPU-interface accesses go to the model's virtual
///   CPU interface of physical CPU N (vCPU N runs on physical CPU N);
/// - after every statement, each kicked vCPU that is in the guest exits and
///   re-enters, a maintenance interrupt counting as a kick, until none is due;
/// - after every statement, a new architecture violation of the model fails
///   the scenario at that line.
struct Runner {
    /// The `map` statements in force, re-applied after `restore` as a VMM would.
    struct Mapping {
        var intid: UInt32
        var vcpu: Int?
        var physicalIntid: UInt32
        var levelFromPhysical: Bool
    }

    /// A physical input line the scenario set (`phys line`).
    struct PhysicalLine: Equatable {
        var intid: UInt32
        var cpu: Int
    }

    /// Exit/entry rounds after one statement before the runner calls it a livelock.
    static let settleRounds = 100

    let scenario: Scenario
    private var machine: Machine { scenario.machine }
    /// The guest's RAM (`mem=`), which a restore keeps, as a migration copies it.
    let memory: GuestRAM?
    private var platform: ModelPlatform
    /// The vGIC the VM runs on now (a new one after each restore).
    private(set) var vgic: VGIC<ModelPlatform>?
    private var inGuest: [Bool]
    /// Violations of the current model already reported (none: the run stops at one).
    private var violationsSeen = 0
    private var snapshot: [UInt8]?
    private var mappings: [Mapping] = []
    private var physicalLines: [(line: PhysicalLine, level: Bool)] = []
    /// What the current statement did besides its own access (exits, entries
    /// on kicks), for the verbose report.
    private var notes: [String] = []

    /// For drivers that step the runner (property tests, fuzzers): a refusal
    /// of a statement without `!` is reported, not a failure.
    var allowRefusals = false
    /// What the last statement's read, `mrs` or `vmm read` returned.
    private(set) var lastValue: UInt64?
    /// The vGIC's refusal of the last statement, if it refused it.
    private(set) var lastRefusal: VGICError?
    /// Called with each snapshot a `save` takes, and the statement's line.
    var onSave: ((Int, [UInt8]) -> Void)?

    init(scenario: Scenario) {
        self.scenario = scenario
        let m = scenario.machine
        memory = m.memory > 0 ? GuestRAM(base: Machine.ramBase, size: m.memory) : nil
        platform = Runner.hardware(scenario.machine, memory: memory)
        inGuest = [Bool](repeating: false, count: scenario.machine.vcpus)
    }

    /// A new hardware model for the machine, as the vGIC's platform.
    static func hardware(_ machine: Machine, memory: GuestRAM? = nil) -> ModelPlatform {
        ModelPlatform(model: GICModel(version: machine.version, cpus: machine.vcpus,
                                      listRegisters: machine.listRegisters, priorityBits: machine.priorityBits),
                      memory: memory)
    }

    /// Runs every statement in order and returns the first failure, or nil.
    /// `trace` gets each statement run with what was observed.
    mutating func run(trace: (Statement, String) -> Void) -> Failure? {
        if let failure = start() { return failure }
        for statement in scenario.statements {
            if let failure = step(statement, trace: trace) { return failure }
        }
        return nil
    }

    /// Creates the VM of the `vm` header.
    mutating func start() -> Failure? {
        let configuration = VGICConfiguration(
            version: machine.version, vcpuCount: machine.vcpus, irqCount: machine.irqs,
            priorityBits: machine.priorityBits, listRegisters: machine.listRegisters, its: machine.itsConfiguration)
        do {
            vgic = try VGIC(configuration: configuration, platform: platform)
        } catch {
            return Failure(line: machine.line, expected: "the vGIC to create the VM", seen: describe(error))
        }
        return nil
    }

    /// Runs one statement, then the kicks it caused, then checks the model
    /// for a new architecture violation. A violation is reported before any
    /// other failure of the statement: it is the cause, a wrong value the effect.
    mutating func step(_ statement: Statement, trace: (Statement, String) -> Void) -> Failure? {
        notes.removeAll()
        lastValue = nil
        lastRefusal = nil
        var observed = ""
        var failure: Failure?
        do {
            observed = try execute(statement)
            try settle(statement.line)
        } catch {
            failure = error
        }
        if let violation = newViolation(statement.line) { failure = violation }
        if let failure {
            trace(statement, "FAIL: \(failure)")
            return failure
        }
        trace(statement, ([observed] + notes).filter { !$0.isEmpty }.joined(separator: "; "))
        return nil
    }

    /// The hardware model the VM runs on now (a new one after each restore).
    var model: GICModel { platform.model }

    // MARK: Statements

    private mutating func execute(_ s: Statement) throws(Failure) -> String {
        let vgic = self.vgic!
        let model = platform.model
        switch s.action {
        case .write(let cpu, let region, let offset, let value, let width):
            guestMMIO(cpu: cpu, region: region, offset: offset, width: width, write: value)
            return ""

        case .read(let cpu, let region, let offset, let width, let expect):
            let v = guestMMIO(cpu: cpu, region: region, offset: offset, width: width, write: nil)
            return try check(s, v, expect)

        case .msr(let cpu, let register, let value):
            guestEnters(cpu)
            let dirTraps = register == .dir && HCR(rawValue: model.readHCR(cpu: cpu)).has(HCR.tdir)
            if register.alwaysTraps || dirTraps {
                trap(cpu) {
                    vgic.guestSystemRegisterWrite(vcpu: cpu, register, value)
                }
            } else {
                model.writeSystemRegister(cpu: cpu, register, value)
            }
            return ""

        case .mrs(let cpu, let register, let expect):
            guestEnters(cpu)
            return try check(s, model.readSystemRegister(cpu: cpu, register), expect)

        case .exit(let cpu):
            exit(cpu)
            return ""

        case .expectIRQ(let cpu, let signalled):
            guestEnters(cpu)
            let seen = model.virtualInterruptSignalled(cpu: cpu)
            guard seen == signalled else {
                throw Failure(line: s.line,
                              expected: signalled ? "vCPU \(cpu) signalling a virtual IRQ" : "no virtual IRQ on vCPU \(cpu)",
                              seen: seen ? "a virtual IRQ signalled" : "none signalled")
            }
            return "irq \(seen ? 1 : 0)"

        case .line(let intid, let level, let vcpu):
            return try api(s) { () throws(VGICError) in try vgic.setLine(intid, level: level, vcpu: vcpu) }.0

        case .pulse(let intid, let vcpu):
            return try api(s) { () throws(VGICError) in try vgic.pulse(intid, vcpu: vcpu) }.0

        case .map(let intid, let physicalIntid, let vcpu, let levelFromPhysical):
            let (observed, done): (String, Void?) = try api(s) { () throws(VGICError) in
                try vgic.map(intid, vcpu: vcpu, physicalIntid: physicalIntid, levelFromPhysical: levelFromPhysical)
            }
            if done != nil {
                mappings.append(Mapping(intid: intid, vcpu: vcpu, physicalIntid: physicalIntid,
                                        levelFromPhysical: levelFromPhysical))
            }
            return observed

        case .unmap(let intid, let vcpu):
            let (observed, done): (String, Void?) = try api(s) { () throws(VGICError) in try vgic.unmap(intid, vcpu: vcpu) }
            if done != nil { mappings.removeAll { $0.intid == intid && $0.vcpu == vcpu } }
            return observed

        case .physLine(let intid, let level, let cpu):
            model.setPhysicalLine(intid, cpu: cpu, level)
            let line = PhysicalLine(intid: intid, cpu: cpu)
            physicalLines.removeAll { $0.line == line }
            physicalLines.append((line, level))
            return ""

        case .physTake(let intid, let cpu):
            let place = INTID.isPrivate(intid) ? " on physical CPU \(cpu)" : ""
            guard let m = mappings.first(where: { $0.physicalIntid == intid && (intid >= 32 || $0.vcpu == cpu) }) else {
                throw Failure(line: s.line, expected: "an interrupt mapped to physical \(intid)\(place)",
                              seen: "none")
            }
            guard model.acknowledgePhysical(intid, cpu: cpu) else {
                throw Failure(line: s.line, expected: "physical \(intid)\(place) pending and inactive, to take",
                              seen: "pending \(model.physicalPending(intid, cpu: cpu) ? 1 : 0), "
                                  + "active \(model.physicalActive(intid, cpu: cpu) ? 1 : 0)")
            }
            do {
                try vgic.hardwareInterruptTaken(m.intid, vcpu: m.vcpu)
            } catch {
                throw Failure(line: s.line, expected: "the vGIC to take the activation", seen: "\(error)")
            }
            return "INTID \(m.intid) taken"

        case .expectPhys(let intid, let state, let value, let cpu):
            let seen = state == .pending ? model.physicalPending(intid, cpu: cpu) : model.physicalActive(intid, cpu: cpu)
            let place = INTID.isPrivate(intid) ? " on physical CPU \(cpu)" : ""
            guard seen == value else {
                throw Failure(line: s.line, expected: "physical \(intid) \(state.rawValue) \(value ? 1 : 0)\(place)",
                              seen: "\(state.rawValue) \(seen ? 1 : 0)")
            }
            return "\(state.rawValue) \(seen ? 1 : 0)"

        case .vmmWrite(let region, let offset, let value, let width, let vcpu):
            exitAll()
            return try api(s) { () throws(VGICError) in
                try vgic.vmmWrite(region: region.vgicRegion, offset: offset, width: Int(width.bytes), value: value,
                                  vcpu: vcpu ?? region.owner)
            }.0

        case .vmmRead(let region, let offset, let width, let vcpu, let expect):
            exitAll()
            let (observed, value) = try api(s) { () throws(VGICError) in
                try vgic.vmmRead(region: region.vgicRegion, offset: offset, width: Int(width.bytes),
                                 vcpu: vcpu ?? region.owner)
            }
            guard let value else { return observed }
            return try check(s, value, expect)

        case .save:
            exitAll()
            let (observed, bytes) = try api(s) { () throws(VGICError) in try vgic.snapshot() }
            if let bytes {
                snapshot = bytes
                onSave?(s.line, bytes)
                return "\(bytes.count) bytes"
            }
            return observed

        case .restore:
            return try restore(s)

        // ITS statements (docs/scenarios-its.md).
        case .memWrite(let address, let value, let width):
            memory?.store(address, value, width: Int(width.bytes))
            return ""

        case .memRead(let address, let width, let expect):
            return try check(s, memory?.load(address, width: Int(width.bytes)) ?? 0, expect)

        case .itsCommand(let cpu, let command):
            queueITSCommand(cpu: cpu, command)
            return ""

        case .vmmITS(let op):
            exitAll()
            return try api(s) { () throws(VGICError) in
                switch op {
                case .saveTables: try vgic.saveITSTables()
                case .restoreTables: try vgic.restoreITSTables()
                case .savePending: try vgic.saveLPIPendingTables()
                case .reset: try vgic.vmmResetITS()
                }
            }.0

        case .msi(let device, let event, let doorbell, let expect):
            let (observed, outcome) = try api(s) { () throws(VGICError) in
                if let doorbell { return try vgic.signalMSI(doorbell: doorbell, deviceID: device, eventID: event) }
                return try vgic.signalMSI(deviceID: device, eventID: event)
            }
            guard let outcome else { return observed }
            let seen = MSIExpectation(outcome)
            if let expect, expect != seen {
                throw Failure(line: s.line, expected: "the MSI \(expect.rawValue)", seen: seen.rawValue)
            }
            return seen.rawValue
        }
    }

    /// `cpu N its ...`: the guest reads GITS_CBASER and GITS_CWRITER (trapped),
    /// stores the 32 bytes in its queue (if that is RAM) and writes
    /// GITS_CWRITER one command further, wrapping at the end of the queue.
    private mutating func queueITSCommand(cpu: Int, _ command: ITSCommand) {
        let cbaser = guestMMIO(cpu: cpu, region: .its, offset: GITS.cbaser, width: .bits64, write: nil)
        let cwriter = guestMMIO(cpu: cpu, region: .its, offset: GITS.cwriter, width: .bits64, write: nil)
        let slot = (cbaser & GITS.cbaserAddressMask) &+ cwriter
        if let memory, machine.isRAM(slot, bytes: 32) {
            for (k, w) in [command.dw0, command.dw1, command.dw2, command.dw3].enumerated() {
                memory.store(slot + UInt64(8 * k), w)
            }
        }
        let next = (cwriter + GITS.commandSize) % GITS.commandQueueSize(cbaser)
        guestMMIO(cpu: cpu, region: .its, offset: GITS.cwriter, width: .bits64, write: next)
    }

    /// `restore`: a fresh hardware model (nothing physical pending-latched or
    /// active, the physical lines as last set), a vGIC built from the snapshot,
    /// and the `map` statements in force applied again, as a VMM would.
    private mutating func restore(_ s: Statement) throws(Failure) -> String {
        guard let snapshot else {
            throw Failure(line: s.line, expected: "a snapshot taken by an earlier save", seen: "none")
        }
        let fresh = Runner.hardware(machine, memory: memory)
        let (observed, restored) = try api(s) { () throws(VGICError) in
            try VGIC.restore(snapshot: snapshot, platform: fresh)
        }
        guard let restored else { return observed }
        platform = fresh
        vgic = restored
        inGuest = [Bool](repeating: false, count: machine.vcpus)
        violationsSeen = 0
        for (line, level) in physicalLines {
            fresh.model.setPhysicalLine(line.intid, cpu: line.cpu, level)
        }
        for m in mappings {
            do {
                try restored.map(m.intid, vcpu: m.vcpu, physicalIntid: m.physicalIntid,
                                 levelFromPhysical: m.levelFromPhysical)
            } catch {
                throw Failure(line: s.line, expected: "map \(m.intid) pintid=\(m.physicalIntid) to apply again",
                              seen: describe(error))
            }
        }
        return "restored \(snapshot.count) bytes, \(mappings.count) mapping(s) applied again"
    }

    // MARK: Guest accesses

    /// A guest MMIO access: distributor and redistributor accesses trap; the
    /// GICv2 CPU interface is the hardware's (the model's GICV frame) but for
    /// the DIR page while the vGIC has it trap.
    @discardableResult
    private mutating func guestMMIO(cpu: Int, region: Region, offset: UInt32, width: AccessWidth,
                                    write value: UInt64?) -> UInt64 {
        let vgic = self.vgic!
        let model = platform.model
        guestEnters(cpu)
        let bytes = Int(width.bytes)
        if region == .gicc && !(offset >= GICC.dir && vgic.dirTraps(vcpu: cpu)) {
            guard let value else { return model.readGICV(cpu: cpu, offset: offset, width: bytes) }
            model.writeGICV(cpu: cpu, offset: offset, width: bytes, value)
            return 0
        }
        let r = region.vgicRegion
        var result: UInt64 = 0
        trap(cpu) {
            if let value {
                vgic.guestMMIOWrite(vcpu: cpu, region: r, offset: offset, width: bytes, value: value)
            } else {
                result = vgic.guestMMIORead(vcpu: cpu, region: r, offset: offset, width: bytes)
            }
        }
        return result
    }

    /// A trapped access of vCPU `cpu` (in the guest): exit, emulate, re-enter.
    /// When the access needs the other vCPUs out of the guest (KVM's
    /// halt-guest), the vGIC takes them out and back in itself.
    private mutating func trap(_ cpu: Int, _ emulate: () -> Void) {
        exit(cpu)
        emulate()
        enter(cpu)
    }

    /// A guest statement on vCPU `v`: it enters the guest first if it is out.
    private mutating func guestEnters(_ v: Int) {
        guard !inGuest[v] else { return }
        enter(v)
        notes.append("vCPU \(v) entered")
    }

    private mutating func enter(_ v: Int) {
        guard !inGuest[v] else { return }
        vgic!.vcpuEnter(v)
        inGuest[v] = true
    }

    private mutating func exit(_ v: Int) {
        guard inGuest[v] else { return }
        vgic!.vcpuExit(v)
        inGuest[v] = false
    }

    /// Every vCPU out of the guest: VMM accesses and snapshots need it.
    private mutating func exitAll() {
        for v in inGuest.indices { exit(v) }
    }

    // MARK: After every statement

    /// Exits and re-enters each vCPU in the guest that was kicked or whose
    /// maintenance interrupt is pending, until none is.
    private mutating func settle(_ line: Int) throws(Failure) {
        let model = platform.model
        for _ in 0..<Runner.settleRounds {
            var due = Set(platform.takeKicks().filter { inGuest[$0] })
            for v in inGuest.indices where inGuest[v] && model.maintenanceInterruptPending(cpu: v) {
                due.insert(v)
            }
            if due.isEmpty { return }
            for v in due.sorted() {
                exit(v)
                enter(v)
                notes.append("vCPU \(v) re-entered")
            }
        }
        let stuck = inGuest.indices.filter { inGuest[$0] && model.maintenanceInterruptPending(cpu: $0) }
        throw Failure(line: line, expected: "the vCPUs to settle after their kicks and maintenance interrupts",
                      seen: "still due after \(Runner.settleRounds) exit/entry rounds"
                          + (stuck.isEmpty ? " (kicks)" : " (maintenance interrupt on vCPU \(stuck.map(String.init).joined(separator: ", ")))"))
    }

    /// The first architecture violation the model recorded since the last
    /// look, as a failure at `line`.
    private mutating func newViolation(_ line: Int) -> Failure? {
        let violations = platform.model.violations
        guard violations.count > violationsSeen else { return nil }
        let v = violations[violationsSeen]
        violationsSeen = violations.count
        return Failure(line: line, expected: "no architecture violation", seen: "cpu \(v.cpu) intid \(v.intid): \(v.message)")
    }

    // MARK: Helpers

    /// Calls the vGIC's API for a VMM statement: a `!` statement must be
    /// refused, any other accepted. Returns what to report and the result
    /// (nil when refused as required).
    private mutating func api<T>(_ s: Statement, _ body: () throws(VGICError) -> T) throws(Failure) -> (String, T?) {
        let result: Result<T, VGICError>
        do {
            result = .success(try body())
        } catch {
            result = .failure(error)
        }
        switch (result, s.mustBeRejected) {
        case (.success(let value), false):
            return ("", value)
        case (.success, true):
            throw Failure(line: s.line, expected: "the vGIC's API to refuse the statement", seen: "it accepted it")
        case (.failure(let error), true):
            lastRefusal = error
            return ("refused: \(describe(error))", nil)
        case (.failure(let error), false) where allowRefusals:
            lastRefusal = error
            return ("refused: \(describe(error))", nil)
        case (.failure(let error), false):
            throw Failure(line: s.line, expected: "the vGIC's API to accept the statement",
                          seen: "refusal: \(describe(error))")
        }
    }

    private mutating func check(_ s: Statement, _ value: UInt64, _ expect: Expectation) throws(Failure) -> String {
        lastValue = value
        guard expect.holds(for: value) else {
            throw Failure(line: s.line, expected: expect.description, seen: hex(value))
        }
        return hex(value)
    }

    private func describe(_ error: VGICError) -> String { "\(error.message) (\(error))" }
}

extension Region {
    var vgicRegion: VGICRegion {
        switch self {
        case .gicd: .distributor
        case .gicr(let m): .redistributor(m)
        case .gicc: .cpuInterface
        case .its: .its
        }
    }

    /// The vCPU a region belongs to when a VMM access names none: a
    /// redistributor's own, else vCPU 0.
    var owner: Int {
        if case .gicr(let m) = self { return m }
        return 0
    }
}
