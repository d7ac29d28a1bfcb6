/// Why the vGIC refused a VMM request. Every refusal leaves the vGIC as it was.
public enum VGICError: Error, Equatable, Sendable {
    /// The configuration cannot be built (message names the rule).
    case invalidConfiguration(StaticString)
    /// No vCPU with this index exists.
    case noSuchVCPU(Int)
    /// The INTID does not exist in this VM (beyond `irqs`, or special).
    case intidOutOfRange(UInt32)
    /// SGIs are raised by guests, not by lines.
    case sgiCannotBeALine(UInt32)
    /// A PPI needs the vCPU it belongs to.
    case vcpuRequiredForPPI(UInt32)
    /// SPIs are shared: naming a vCPU is meaningless.
    case vcpuNotAllowedForSPI(UInt32)
    /// SGIs cannot be hardware-mapped.
    case sgiCannotBeMapped(UInt32)
    /// The physical INTID is not of the same class (PPI for a PPI, SPI for an SPI).
    case invalidPhysicalINTID(UInt32)
    case alreadyMapped(UInt32)
    case notMapped(UInt32)
    /// Another mapped interrupt already has this physical twin (for a PPI:
    /// on the same physical CPU): one physical interrupt cannot carry the
    /// active state of two virtual ones.
    case physicalTwinInUse(UInt32)
    /// The VMM register access names no register, or uses a width it does not have.
    case noSuchRegister(UInt32)
    case invalidAccessWidth(Int)
    /// The operation needs every vCPU out of the guest.
    case vcpuRunning(Int)
    /// A snapshot that cannot be restored (the problem names what is wrong).
    case invalidSnapshot(SnapshotProblem)
    /// A device-configuration request broke a rule of the KVM device API
    /// (`VGICDevice`: base addresses, redistributor regions, number of IRQs, init).
    case device(VGICDeviceRule)
    /// A VMM register access broke a rule of KVM's userspace-access semantics
    /// (CPU system registers, IIDR, LEVEL_INFO).
    case register(VGICRegisterRule)
    /// An ITS request broke a rule of KVM's ITS device (ITS hook: registers,
    /// save/restore, MSIs).
    case its(ITSRule)

    public var message: StaticString {
        switch self {
        case .invalidConfiguration(let m): m
        case .noSuchVCPU: "no vCPU with this index"
        case .intidOutOfRange: "INTID out of range for this VM"
        case .sgiCannotBeALine: "an SGI cannot be raised as a line"
        case .vcpuRequiredForPPI: "a PPI needs cpu= to name its vCPU"
        case .vcpuNotAllowedForSPI: "an SPI is shared: cpu= is not allowed"
        case .sgiCannotBeMapped: "an SGI cannot be hardware-mapped"
        case .invalidPhysicalINTID: "the physical INTID must be of the same class (PPI or SPI)"
        case .alreadyMapped: "the interrupt is already mapped"
        case .notMapped: "the interrupt is not mapped"
        case .physicalTwinInUse: "another mapped interrupt already has this physical twin"
        case .noSuchRegister: "no register at this offset"
        case .invalidAccessWidth: "access width not supported by this register"
        case .vcpuRunning: "the vCPU is in the guest"
        case .invalidSnapshot(let p): p.message
        case .device(let r): r.message
        case .register(let r): r.message
        case .its(let r): r.message
        }
    }

    public static func == (a: VGICError, b: VGICError) -> Bool {
        switch (a, b) {
        case (.noSuchVCPU(let x), .noSuchVCPU(let y)): x == y
        case (.intidOutOfRange(let x), .intidOutOfRange(let y)),
             (.sgiCannotBeALine(let x), .sgiCannotBeALine(let y)),
             (.vcpuRequiredForPPI(let x), .vcpuRequiredForPPI(let y)),
             (.vcpuNotAllowedForSPI(let x), .vcpuNotAllowedForSPI(let y)),
             (.sgiCannotBeMapped(let x), .sgiCannotBeMapped(let y)),
             (.invalidPhysicalINTID(let x), .invalidPhysicalINTID(let y)),
             (.alreadyMapped(let x), .alreadyMapped(let y)),
             (.notMapped(let x), .notMapped(let y)),
             (.physicalTwinInUse(let x), .physicalTwinInUse(let y)),
             (.noSuchRegister(let x), .noSuchRegister(let y)): x == y
        case (.invalidAccessWidth(let x), .invalidAccessWidth(let y)), (.vcpuRunning(let x), .vcpuRunning(let y)): x == y
        case (.invalidConfiguration(let x), .invalidConfiguration(let y)):
            x.utf8Start == y.utf8Start
        case (.device(let x), .device(let y)): x == y
        case (.register(let x), .register(let y)): x == y
        case (.its(let x), .its(let y)): x == y
        case (.invalidSnapshot(let x), .invalidSnapshot(let y)): x == y
        default: false
        }
    }
}
