/// `ICH_HCR_EL2` (GICv3) and `GICH_HCR` (GICv2) share the low byte and
/// `EOIcount`; the trap bits exist on GICv3 only.
public struct HCR: Equatable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64 = 0) { self.rawValue = rawValue }

    public static let en: UInt64 = 1 << 0
    public static let uie: UInt64 = 1 << 1
    public static let lrenpie: UInt64 = 1 << 2
    public static let npie: UInt64 = 1 << 3
    public static let vgrp0eie: UInt64 = 1 << 4
    public static let vgrp0die: UInt64 = 1 << 5
    public static let vgrp1eie: UInt64 = 1 << 6
    public static let vgrp1die: UInt64 = 1 << 7
    /// GICv3: trap common (`TC`), all group 0, all group 1 and DIR accesses.
    public static let tc: UInt64 = 1 << 10
    public static let tall0: UInt64 = 1 << 11
    public static let tall1: UInt64 = 1 << 12
    public static let tdir: UInt64 = 1 << 14
    public static let eoiCountShift: UInt64 = 27
    public static let eoiCountMask: UInt64 = 0x1F

    @inline(__always) public func has(_ bit: UInt64) -> Bool { rawValue & bit != 0 }
    @inline(__always) public mutating func set(_ bit: UInt64, _ on: Bool) {
        if on { rawValue |= bit } else { rawValue &= ~bit }
    }
    public var eoiCount: UInt32 {
        get { UInt32((rawValue >> HCR.eoiCountShift) & HCR.eoiCountMask) }
        set {
            rawValue &= ~(HCR.eoiCountMask << HCR.eoiCountShift)
            rawValue |= (UInt64(newValue) & HCR.eoiCountMask) << HCR.eoiCountShift
        }
    }
}

/// `ICH_MISR_EL2` / `GICH_MISR`: the maintenance-interrupt conditions.
public enum MISR {
    public static let eoi: UInt64 = 1 << 0
    public static let u: UInt64 = 1 << 1
    public static let lrenp: UInt64 = 1 << 2
    public static let np: UInt64 = 1 << 3
    public static let vgrp0e: UInt64 = 1 << 4
    public static let vgrp0d: UInt64 = 1 << 5
    public static let vgrp1e: UInt64 = 1 << 6
    public static let vgrp1d: UInt64 = 1 << 7
}

/// The virtual machine control register in a version-neutral form.
///
/// GICv3 `ICH_VMCR_EL2`:
///
///     31..24 | 23..21 | 20..18 | 9     | 4     | 3      | 2       | 1     | 0
///     VPMR   | VBPR0  | VBPR1  | VEOIM | VCBPR | VFIQEn | VAckCtl | VENG1 | VENG0
///
/// GICv2 `GICH_VMCR`:
///
///     31..27     | 23..21 | 20..18 | 9..0
///     VMPriMask  | VMBP   | VMABP  | VMCtlr (GICV_CTLR bits: 0 EnGrp0, 1 EnGrp1,
///                                            2 AckCtl, 3 FIQEn, 4 CBPR, 9 EOImode)
public struct VMCR: Equatable, Sendable {
    public var enableGroup0: Bool = false
    public var enableGroup1: Bool = false
    public var ackCtl: Bool = false
    public var fiqEn: Bool = false
    public var cbpr: Bool = false
    public var eoiMode: Bool = false
    public var pmr: UInt8 = 0
    public var bpr0: UInt8 = 0
    public var bpr1: UInt8 = 0

    public init() {}

    public var v3: UInt64 {
        var v = UInt64(pmr) << 24 | UInt64(bpr0 & 7) << 21 | UInt64(bpr1 & 7) << 18
        if eoiMode { v |= 1 << 9 }
        if cbpr { v |= 1 << 4 }
        if fiqEn { v |= 1 << 3 }
        if ackCtl { v |= 1 << 2 }
        if enableGroup1 { v |= 1 << 1 }
        if enableGroup0 { v |= 1 }
        return v
    }

    public init(v3 v: UInt64) {
        pmr = UInt8(truncatingIfNeeded: v >> 24)
        bpr0 = UInt8((v >> 21) & 7)
        bpr1 = UInt8((v >> 18) & 7)
        eoiMode = v & (1 << 9) != 0
        cbpr = v & (1 << 4) != 0
        fiqEn = v & (1 << 3) != 0
        ackCtl = v & (1 << 2) != 0
        enableGroup1 = v & (1 << 1) != 0
        enableGroup0 = v & 1 != 0
    }

    public var v2: UInt32 {
        var v = UInt32(pmr >> 3) << 27 | UInt32(bpr0 & 7) << 21 | UInt32(bpr1 & 7) << 18
        if eoiMode { v |= 1 << 9 }
        if cbpr { v |= 1 << 4 }
        if fiqEn { v |= 1 << 3 }
        if ackCtl { v |= 1 << 2 }
        if enableGroup1 { v |= 1 << 1 }
        if enableGroup0 { v |= 1 }
        return v
    }

    public init(v2 v: UInt32) {
        pmr = UInt8((v >> 27) & 0x1F) << 3
        bpr0 = UInt8((v >> 21) & 7)
        bpr1 = UInt8((v >> 18) & 7)
        eoiMode = v & (1 << 9) != 0
        cbpr = v & (1 << 4) != 0
        fiqEn = v & (1 << 3) != 0
        ackCtl = v & (1 << 2) != 0
        enableGroup1 = v & (1 << 1) != 0
        enableGroup0 = v & 1 != 0
    }
}

/// `ICH_VTR_EL2`: what the virtualization extension implements.
///
///     31..29 PRIbits-1 | 28..26 PREbits-1 | 25..23 IDbits | 22 SEIS | 21 A3V
///     20 nV4 | 19 TDS | 4..0 ListRegs-1
public struct VTR: Equatable, Sendable {
    public var listRegisters: Int
    public var priorityBits: Int
    public var preemptionBits: Int

    public init(listRegisters: Int, priorityBits: Int, preemptionBits: Int) {
        self.listRegisters = listRegisters
        self.priorityBits = priorityBits
        self.preemptionBits = preemptionBits
    }

    public init(rawValue v: UInt64) {
        listRegisters = Int(v & 0x1F) + 1
        preemptionBits = Int((v >> 26) & 7) + 1
        priorityBits = Int((v >> 29) & 7) + 1
    }

    public var rawValue: UInt64 {
        UInt64(listRegisters - 1) | UInt64(preemptionBits - 1) << 26 | UInt64(priorityBits - 1) << 29
            | 1 << 19 /* TDS */ | 1 << 21 /* A3V */
    }

    /// Number of 32-bit active-priority registers per group (`ICH_AP0R<n>`).
    public var activePriorityRegisters: Int { 1 << (preemptionBits - 5) }
    /// Lowest value `ICV_BPR0_EL1` can hold.
    public var minimumBPR0: UInt8 { UInt8(7 - preemptionBits) }
}
