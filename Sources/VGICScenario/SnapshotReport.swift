import Foundation
import GICArchitecture
import GICModel
import VGIC
import VGICModelPlatform

/// `vgic snapshot inspect`: a snapshot for a person. Per vCPU and per
/// interrupt, only what differs from the state of a new vGIC of the same
/// configuration.
public enum SnapshotReport {
    /// Why a snapshot file could not be inspected.
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads and describes the snapshot file at `path`.
    public static func inspect(path: String) throws(Problem) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(description: "\(path): cannot read the file")
        }
        do {
            return try describe([UInt8](data))
        } catch {
            var name = ""
            if case .invalidSnapshot(let p) = error { name = " (\(p))" }
            throw Problem(description: "\(path): not a valid vGIC snapshot: \(error.message)\(name)")
        }
    }

    /// The report for a snapshot's bytes.
    public static func describe(_ bytes: [UInt8]) throws(VGICError) -> String {
        let snap = try VGICSnapshot(bytes: bytes)
        let c = snap.configuration
        let reset = try resetState(c)
        var out: [String] = []
        let crc = VGICSnapshot.checksum(bytes, from: VGICSnapshot.headerSize)
        let format = snap.its == nil ? VGICSnapshot.formatVersion : VGICSnapshot.itsFormatVersion
        out.append("vGIC snapshot, format \(format), \(bytes.count) bytes, CRC-32 \(hex32(crc))")
        out.append("configuration: GICv\(c.version.rawValue), \(c.vcpuCount) vCPU\(c.vcpuCount == 1 ? "" : "s"), "
                   + "irqs=\(c.irqCount), \(c.priorityBits) priority bits, \(c.listRegisters) list register"
                   + (c.listRegisters == 1 ? "" : "s"))
        var dist: [String] = []
        if snap.distributorGroup0 != reset.distributorGroup0 { dist.append("EnableGrp0=\(bit(snap.distributorGroup0))") }
        if snap.distributorGroup1 != reset.distributorGroup1 { dist.append("EnableGrp1=\(bit(snap.distributorGroup1))") }
        out.append("distributor: " + (dist.isEmpty ? "at reset" : dist.joined(separator: ", ")))

        var quiet = 0
        for v in 0..<c.vcpuCount {
            let d = vcpuDifferences(snap.vcpus[v], reset.vcpus[v], c)
            if d.isEmpty {
                quiet += 1
            } else {
                out.append("vCPU \(v): " + d.joined(separator: ", "))
            }
        }
        if quiet > 0 {
            out.append("CPU interface of \(quiet == c.vcpuCount ? (quiet == 1 ? "the vCPU" : "every vCPU") : "the other vCPU\(quiet == 1 ? "" : "s")"): at reset")
        }

        var changed = 0
        for (s, r) in zip(snap.interrupts, reset.interrupts) {
            let d = interruptDifferences(s, r, c)
            guard !d.isEmpty else { continue }
            changed += 1
            out.append("  \(name(s)): " + d.joined(separator: ", "))
        }
        out.insert("interrupts: \(changed) of \(snap.interrupts.count) not at reset"
                   + (changed == 0 ? "" : ":"), at: out.count - changed)
        if let its = snap.its, let ic = c.its, let r = reset.its { out += itsReport(its, ic, reset: r) }
        return out.joined(separator: "\n")
    }

    /// The ITS section: its configuration, the LPI and ITS registers that
    /// are not at reset, every mapping and every LPI.
    static func itsReport(_ s: ITSSnapshot, _ c: ITSConfiguration, reset r: ITSSnapshot) -> [String] {
        var out: [String] = []
        let translater = c.cpuTranslaterDeviceID.map { "DeviceID \($0)" } ?? "ignored"
        out.append("ITS: pools of \(c.lpis) LPIs, \(c.events) events, \(c.devices) devices, \(c.collections) "
                   + "collections; translation cache \(c.translationCacheEntries); a CPU's GITS_TRANSLATER write: \(translater)")
        var regs: [String] = []
        if s.propbaser != r.propbaser { regs.append("GICR_PROPBASER=\(hex(s.propbaser))") }
        for v in 0..<s.pendbaser.count {
            if s.pendbaser[v] != r.pendbaser[v] { regs.append("vCPU \(v) GICR_PENDBASER=\(hex(s.pendbaser[v]))") }
            if s.lpisEnabled[v] { regs.append("vCPU \(v) EnableLPIs=1") }
        }
        out.append("LPI registers: " + (regs.isEmpty ? "at reset" : regs.joined(separator: ", ")))
        var its: [String] = [s.enabled ? "enabled" : "disabled"]
        if s.cbaser != r.cbaser { its.append("GITS_CBASER=\(hex(s.cbaser))") }
        if s.creadr != r.creadr || s.cwriter != r.cwriter {
            its.append("GITS_CREADR=\(hex(s.creadr)) GITS_CWRITER=\(hex(s.cwriter))")
        }
        if s.deviceBaser != r.deviceBaser { its.append("GITS_BASER0=\(hex(s.deviceBaser))") }
        if s.collectionBaser != r.collectionBaser { its.append("GITS_BASER1=\(hex(s.collectionBaser))") }
        out.append("ITS registers: " + its.joined(separator: ", "))
        out.append("collections: \(s.collections.count)" + (s.collections.isEmpty ? "" : ": ")
                   + s.collections.map { "\($0.icid) -> vCPU \($0.vcpu)" }.joined(separator: ", "))
        out.append("devices: \(s.devices.count)" + (s.devices.isEmpty ? "" : ":"))
        for d in s.devices {
            let events = s.entries.filter { $0.deviceID == d.deviceID }
            out.append("  device \(d.deviceID): ITT \(hex(d.ittAddress)), \(d.eventIDBits) EventID bits, "
                       + "\(events.count) event\(events.count == 1 ? "" : "s")"
                       + (events.isEmpty ? "" : ": ")
                       + events.map { "\($0.eventID) -> LPI \($0.lpi) (collection \($0.icid))" }.joined(separator: ", "))
        }
        out.append("LPIs: \(s.lpis.count)" + (s.lpis.isEmpty ? "" : ":"))
        for l in s.lpis {
            var d = [l.enabled ? "enabled" : "disabled", "priority \(hex8(l.priority))",
                     l.target >= 0 ? "to vCPU \(l.target)" : "to no vCPU"]
            if l.pending { d.append("pending") }
            if l.active { d.append(l.activeOn >= 0 ? "active on vCPU \(l.activeOn)" : "active (on no vCPU)") }
            if l.acknowledged { d.append("acknowledged") }
            out.append("  LPI \(l.intid): " + d.joined(separator: ", "))
        }
        return out
    }

    /// The state of a new vGIC with configuration `c`.
    static func resetState(_ c: VGICConfiguration) throws(VGICError) -> VGICSnapshot {
        let model = GICModel(version: c.version, cpus: c.vcpuCount, listRegisters: c.listRegisters,
                             priorityBits: c.priorityBits)
        return try VGIC(configuration: c, platform: ModelPlatform(model: model)).snapshotState()
    }

    static func name(_ s: InterruptSnapshot) -> String {
        let kind = s.intid < 16 ? "SGI" : (s.intid < 32 ? "PPI" : "SPI")
        return s.owner >= 0 ? "vCPU \(s.owner) \(kind) \(s.intid)" : "\(kind) \(s.intid)"
    }

    static func vcpuDifferences(_ s: VCPUSnapshot, _ r: VCPUSnapshot, _ c: VGICConfiguration) -> [String] {
        var d: [String] = []
        let a = s.vmcr, b = r.vmcr
        if a.enableGroup0 != b.enableGroup0 { d.append("EnableGrp0=\(bit(a.enableGroup0))") }
        if a.enableGroup1 != b.enableGroup1 { d.append("EnableGrp1=\(bit(a.enableGroup1))") }
        if a.pmr != b.pmr { d.append("PMR=\(hex8(a.pmr))") }
        if a.bpr0 != b.bpr0 { d.append("BPR0=\(a.bpr0)") }
        if a.bpr1 != b.bpr1 { d.append("BPR1=\(a.bpr1)") }
        if a.cbpr != b.cbpr { d.append("CBPR=\(bit(a.cbpr))") }
        if a.eoiMode != b.eoiMode { d.append("EOImode=\(bit(a.eoiMode))") }
        if a.ackCtl != b.ackCtl { d.append("AckCtl=\(bit(a.ackCtl))") }
        if a.fiqEn != b.fiqEn { d.append("FIQEn=\(bit(a.fiqEn))") }
        for k in 0..<8 where s.activePriorities[k] != r.activePriorities[k] {
            let reg = c.version == .v2 ? "APR" : "AP\(k / 4)R\(k % 4)"
            d.append("\(reg)=\(hex32(s.activePriorities[k]))")
        }
        if s.processorSleep != r.processorSleep { d.append("ProcessorSleep=\(bit(s.processorSleep))") }
        return d
    }

    static func interruptDifferences(_ s: InterruptSnapshot, _ r: InterruptSnapshot, _ c: VGICConfiguration) -> [String] {
        var d: [String] = []
        if s.enabled != r.enabled { d.append(s.enabled ? "enabled" : "disabled") }
        if s.pendingLatch != r.pendingLatch { d.append(s.pendingLatch ? "pending" : "not pending") }
        if s.sgiSources != r.sgiSources { d.append("pending from vCPU\(cpus(s.sgiSources))") }
        if s.lineLevel != r.lineLevel { d.append("line \(bit(s.lineLevel))") }
        if s.active != r.active || s.activeOn != r.activeOn {
            d.append(s.active ? (s.activeOn >= 0 ? "active on vCPU \(s.activeOn)" : "active (on no vCPU)") : "inactive")
        }
        if s.acknowledged != r.acknowledged { d.append(s.acknowledged ? "acknowledged" : "not acknowledged") }
        if s.activeSource != r.activeSource { d.append("active source vCPU \(s.activeSource)") }
        if s.edge != r.edge { d.append(s.edge ? "edge-triggered" : "level-sensitive") }
        if s.group1 != r.group1 { d.append("group \(s.group1 ? 1 : 0)") }
        if s.priority != r.priority { d.append("priority \(hex8(s.priority))") }
        if s.targets != r.targets {
            d.append(s.targets == 0 ? "targets none" : "targets vCPU\(cpus(s.targets))")
        }
        if s.route != r.route {
            let to = s.route & irouterIRM != 0 ? "1-of-N"
                : (Affinity(irouter: s.route).vcpuIndex.flatMap { $0 < c.vcpuCount ? "vCPU \($0)" : nil } ?? "no vCPU")
            d.append("route \(hex(s.route)) (\(to))")
        }
        return d
    }

    static func bit(_ b: Bool) -> String { b ? "1" : "0" }
    static func hex8(_ v: UInt8) -> String { "0x" + (v < 16 ? "0" : "") + String(v, radix: 16) }
    static func hex32(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
    /// ` 0, 2` (or `s 0, 2` for several) for a CPU bitmap.
    static func cpus(_ mask: UInt8) -> String {
        let list = (0..<8).filter { mask & (1 << $0) != 0 }.map(String.init)
        return (list.count == 1 ? " " : "s ") + list.joined(separator: ", ")
    }
}
