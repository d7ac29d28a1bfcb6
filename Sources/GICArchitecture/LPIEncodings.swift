/// Locality-specific peripheral interrupts (GICv3, IHI 0069 chapter 5): the
/// INTIDs from 8192 that an ITS translates messages into. An LPI has no
/// active state at the redistributor; its configuration (priority, enable)
/// is one byte per LPI in a table in memory (`GICR_PROPBASER`), its pending
/// state one bit per INTID in another (`GICR_PENDBASER`).
public enum LPI {
    /// The first LPI INTID.
    public static let firstINTID: UInt32 = 8192
    /// INTID bits when LPIs are supported: 16 (`GICD_TYPER.IDbits` = 15), as
    /// KVM's vGIC with an ITS.
    public static let intidBits: UInt32 = 16
    /// INTIDs that exist when LPIs are supported: 0 ..< 65536.
    public static let intidLimit: UInt32 = 1 << intidBits

    @inline(__always) public static func isLPI(_ id: UInt32) -> Bool { id >= firstINTID }

    /// Configuration table byte: priority [7:2] (bits [1:0] of the priority
    /// are 0), bit 1 RES1, bit 0 Enable.
    @inline(__always) public static func priority(ofProperty p: UInt8) -> UInt8 { p & 0xFC }
    @inline(__always) public static func enabled(ofProperty p: UInt8) -> Bool { p & 1 != 0 }
    /// The byte for a priority and an enable (RES1 bit set).
    @inline(__always) public static func property(priority: UInt8, enabled: Bool) -> UInt8 {
        priority & 0xFC | 2 | (enabled ? 1 : 0)
    }

    /// LPIs a configuration table describes: `GICR_PROPBASER.IDbits` + 1 bits
    /// of INTID, capped at the INTID bits implemented (KVM's max_lpis_propbaser).
    @inline(__always) public static func limit(propbaser: UInt64) -> UInt32 {
        let bits = UInt32(propbaser & 0x1F) + 1
        return 1 << min(bits, intidBits)
    }
}

/// The redistributor's LPI registers and fields (GICv3, RD_base frame).
extension GICR {
    public static let setlpir: UInt32 = 0x0040
    public static let clrlpir: UInt32 = 0x0048
    public static let invlpir: UInt32 = 0x00A0
    public static let invallr: UInt32 = 0x00B0
    public static let syncr: UInt32 = 0x00C0

    /// GICR_CTLR.EnableLPIs.
    public static let ctlrEnableLPIs: UInt32 = 1 << 0
    /// GICR_TYPER.PLPIS: physical LPIs supported.
    public static let typerPLPIS: UInt64 = 1 << 0

    /// GICR_PROPBASER: IDbits [4:0], InnerCache [9:7], Shareability [11:10],
    /// Physical_Address [51:12], OuterCache [58:56].
    public static let propbaserAddressMask: UInt64 = 0x000F_FFFF_FFFF_F000
    /// Bits a write keeps (KVM's PROPBASER_RES0_MASK cleared).
    public static let propbaserWritable: UInt64 = ~(0xF800_0000_0000_0000 | 0x00F0_0000_0000_0000 | 0x60)
    /// GICR_PENDBASER: InnerCache [9:7], Shareability [11:10],
    /// Physical_Address [51:16], OuterCache [58:56], PTZ [62] (write-only).
    public static let pendbaserAddressMask: UInt64 = 0x000F_FFFF_FFFF_0000
    public static let pendbaserPTZ: UInt64 = 1 << 62
    /// Bits a write keeps (KVM's PENDBASER_RES0_MASK cleared).
    public static let pendbaserWritable: UInt64 =
        ~(1 << 63 | 0x3800_0000_0000_0000 | 0x00F0_0000_0000_0000 | 0xF000 | 0x7F)
}

extension GICD {
    /// GICD_TYPER.LPIS: LPIs supported.
    public static let typerLPIS: UInt32 = 1 << 17
    /// GICD_TYPER.IDbits [23:19]: INTID bits - 1.
    public static let typerIDbitsShift: UInt32 = 19
}

/// The shareability and cacheability fields of the GIC's memory-pointer
/// registers (`GICR_PROPBASER`, `GICR_PENDBASER`, `GITS_CBASER`,
/// `GITS_BASER<n>`), sanitised as KVM does: Outer Shareable becomes Inner
/// Shareable, an inner non-cacheable attribute becomes Read-allocate
/// Write-back, an outer attribute other than Non-cacheable becomes
/// Same-as-inner. Guests read back what they get, as on hardware that
/// implements fewer attributes.
public enum MemoryAttributes {
    public static func sanitise(_ v: UInt64, shareabilityShift: UInt64, innerShift: UInt64,
                                outerShift: UInt64) -> UInt64 {
        var r = v
        let sh = (r >> shareabilityShift) & 3
        if sh == 2 { r = r & ~(3 << shareabilityShift) | 1 << shareabilityShift }
        let inner = (r >> innerShift) & 7
        if inner == 0 || inner == 1 { r = r & ~(7 << innerShift) | 3 << innerShift }
        let outer = (r >> outerShift) & 7
        if outer != 0 && outer != 1 { r &= ~(7 << outerShift) }
        return r
    }

    /// `GICR_PROPBASER` / `GICR_PENDBASER`: Shareability [11:10],
    /// InnerCache [9:7], OuterCache [58:56].
    public static func sanitiseRedistributorTable(_ v: UInt64) -> UInt64 {
        sanitise(v, shareabilityShift: 10, innerShift: 7, outerShift: 56)
    }

    /// `GITS_CBASER` / `GITS_BASER<n>`: Shareability [11:10],
    /// InnerCache [61:59], OuterCache [55:53].
    public static func sanitiseITSTable(_ v: UInt64) -> UInt64 {
        sanitise(v, shareabilityShift: 10, innerShift: 59, outerShift: 53)
    }
}
