import GICArchitecture
import HypSupport
import Synchronization

/// Physical CPUs that came up (CPU 0 plus every secondary PSCI started).
let cpusOnline = Atomic<Int>(1)
/// Set by CPU 0 when the VM is built; secondaries wait for it.
let vmReady = Atomic<Bool>(false)
nonisolated(unsafe) var physicalCPUCount = 1

/// CPU 0, from boot.S: MMU and vectors are on, BSS is clear.
@_cdecl("hyp_main")
func hypMain(_ cpu: Int) {
    log { $0.s("hyp: swift-vgic hypervisor at EL") ; $0.dec(Int((read_currentel() >> 2) & 3)) }
    let vtr = VTR(rawValue: read_ich_vtr_el2())
    log {
        $0.s("hyp: ICH_VTR_EL2: ")
        $0.dec(vtr.listRegisters)
        $0.s(" list registers, ")
        $0.dec(vtr.priorityBits)
        $0.s(" priority bits")
    }
    HostGIC.initDistributor()
    HostGIC.initCPU(0)
    physicalCPUCount = startSecondaries()
    while cpusOnline.load(ordering: .acquiring) < physicalCPUCount { hyp_wfe() }
    log { $0.s("hyp: "); $0.dec(physicalCPUCount); $0.s(" CPUs online") }
    // QEMU's tree sits where the guest image goes: derive the guest's first.
    let initrd = VM.stagedInitrd()
    if let rd = initrd {
        log { $0.s("hyp: initial RAM disk: "); $0.dec(Int(rd.end - rd.start)); $0.s(" bytes at "); $0.hex(rd.start) }
    }
    if !DeviceTree.derive(from: VM.qemuDeviceTree, to: VM.deviceTree, memoryBase: VM.ramBase,
                          memorySize: VM.ramSize, initrd: initrd) {
        panic("no device tree from QEMU at the base of RAM")
    }
    log {
        $0.s("hyp: guest device tree derived from QEMU's: ")
        $0.dec(Int(mmio_read32(UInt(VM.deviceTree) + 4).byteSwapped))
        $0.s(" bytes")
    }
    if !VM.loadImage() { panic("no guest image staged (see hypervisor.mk)") }
    VM.create(vcpus: physicalCPUCount)
    log {
        $0.s("hyp: VM: ")
        $0.dec(VM.vcpuCount)
        $0.s(" vCPUs, RAM ")
        $0.hex(VM.ramBase)
        $0.s("+")
        $0.hex(VM.ramSize)
        $0.s(", entry ")
        $0.hex(VM.entry)
        $0.s(", device tree ")
        $0.hex(VM.deviceTree)
    }
    vmReady.store(true, ordering: .releasing)
    hyp_dsb_ish()
    hyp_sev()
    VM.configureCPU()
    serveVCPU(0)
}

/// Secondary CPUs, from boot.S after PSCI CPU_ON.
@_cdecl("hyp_secondary_main")
func hypSecondaryMain(_ cpu: Int) {
    HostGIC.initCPU(cpu)
    _ = cpusOnline.add(1, ordering: .releasing)
    hyp_sev()
    while !vmReady.load(ordering: .acquiring) { hyp_wfe() }
    guard cpu < VM.vcpuCount else { halt() }
    VM.configureCPU()
    serveVCPU(cpu)
}

/// Start every CPU the firmware knows, in order, until CPU_ON says there is no
/// such CPU. Returns the number of CPUs.
func startSecondaries() -> Int {
    var cpu = 1
    while cpu < maxCPUs {
        let mpidr = UInt64(cpu % 16) | UInt64(cpu / 16) << 8
        let entry = UInt64(UInt(bitPattern: unsafeBitCast(hyp_secondary_entry as @convention(c) () -> Void,
                                                           to: UnsafeRawPointer.self)))
        let r = Int64(bitPattern: hyp_smc(PSCI.cpuOn64, mpidr, entry, UInt64(cpu)))
        if r != PSCI.success { break }
        cpu += 1
    }
    return cpu
}

let maxCPUs = 8
