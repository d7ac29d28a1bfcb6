// libFuzzer target: snapshot parsing and restore.
//
// Input: a mode byte, then the snapshot bytes. With the mode's low bit
// clear, the body length and checksum are rewritten to match the body
// before parsing, so that mutations get past the checksum and reach the
// consistency checks; with it set, the bytes are taken as they are.
//
// Checked for every input:
// - decoding and both restores never crash, and agree: the problem
//   `VGICSnapshot(bytes:)` names is the one both restores throw;
// - a refused restore into an existing vGIC leaves it as it was;
// - whatever is accepted re-serialises to the same bytes (decoded, restored
//   into a new vGIC, restored into an existing one);
// - an accepted snapshot gives a vGIC that holds its invariants and runs:
//   every vCPU enters and exits with no architecture violation.

import GICArchitecture
import GICModel
import VGIC
import VGICModelPlatform

@_cdecl("LLVMFuzzerTestOneInput")
public func vgicSnapshotFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let raw = FuzzInput(data, size).bytes
    guard let mode = raw.first else { return 0 }
    let body = Array(raw.dropFirst())
    let bytes = mode & 1 == 0 ? VGICSnapshot.resealed(body) : body
    checkSnapshot(bytes)
    return 0
}

/// The problem a snapshot error names, or nil for another error.
func snapshotProblem(_ e: VGICError) -> SnapshotProblem? {
    if case .invalidSnapshot(let p) = e { return p }
    return nil
}

func newVGIC(_ c: VGICConfiguration) -> (VGIC<ModelPlatform>, GICModel) {
    let model = GICModel(version: c.version, cpus: c.vcpuCount, listRegisters: c.listRegisters,
                         priorityBits: c.priorityBits)
    do {
        return (try VGIC(configuration: c, platform: ModelPlatform(model: model)), model)
    } catch {
        finding("a valid configuration was refused: \(error.message)")
    }
}

/// A vGIC with some state, for restores into an existing vGIC.
func bystander(_ c: VGICConfiguration) -> VGIC<ModelPlatform> {
    let (g, _) = newVGIC(c)
    g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ctlr, width: 4, value: 3)
    g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.isenabler + 4, width: 4, value: 0xF)
    g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.icfgr + 8, width: 4, value: 0xAA)
    try? g.pulse(33)
    try? g.setLine(34, level: true)
    return g
}

func checkSnapshot(_ bytes: [UInt8]) {
    let decoded: VGICSnapshot
    do {
        decoded = try VGICSnapshot(bytes: bytes)
    } catch {
        guard let problem = snapshotProblem(error) else { finding("decoding threw \(error), not invalidSnapshot") }
        checkRefused(bytes, problem)
        return
    }
    let c = decoded.configuration
    if decoded.encoded() != bytes { finding("an accepted snapshot encodes back to other bytes (\(c))") }

    let (g, model): (VGIC<ModelPlatform>, GICModel)
    do {
        model = GICModel(version: c.version, cpus: c.vcpuCount, listRegisters: c.listRegisters,
                         priorityBits: c.priorityBits)
        g = try VGIC.restore(snapshot: bytes, platform: ModelPlatform(model: model))
    } catch {
        finding("decoding accepted the snapshot, restore refused it: \(error.message)")
    }
    guard let again = try? g.snapshot(), again == bytes else {
        finding("a restored vGIC snapshots to other bytes (\(c))")
    }
    if let problem = vgicInvariants(g) { finding("restored vGIC: \(problem)") }

    // Into an existing vGIC of the same configuration: replaces everything.
    let other = bystander(c)
    do {
        try other.restore(snapshot: bytes)
    } catch {
        finding("restore into a vGIC of the same configuration refused: \(error.message)")
    }
    if (try? other.snapshot()) != bytes { finding("restore into an existing vGIC gives other bytes") }
    if let problem = vgicInvariants(other) { finding("vGIC restored in place: \(problem)") }

    // The restored vGIC runs: each vCPU (the first 8) enters and exits.
    for v in 0..<min(c.vcpuCount, 8) {
        g.vcpuEnter(v)
        if let problem = vgicInvariants(g) { finding("restored vGIC, vCPU \(v) entered: \(problem)") }
        g.vcpuExit(v)
    }
    if let problem = vgicInvariants(g) { finding("restored vGIC after running: \(problem)") }
    if let v = model.violations.first {
        finding("restored vGIC broke an architecture rule: cpu \(v.cpu) intid \(v.intid): \(v.message)")
    }
}

/// A snapshot decoding refuses: both restores refuse it with the same
/// problem, and an existing vGIC is left as it was.
func checkRefused(_ bytes: [UInt8], _ problem: SnapshotProblem) {
    let model = GICModel(version: .v3, cpus: 2, listRegisters: 4, priorityBits: 5)
    do {
        _ = try VGIC.restore(snapshot: bytes, platform: ModelPlatform(model: model))
        finding("restore accepted a snapshot decoding refused (\(problem))")
    } catch {
        if snapshotProblem(error) != problem {
            finding("restore names \(error), decoding names \(problem)")
        }
    }
    for version in [GICVersion.v3, .v2] {
        let g = bystander(VGICConfiguration(version: version, vcpuCount: 2, irqCount: 64))
        let before = try? g.snapshot()
        do {
            try g.restore(snapshot: bytes)
            finding("restore into a vGIC accepted a snapshot decoding refused (\(problem))")
        } catch {
            if snapshotProblem(error) != problem { finding("restore into a vGIC names \(error), decoding \(problem)") }
        }
        if (try? g.snapshot()) != before { finding("a refused restore changed the vGIC (\(problem))") }
    }
}
