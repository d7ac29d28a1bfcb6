import GICArchitecture
import GICModel
import VGIC

/// The machine a scenario's vGIC runs on: the GIC hardware model, and the
/// kicks the vGIC asks for, which the runner turns into exits and entries.
final class ModelPlatform: VGICPlatform {
    let model: GICModel
    /// vCPUs kicked since the runner last looked.
    private var kicked: [Bool]

    init(_ machine: Machine) {
        model = GICModel(version: machine.version, cpus: machine.vcpus,
                         listRegisters: machine.listRegisters, priorityBits: machine.priorityBits)
        kicked = [Bool](repeating: false, count: machine.vcpus)
    }

    /// The vCPUs kicked since the last call, in index order; clears them.
    func takeKicks() -> [Int] {
        var due: [Int] = []
        for v in kicked.indices where kicked[v] {
            due.append(v)
            kicked[v] = false
        }
        return due
    }

    func kick(vcpu: Int) {
        if kicked.indices.contains(vcpu) { kicked[vcpu] = true }
    }

    func readLR(cpu: Int, _ n: Int) -> UInt64 { model.readLR(cpu: cpu, n) }
    func writeLR(cpu: Int, _ n: Int, _ value: UInt64) { model.writeLR(cpu: cpu, n, value) }
    func readHCR(cpu: Int) -> UInt64 { model.readHCR(cpu: cpu) }
    func writeHCR(cpu: Int, _ value: UInt64) { model.writeHCR(cpu: cpu, value) }
    func readVMCR(cpu: Int) -> UInt64 { model.readVMCR(cpu: cpu) }
    func writeVMCR(cpu: Int, _ value: UInt64) { model.writeVMCR(cpu: cpu, value) }
    func readAPR(cpu: Int, group: Int, index: Int) -> UInt32 { model.readAPR(cpu: cpu, group: group, index: index) }
    func writeAPR(cpu: Int, group: Int, index: Int, _ value: UInt32) {
        model.writeAPR(cpu: cpu, group: group, index: index, value)
    }
    func setPhysicalActive(_ intid: UInt32, cpu: Int, _ active: Bool) { model.setPhysicalActive(intid, cpu: cpu, active) }
    func setPhysicalPending(_ intid: UInt32, cpu: Int, _ pending: Bool) {
        model.setPhysicalPending(intid, cpu: cpu, pending)
    }
    func physicalActive(_ intid: UInt32, cpu: Int) -> Bool { model.physicalActive(intid, cpu: cpu) }
    func physicalPending(_ intid: UInt32, cpu: Int) -> Bool { model.physicalPending(intid, cpu: cpu) }
    func physicalLineLevel(_ intid: UInt32, cpu: Int) -> Bool { model.physicalLineLevel(intid, cpu: cpu) }
}
