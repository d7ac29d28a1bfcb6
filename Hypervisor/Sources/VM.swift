import GICArchitecture
import HypSupport
import Synchronization
import VGIC

/// The one VM: its memory layout, its vGIC and its vCPUs (vCPU i runs on
/// physical CPU i).
enum VM {
    static let ramBase: UInt64 = 0x4000_0000
    /// Up to the hypervisor's own 32 MiB at 0x5E000000 (see link.ld).
    static let ramSize: UInt64 = 0x1E00_0000
    /// Where a guest image without a Linux arm64 header is loaded and entered
    /// (the kvm-unit-tests convention).
    static let defaultEntry: UInt64 = ramBase + 0x8_0000
    /// Where the guest is entered (set by `loadImage`).
    nonisolated(unsafe) static var entry: UInt64 = defaultEntry
    /// QEMU's device tree for the hypervisor (`-kernel` ELF: base of RAM).
    static let qemuDeviceTree: UInt64 = 0x4000_0000
    /// The guest's device tree (derived from QEMU's), in the last 2 MiB of its RAM.
    static let deviceTree: UInt64 = 0x5DE0_0000
    /// Where it has QEMU stage the guest image (QEMU's own device tree sits
    /// at the base of RAM, over the image's place), and the image's size.
    static let stagedImage: UInt64 = 0x5800_0000
    static let stagedImageSize: UInt64 = 0x5DFF_FFF8
    /// An initial RAM disk, if hypervisor.mk had QEMU load one (INITRD=):
    /// it stays where it is, and the guest's device tree says where.
    static let initrd: UInt64 = 0x5C00_0000
    static let initrdSize: UInt64 = 0x5DFF_FFF0
    static let initrdLimit: UInt64 = 0x1E0_0000

    /// The staged initial RAM disk, as `[start, end)`, if there is one.
    static func stagedInitrd() -> (start: UInt64, end: UInt64)? {
        let size = mmio_read64(UInt(initrdSize))
        guard size > 0 && size <= initrdLimit else { return nil }
        return (initrd, initrd + size)
    }
    static let uartBase: UInt64 = 0x0900_0000
    static let rtcBase: UInt64 = 0x0901_0000

    /// The guest-visible GIC frames, at the physical GIC's addresses.
    static let distributorBase: UInt64 = 0x0800_0000
    static let redistributorBase: UInt64 = 0x080A_0000

    nonisolated(unsafe) static var vgic: VGIC<HardwarePlatform>? = nil
    nonisolated(unsafe) static var vcpuCount = 1
    /// Log every vCPU power change (they interleave with the guest's output).
    static let verbose = false

    /// HCR_EL2 for the guest: stage 2 (VM), set/way invalidation upgraded to
    /// clean+invalidate (SWIO), physical IRQ/FIQ/SError to EL2 (IMO, FMO,
    /// AMO) with the virtual CPU interface for the guest, broadcast TLB and
    /// barrier upgrades (FB, BSU inner), WFI trapped (TWI), SMC trapped
    /// (TSC), implementation-defined registers trapped (TIDCP), EL1 in
    /// AArch64 (RW), pointer authentication left to the guest (APK, API).
    static let hcr: UInt64 = 1 << 0 | 1 << 1 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 9 | 1 << 10 | 1 << 13
        | 1 << 19 | 1 << 20 | 1 << 31 | 1 << 40 | 1 << 41

    /// Move the staged guest image to its entry address; false if none was
    /// staged. A Linux arm64 `Image` (magic "ARM\x64" at 0x38) goes
    /// `text_offset` bytes above a 2 MiB-aligned base, as its header asks
    /// (Documentation/arch/arm64/booting.rst); anything else to RAM + 0x80000.
    static func loadImage() -> Bool {
        let size = UInt64(mmio_read64(UInt(stagedImageSize)))
        guard size > 0x40 else { return false }
        let magic = mmio_read32(UInt(stagedImage) + 0x38)
        if magic == 0x644D_5241 {
            let textOffset = mmio_read64(UInt(stagedImage) + 8)
            entry = ramBase + 0x20_0000 + (textOffset & 0x1F_FFFF)
            log { $0.s("hyp: guest image is a Linux arm64 Image, text_offset "); $0.hex(textOffset) }
        }
        guard size <= initrd - stagedImage else { return false }
        _ = memmove(UnsafeMutableRawPointer(bitPattern: UInt(entry)),
                    UnsafeRawPointer(bitPattern: UInt(stagedImage)), Int(size))
        hyp_clean_dcache_range(UInt(entry), Int(size))
        log { $0.s("hyp: guest image: "); $0.dec(Int(size)); $0.s(" bytes at "); $0.hex(entry) }
        return true
    }

    /// Build the VM on CPU 0: stage 2, the vGIC, the vCPU slots.
    static func create(vcpus: Int) {
        vcpuCount = vcpus
        Stage2.identityMap(ramBase, size: ramSize, .normal)
        Stage2.identityMap(uartBase, size: 0x1000, .device)
        Stage2.identityMap(rtcBase, size: 0x1000, .device)

        let vtr = VTR(rawValue: read_ich_vtr_el2())
        HardwarePlatform.listRegisters = vtr.listRegisters
        let config = VGICConfiguration(version: .v3, vcpuCount: vcpus, irqCount: 256,
                                       priorityBits: vtr.priorityBits, listRegisters: vtr.listRegisters)
        let g: VGIC<HardwarePlatform>
        do {
            g = try VGIC(configuration: config, platform: HardwarePlatform())
        } catch {
            panic("vGIC configuration refused")
        }
        for v in 0..<vcpus {
            do {
                try g.map(HostGIC.virtualTimerPPI, vcpu: v, physicalIntid: HostGIC.virtualTimerPPI,
                          levelFromPhysical: true)
                try g.map(HostGIC.physicalTimerPPI, vcpu: v, physicalIntid: HostGIC.physicalTimerPPI,
                          levelFromPhysical: true)
            } catch {
                panic("mapping the timer PPIs failed")
            }
        }
        // The UART's and the RTC's interrupts: the guest has the devices, so
        // it has their lines.
        do {
            try g.map(HostGIC.uartSPI, physicalIntid: HostGIC.uartSPI, levelFromPhysical: true)
            try g.map(HostGIC.rtcSPI, physicalIntid: HostGIC.rtcSPI, levelFromPhysical: true)
        } catch {
            panic("mapping the UART and RTC SPIs failed")
        }
        vgic = g
        HostGIC.enableSPI(HostGIC.uartSPI)
        HostGIC.enableSPI(HostGIC.rtcSPI)

        var slots: [VCPUSlot] = []
        for v in 0..<vcpus { slots.append(VCPUSlot(index: v)) }
        vcpuSlots = slots
        vcpuSlots[0].power.store(VCPUSlot.on, ordering: .releasing)
        vcpuSlots[0].entryPoint = entry
        vcpuSlots[0].contextID = deviceTree
    }

    /// Per-CPU EL2 state for running the guest on this CPU.
    static func configureCPU() {
        Stage2.enable()
        write_hcr_el2(hcr)
        write_vpidr_el2(read_midr())
        let m = read_mpidr()
        write_vmpidr_el2(1 << 31 | (m & 0xFF_FFFF) | (m & 0xFF_0000_0000))
        write_cntvoff_el2(0)
        write_cnthctl_el2(0b11)  // EL1PCTEN, EL1PCEN: the guest has the physical counter and timer
        // The guest has every PMU counter (HPMN = PMCR_EL0.N).
        write_mdcr_el2((read_pmcr_el0() >> 11) & 0x1F)
        write_ich_hcr_el2(0)
        write_ich_vmcr_el2(0)
        hyp_isb()
    }
}

/// Where a vCPU is in its PSCI life.
final class VCPUSlot {
    static let off = 0
    static let onPending = 1
    static let on = 2

    let index: Int
    let context: UnsafeMutablePointer<hyp_vcpu_context>
    let power = Atomic<Int>(VCPUSlot.off)
    /// Set by the vGIC (and PSCI) when this vCPU must look at its state.
    let kicked = Atomic<Bool>(false)
    /// Between the stop-the-world check and the exit from the guest.
    let inGuest = Atomic<Bool>(false)
    /// Serialises CPU_ON requests for this vCPU.
    let psciLock = SpinLock()
    /// Exit counts, for the report at power-off.
    nonisolated(unsafe) var stats = ExitStats()
    /// CPU_ON arguments, valid while `power` is `onPending`.
    nonisolated(unsafe) var entryPoint: UInt64 = 0
    nonisolated(unsafe) var contextID: UInt64 = 0

    init(index: Int) {
        self.index = index
        context = hyp_alloc_pages(4096)!.bindMemory(to: hyp_vcpu_context.self, capacity: 1)
    }
}

nonisolated(unsafe) var vcpuSlots: [VCPUSlot] = []

struct ExitStats {
    var mmio = 0
    var systemRegister = 0
    var hvc = 0
    var wfi = 0
    var irq = 0
    var timerIRQs = 0
    var spis = 0
    var kicks = 0
    var maintenance = 0
    var spurious = 0
    var injected = 0
}

/// One line per vCPU: how often it left the guest, and why.
func reportExitStats() {
    for slot in vcpuSlots {
        let st = slot.stats
        log {
            $0.s("hyp: vCPU ")
            $0.dec(slot.index)
            $0.s(" exits: mmio ")
            $0.dec(st.mmio)
            $0.s(", sysreg ")
            $0.dec(st.systemRegister)
            $0.s(", hvc ")
            $0.dec(st.hvc)
            $0.s(", wfi ")
            $0.dec(st.wfi)
            $0.s(", irq ")
            $0.dec(st.irq)
            $0.s(" (timer ")
            $0.dec(st.timerIRQs)
            $0.s(", uart ")
            $0.dec(st.spis)
            $0.s(", kick ")
            $0.dec(st.kicks)
            $0.s(", maintenance ")
            $0.dec(st.maintenance)
            $0.s(", none ")
            $0.dec(st.spurious)
            $0.s("), injected exceptions ")
            $0.dec(st.injected)
        }
    }
}
