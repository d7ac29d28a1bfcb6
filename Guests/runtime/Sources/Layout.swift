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

/// QEMU virt's PL031 real-time clock (SPI 2: INTID 34), which the
/// hypervisor passes through.
let rtc: UInt = 0x0901_0000

/// PL031 register offsets.
enum PL031 {
    static let dr: UInt = 0x00
    static let mr: UInt = 0x04
    static let imsc: UInt = 0x10
    static let ris: UInt = 0x14
    static let mis: UInt = 0x18
    static let icr: UInt = 0x1C
}

/// QEMU virt's PL011 UART (SPI 1: INTID 33), the console, which the
/// hypervisor passes through.
let uart: UInt = 0x0900_0000

/// PL011 register offsets and the transmit interrupt's bit (UARTRIS,
/// UARTMIS, UARTIMSC, UARTICR): a write to UARTDR completes at once and
/// raises it.
enum PL011 {
    static let dr: UInt = 0x000
    static let imsc: UInt = 0x038
    static let ris: UInt = 0x03C
    static let mis: UInt = 0x040
    static let icr: UInt = 0x044
    static let tx: UInt32 = 1 << 5
}
