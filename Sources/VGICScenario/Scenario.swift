import GICArchitecture
import VGIC

/// A parsed scenario script (`docs/scenarios.md`, format 1): the
/// machine its `vm` header creates and the statements that follow it.
public struct Scenario: Equatable, Sendable {
    public var machine: Machine
    public var statements: [Statement]

    public init(machine: Machine, statements: [Statement]) {
        self.machine = machine
        self.statements = statements
    }
}

/// The `vm gic=v3|v2 vcpus=N [irqs=N] [lrs=N] [pri-bits=N]` header.
public struct Machine: Equatable, Sendable {
    public static let defaultIRQs = 256
    public static let defaultListRegisters = 4
    public static let defaultPriorityBits = 5
    public static let irqsRange = 64...1024
    public static let listRegistersRange = 1...16
    public static let priorityBitsRange = 5...8

    public static func maximumVCPUs(_ version: GICVersion) -> Int {
        switch version {
        case .v2: 8
        case .v3: 512
        }
    }

    public var version: GICVersion
    public var vcpus: Int
    /// INTIDs below 1020 that exist, the 32 private ones included (KVM's NR_IRQS).
    public var irqs: Int
    public var listRegisters: Int
    public var priorityBits: Int
    /// Source line of the header.
    public var line: Int
    /// ITS statements (docs/scenarios-its.md): `its=1` gives the VM an ITS
    /// with `lpis` LPI slots (and as many ITEs, 64 devices, 64
    /// collections); `mem` is the bytes of guest RAM at `ramBase`.
    public var its: Bool
    public var lpis: Int
    public var memory: Int

    public static let ramBase: UInt64 = 0x4000_0000
    public static let defaultLPIs = 64
    public static let defaultITSMemory = 0x10_0000
    public static let lpisRange = 1...ITSConfiguration.maximumLPIs
    public static let memoryRange = 0...0x400_0000

    public init(version: GICVersion, vcpus: Int, irqs: Int = Machine.defaultIRQs,
                listRegisters: Int = Machine.defaultListRegisters,
                priorityBits: Int = Machine.defaultPriorityBits, line: Int = 1, its: Bool = false,
                lpis: Int = Machine.defaultLPIs, memory: Int? = nil) {
        self.version = version
        self.vcpus = vcpus
        self.irqs = irqs
        self.listRegisters = listRegisters
        self.priorityBits = priorityBits
        self.line = line
        self.its = its
        self.lpis = lpis
        self.memory = memory ?? (its ? Machine.defaultITSMemory : 0)
    }

    /// The ITS and its pools, when the machine has one.
    public var itsConfiguration: ITSConfiguration? {
        its ? ITSConfiguration(lpis: lpis, devices: 64, events: lpis, collections: 64) : nil
    }

    /// Whether `[address, address + bytes)` is guest RAM.
    public func isRAM(_ address: UInt64, bytes: UInt64) -> Bool {
        address >= Machine.ramBase && address - Machine.ramBase <= UInt64(memory)
            && bytes <= UInt64(memory) - (address - Machine.ramBase)
    }

    /// Size in bytes of a register region as the guest sees it, or nil when
    /// this GIC version has no such region.
    public func size(of region: Region) -> UInt32? {
        switch (region, version) {
        case (.gicd, .v3): GICD.sizeV3
        case (.gicd, .v2): GICD.sizeV2
        case (.gicr, .v3): GICR.frameSize
        case (.gicc, .v2): GICC.size
        case (.its, .v3): its ? GITS.frameSize : nil
        case (.gicr, .v2), (.gicc, .v3), (.its, .v2): nil
        }
    }
}

/// A register region a scenario addresses.
public enum Region: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The distributor.
    case gicd
    /// The redistributor of vCPU M (GICv3): `RD_base` at 0x0, `SGI_base` at 0x10000.
    case gicr(Int)
    /// The GICv2 CPU interface as the guest sees it (the `GICV` frame).
    case gicc
    /// The ITS (`its=1`): control page at 0x0, `GITS_TRANSLATER` at 0x10040.
    case its

    public var description: String {
        switch self {
        case .gicd: "gicd"
        case .gicr(let m): "gicr:\(m)"
        case .gicc: "gicc"
        case .its: "its"
        }
    }
}

/// Access width in bits.
public enum AccessWidth: Int, Equatable, Sendable {
    case bits8 = 8
    case bits16 = 16
    case bits32 = 32
    case bits64 = 64

    public var bytes: UInt32 { UInt32(rawValue / 8) }
    /// The largest value an access of this width carries.
    public var valueMask: UInt64 { self == .bits64 ? .max : (1 << UInt64(rawValue)) - 1 }
}

/// `-> VALUE|any [mask=M]`.
public enum Expectation: Equatable, Sendable, CustomStringConvertible {
    /// `-> any`: perform the access, check nothing.
    case any
    /// `-> VALUE [mask=M]`: `(read & M) == VALUE`; no mask compares every bit.
    case value(UInt64, mask: UInt64?)

    public func holds(for seen: UInt64) -> Bool {
        switch self {
        case .any: true
        case .value(let v, let mask): seen & (mask ?? .max) == v
        }
    }

    public var description: String {
        switch self {
        case .any: "any"
        case .value(let v, nil): hex(v)
        case .value(let v, let mask?): "\(hex(v)) (mask \(hex(mask)))"
        }
    }
}

/// The physical state `expect phys` checks.
public enum PhysicalState: String, Equatable, Sendable {
    case pending
    case active
}

/// One statement of a script: its source line, whether it carries the `!`
/// (must be rejected by the vGIC's API) prefix, and what it does.
public struct Statement: Equatable, Sendable {
    public var line: Int
    public var mustBeRejected: Bool
    public var action: Action
    /// The statement as written, comment and surrounding blanks removed.
    public var text: String

    public init(line: Int, mustBeRejected: Bool = false, action: Action, text: String = "") {
        self.line = line
        self.mustBeRejected = mustBeRejected
        self.action = action
        self.text = text
    }

    /// Equality ignores the source text: two statements are the same when they
    /// do the same thing at the same line.
    public static func == (a: Statement, b: Statement) -> Bool {
        a.line == b.line && a.mustBeRejected == b.mustBeRejected && a.action == b.action
    }
}

/// Every statement form of the language, one case each.
public enum Action: Equatable, Sendable {
    // Guest statements (never `!`).

    /// `cpu N write REGION OFFSET VALUE [w=8|16|32|64]`
    case write(cpu: Int, region: Region, offset: UInt32, value: UInt64, width: AccessWidth)
    /// `cpu N read REGION OFFSET [w=8|16|32|64] -> VALUE|any [mask=M]`
    case read(cpu: Int, region: Region, offset: UInt32, width: AccessWidth, expect: Expectation)
    /// `cpu N msr NAME VALUE`
    case msr(cpu: Int, register: CPUInterfaceRegister, value: UInt64)
    /// `cpu N mrs NAME -> VALUE|any [mask=M]`
    case mrs(cpu: Int, register: CPUInterfaceRegister, expect: Expectation)
    /// `cpu N exit`
    case exit(cpu: Int)
    /// `expect cpu N irq 0|1`
    case expectIRQ(cpu: Int, signalled: Bool)

    // VMM statements. INTIDs and `cpu=` are not checked against the machine
    // here: refusing what the vGIC cannot do is the vGIC API's job, and `!`
    // statements test that it does.

    /// `line INTID 0|1 [cpu=N]`
    case line(intid: UInt32, level: Bool, vcpu: Int?)
    /// `pulse INTID [cpu=N]`
    case pulse(intid: UInt32, vcpu: Int?)
    /// `map INTID pintid=P [cpu=N] [level=phys]`
    case map(intid: UInt32, physicalIntid: UInt32, vcpu: Int?, levelFromPhysical: Bool)
    /// `unmap INTID [cpu=N]`
    case unmap(intid: UInt32, vcpu: Int?)
    /// `phys line P 0|1 [cpu=M]` (the hardware model, not the vGIC; M is 0
    /// unless given, and only PPIs take it).
    case physLine(intid: UInt32, level: Bool, cpu: Int)
    /// `phys take P [cpu=M]` (an addition to format 1, docs/scenarios.md):
    /// the host acknowledges physical interrupt P (it must be pending) and
    /// reports it to the vGIC for the interrupt mapped to it
    /// (`hardwareInterruptTaken`), as the hypervisor does when it takes it.
    case physTake(intid: UInt32, cpu: Int)
    /// `expect phys P pending|active 0|1 [cpu=M]`
    case expectPhys(intid: UInt32, state: PhysicalState, value: Bool, cpu: Int)
    /// `vmm write REGION OFFSET VALUE [w=32|64] [cpu=N]`
    case vmmWrite(region: Region, offset: UInt32, value: UInt64, width: AccessWidth, vcpu: Int?)
    /// `vmm read REGION OFFSET [w=32|64] [cpu=N] -> VALUE|any [mask=M]`
    case vmmRead(region: Region, offset: UInt32, width: AccessWidth, vcpu: Int?, expect: Expectation)
    /// `save`
    case save
    /// `restore`
    case restore

    // ITS statements (docs/scenarios-its.md).

    /// `mem write ADDR VALUE [w=8|16|32|64]`: the guest stores to its RAM.
    case memWrite(address: UInt64, value: UInt64, width: AccessWidth)
    /// `mem read ADDR [w=8|16|32|64] -> VALUE|any [mask=M]`: the guest loads.
    case memRead(address: UInt64, width: AccessWidth, expect: Expectation)
    /// `cpu N its COMMAND ...`: vCPU N queues an ITS command at
    /// `GITS_CBASER` + `GITS_CWRITER` and advances `GITS_CWRITER`.
    case itsCommand(cpu: Int, command: ITSCommand)
    /// `msi dev=D event=E [doorbell=A] [-> OUTCOME]`: a device's MSI
    /// (`signalMSI`), optionally with the outcome expected.
    case msi(device: UInt32, event: UInt32, doorbell: UInt64?, expect: MSIExpectation?)
    /// `vmm its save-tables|restore-tables|save-pending|reset`: KVM's ITS
    /// ABI operations (every vCPU exits first).
    case vmmITS(ITSOperation)

    /// Guest statements act as a vCPU does and can never carry `!`.
    public var isGuest: Bool {
        switch self {
        case .write, .read, .msr, .mrs, .exit, .expectIRQ, .memWrite, .memRead, .itsCommand: true
        default: false
        }
    }
}

/// The VMM's ITS operations (KVM_DEV_ARM_ITS_* and SAVE_PENDING_TABLES).
public enum ITSOperation: String, Equatable, Sendable, CaseIterable {
    case saveTables = "save-tables"
    case restoreTables = "restore-tables"
    case savePending = "save-pending"
    case reset
}

/// The outcome an `msi` statement expects.
public enum MSIExpectation: String, Equatable, Sendable, CaseIterable {
    case delivered
    case unmapped
    case itsDisabled = "its-disabled"
    case lpisDisabled = "lpis-disabled"

    public init(_ outcome: MSIOutcome) {
        switch outcome {
        case .delivered: self = .delivered
        case .blocked(.unmapped): self = .unmapped
        case .blocked(.itsDisabled): self = .itsDisabled
        case .blocked(.lpisDisabled): self = .lpisDisabled
        }
    }
}

/// `0x`-prefixed lower-case hex, the form failures print values in.
public func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
