/// A list register in a version-neutral form. The vGIC builds one, encodes it
/// for the hardware (GICv3 `ICH_LR<n>_EL2` or GICv2 `GICH_LR<n>`), and decodes
/// what the hardware left there after the guest ran.
public struct ListRegister: Equatable, Sendable {
    /// Virtual INTID the guest sees.
    public var vINTID: UInt32
    public var state: ListRegisterState
    /// HW = 1: deactivating the virtual interrupt deactivates physical `pINTID`.
    public var hw: Bool
    /// Physical INTID (HW = 1 only).
    public var pINTID: UInt32
    /// EOI maintenance request (HW = 0 only): a maintenance interrupt when the
    /// guest deactivates this interrupt.
    public var eoi: Bool
    /// Group: 0 or 1 (GICv3 `Group`, GICv2 `Grp1`).
    public var group: UInt8
    /// 8-bit priority; the encodings keep the top 8 (v3) or 5 (v2) bits.
    public var priority: UInt8
    /// GICv2 only: the requesting CPU of an SGI (`CPUID`, HW = 0).
    public var sourceCPU: UInt8

    public init(vINTID: UInt32, state: ListRegisterState, hw: Bool = false, pINTID: UInt32 = 0,
                eoi: Bool = false, group: UInt8 = 1, priority: UInt8 = 0, sourceCPU: UInt8 = 0) {
        self.vINTID = vINTID
        self.state = state
        self.hw = hw
        self.pINTID = pINTID
        self.eoi = eoi
        self.group = group
        self.priority = priority
        self.sourceCPU = sourceCPU
    }

    public static let empty = ListRegister(vINTID: 0, state: .invalid, group: 0)
}

/// GICv3 `ICH_LR<n>_EL2` encoding.
///
///     63 62 | 61 | 60    | 59..56 | 55..48   | 47..45 | 44..32  | 31..0
///     State | HW | Group | RES0   | Priority | RES0   | pINTID  | vINTID
///                                             (HW = 0: bit 41 is EOI)
public enum ICH_LR {
    public static let stateShift: UInt64 = 62
    /// The State field alone (bits [63:62]): what sync needs of a list register.
    @inline(__always) public static func state(of v: UInt64) -> ListRegisterState {
        ListRegisterState(rawValue: UInt8(truncatingIfNeeded: v >> stateShift) & 3).unsafelyUnwrapped
    }
    public static let hwBit: UInt64 = 1 << 61
    public static let groupBit: UInt64 = 1 << 60
    public static let priorityShift: UInt64 = 48
    public static let pINTIDShift: UInt64 = 32
    public static let pINTIDMask: UInt64 = 0x1FFF
    public static let eoiBit: UInt64 = 1 << 41

    @inline(__always)
    public static func encode(_ lr: ListRegister) -> UInt64 {
        var v = UInt64(lr.vINTID)
        v |= UInt64(lr.state.rawValue) << stateShift
        v |= UInt64(lr.priority) << priorityShift
        if lr.group != 0 { v |= groupBit }
        if lr.hw {
            v |= hwBit | (UInt64(lr.pINTID) & pINTIDMask) << pINTIDShift
        } else if lr.eoi {
            v |= eoiBit
        }
        return v
    }

    @inline(__always)
    public static func decode(_ v: UInt64) -> ListRegister {
        let hw = v & hwBit != 0
        return ListRegister(
            vINTID: UInt32(truncatingIfNeeded: v),
            state: ListRegisterState(rawValue: UInt8(v >> stateShift))!,
            hw: hw,
            pINTID: hw ? UInt32((v >> pINTIDShift) & pINTIDMask) : 0,
            eoi: !hw && v & eoiBit != 0,
            group: v & groupBit != 0 ? 1 : 0,
            priority: UInt8(truncatingIfNeeded: v >> priorityShift),
            sourceCPU: 0)
    }
}

/// GICv2 `GICH_LR<n>` encoding (32 bits).
///
///     31 | 30   | 29 28 | 27..23   | 22..20 | 19..10                 | 9..0
///     HW | Grp1 | State | Priority | RES0   | HW=1: PhysicalID       | VirtualID
///                                           | HW=0: 19 EOI, 12..10 CPUID
public enum GICH_LR {
    /// The State field alone (bits [29:28]).
    @inline(__always) public static func state(of v: UInt32) -> ListRegisterState {
        ListRegisterState(rawValue: UInt8(truncatingIfNeeded: v >> stateShift) & 3).unsafelyUnwrapped
    }
    public static let hwBit: UInt32 = 1 << 31
    public static let grp1Bit: UInt32 = 1 << 30
    public static let stateShift: UInt32 = 28
    public static let priorityShift: UInt32 = 23
    public static let physicalIDShift: UInt32 = 10
    public static let eoiBit: UInt32 = 1 << 19
    public static let cpuIDShift: UInt32 = 10

    @inline(__always)
    public static func encode(_ lr: ListRegister) -> UInt32 {
        var v = lr.vINTID & 0x3FF
        v |= UInt32(lr.state.rawValue) << stateShift
        v |= UInt32(lr.priority >> 3) << priorityShift
        if lr.group != 0 { v |= grp1Bit }
        if lr.hw {
            v |= hwBit | (lr.pINTID & 0x3FF) << physicalIDShift
        } else {
            if lr.eoi { v |= eoiBit }
            v |= UInt32(lr.sourceCPU & 7) << cpuIDShift
        }
        return v
    }

    @inline(__always)
    public static func decode(_ v: UInt32) -> ListRegister {
        let hw = v & hwBit != 0
        return ListRegister(
            vINTID: v & 0x3FF,
            state: ListRegisterState(rawValue: UInt8((v >> stateShift) & 3))!,
            hw: hw,
            pINTID: hw ? (v >> physicalIDShift) & 0x3FF : 0,
            eoi: !hw && v & eoiBit != 0,
            group: v & grp1Bit != 0 ? 1 : 0,
            priority: UInt8((v >> priorityShift) & 0x1F) << 3,
            sourceCPU: hw ? 0 : UInt8((v >> cpuIDShift) & 7))
    }
}
