import GICArchitecture

// Snapshot format, version 2 (docs/snapshot.md describes it for people).
// Little-endian throughout.
//
//   header   "VGICSNAP" (8 bytes), format version u16 (2), body length u32,
//            CRC-32 of the body u32 (IEEE 802.3: reflected 0xEDB88320, init and
//            final XOR 0xFFFFFFFF)
//   body     GIC version u8, vCPU count u16, irq count u16, priority bits u8,
//            list registers u8
//            distributor flags u8 (bit 0 EnableGrp0, bit 1 EnableGrp1)
//            per vCPU: VMCR (v3 layout) u64, AP0R0..3 u32 x4, AP1R0..3 u32 x4,
//                      flags u8 (bit 0 ProcessorSleep)
//            record count u32
//            per IRQ: owner u16 (vCPU for private INTIDs, 0xFFFF for SPIs),
//                     INTID u16, flags u8 (0 enabled, 1 pending latch,
//                     2 line level, 3 active, 4 edge, 5 group 1,
//                     6 acknowledged: in the guest's handler on the active-on
//                     vCPU), priority u8,
//                     targets u8, SGI sources u8, active source u8, route u64,
//                     active-on vCPU u16 (0xFFFF: none)
//
// A snapshot is canonical: every field holds exactly what `snapshot()` writes
// for some reachable state, so that whatever `restore` accepts serialises
// back to the same bytes. Restore decodes and checks everything before it
// touches a vGIC; a refusal names the first problem found.
//
// Hardware mappings are not part of a snapshot: the VMM maps its devices
// again on the destination, as it would after a migration.

/// What is wrong with a snapshot that `restore` refuses.
public enum SnapshotProblem: UInt8, Equatable, Sendable {
    case truncated
    case notASnapshot
    case unsupportedFormatVersion
    case trailingBytes
    case checksumMismatch
    case unknownGICVersion
    case invalidConfiguration
    case gicVersionMismatch
    case vcpuCountMismatch
    case irqCountMismatch
    case priorityBitsMismatch
    case listRegistersMismatch
    case reservedDistributorBits
    case invalidVMCR
    case unimplementedActivePriorities
    case reservedVCPUBits
    case recordCountMismatch
    case ownerBeyondVCPUs
    case intidBeyondIRQs
    case recordOutOfOrder
    case reservedInterruptBits
    case sgiNotEdgeTriggered
    case ppiNotLevelSensitive
    case lineLevelOnSGI
    case pendingLatchOnGICv2SGI
    case unimplementedPriorityBits
    case sgiSourcesOnNonSGI
    case sgiSourceBeyondVCPUs
    case targetsOnNonGICv2SPI
    case targetsBeyondVCPUs
    case routeOnNonGICv3SPI
    case reservedRouteBits
    case activeOnInactiveInterrupt
    case activeOnNonexistentVCPU
    case privateActiveOnAnotherVCPU
    case activeWithoutVCPU
    case acknowledgedWithoutVCPU
    // ITS hook: the ITS section of format version 3 (ITSSnapshot.swift).
    case itsConfigurationMismatch
    case invalidITSConfiguration
    case nonCanonicalLPIRegister
    case nonCanonicalITSRegister
    case itsQueueNotDrained
    case itsPoolExceeded
    case itsRecordOutOfOrder
    case itsIDOutOfRange
    case itsTargetBeyondVCPUs
    case itsEntryWithoutDevice
    case itsEntryWithoutLPI
    case reservedLPIBits
    case pendingUnmappedLPI
    case idleUnmappedLPI

    /// One line naming what is wrong.
    public var message: StaticString {
        switch self {
        case .truncated: "snapshot truncated"
        case .notASnapshot: "not a vGIC snapshot (bad magic)"
        case .unsupportedFormatVersion: "unsupported snapshot format version"
        case .trailingBytes: "trailing bytes after the snapshot"
        case .checksumMismatch: "snapshot checksum mismatch (corrupted)"
        case .unknownGICVersion: "unknown GIC version"
        case .invalidConfiguration: "snapshot configuration is not one the vGIC can build"
        case .gicVersionMismatch: "snapshot GIC version does not match the vGIC"
        case .vcpuCountMismatch: "snapshot vCPU count does not match the vGIC"
        case .irqCountMismatch: "snapshot irq count does not match the vGIC"
        case .priorityBitsMismatch: "snapshot priority bits do not match the vGIC"
        case .listRegistersMismatch: "snapshot list register count does not match the vGIC"
        case .reservedDistributorBits: "reserved distributor flag bits set"
        case .invalidVMCR: "vCPU VMCR has reserved bits set"
        case .unimplementedActivePriorities: "active priorities in a register the configuration does not implement"
        case .reservedVCPUBits: "reserved vCPU flag bits set"
        case .recordCountMismatch: "interrupt record count does not match the configuration"
        case .ownerBeyondVCPUs: "interrupt record owned by a vCPU that does not exist"
        case .intidBeyondIRQs: "interrupt record with an INTID beyond the number of IRQs"
        case .recordOutOfOrder: "interrupt records out of order"
        case .reservedInterruptBits: "reserved interrupt flag bits set"
        case .sgiNotEdgeTriggered: "an SGI must be edge-triggered"
        case .ppiNotLevelSensitive: "a PPI must be level-sensitive"
        case .lineLevelOnSGI: "an SGI has no input line"
        case .pendingLatchOnGICv2SGI: "a GICv2 SGI is pending per source, not by a latch"
        case .unimplementedPriorityBits: "priority with bits the configuration does not implement"
        case .sgiSourcesOnNonSGI: "SGI sources on an interrupt that has none (not a GICv2 SGI)"
        case .sgiSourceBeyondVCPUs: "SGI source that is not a vCPU of the VM"
        case .targetsOnNonGICv2SPI: "CPU targets on an interrupt that has none (not a GICv2 SPI)"
        case .targetsBeyondVCPUs: "SPI targets a vCPU that does not exist"
        case .routeOnNonGICv3SPI: "IROUTER value on an interrupt that has none (not a GICv3 SPI)"
        case .reservedRouteBits: "IROUTER value with reserved bits set"
        case .activeOnInactiveInterrupt: "active-on vCPU given for an interrupt that is not active"
        case .activeOnNonexistentVCPU: "active interrupt on a vCPU that does not exist"
        case .privateActiveOnAnotherVCPU: "private interrupt active on another vCPU"
        case .activeWithoutVCPU: "active interrupt routed to a vCPU but active on none"
        case .acknowledgedWithoutVCPU: "acknowledged interrupt that is not active on a vCPU"
        case .itsConfigurationMismatch: "snapshot ITS configuration does not match the vGIC"
        case .invalidITSConfiguration: "snapshot ITS configuration is not one the vGIC can build"
        case .nonCanonicalLPIRegister: "GICR_PROPBASER or GICR_PENDBASER with bits the register does not keep"
        case .nonCanonicalITSRegister: "ITS register with bits it does not keep, or enabled without its tables"
        case .itsQueueNotDrained: "enabled ITS with commands left in its queue"
        case .itsPoolExceeded: "more ITS records than the ITS configuration's pools hold"
        case .itsRecordOutOfOrder: "ITS records out of order"
        case .itsIDOutOfRange: "ITS record with an ID or address out of range"
        case .itsTargetBeyondVCPUs: "collection or LPI targets a vCPU that does not exist"
        case .itsEntryWithoutDevice: "interrupt translation entry of a device that is not mapped"
        case .itsEntryWithoutLPI: "interrupt translation entry naming an LPI without a record"
        case .reservedLPIBits: "reserved LPI flag bits set"
        case .pendingUnmappedLPI: "pending LPI that no translation entry names"
        case .idleUnmappedLPI: "LPI record that no translation entry names and that is not active"
        }
    }
}

/// One vCPU's CPU-interface state in a snapshot.
public struct VCPUSnapshot: Equatable, Sendable {
    /// The virtual machine control register (PMR, BPRs, group enables, EOImode, ...).
    public var vmcr: VMCR
    /// AP0R0..3 then AP1R0..3 (GICv2: AP0R0 is `GICH_APR`, the rest zero).
    public var activePriorities: [UInt32]
    /// `GICR_WAKER.ProcessorSleep`.
    public var processorSleep: Bool

    public init(vmcr: VMCR = VMCR(), activePriorities: [UInt32] = [UInt32](repeating: 0, count: 8),
                processorSleep: Bool = false) {
        self.vmcr = vmcr
        self.activePriorities = activePriorities
        self.processorSleep = processorSleep
    }
}

/// One interrupt's state in a snapshot.
public struct InterruptSnapshot: Equatable, Sendable {
    /// vCPU whose private interrupt this is; -1 for an SPI.
    public var owner: Int
    public var intid: UInt32
    public var enabled = false
    public var pendingLatch = false
    public var lineLevel = false
    public var active = false
    public var edge = false
    public var group1 = false
    public var priority: UInt8 = 0
    /// GICv2 `ITARGETSR` (SPIs).
    public var targets: UInt8 = 0
    /// GICv2 SGIs: the source CPUs it is pending from, and the active one's.
    public var sgiSources: UInt8 = 0
    public var activeSource: UInt8 = 0
    /// GICv3 `IROUTER` (SPIs).
    public var route: UInt64 = 0
    /// vCPU the interrupt is active on; -1 when none.
    public var activeOn: Int = -1
    /// The guest on `activeOn` acknowledged it and has not deactivated it.
    public var acknowledged = false

    public init(owner: Int, intid: UInt32) {
        self.owner = owner
        self.intid = intid
    }
}

/// A decoded, checked snapshot: what `VGIC.snapshot()` writes, as values.
public struct VGICSnapshot: Equatable, Sendable {
    public static let magic: [UInt8] = [0x56, 0x47, 0x49, 0x43, 0x53, 0x4E, 0x41, 0x50]  // "VGICSNAP"
    public static let formatVersion: UInt16 = 2
    /// ITS hook: a snapshot of a vGIC with an ITS is version 3 (version 2
    /// and its ITS section).
    public static let itsFormatVersion: UInt16 = 3
    /// Bytes before the body: magic, format version, body length, checksum.
    public static let headerSize = 18
    static let recordSize = 19

    public var configuration: VGICConfiguration
    public var distributorGroup0 = false
    public var distributorGroup1 = false
    public var vcpus: [VCPUSnapshot]
    /// vCPU 0's INTIDs 0..31, vCPU 1's, ..., then the SPIs in INTID order.
    public var interrupts: [InterruptSnapshot]
    /// ITS hook: the LPI registers, the ITS and the LPIs (format version 3),
    /// exactly when `configuration.its` is set.
    public var its: ITSSnapshot?

    init(configuration: VGICConfiguration, vcpus: [VCPUSnapshot], interrupts: [InterruptSnapshot]) {
        self.configuration = configuration
        self.vcpus = vcpus
        self.interrupts = interrupts
    }

    /// CRC-32 (IEEE 802.3) of `bytes[from...]`.
    public static func checksum(_ bytes: [UInt8], from start: Int = 0) -> UInt32 {
        // Four bits at a time, from a 16-entry table built here (no global
        // table to initialise, which Embedded Swift would have to do lazily).
        var table = [UInt32](repeating: 0, count: 16)
        for n in 0..<16 { table[n] = crcBit(crcBit(crcBit(crcBit(UInt32(n))))) }
        var crc: UInt32 = 0xFFFF_FFFF
        var i = start
        while i < bytes.count {
            crc ^= UInt32(bytes[i])
            crc = (crc >> 4) ^ table[Int(crc & 15)]
            crc = (crc >> 4) ^ table[Int(crc & 15)]
            i += 1
        }
        return ~crc
    }

    /// One bit of CRC-32: shift, and XOR the polynomial when the low bit was set.
    @inline(__always) static func crcBit(_ c: UInt32) -> UInt32 { (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }

    /// Rewrites the body length and checksum of `bytes` to match its body
    /// (for tools and fuzzers that edit a snapshot's body on purpose).
    public static func resealed(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.count >= headerSize else { return bytes }
        var b = bytes
        let length = UInt32(truncatingIfNeeded: b.count - headerSize)
        let crc = checksum(b, from: headerSize)
        for k in 0..<4 {
            b[10 + k] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(k)))
            b[14 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k)))
        }
        return b
    }

    // MARK: Encoding

    /// The snapshot's bytes (format version 2).
    public func encoded() -> [UInt8] {
        var w = SnapshotWriter()
        w.bytes.reserveCapacity(VGICSnapshot.headerSize + 16 + vcpus.count * 41
                                + interrupts.count * VGICSnapshot.recordSize)
        for b in VGICSnapshot.magic { w.u8(b) }
        w.u16(its == nil ? VGICSnapshot.formatVersion : VGICSnapshot.itsFormatVersion)
        w.u32(0)  // body length, sealed below
        w.u32(0)  // checksum, sealed below
        let c = configuration
        w.u8(c.version.rawValue)
        w.u16(UInt16(truncatingIfNeeded: c.vcpuCount))
        w.u16(UInt16(truncatingIfNeeded: c.irqCount))
        w.u8(UInt8(truncatingIfNeeded: c.priorityBits))
        w.u8(UInt8(truncatingIfNeeded: c.listRegisters))
        w.u8((distributorGroup0 ? 1 : 0) | (distributorGroup1 ? 2 : 0))
        for v in vcpus {
            w.u64(v.vmcr.v3)
            for r in 0..<8 { w.u32(r < v.activePriorities.count ? v.activePriorities[r] : 0) }
            w.u8(v.processorSleep ? 1 : 0)
        }
        w.u32(UInt32(truncatingIfNeeded: interrupts.count))
        for s in interrupts {
            w.u16(s.owner >= 0 ? UInt16(truncatingIfNeeded: s.owner) : 0xFFFF)
            w.u16(UInt16(truncatingIfNeeded: s.intid))
            var f: UInt8 = 0
            if s.enabled { f |= 1 }
            if s.pendingLatch { f |= 2 }
            if s.lineLevel { f |= 4 }
            if s.active { f |= 8 }
            if s.edge { f |= 16 }
            if s.group1 { f |= 32 }
            if s.acknowledged { f |= 64 }
            w.u8(f)
            w.u8(s.priority)
            w.u8(s.targets)
            w.u8(s.sgiSources)
            w.u8(s.activeSource)
            w.u64(s.route)
            w.u16(s.activeOn >= 0 ? UInt16(truncatingIfNeeded: s.activeOn) : 0xFFFF)
        }
        if let its, let c = configuration.its { its.encode(&w, configuration: c) }  // ITS hook
        return VGICSnapshot.resealed(w.bytes)
    }

    // MARK: Decoding

    /// Decodes and checks a snapshot. Throws `VGICError.invalidSnapshot`
    /// naming the first problem: framing (magic, version, length, checksum)
    /// first, then the configuration, then each record in order.
    public init(bytes: [UInt8]) throws(VGICError) {
        var r = SnapshotReader(bytes: bytes)
        for b in VGICSnapshot.magic where try r.u8() != b { throw .invalidSnapshot(.notASnapshot) }
        let format = try r.u16()
        guard format == VGICSnapshot.formatVersion || format == VGICSnapshot.itsFormatVersion else {
            throw .invalidSnapshot(.unsupportedFormatVersion)
        }
        let length = Int(try r.u32())
        let crc = try r.u32()
        let available = bytes.count - VGICSnapshot.headerSize
        if length > available { throw .invalidSnapshot(.truncated) }
        if length < available { throw .invalidSnapshot(.trailingBytes) }
        guard VGICSnapshot.checksum(bytes, from: VGICSnapshot.headerSize) == crc else {
            throw .invalidSnapshot(.checksumMismatch)
        }

        guard let version = GICVersion(rawValue: try r.u8()) else { throw .invalidSnapshot(.unknownGICVersion) }
        var config = VGICConfiguration(version: version, vcpuCount: Int(try r.u16()), irqCount: Int(try r.u16()),
                                       priorityBits: Int(try r.u8()), listRegisters: Int(try r.u8()))
        do {
            try config.validate()
        } catch {
            throw .invalidSnapshot(.invalidConfiguration)
        }
        let vcpuCount = config.vcpuCount
        let dist = try r.u8()
        guard dist & ~3 == 0 else { throw .invalidSnapshot(.reservedDistributorBits) }

        // Active-priority registers the CPU interface has: GICv2 one (GICH_APR),
        // GICv3 1 << (preemption bits - 5) per group.
        let apRegisters = 1 << (min(config.priorityBits, 7) - 5)
        var vcpus: [VCPUSnapshot] = []
        vcpus.reserveCapacity(vcpuCount)
        for _ in 0..<vcpuCount {
            let raw = try r.u64()
            let vmcr = VMCR(v3: raw)
            guard vmcr.v3 == raw else { throw .invalidSnapshot(.invalidVMCR) }
            var aprs = [UInt32](repeating: 0, count: 8)
            for k in 0..<8 {
                aprs[k] = try r.u32()
                let implemented = version == .v2 ? k == 0 : k % 4 < apRegisters
                if !implemented && aprs[k] != 0 { throw .invalidSnapshot(.unimplementedActivePriorities) }
            }
            let flags = try r.u8()
            guard flags & ~1 == 0 else { throw .invalidSnapshot(.reservedVCPUBits) }
            vcpus.append(VCPUSnapshot(vmcr: vmcr, activePriorities: aprs, processorSleep: flags & 1 != 0))
        }

        let intidLimit = UInt32(min(config.irqCount, 1020))
        let total = vcpuCount * 32 + Int(intidLimit) - 32
        guard Int(try r.u32()) == total else { throw .invalidSnapshot(.recordCountMismatch) }
        // Bound the work by the bytes actually there before allocating records.
        let left = available - (r.at - VGICSnapshot.headerSize)
        if left < total * VGICSnapshot.recordSize { throw .invalidSnapshot(.truncated) }
        if left > total * VGICSnapshot.recordSize && format == VGICSnapshot.formatVersion {
            throw .invalidSnapshot(.trailingBytes)
        }
        let priorityMask = Priority.mask(bits: config.priorityBits)
        let cpuMask = UInt8(truncatingIfNeeded: (1 << min(vcpuCount, 8)) - 1)
        let routeMask: UInt64 = 0xFF_0000_0000 | irouterIRM | 0xFF_FFFF
        var interrupts: [InterruptSnapshot] = []
        interrupts.reserveCapacity(total)
        for n in 0..<total {
            let expectedOwner = n < vcpuCount * 32 ? n / 32 : -1
            let expectedINTID = UInt32(n < vcpuCount * 32 ? n % 32 : n - vcpuCount * 32 + 32)
            let ownerField = try r.u16()
            let intid = UInt32(try r.u16())
            if ownerField != 0xFFFF && Int(ownerField) >= vcpuCount { throw .invalidSnapshot(.ownerBeyondVCPUs) }
            if intid >= intidLimit { throw .invalidSnapshot(.intidBeyondIRQs) }
            let owner = ownerField == 0xFFFF ? -1 : Int(ownerField)
            guard owner == expectedOwner, intid == expectedINTID else { throw .invalidSnapshot(.recordOutOfOrder) }
            var s = InterruptSnapshot(owner: owner, intid: intid)
            let f = try r.u8()
            guard f & ~127 == 0 else { throw .invalidSnapshot(.reservedInterruptBits) }
            s.enabled = f & 1 != 0
            s.pendingLatch = f & 2 != 0
            s.lineLevel = f & 4 != 0
            s.active = f & 8 != 0
            s.edge = f & 16 != 0
            s.group1 = f & 32 != 0
            s.acknowledged = f & 64 != 0
            s.priority = try r.u8()
            s.targets = try r.u8()
            s.sgiSources = try r.u8()
            s.activeSource = try r.u8()
            s.route = try r.u64()
            let on = try r.u16()
            s.activeOn = on == 0xFFFF ? -1 : Int(on)

            let isSGI = intid < 16
            let isPPI = intid >= 16 && intid < 32
            let v2SGI = version == .v2 && isSGI
            if isSGI && !s.edge { throw .invalidSnapshot(.sgiNotEdgeTriggered) }
            if isPPI && s.edge { throw .invalidSnapshot(.ppiNotLevelSensitive) }
            if isSGI && s.lineLevel { throw .invalidSnapshot(.lineLevelOnSGI) }
            if v2SGI && s.pendingLatch { throw .invalidSnapshot(.pendingLatchOnGICv2SGI) }
            if s.priority & ~priorityMask != 0 { throw .invalidSnapshot(.unimplementedPriorityBits) }
            if !v2SGI && (s.sgiSources != 0 || s.activeSource != 0) {
                throw .invalidSnapshot(.sgiSourcesOnNonSGI)
            }
            if s.sgiSources & ~cpuMask != 0 || Int(s.activeSource) >= vcpuCount {
                throw .invalidSnapshot(.sgiSourceBeyondVCPUs)
            }
            let v2SPI = version == .v2 && owner < 0
            let v3SPI = version == .v3 && owner < 0
            if !v2SPI && s.targets != 0 { throw .invalidSnapshot(.targetsOnNonGICv2SPI) }
            if s.targets & ~cpuMask != 0 { throw .invalidSnapshot(.targetsBeyondVCPUs) }
            if !v3SPI && s.route != 0 { throw .invalidSnapshot(.routeOnNonGICv3SPI) }
            if s.route & ~routeMask != 0 { throw .invalidSnapshot(.reservedRouteBits) }
            if s.activeOn >= 0 {
                guard s.active else { throw .invalidSnapshot(.activeOnInactiveInterrupt) }
                guard s.activeOn < vcpuCount else { throw .invalidSnapshot(.activeOnNonexistentVCPU) }
                if owner >= 0 && s.activeOn != owner { throw .invalidSnapshot(.privateActiveOnAnotherVCPU) }
            } else if s.active && VGICSnapshot.routedVCPU(s, config) >= 0 {
                // An active interrupt stays on the list of the vCPU it is
                // active on; only one routed nowhere can be on none.
                throw .invalidSnapshot(.activeWithoutVCPU)
            }
            if s.acknowledged && s.activeOn < 0 { throw .invalidSnapshot(.acknowledgedWithoutVCPU) }
            interrupts.append(s)
        }
        var itsSection: ITSSnapshot?  // ITS hook: version 3 has the ITS section.
        if format == VGICSnapshot.itsFormatVersion {
            guard config.version == .v3 else { throw .invalidSnapshot(.invalidITSConfiguration) }
            config.its = try ITSSnapshot.decodeConfiguration(&r)
            itsSection = try ITSSnapshot.decode(&r, config: config)
        }
        guard r.at == bytes.count else { throw .invalidSnapshot(.trailingBytes) }
        self.init(configuration: config, vcpus: vcpus, interrupts: interrupts)
        its = itsSection
        distributorGroup0 = dist & 1 != 0
        distributorGroup1 = dist & 2 != 0
    }

    /// The vCPU an interrupt's routing selects, or -1 (as `VGIC.updateRouting`).
    static func routedVCPU(_ s: InterruptSnapshot, _ c: VGICConfiguration) -> Int {
        if s.owner >= 0 { return s.owner }
        if c.version == .v2 { return s.targets == 0 ? -1 : s.targets.trailingZeroBitCount }
        if s.route & irouterIRM != 0 { return 0 }
        guard let v = Affinity(irouter: s.route).vcpuIndex, v < c.vcpuCount else { return -1 }
        return v
    }
}

struct SnapshotWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { u8(UInt8(v & 0xFF)); u8(UInt8(v >> 8)) }
    mutating func u32(_ v: UInt32) { u16(UInt16(v & 0xFFFF)); u16(UInt16(v >> 16)) }
    mutating func u64(_ v: UInt64) { u32(UInt32(v & 0xFFFF_FFFF)); u32(UInt32(v >> 32)) }
}

struct SnapshotReader {
    let bytes: [UInt8]
    var at = 0
    mutating func u8() throws(VGICError) -> UInt8 {
        guard at < bytes.count else { throw .invalidSnapshot(.truncated) }
        at += 1
        return bytes[at - 1]
    }
    mutating func u16() throws(VGICError) -> UInt16 { UInt16(try u8()) | UInt16(try u8()) << 8 }
    mutating func u32() throws(VGICError) -> UInt32 { UInt32(try u16()) | UInt32(try u16()) << 16 }
    mutating func u64() throws(VGICError) -> UInt64 { UInt64(try u32()) | UInt64(try u32()) << 32 }
}

extension VGIC {
    /// The whole vGIC as a checked value. Every vCPU must be out of the guest.
    public func snapshotState() throws(VGICError) -> VGICSnapshot {
        lock.lock()
        defer { lock.unlock() }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
        var cpus: [VCPUSnapshot] = []
        cpus.reserveCapacity(vcpuCount)
        for v in 0..<vcpuCount {
            // Only the active-priority registers the CPU interface has (the
            // others are never loaded), and the VMCR as its encoding keeps it:
            // a snapshot is canonical whatever was written there.
            var aprs = [UInt32](repeating: 0, count: 8)
            for r in 0..<(version == .v2 ? 1 : apRegisters) {
                aprs[r] = self.aprs[v * 8 + r]
                if version == .v3 { aprs[4 + r] = self.aprs[v * 8 + 4 + r] }
            }
            cpus.append(VCPUSnapshot(vmcr: VMCR(v3: vcpus[v].vmcr.v3), activePriorities: aprs,
                                     processorSleep: vcpus[v].processorSleep))
        }
        var records: [InterruptSnapshot] = []
        records.reserveCapacity(lpiBase)
        for s in irqs[0..<lpiBase] {  // LPI hook: the LPIs are the ITS section's
            var r = InterruptSnapshot(owner: Int(s.privateOwner), intid: s.intid)
            r.enabled = s.enabled
            r.pendingLatch = s.pendingLatch
            r.lineLevel = s.lineLevel
            r.active = s.active
            r.edge = s.edge
            r.group1 = s.group != 0
            r.priority = s.priority
            r.targets = s.targets
            r.sgiSources = s.sgiSources
            r.activeSource = s.activeSource
            r.route = s.route
            r.activeOn = s.active && s.apOwner >= 0 ? Int(s.apOwner) : -1
            r.acknowledged = r.activeOn >= 0 && s.acknowledged
            records.append(r)
        }
        var snap = VGICSnapshot(configuration: configuration, vcpus: cpus, interrupts: records)
        snap.its = itsSnapshotLocked()  // ITS hook
        snap.distributorGroup0 = distributorGroup0
        snap.distributorGroup1 = distributorGroup1
        return snap
    }

    /// Serialise the whole vGIC (format version 2; 3 with an ITS). Every vCPU must be out of the guest.
    public func snapshot() throws(VGICError) -> [UInt8] {
        try snapshotState().encoded()
    }

    /// Build a vGIC from a snapshot, on `platform` (a fresh machine: its list
    /// registers are loaded on each vCPU's first entry). A snapshot that is
    /// truncated, corrupted, of another format version or inconsistent is
    /// refused, naming the problem; nothing is built then.
    public static func restore(snapshot bytes: [UInt8], platform: Platform) throws(VGICError) -> VGIC<Platform> {
        let snap = try VGICSnapshot(bytes: bytes)
        let g = try VGIC(configuration: snap.configuration, platform: platform)
        g.lock.lock()
        defer { g.lock.unlock() }
        g.apply(snap)
        return g
    }

    /// Replace this vGIC's state with a snapshot's, all or nothing. The
    /// snapshot must have been taken of a vGIC with the same configuration,
    /// and every vCPU must be out of the guest. Hardware mappings are kept
    /// (they are not part of a snapshot); a physical twin the vGIC held
    /// active is released, and held again when its interrupt next enters a
    /// list register. On any refusal the vGIC is unchanged.
    public func restore(snapshot bytes: [UInt8]) throws(VGICError) {
        let snap = try VGICSnapshot(bytes: bytes)
        let c = snap.configuration
        if c.version != configuration.version { throw .invalidSnapshot(.gicVersionMismatch) }
        if c.vcpuCount != configuration.vcpuCount { throw .invalidSnapshot(.vcpuCountMismatch) }
        if c.irqCount != configuration.irqCount { throw .invalidSnapshot(.irqCountMismatch) }
        if c.priorityBits != configuration.priorityBits { throw .invalidSnapshot(.priorityBitsMismatch) }
        if c.listRegisters != configuration.listRegisters { throw .invalidSnapshot(.listRegistersMismatch) }
        if c.its != configuration.its { throw .invalidSnapshot(.itsConfigurationMismatch) }  // ITS hook
        lock.lock()
        defer { lock.unlock() }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
        // Nothing can fail from here on.
        releaseAllTwins()
        apply(snap)
    }

    /// Load a checked snapshot of this configuration (lock held, every vCPU out).
    func apply(_ snap: VGICSnapshot) {
        distributorGroup0 = snap.distributorGroup0
        distributorGroup1 = snap.distributorGroup1
        for v in 0..<vcpuCount {
            var c = VCPUState()
            c.vmcr = snap.vcpus[v].vmcr
            c.processorSleep = snap.vcpus[v].processorSleep
            c.cpuInterfaceDirty = true
            vcpus[v] = c
            for k in 0..<8 { aprs[v * 8 + k] = snap.vcpus[v].activePriorities[k] }
        }
        for k in 0..<slots.count { slots[k] = LRSlot() }
        for k in 0..<deactivated.count { deactivated[k] = 0 }
        resetLPIs()  // LPI hook
        for i in 0..<lpiBase {
            let r = snap.interrupts[i]
            var s = IRQState()
            s.intid = r.intid
            s.privateOwner = Int32(r.owner)
            s.routedVCPU = r.owner >= 0 ? Int32(r.owner) : -1
            s.enabled = r.enabled
            s.pendingLatch = r.pendingLatch
            s.lineLevel = r.lineLevel
            s.active = r.active
            s.edge = r.edge
            s.group = r.group1 ? 1 : 0
            s.priority = r.priority
            s.targets = r.targets
            s.sgiSources = r.sgiSources
            s.activeSource = r.activeSource
            s.route = r.route
            s.acknowledged = r.acknowledged
            s.notifyDeactivation = irqs[i].notifyDeactivation
            keepMapping(of: irqs[i], in: &s)
            irqs[i] = s
            updateRouting(i)
        }
        for i in 0..<lpiBase {
            let on = snap.interrupts[i].activeOn
            if on >= 0 {
                apInsert(i, vcpu: Int32(on))
            } else {
                queue(i)
            }
        }
        if let its = snap.its { applyITS(its) }  // ITS hook
    }
}
