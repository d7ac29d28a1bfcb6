/// Distributor register offsets (`GICD_*`), common to GICv2 and GICv3 unless
/// the name says otherwise.
public enum GICD {
    public static let ctlr: UInt32 = 0x0000
    public static let typer: UInt32 = 0x0004
    public static let iidr: UInt32 = 0x0008
    public static let typer2: UInt32 = 0x000C
    public static let statusr: UInt32 = 0x0010
    public static let igroupr: UInt32 = 0x0080
    public static let isenabler: UInt32 = 0x0100
    public static let icenabler: UInt32 = 0x0180
    public static let ispendr: UInt32 = 0x0200
    public static let icpendr: UInt32 = 0x0280
    public static let isactiver: UInt32 = 0x0300
    public static let icactiver: UInt32 = 0x0380
    public static let ipriorityr: UInt32 = 0x0400
    public static let itargetsr: UInt32 = 0x0800
    public static let icfgr: UInt32 = 0x0C00
    public static let igrpmodr: UInt32 = 0x0D00
    public static let nsacr: UInt32 = 0x0E00
    public static let sgir: UInt32 = 0x0F00
    public static let cpendsgir: UInt32 = 0x0F10
    public static let spendsgir: UInt32 = 0x0F20
    public static let irouter: UInt32 = 0x6000
    /// GICv3 identification registers live at 0xFFD0..0xFFFC, GICv2's at 0xFD0..0xFFC.
    public static let pidr2V3: UInt32 = 0xFFE8
    public static let pidr2V2: UInt32 = 0x0FE8

    /// GICD_CTLR bits (GICv3, DS = 1; GICv2 uses bits 0 and 1).
    public static let ctlrEnableGrp0: UInt32 = 1 << 0
    public static let ctlrEnableGrp1: UInt32 = 1 << 1
    public static let ctlrARE: UInt32 = 1 << 4
    public static let ctlrDS: UInt32 = 1 << 6
    public static let ctlrRWP: UInt32 = 1 << 31

    /// Size of the distributor frame the guest sees.
    public static let sizeV3: UInt32 = 0x10000
    public static let sizeV2: UInt32 = 0x1000
}

/// Redistributor register offsets (GICv3). `RD_base` is the first 64 KiB
/// frame, `SGI_base` the second.
public enum GICR {
    public static let sgiBase: UInt32 = 0x10000
    public static let frameSize: UInt32 = 0x20000

    public static let ctlr: UInt32 = 0x0000
    public static let iidr: UInt32 = 0x0004
    public static let typer: UInt32 = 0x0008
    public static let statusr: UInt32 = 0x0010
    public static let waker: UInt32 = 0x0014
    public static let propbaser: UInt32 = 0x0070
    public static let pendbaser: UInt32 = 0x0078
    public static let pidr2: UInt32 = 0xFFE8

    /// GICR_CTLR.CES: software may clear EnableLPIs once set (read-only).
    public static let ctlrCES: UInt32 = 1 << 1
    /// GICR_CTLR.RWP: a write to GICR_ICENABLER0 (or GICR_CTLR) is in progress.
    public static let ctlrRWP: UInt32 = 1 << 3

    /// GICR_TYPER fields.
    public static let typerLast: UInt64 = 1 << 4
    public static let typerProcessorNumberShift: UInt64 = 8
    public static let typerAffinityShift: UInt64 = 32

    /// GICR_WAKER bits.
    public static let wakerProcessorSleep: UInt32 = 1 << 1
    public static let wakerChildrenAsleep: UInt32 = 1 << 2
}

/// GICv2 CPU interface offsets (`GICC_*`; the guest sees the `GICV_*` frame
/// at the same offsets).
public enum GICC {
    public static let ctlr: UInt32 = 0x0000
    public static let pmr: UInt32 = 0x0004
    public static let bpr: UInt32 = 0x0008
    public static let iar: UInt32 = 0x000C
    public static let eoir: UInt32 = 0x0010
    public static let rpr: UInt32 = 0x0014
    public static let hppir: UInt32 = 0x0018
    public static let abpr: UInt32 = 0x001C
    public static let aiar: UInt32 = 0x0020
    public static let aeoir: UInt32 = 0x0024
    public static let ahppir: UInt32 = 0x0028
    public static let apr0: UInt32 = 0x00D0
    public static let nsapr0: UInt32 = 0x00E0
    public static let iidr: UInt32 = 0x00FC
    public static let dir: UInt32 = 0x1000
    public static let size: UInt32 = 0x2000
}

/// MPIDR affinity as the GICv3 routing registers use it.
public struct Affinity: Equatable, Sendable {
    public var aff0: UInt8
    public var aff1: UInt8
    public var aff2: UInt8
    public var aff3: UInt8

    public init(aff0: UInt8, aff1: UInt8 = 0, aff2: UInt8 = 0, aff3: UInt8 = 0) {
        self.aff0 = aff0
        self.aff1 = aff1
        self.aff2 = aff2
        self.aff3 = aff3
    }

    /// The affinity the vGIC gives vCPU `index`: Aff0 = i % 16,
    /// Aff1 = (i / 16) % 256, Aff2 = i / 4096 (16 PEs per Aff1 cluster, as
    /// KVM does so that one SGI target list can reach a whole cluster).
    public init(vcpuIndex i: Int) {
        aff0 = UInt8(i % 16)
        aff1 = UInt8((i / 16) % 256)
        aff2 = UInt8(truncatingIfNeeded: i / 4096)
        aff3 = 0
    }

    /// The vCPU index for this affinity, if the layout above can produce it.
    public var vcpuIndex: Int? {
        guard aff3 == 0, aff0 < 16 else { return nil }
        return Int(aff2) * 4096 + Int(aff1) * 16 + Int(aff0)
    }

    /// `GICD_IROUTER<n>` layout: Aff3 [39:32], Aff2 [23:16], Aff1 [15:8], Aff0 [7:0].
    public var irouter: UInt64 {
        UInt64(aff3) << 32 | UInt64(aff2) << 16 | UInt64(aff1) << 8 | UInt64(aff0)
    }

    public init(irouter v: UInt64) {
        self.init(aff0: UInt8(truncatingIfNeeded: v), aff1: UInt8(truncatingIfNeeded: v >> 8),
                  aff2: UInt8(truncatingIfNeeded: v >> 16), aff3: UInt8(truncatingIfNeeded: v >> 32))
    }

    /// `GICR_TYPER.Affinity_Value` layout: Aff3.Aff2.Aff1.Aff0 in one 32-bit value.
    public var packed: UInt32 {
        UInt32(aff3) << 24 | UInt32(aff2) << 16 | UInt32(aff1) << 8 | UInt32(aff0)
    }
}

/// `GICD_IROUTER<n>.Interrupt_Routing_Mode`.
public let irouterIRM: UInt64 = 1 << 31

/// `ICC_SGI0R_EL1` / `ICC_SGI1R_EL1` / `ICC_ASGI1R_EL1` fields.
///
///     55..48 Aff3 | 47..44 RS | 40 IRM | 39..32 Aff2 | 27..24 INTID | 23..16 Aff1 | 15..0 TargetList
public struct SGIRequest: Equatable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public var targetList: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
    public var aff1: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 16) }
    public var intid: UInt32 { UInt32((rawValue >> 24) & 0xF) }
    public var aff2: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 32) }
    public var irm: Bool { rawValue & (1 << 40) != 0 }
    public var rangeSelector: UInt8 { UInt8((rawValue >> 44) & 0xF) }
    public var aff3: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 48) }

    public init(intid: UInt32, targetList: UInt16, aff1: UInt8 = 0, aff2: UInt8 = 0, aff3: UInt8 = 0,
                rangeSelector: UInt8 = 0, irm: Bool = false) {
        var v = UInt64(targetList) | UInt64(aff1) << 16 | UInt64(intid & 0xF) << 24
        v |= UInt64(aff2) << 32 | UInt64(rangeSelector & 0xF) << 44 | UInt64(aff3) << 48
        if irm { v |= 1 << 40 }
        rawValue = v
    }
}

/// `GICD_SGIR` (GICv2): 25..24 TargetListFilter, 23..16 CPUTargetList, 15 NSATT, 3..0 SGIINTID.
public enum GICDSGIR {
    public static func filter(_ v: UInt32) -> UInt32 { (v >> 24) & 3 }
    public static func targets(_ v: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: v >> 16) }
    public static func intid(_ v: UInt32) -> UInt32 { v & 0xF }
    public static let filterList: UInt32 = 0
    public static let filterAllButSelf: UInt32 = 1
    public static let filterSelf: UInt32 = 2
}

/// The GICv3 CPU-interface system registers the guest reaches (`ICC_*`,
/// virtualized as `ICV_*`), named as the scenario language and the trap
/// decoder name them.
public enum CPUInterfaceRegister: UInt8, Sendable, CaseIterable {
    case iar0, iar1, eoir0, eoir1, dir, hppir0, hppir1, rpr, pmr, bpr0, bpr1, ctlr
    case igrpen0, igrpen1
    case ap0r0, ap0r1, ap0r2, ap0r3, ap1r0, ap1r1, ap1r2, ap1r3
    case sgi0r, sgi1r, asgi1r, sre

    public var name: StaticString {
        switch self {
        case .iar0: "ICC_IAR0_EL1"
        case .iar1: "ICC_IAR1_EL1"
        case .eoir0: "ICC_EOIR0_EL1"
        case .eoir1: "ICC_EOIR1_EL1"
        case .dir: "ICC_DIR_EL1"
        case .hppir0: "ICC_HPPIR0_EL1"
        case .hppir1: "ICC_HPPIR1_EL1"
        case .rpr: "ICC_RPR_EL1"
        case .pmr: "ICC_PMR_EL1"
        case .bpr0: "ICC_BPR0_EL1"
        case .bpr1: "ICC_BPR1_EL1"
        case .ctlr: "ICC_CTLR_EL1"
        case .igrpen0: "ICC_IGRPEN0_EL1"
        case .igrpen1: "ICC_IGRPEN1_EL1"
        case .ap0r0: "ICC_AP0R0_EL1"
        case .ap0r1: "ICC_AP0R1_EL1"
        case .ap0r2: "ICC_AP0R2_EL1"
        case .ap0r3: "ICC_AP0R3_EL1"
        case .ap1r0: "ICC_AP1R0_EL1"
        case .ap1r1: "ICC_AP1R1_EL1"
        case .ap1r2: "ICC_AP1R2_EL1"
        case .ap1r3: "ICC_AP1R3_EL1"
        case .sgi0r: "ICC_SGI0R_EL1"
        case .sgi1r: "ICC_SGI1R_EL1"
        case .asgi1r: "ICC_ASGI1R_EL1"
        case .sre: "ICC_SRE_EL1"
        }
    }

    /// Writes of these trap to the hypervisor whenever `HCR_EL2.IMO/FMO` are set.
    public var alwaysTraps: Bool { self == .sgi0r || self == .sgi1r || self == .asgi1r }
}
