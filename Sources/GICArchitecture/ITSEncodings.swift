/// ITS register offsets and fields (GICv3 Interrupt Translation Service,
/// IHI 0069 chapter 12): a 128 KiB frame of two 64 KiB pages, the control
/// registers in the first, `GITS_TRANSLATER` in the second.
public enum GITS {
    public static let ctlr: UInt32 = 0x0000
    public static let iidr: UInt32 = 0x0004
    public static let typer: UInt32 = 0x0008
    public static let cbaser: UInt32 = 0x0080
    public static let cwriter: UInt32 = 0x0088
    public static let creadr: UInt32 = 0x0090
    /// GITS_BASER0..7, 8 bytes each.
    public static let baser: UInt32 = 0x0100
    public static let pidr2: UInt32 = 0xFFE8
    /// Identification registers: 0xFFD0 ..< 0x10000.
    public static let idRegisters: UInt32 = 0xFFD0
    /// The translation page and its one register.
    public static let translationPage: UInt32 = 0x10000
    public static let translater: UInt32 = 0x10040
    /// Size of the frame the guest sees.
    public static let frameSize: UInt32 = 0x20000

    /// GITS_CTLR bits.
    public static let ctlrEnabled: UInt32 = 1 << 0
    public static let ctlrQuiescent: UInt32 = 1 << 31

    /// GITS_TYPER fields.
    public static let typerPhysical: UInt64 = 1 << 0
    public static let typerITTEntrySizeShift: UInt64 = 4
    public static let typerIDbitsShift: UInt64 = 8
    public static let typerDevbitsShift: UInt64 = 13

    /// GITS_CBASER: Size [7:0] (4 KiB pages - 1), Physical_Address [51:12], Valid [63].
    public static let cbaserValid: UInt64 = 1 << 63
    public static let cbaserAddressMask: UInt64 = 0x000F_FFFF_FFFF_F000
    /// GITS_CWRITER / GITS_CREADR: Offset [19:5].
    public static let queueOffsetMask: UInt64 = 0xF_FFE0
    /// Bytes of one command.
    public static let commandSize: UInt64 = 32

    /// GITS_BASER<n> fields. With 64 KiB pages (the only size this ITS
    /// implements, as KVM's) the address is bits [47:16] and PA[51:48] sits
    /// in bits [15:12].
    public static let baserValid: UInt64 = 1 << 63
    public static let baserIndirect: UInt64 = 1 << 62
    public static let baserTypeShift: UInt64 = 56
    public static let baserTypeMask: UInt64 = 7 << 56
    public static let baserEntrySizeShift: UInt64 = 48
    public static let baserEntrySizeMask: UInt64 = 0x1F << 48
    public static let baserPageSizeShift: UInt64 = 8
    public static let baserPageSizeMask: UInt64 = 3 << 8
    public static let baserPageSize64K: UInt64 = 2 << 8
    public static let baserSizeMask: UInt64 = 0xFF
    public static let baserTypeDevice: UInt64 = 1
    public static let baserTypeCollection: UInt64 = 4

    /// The table address a 64 KiB-page GITS_BASER holds: PA[47:16] in place,
    /// PA[51:48] from bits [15:12].
    @inline(__always) public static func baserAddress(_ v: UInt64) -> UInt64 {
        v & 0x0000_FFFF_FFFF_0000 | (v >> 12 & 0xF) << 48
    }

    /// Bytes of the table a GITS_BASER describes (64 KiB pages).
    @inline(__always) public static func baserTableSize(_ v: UInt64) -> UInt64 {
        ((v & baserSizeMask) + 1) << 16
    }

    /// Bytes of the command queue a GITS_CBASER describes.
    @inline(__always) public static func commandQueueSize(_ cbaser: UInt64) -> UInt64 {
        ((cbaser & 0xFF) + 1) << 12
    }

    /// A first-level entry of a two-level table: Valid [63], the address of
    /// a 64 KiB second-level page [51:16].
    public static let level1Valid: UInt64 = 1 << 63
    public static let level1AddressMask: UInt64 = 0x000F_FFFF_FFFF_0000
}

/// The ITS commands of a physical ITS (GICv3), by their code in DW0[7:0].
public enum ITSCommandCode: UInt8, Sendable, CaseIterable {
    case movi = 0x01
    case int = 0x03
    case clear = 0x04
    case sync = 0x05
    case mapd = 0x08
    case mapc = 0x09
    case mapti = 0x0A
    case mapi = 0x0B
    case inv = 0x0C
    case invall = 0x0D
    case movall = 0x0E
    case discard = 0x0F

    /// The command's name as the architecture writes it.
    public var name: StaticString {
        switch self {
        case .movi: "MOVI"
        case .int: "INT"
        case .clear: "CLEAR"
        case .sync: "SYNC"
        case .mapd: "MAPD"
        case .mapc: "MAPC"
        case .mapti: "MAPTI"
        case .mapi: "MAPI"
        case .inv: "INV"
        case .invall: "INVALL"
        case .movall: "MOVALL"
        case .discard: "DISCARD"
        }
    }
}

/// One 32-byte ITS command, as four little-endian doublewords.
///
///     DW0  [7:0] command   [63:32] DeviceID
///     DW1  [31:0] EventID  [63:32] pINTID (MAPTI)   MAPD: [4:0] Size (EventID bits - 1)
///     DW2  [15:0] ICID     [50:16] RDbase (MAPC, SYNC, MOVALL: target 1)
///          MAPD: [51:8] ITT_addr, [63] V          MAPC: [63] V
///     DW3  MOVALL: [50:16] RDbase 2
///
/// With `GITS_TYPER.PTA` = 0 an RDbase is a processor number (the vCPU index).
public struct ITSCommand: Equatable, Sendable {
    public var dw0: UInt64
    public var dw1: UInt64
    public var dw2: UInt64
    public var dw3: UInt64

    public init(dw0: UInt64 = 0, dw1: UInt64 = 0, dw2: UInt64 = 0, dw3: UInt64 = 0) {
        self.dw0 = dw0
        self.dw1 = dw1
        self.dw2 = dw2
        self.dw3 = dw3
    }

    public var code: UInt8 { UInt8(truncatingIfNeeded: dw0) }
    public var deviceID: UInt32 { UInt32(truncatingIfNeeded: dw0 >> 32) }
    public var eventID: UInt32 { UInt32(truncatingIfNeeded: dw1) }
    public var physicalID: UInt32 { UInt32(truncatingIfNeeded: dw1 >> 32) }
    /// MAPD: EventID bits (the Size field + 1).
    public var eventIDBits: UInt32 { UInt32(dw1 & 0x1F) + 1 }
    public var icid: UInt16 { UInt16(truncatingIfNeeded: dw2) }
    /// MAPD: the ITT address, 256-byte aligned.
    public var ittAddress: UInt64 { dw2 & 0x000F_FFFF_FFFF_FF00 }
    /// RDbase of MAPC, SYNC, MOVALL (target 1): bits [47:16] as KVM reads
    /// them (a processor number with PTA = 0).
    public var targetAddress: UInt32 { UInt32(truncatingIfNeeded: dw2 >> 16) }
    /// MOVALL: RDbase 2.
    public var targetAddress2: UInt32 { UInt32(truncatingIfNeeded: dw3 >> 16) }
    public var valid: Bool { dw2 >> 63 != 0 }

    // Builders, for tests, scenarios and guests.

    public static func mapd(device: UInt32, ittAddress: UInt64, eventIDBits: UInt32, valid: Bool = true) -> ITSCommand {
        ITSCommand(dw0: UInt64(ITSCommandCode.mapd.rawValue) | UInt64(device) << 32,
                   dw1: UInt64((eventIDBits &- 1) & 0x1F),
                   dw2: ittAddress & 0x000F_FFFF_FFFF_FF00 | (valid ? 1 << 63 : 0))
    }

    public static func mapc(icid: UInt16, target: UInt32, valid: Bool = true) -> ITSCommand {
        ITSCommand(dw0: UInt64(ITSCommandCode.mapc.rawValue),
                   dw2: UInt64(icid) | UInt64(target) << 16 | (valid ? 1 << 63 : 0))
    }

    public static func mapti(device: UInt32, event: UInt32, lpi: UInt32, icid: UInt16) -> ITSCommand {
        ITSCommand(dw0: UInt64(ITSCommandCode.mapti.rawValue) | UInt64(device) << 32,
                   dw1: UInt64(event) | UInt64(lpi) << 32, dw2: UInt64(icid))
    }

    public static func mapi(device: UInt32, event: UInt32, icid: UInt16) -> ITSCommand {
        ITSCommand(dw0: UInt64(ITSCommandCode.mapi.rawValue) | UInt64(device) << 32,
                   dw1: UInt64(event), dw2: UInt64(icid))
    }

    public static func movi(device: UInt32, event: UInt32, icid: UInt16) -> ITSCommand {
        ITSCommand(dw0: UInt64(ITSCommandCode.movi.rawValue) | UInt64(device) << 32,
                   dw1: UInt64(event), dw2: UInt64(icid))
    }

    /// `INT`, `CLEAR`, `INV`, `DISCARD`: a (DeviceID, EventID) pair.
    public static func event(_ code: ITSCommandCode, device: UInt32, event: UInt32) -> ITSCommand {
        ITSCommand(dw0: UInt64(code.rawValue) | UInt64(device) << 32, dw1: UInt64(event))
    }

    public static func invall(icid: UInt16) -> ITSCommand {
        ITSCommand(dw0: UInt64(ITSCommandCode.invall.rawValue), dw2: UInt64(icid))
    }

    public static func sync(target: UInt32) -> ITSCommand {
        ITSCommand(dw0: UInt64(ITSCommandCode.sync.rawValue), dw2: UInt64(target) << 16)
    }

    public static func movall(from: UInt32, to: UInt32) -> ITSCommand {
        ITSCommand(dw0: UInt64(ITSCommandCode.movall.rawValue), dw2: UInt64(from) << 16, dw3: UInt64(to) << 16)
    }
}

/// The table entries of KVM's ITS save/restore ABI, revision 0
/// (Documentation/virt/kvm/devices/arm-vgic-its.rst): 8-byte little-endian
/// entries that the VMM's save writes into the guest's own tables.
///
///     Device table entry   [63] Valid  [62:49] next DeviceID offset (0: last)
///                          [48:5] ITT address [51:8]  [4:0] EventID bits - 1
///     Collection entry     [63] Valid  [51:16] RDbase (vCPU)  [15:0] ICID
///     ITT entry            [63:48] next EventID offset (0: last)
///                          [47:16] pINTID (0: no entry)  [15:0] ICID
public enum ITSABI {
    /// `GITS_IIDR.Revision` of ABI revision 0, the only one.
    public static let revision: UInt32 = 0
    /// Every entry is 8 bytes.
    public static let entrySize: UInt64 = 8
    public static let maxDeviceIDOffset: UInt32 = (1 << 14) - 1
    public static let maxEventIDOffset: UInt32 = (1 << 16) - 1

    public static func deviceEntry(next: UInt32, ittAddress: UInt64, eventIDBits: UInt32) -> UInt64 {
        1 << 63 | UInt64(min(next, maxDeviceIDOffset)) << 49 | (ittAddress >> 8) << 5
            | UInt64((eventIDBits &- 1) & 0x1F)
    }

    public static func decodeDeviceEntry(_ e: UInt64) -> (valid: Bool, next: UInt32, ittAddress: UInt64,
                                                           eventIDBits: UInt32) {
        (e >> 63 != 0, UInt32((e >> 49) & 0x3FFF), ((e >> 5) & 0xFFF_FFFF_FFFF) << 8, UInt32(e & 0x1F) + 1)
    }

    public static func collectionEntry(target: UInt32, icid: UInt16) -> UInt64 {
        1 << 63 | UInt64(target) << 16 | UInt64(icid)
    }

    public static func decodeCollectionEntry(_ e: UInt64) -> (valid: Bool, target: UInt32, icid: UInt16) {
        (e >> 63 != 0, UInt32(truncatingIfNeeded: e >> 16), UInt16(truncatingIfNeeded: e))
    }

    public static func interruptEntry(next: UInt32, lpi: UInt32, icid: UInt16) -> UInt64 {
        UInt64(min(next, maxEventIDOffset)) << 48 | UInt64(lpi) << 16 | UInt64(icid)
    }

    public static func decodeInterruptEntry(_ e: UInt64) -> (next: UInt32, lpi: UInt32, icid: UInt16) {
        (UInt32(e >> 48), UInt32(truncatingIfNeeded: e >> 16), UInt16(truncatingIfNeeded: e))
    }
}
