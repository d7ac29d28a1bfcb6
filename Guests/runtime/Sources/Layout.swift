import GICArchitecture
import GuestSupport

// QEMU virt's GIC as every guest sees it, with or without the hypervisor:
// fixed addresses (no device tree needed), one redistributor frame per vCPU
// in vCPU order, vCPUs numbered Aff0 + 16 × Aff1.

let gicd: UInt = 0x0800_0000
let gicrFrames: UInt = 0x080A_0000

/// The RD_base frame of vCPU `cpu`'s redistributor.
@inline(__always) func rdBase(_ cpu: Int) -> UInt { gicrFrames + UInt(cpu) * UInt(GICR.frameSize) }
/// The SGI_base frame of vCPU `cpu`'s redistributor.
@inline(__always) func sgiBase(_ cpu: Int) -> UInt { rdBase(cpu) + UInt(GICR.sgiBase) }

@inline(__always) func rd32(_ a: UInt) -> UInt32 { mmio_read32(a) }
@inline(__always) func wr32(_ a: UInt, _ v: UInt32) { mmio_write32(a, v) }

/// This vCPU's index: Aff0 + 16 × Aff1.
@inline(__always) func thisCPU() -> Int {
    let m = read_mpidr()
    return Int(m & 0xFF) + 16 * Int((m >> 8) & 0xFF)
}

/// The MPIDR affinity of vCPU `i` (Aff0 = i % 16, Aff1 = i / 16).
@inline(__always) func mpidrOf(_ i: Int) -> UInt64 { UInt64(i % 16) | UInt64(i / 16) << 8 }
