/// Interrupt identifiers and the classes the GIC architecture gives them.
///
///     0 ..< 16     SGI   software-generated, private to a PE
///     16 ..< 32    PPI   private peripheral interrupts
///     32 ..< 1020  SPI   shared peripheral interrupts
///     1020 ..< 1024      special INTIDs (1023: spurious)
public enum INTID {
    public static let sgiCount: UInt32 = 16
    public static let privateCount: UInt32 = 32
    /// First INTID that is not an SPI (1020..1023 are special).
    public static let spiLimit: UInt32 = 1020
    /// `ICC_IAR*` / `GICC_IAR` value when nothing is pending.
    public static let spurious: UInt32 = 1023
    /// GICv3 `ICC_IAR0_EL1` value when the highest pending interrupt is Group 1
    /// and the access is for Group 0 (only with two security states).
    public static let spuriousGroup1: UInt32 = 1022

    @inline(__always) public static func isSGI(_ id: UInt32) -> Bool { id < 16 }
    @inline(__always) public static func isPPI(_ id: UInt32) -> Bool { id >= 16 && id < 32 }
    @inline(__always) public static func isPrivate(_ id: UInt32) -> Bool { id < 32 }
    @inline(__always) public static func isSPI(_ id: UInt32) -> Bool { id >= 32 && id < 1020 }
}

/// The two guest-visible GIC architectures the vGIC models.
public enum GICVersion: UInt8, Sendable {
    case v2 = 2
    case v3 = 3
}

/// State of a list register, as the two-bit `State` field encodes it
/// (GICv3 `ICH_LR<n>_EL2[63:62]`, GICv2 `GICH_LR<n>[29:28]`).
public enum ListRegisterState: UInt8, Sendable {
    case invalid = 0
    case pending = 1
    case active = 2
    case pendingActive = 3

    @inline(__always) public var isPending: Bool { rawValue & 1 != 0 }
    @inline(__always) public var isActive: Bool { rawValue & 2 != 0 }

    @inline(__always)
    public init(pending: Bool, active: Bool) {
        self.init(rawValue: (pending ? 1 : 0) | (active ? 2 : 0))!
    }
}

/// Priority helpers: an implementation with `bits` priority bits keeps the
/// top `bits` bits of every 8-bit priority field.
public enum Priority {
    @inline(__always)
    public static func mask(bits: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: 0xFF00 >> bits)
    }
    /// Idle priority: no interrupt active.
    public static let idle: UInt8 = 0xFF
}
