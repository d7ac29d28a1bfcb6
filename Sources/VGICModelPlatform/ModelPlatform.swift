import GICArchitecture
import GICModel
import VGIC

/// The vGIC on the GIC hardware model: the `VGICPlatform` that the scenario
/// runner, the tests, the stress test and the benchmarks share.
///
/// Kicks are recorded per vCPU; whoever runs the vCPUs collects them
/// (`takeKick(vcpu:)`, `takeKicks()`) and makes those vCPUs exit and
/// re-enter. Safe to use from several threads: the kick flags have their own
/// lock, which comes after the vGIC's lock and the model's in the lock order
/// (docs/locking.md) and is never held while calling anything.
public final class ModelPlatform: VGICPlatform, @unchecked Sendable {
    public let model: GICModel
    /// The guest's RAM, for the ITS and LPI tables (none: every guest
    /// memory access of the vGIC fails).
    public let memory: GuestRAM?
    private let kickLock = SpinLock()
    private let vcpuCount: Int
    /// Under `kickLock`, one access at a time: no dynamic exclusivity check
    /// (it was the one left on the path of every injected interrupt).
    @exclusivity(unchecked) private var kicked: [Bool]

    public init(model: GICModel, memory: GuestRAM? = nil) {
        self.model = model
        self.memory = memory
        vcpuCount = model.cpuCount
        kicked = [Bool](repeating: false, count: model.cpuCount)
    }

    public func kick(vcpu: Int) {
        guard vcpu >= 0 && vcpu < vcpuCount else { return }
        kickLock.lock()
        kicked[vcpu] = true
        kickLock.unlock()
    }

    /// Whether `vcpu` was kicked since the last call; clears the kick.
    public func takeKick(vcpu: Int) -> Bool {
        guard vcpu >= 0 && vcpu < vcpuCount else { return false }
        kickLock.lock()
        defer { kickLock.unlock() }
        let k = kicked[vcpu]
        kicked[vcpu] = false
        return k
    }

    /// The vCPUs kicked since the last call, in index order; clears them.
    public func takeKicks() -> [Int] {
        var due: [Int] = []
        for v in 0..<vcpuCount where takeKick(vcpu: v) { due.append(v) }
        return due
    }

    public func readLR(cpu: Int, _ n: Int) -> UInt64 { model.readLR(cpu: cpu, n) }
    public func writeLR(cpu: Int, _ n: Int, _ value: UInt64) { model.writeLR(cpu: cpu, n, value) }
    public func readHCR(cpu: Int) -> UInt64 { model.readHCR(cpu: cpu) }
    public func writeHCR(cpu: Int, _ value: UInt64) { model.writeHCR(cpu: cpu, value) }
    public func readVMCR(cpu: Int) -> UInt64 { model.readVMCR(cpu: cpu) }
    public func writeVMCR(cpu: Int, _ value: UInt64) { model.writeVMCR(cpu: cpu, value) }
    public func readAPR(cpu: Int, group: Int, index: Int) -> UInt32 {
        model.readAPR(cpu: cpu, group: group, index: index)
    }
    public func writeAPR(cpu: Int, group: Int, index: Int, _ value: UInt32) {
        model.writeAPR(cpu: cpu, group: group, index: index, value)
    }
    public func setPhysicalActive(_ intid: UInt32, cpu: Int, _ active: Bool) {
        model.setPhysicalActive(intid, cpu: cpu, active)
    }
    public func setPhysicalPending(_ intid: UInt32, cpu: Int, _ pending: Bool) {
        model.setPhysicalPending(intid, cpu: cpu, pending)
    }
    public func physicalActive(_ intid: UInt32, cpu: Int) -> Bool { model.physicalActive(intid, cpu: cpu) }
    public func physicalPending(_ intid: UInt32, cpu: Int) -> Bool { model.physicalPending(intid, cpu: cpu) }
    public func physicalLineLevel(_ intid: UInt32, cpu: Int) -> Bool { model.physicalLineLevel(intid, cpu: cpu) }

    /// The model's list registers are plain memory: the vGIC folds and
    /// flushes the other vCPUs itself when an access needs them out. Whoever
    /// runs the vCPUs on threads must then not have them touch their CPU
    /// interfaces while another vCPU's trapped pending or active access (or
    /// DIR) is emulated (the scenario runner is single-threaded; the stress
    /// test makes no such access while its vCPU threads run).
    public var reachesEveryCPUsListRegisters: Bool { true }
    public func stopOtherVCPUs(requester: Int) {}
    public func resumeOtherVCPUs(requester: Int) {}
    public func readGuestMemory(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        memory?.read(address, into: buffer) ?? false
    }
    public func writeGuestMemory(_ address: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        memory?.write(address, from: buffer) ?? false
    }
}
