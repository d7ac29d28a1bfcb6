import GICArchitecture

/// Which frame a register access is for.
public enum VGICRegion: Equatable, Sendable {
    /// The distributor (`GICD_*`).
    case distributor
    /// The redistributor of vCPU `n` (GICv3): RD_base at 0, SGI_base at 0x10000.
    case redistributor(Int)
    /// The GICv2 CPU interface (`GICC_*`, the guest's `GICV_*` frame).
    case cpuInterface
    /// The ITS (`GITS_*`, GICv3 with an ITS): control page at 0,
    /// `GITS_TRANSLATER`'s page at 0x10000 (ITS hook).
    case its
}

/// What a register does; one handler per kind, shared by every map that has it.
/// The `user` kinds are the VMM's handlers where they differ from the
/// guest's (KVM's uaccess): virtual state only, nothing physical.
enum RegisterKind: UInt8 {
    case raz
    case distributorControl, distributorType, implementer, distributorType2, peripheralID2
    case group, setEnable, clearEnable, setPending, clearPending, setActive, clearActive
    case priority, configuration, targets, router
    case softwareInterrupt, clearPendingSGI, setPendingSGI
    case redistributorControl, redistributorType, waker
    /// The VMM's ISENABLER: no resample of a mapped interrupt's line.
    case userSetEnable
    /// The VMM's GICv2 ISPENDR/ICPENDR: the latch, no physical side.
    case userSetPending, userClearPending
    /// The VMM's GICv3 ISPENDR: reads and writes the latch bit by bit, its
    /// 0 bits included (KVM's uaccess).
    case userPendingLatch
    /// The VMM's ISACTIVER/ICACTIVER: the virtual active state alone.
    case userSetActive, userClearActive
    // LPI hook (LPI.swift): GICR_PROPBASER, PENDBASER, INVLPIR, INVALLR, SYNCR.
    case lpiPropertyBase, lpiPendingBase, lpiInvalidate, lpiInvalidateAll, lpiSync

    /// A write of 0 to one of this register's fields does nothing (the
    /// one-bit set/clear registers: GICD_IS/ICENABLER, IS/ICPENDR, IS/ICACTIVER).
    var zeroBitsAreIgnored: Bool {
        switch self {
        case .setEnable, .clearEnable, .setPending, .clearPending, .setActive, .clearActive,
             .userSetEnable, .userSetPending, .userClearPending, .userSetActive, .userClearActive: true
        default: false
        }
    }
}

/// One row of a register map: `[start, end)` in the frame, the guest's
/// handler and the VMM's, the bits each interrupt has in it (0: not a
/// per-interrupt register) and the access widths it takes (a set of byte
/// counts: 1, 4, 8).
struct RegisterRange {
    let start: UInt32
    let end: UInt32
    let kind: RegisterKind
    let vmmKind: RegisterKind
    let bitsPerIRQ: UInt8
    let widths: UInt8

    init(_ start: UInt32, _ end: UInt32, _ kind: RegisterKind, vmm: RegisterKind? = nil, bits: UInt8 = 0,
         widths: UInt8 = w32) {
        self.start = start
        self.end = end
        self.kind = kind
        self.vmmKind = vmm ?? kind
        self.bitsPerIRQ = bits
        self.widths = widths
    }
}

let w8: UInt8 = 1
let w32: UInt8 = 4
let w64: UInt8 = 8

/// The per-interrupt registers common to the GICv2 distributor, the GICv3
/// distributor and the GICv3 SGI_base frame (which has only their first
/// word). The VMM's pending registers follow KVM's uaccess per version:
/// GICv3 ISPENDR is the latch and ICPENDR RAZ/WI; GICv2 set and clear it.
@inline(__always)
func irqRegisterRows(words: UInt32, v3: Bool) -> [RegisterRange] {
    [
        RegisterRange(GICD.igroupr, GICD.igroupr + 4 * words, .group, bits: 1),
        RegisterRange(GICD.isenabler, GICD.isenabler + 4 * words, .setEnable, vmm: .userSetEnable, bits: 1),
        RegisterRange(GICD.icenabler, GICD.icenabler + 4 * words, .clearEnable, bits: 1),
        RegisterRange(GICD.ispendr, GICD.ispendr + 4 * words, .setPending,
                      vmm: v3 ? .userPendingLatch : .userSetPending, bits: 1),
        RegisterRange(GICD.icpendr, GICD.icpendr + 4 * words, .clearPending,
                      vmm: v3 ? .raz : .userClearPending, bits: 1),
        RegisterRange(GICD.isactiver, GICD.isactiver + 4 * words, .setActive, vmm: .userSetActive, bits: 1),
        RegisterRange(GICD.icactiver, GICD.icactiver + 4 * words, .clearActive, vmm: .userClearActive, bits: 1),
        RegisterRange(GICD.ipriorityr, GICD.ipriorityr + 32 * words, .priority, bits: 8, widths: w8 | w32),
    ]
}

@inline(__always)
func configurationRow(words: UInt32) -> RegisterRange {
    RegisterRange(GICD.icfgr, GICD.icfgr + 8 * words, .configuration, bits: 2)
}

/// GICv3 distributor, affinity routing on, one security state (DS = 1).
let distributorMapV3: [RegisterRange] = [
    RegisterRange(GICD.ctlr, GICD.ctlr + 4, .distributorControl),
    RegisterRange(GICD.typer, GICD.typer + 4, .distributorType),
    RegisterRange(GICD.iidr, GICD.iidr + 4, .implementer),
    RegisterRange(GICD.typer2, GICD.typer2 + 4, .distributorType2),
    RegisterRange(GICD.statusr, GICD.statusr + 4, .raz),
] + irqRegisterRows(words: 32, v3: true) + [
    // ITARGETSR, IGRPMODR (DS = 1), NSACR, SGIR, C/SPENDSGIR: RAZ/WI with ARE.
    RegisterRange(GICD.itargetsr, GICD.itargetsr + 0x400, .raz, widths: w8 | w32),
    configurationRow(words: 32),
    RegisterRange(GICD.igrpmodr, GICD.igrpmodr + 0x80, .raz),
    RegisterRange(GICD.nsacr, GICD.nsacr + 0x100, .raz),
    RegisterRange(GICD.sgir, GICD.sgir + 4, .raz),
    RegisterRange(GICD.cpendsgir, GICD.spendsgir + 0x10, .raz, widths: w8 | w32),
    RegisterRange(GICD.irouter, GICD.irouter + 8 * 1020, .router, bits: 64, widths: w32 | w64),
    RegisterRange(0xFFD0, GICD.pidr2V3, .raz),
    RegisterRange(GICD.pidr2V3, GICD.pidr2V3 + 4, .peripheralID2),
    RegisterRange(GICD.pidr2V3 + 4, 0x10000, .raz),
]

/// GICv3 redistributor, RD_base frame.
let redistributorMapV3: [RegisterRange] = [
    RegisterRange(GICR.ctlr, GICR.ctlr + 4, .redistributorControl),
    RegisterRange(GICR.iidr, GICR.iidr + 4, .implementer),
    RegisterRange(GICR.typer, GICR.typer + 8, .redistributorType, widths: w32 | w64),
    RegisterRange(GICR.statusr, GICR.statusr + 4, .raz),
    RegisterRange(GICR.waker, GICR.waker + 4, .waker),
    RegisterRange(GICR.propbaser, GICR.propbaser + 8, .lpiPropertyBase, widths: w32 | w64),
    RegisterRange(GICR.pendbaser, GICR.pendbaser + 8, .lpiPendingBase, widths: w32 | w64),
    RegisterRange(GICR.invlpir, GICR.invlpir + 8, .lpiInvalidate, widths: w32 | w64),
    RegisterRange(GICR.invallr, GICR.invallr + 8, .lpiInvalidateAll, widths: w32 | w64),
    RegisterRange(GICR.syncr, GICR.syncr + 4, .lpiSync),
    RegisterRange(0xFFD0, GICR.pidr2, .raz),
    RegisterRange(GICR.pidr2, GICR.pidr2 + 4, .peripheralID2),
    RegisterRange(GICR.pidr2 + 4, 0x10000, .raz),
]

/// GICv3 redistributor, SGI_base frame (offsets relative to the frame).
let sgiFrameMapV3: [RegisterRange] = irqRegisterRows(words: 1, v3: true) + [
    configurationRow(words: 2),
    RegisterRange(GICD.igrpmodr, GICD.igrpmodr + 4, .raz),
    RegisterRange(GICD.nsacr, GICD.nsacr + 4, .raz),
]

/// GICv2 distributor (no Security Extensions), private registers banked.
let distributorMapV2: [RegisterRange] = [
    RegisterRange(GICD.ctlr, GICD.ctlr + 4, .distributorControl),
    RegisterRange(GICD.typer, GICD.typer + 4, .distributorType),
    RegisterRange(GICD.iidr, GICD.iidr + 4, .implementer),
] + irqRegisterRows(words: 32, v3: false) + [
    RegisterRange(GICD.itargetsr, GICD.itargetsr + 0x400, .targets, bits: 8, widths: w8 | w32),
    configurationRow(words: 32),
    RegisterRange(GICD.sgir, GICD.sgir + 4, .softwareInterrupt),
    RegisterRange(GICD.cpendsgir, GICD.cpendsgir + 0x10, .clearPendingSGI, bits: 8, widths: w8 | w32),
    RegisterRange(GICD.spendsgir, GICD.spendsgir + 0x10, .setPendingSGI, bits: 8, widths: w8 | w32),
    RegisterRange(0x0FD0, GICD.pidr2V2, .raz),
    RegisterRange(GICD.pidr2V2, GICD.pidr2V2 + 4, .peripheralID2),
    RegisterRange(GICD.pidr2V2 + 4, 0x1000, .raz),
]

/// Binary search of a register map sorted by `start`.
@inline(__always)
func findRegister(_ map: [RegisterRange], _ offset: UInt32) -> Int {
    var lo = 0
    var hi = map.count
    while lo < hi {
        let mid = (lo + hi) >> 1
        if map[mid].end <= offset { lo = mid + 1 } else { hi = mid }
    }
    return lo < map.count && map[lo].start <= offset ? lo : -1
}
