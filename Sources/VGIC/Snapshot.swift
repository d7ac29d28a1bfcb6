import GICArchitecture

// Snapshot format, version 1 (docs/snapshot.md describes it for people).
// Little-endian throughout.
//
//   header   "VGICSNAP" (8 bytes), format version u16, GIC version u8,
//            vCPU count u16, irq count u16, priority bits u8, list registers u8
//   dist     flags u8 (bit 0 EnableGrp0, bit 1 EnableGrp1)
//   per vCPU VMCR (v3 layout) u64, AP0R0..3 u32 x4, AP1R0..3 u32 x4, flags u8 (bit 0 ProcessorSleep)
//   count    u32: number of interrupt records that follow
//   per IRQ  owner u16 (vCPU for private INTIDs, 0xFFFF for SPIs), INTID u16,
//            flags u8 (0 enabled, 1 pending latch, 2 line level, 3 active, 4 edge, 5 group 1),
//            priority u8, targets u8, SGI sources u8, active source u8,
//            route u64, active-on vCPU u16 (0xFFFF: none)
//
// Hardware mappings are not part of a snapshot: the VMM maps its devices
// again on the destination, as it would after a migration.

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
        guard at < bytes.count else { throw .invalidSnapshot("snapshot truncated") }
        at += 1
        return bytes[at - 1]
    }
    mutating func u16() throws(VGICError) -> UInt16 { UInt16(try u8()) | UInt16(try u8()) << 8 }
    mutating func u32() throws(VGICError) -> UInt32 { UInt32(try u16()) | UInt32(try u16()) << 16 }
    mutating func u64() throws(VGICError) -> UInt64 { UInt64(try u32()) | UInt64(try u32()) << 32 }
}

let snapshotMagic: [UInt8] = [0x56, 0x47, 0x49, 0x43, 0x53, 0x4E, 0x41, 0x50]  // "VGICSNAP"
let snapshotFormatVersion: UInt16 = 1

extension VGIC {
    /// Serialise the whole vGIC. Every vCPU must be out of the guest.
    public func snapshot() throws(VGICError) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        for v in 0..<vcpuCount where vcpus[v].inGuest { throw .vcpuRunning(v) }
        var w = SnapshotWriter()
        for b in snapshotMagic { w.u8(b) }
        w.u16(snapshotFormatVersion)
        w.u8(version.rawValue)
        w.u16(UInt16(vcpuCount))
        w.u16(UInt16(configuration.irqCount))
        w.u8(UInt8(configuration.priorityBits))
        w.u8(UInt8(lrCount))
        w.u8((distributorGroup0 ? 1 : 0) | (distributorGroup1 ? 2 : 0))
        for v in 0..<vcpuCount {
            w.u64(vcpus[v].vmcr.v3)
            for r in 0..<8 { w.u32(aprs[v * 8 + r]) }
            w.u8(vcpus[v].processorSleep ? 1 : 0)
        }
        w.u32(UInt32(irqs.count))
        for s in irqs {
            w.u16(s.privateOwner >= 0 ? UInt16(s.privateOwner) : 0xFFFF)
            w.u16(UInt16(s.intid))
            var f: UInt8 = 0
            if s.enabled { f |= 1 }
            if s.pendingLatch { f |= 2 }
            if s.lineLevel { f |= 4 }
            if s.active { f |= 8 }
            if s.edge { f |= 16 }
            if s.group != 0 { f |= 32 }
            w.u8(f)
            w.u8(s.priority)
            w.u8(s.targets)
            w.u8(s.sgiSources)
            w.u8(s.activeSource)
            w.u64(s.route)
            w.u16(s.active && s.apOwner >= 0 ? UInt16(s.apOwner) : 0xFFFF)
        }
        return w.bytes
    }

    /// Build a vGIC from a snapshot, on `platform` (a fresh machine: its list
    /// registers are loaded on each vCPU's first entry). A snapshot that is
    /// truncated, of another format version or inconsistent is refused.
    public static func restore(snapshot bytes: [UInt8], platform: Platform) throws(VGICError) -> VGIC<Platform> {
        var r = SnapshotReader(bytes: bytes)
        for b in snapshotMagic where try r.u8() != b { throw .invalidSnapshot("not a vGIC snapshot") }
        guard try r.u16() == snapshotFormatVersion else { throw .invalidSnapshot("unknown snapshot format version") }
        guard let version = GICVersion(rawValue: try r.u8()) else { throw .invalidSnapshot("unknown GIC version") }
        let vcpuCount = Int(try r.u16())
        let irqCount = Int(try r.u16())
        let pri = Int(try r.u8())
        let lrs = Int(try r.u8())
        let config = VGICConfiguration(version: version, vcpuCount: vcpuCount, irqCount: irqCount,
                                       priorityBits: pri, listRegisters: lrs)
        do {
            try config.validate()
        } catch {
            throw .invalidSnapshot("snapshot configuration is not valid")
        }
        let g = try VGIC(configuration: config, platform: platform)
        let dist = try r.u8()
        g.distributorGroup0 = dist & 1 != 0
        g.distributorGroup1 = dist & 2 != 0
        for v in 0..<vcpuCount {
            let raw = try r.u64()
            g.vcpus[v].vmcr = VMCR(v3: raw)
            for k in 0..<8 { g.aprs[v * 8 + k] = try r.u32() }
            g.vcpus[v].processorSleep = try r.u8() & 1 != 0
            g.vcpus[v].cpuInterfaceDirty = true
        }
        guard Int(try r.u32()) == g.irqs.count else { throw .invalidSnapshot("interrupt count does not match the configuration") }
        var activeOn = [Int32](repeating: -1, count: g.irqs.count)
        for i in 0..<g.irqs.count {
            let owner = try r.u16()
            let intid = UInt32(try r.u16())
            let expectedOwner: UInt16 = g.irqs[i].privateOwner >= 0 ? UInt16(g.irqs[i].privateOwner) : 0xFFFF
            guard owner == expectedOwner, intid == g.irqs[i].intid else {
                throw .invalidSnapshot("interrupt record out of order or beyond the number of IRQs")
            }
            let f = try r.u8()
            var s = g.irqs[i]
            s.enabled = f & 1 != 0
            s.pendingLatch = f & 2 != 0
            s.lineLevel = f & 4 != 0
            s.active = f & 8 != 0
            s.edge = f & 16 != 0
            s.group = f & 32 != 0 ? 1 : 0
            s.priority = try r.u8() & g.priorityMask
            s.targets = try r.u8()
            s.sgiSources = try r.u8()
            s.activeSource = try r.u8()
            s.route = try r.u64()
            let on = try r.u16()
            if intid < 16 && !s.edge { throw .invalidSnapshot("an SGI must be edge-triggered") }
            if (intid >= 16 || version == .v3) && (s.sgiSources != 0 || s.activeSource != 0) {
                throw .invalidSnapshot("SGI sources on an interrupt that has none")
            }
            if s.targets & ~g.existingCPUMask != 0 && version == .v2 {
                throw .invalidSnapshot("SPI targets a vCPU that does not exist")
            }
            if on != 0xFFFF {
                guard s.active, Int(on) < vcpuCount else {
                    throw .invalidSnapshot("active interrupt on a vCPU that does not exist")
                }
                if intid < 32 && Int32(on) != s.privateOwner {
                    throw .invalidSnapshot("private interrupt active on another vCPU")
                }
                activeOn[i] = Int32(on)
            }
            g.irqs[i] = s
            g.updateRouting(i)
        }
        guard r.at == bytes.count else { throw .invalidSnapshot("trailing bytes after the snapshot") }
        for i in 0..<g.irqs.count {
            if activeOn[i] >= 0 {
                g.apInsert(i, vcpu: activeOn[i])
            } else {
                g.queue(i)
            }
        }
        return g
    }
}
