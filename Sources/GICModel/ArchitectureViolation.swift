/// An architecture rule broken by the hypervisor side of the model (the code
/// that programs list registers and the other virtualization control
/// registers), recorded by `GICModel` in the order it happened.
public struct ArchitectureViolation: Sendable, Equatable {
    /// The physical CPU whose interface was being programmed (for `badCPU`,
    /// the out-of-range index itself).
    public var cpu: Int
    /// The INTID concerned (0 if none).
    public var intid: UInt32
    /// One line naming the rule broken.
    public var message: StaticString

    public init(cpu: Int, intid: UInt32, message: StaticString) {
        self.cpu = cpu
        self.intid = intid
        self.message = message
    }

    public static func == (lhs: ArchitectureViolation, rhs: ArchitectureViolation) -> Bool {
        lhs.cpu == rhs.cpu && lhs.intid == rhs.intid && sameText(lhs.message, rhs.message)
    }

    /// Byte-wise comparison of two static strings (StaticString is not Equatable).
    public static func sameText(_ a: StaticString, _ b: StaticString) -> Bool {
        a.withUTF8Buffer { x in
            b.withUTF8Buffer { y in
                guard x.count == y.count else { return false }
                var i = 0
                while i < x.count {
                    if x[i] != y[i] { return false }
                    i += 1
                }
                return true
            }
        }
    }

    /// `true` when `message` is the given rule text.
    public func `is`(_ rule: StaticString) -> Bool { ArchitectureViolation.sameText(message, rule) }

    // The rule texts the model records, so callers and tests can match them.

    /// `readLR`/`writeLR` with `n >= ICH_VTR_EL2.ListRegs + 1`.
    public static let badListRegister: StaticString =
        "list register index beyond ICH_VTR_EL2.ListRegs (access to an unimplemented LR)"
    /// A hypervisor-side access naming a physical CPU the model does not have.
    public static let badCPU: StaticString =
        "physical CPU index out of range for a virtualization control register access"
    /// HW = 1 with State = pending and active.
    public static let hwPendingActive: StaticString =
        "HW=1 list register in the pending-and-active state (architecturally not allowed)"
    /// HW = 1 with pINTID an SGI (< 16) or a special/out-of-range INTID (>= 1020).
    public static let hwBadPhysicalINTID: StaticString =
        "HW=1 list register with a pINTID that is an SGI (< 16) or >= 1020"
    /// Two valid list registers of one CPU hold the same virtual interrupt.
    public static let duplicateVirtualINTID: StaticString =
        "two valid list registers hold the same vINTID (UNPREDICTABLE)"
    /// A valid list register holds a special (1020..1023) or reserved (< 8192) vINTID.
    public static let reservedVirtualINTID: StaticString =
        "valid list register with a vINTID in the special/reserved range 1020..8191"
    /// Deactivating a HW = 1 virtual interrupt whose physical interrupt is not active.
    public static let hwDeactivateInactive: StaticString =
        "HW-bit deactivation of a physical interrupt that is not active"
}
