import GICArchitecture

/// What the vGIC needs from the machine it runs on: the virtualization
/// extension of each physical CPU, the physical interrupt state of the host
/// GIC, and a way to make a vCPU leave the guest.
///
/// Two implementations exist: the hosted GIC hardware model (`GICModel`,
/// wrapped by the scenario runner and the tests) and the bare-metal
/// hypervisor's real `ICH_*_EL2` registers and distributor.
///
/// vCPU `i` runs on physical CPU `i`. The list-register, HCR, VMCR and APR
/// accessors are only called for the physical CPU that runs the vCPU being
/// flushed or synced, from that CPU (the real registers are CPU-local).
///
/// Every method is called with the vGIC lock held: implementations must not
/// call back into the vGIC or take a lock that is held while calling it.
public protocol VGICPlatform {
    /// Raw list register `n`: GICv3 `ICH_LR<n>_EL2`, or GICv2 `GICH_LR<n>`
    /// zero-extended.
    func readLR(cpu: Int, _ n: Int) -> UInt64
    func writeLR(cpu: Int, _ n: Int, _ value: UInt64)
    func readHCR(cpu: Int) -> UInt64
    func writeHCR(cpu: Int, _ value: UInt64)
    /// Raw `ICH_VMCR_EL2` / `GICH_VMCR`.
    func readVMCR(cpu: Int) -> UInt64
    func writeVMCR(cpu: Int, _ value: UInt64)
    func readAPR(cpu: Int, group: Int, index: Int) -> UInt32
    func writeAPR(cpu: Int, group: Int, index: Int, _ value: UInt32)

    /// Physical interrupt state. `cpu` selects the physical CPU for INTIDs
    /// below 32 and is ignored for SPIs.
    func setPhysicalActive(_ intid: UInt32, cpu: Int, _ active: Bool)
    func setPhysicalPending(_ intid: UInt32, cpu: Int, _ pending: Bool)
    func physicalActive(_ intid: UInt32, cpu: Int) -> Bool
    func physicalPending(_ intid: UInt32, cpu: Int) -> Bool
    /// The input level of a physical interrupt (the device's output), for
    /// mapped level-sensitive interrupts (KVM's `get_input_level`).
    func physicalLineLevel(_ intid: UInt32, cpu: Int) -> Bool

    /// vCPU `vcpu` has new interrupt state: if it is in the guest it must
    /// exit (and re-enter) soon; if it waits for an interrupt it must wake.
    func kick(vcpu: Int)

    /// Whether the vGIC may read and write any physical CPU's list
    /// registers from whichever thread calls it (a hardware model): then it
    /// takes the other vCPUs out of the guest for an access that needs them
    /// out by folding and flushing them itself, and never calls
    /// `stopOtherVCPUs`. Real list registers are CPU-local: false.
    var reachesEveryCPUsListRegisters: Bool { get }

    /// Make every vCPU but `requester` leave the guest -- each one's exit
    /// folds its list registers through `vcpuExit` -- and keep them out until
    /// `resumeOtherVCPUs`. Called without the vGIC lock held (it is lock 0 of
    /// the order at the top of VGIC.swift): the stopped vCPUs need that lock
    /// to exit. `requester` is out of the guest (it is handling a trap).
    func stopOtherVCPUs(requester: Int)
    /// Let the vCPUs `stopOtherVCPUs` stopped enter the guest again.
    func resumeOtherVCPUs(requester: Int)

    // LPI and ITS hook: guest memory (docs/its.md).

    /// Reads `buffer.count` bytes of guest physical memory at `address`.
    /// Returns false, with `buffer` unspecified, when any byte is not guest
    /// RAM: the vGIC then does what the architecture says for a table it
    /// cannot reach (the command is ignored, the entry reads as invalid), so
    /// a hostile table pointer is never a host fault. The default has no
    /// guest memory: every access fails.
    func readGuestMemory(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool
    /// Writes `buffer` to guest physical memory at `address`; false, writing
    /// nothing, when any byte is not guest RAM.
    func writeGuestMemory(_ address: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool
}

extension VGICPlatform {
    public func readGuestMemory(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool { false }
    public func writeGuestMemory(_ address: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool { false }
}
