import HypSupport
import Synchronization

/// Stage-2 translation for the guest: 4 KiB granule, 32-bit IPA space walked
/// from level 1 (4 entries of 1 GiB), 2 MiB blocks where a range allows,
/// 4 KiB pages elsewhere. What is not mapped faults to EL2: the GIC frames
/// the vGIC emulates, and everything the guest was not given.
enum Stage2 {
    enum Memory {
        /// Normal, write-back, inner shareable, executable.
        case normal
        /// Device-nGnRE, execute-never.
        case device
    }

    nonisolated(unsafe) static var root: UnsafeMutablePointer<UInt64>? = nil

    static let valid: UInt64 = 1 << 0
    static let tableOrPage: UInt64 = 1 << 1
    static let accessFlag: UInt64 = 1 << 10
    static let readWrite: UInt64 = 3 << 6
    static let innerShareable: UInt64 = 3 << 8
    static let executeNever: UInt64 = 2 << 53
    static let addressMask: UInt64 = 0x0000_FFFF_FFFF_F000

    static func attributes(_ m: Memory) -> UInt64 {
        switch m {
        case .normal: return (0b1111 << 2) | readWrite | innerShareable | accessFlag
        case .device: return (0b0001 << 2) | readWrite | accessFlag | executeNever
        }
    }

    static func newTable() -> UnsafeMutablePointer<UInt64> {
        hyp_alloc_pages(4096)!.bindMemory(to: UInt64.self, capacity: 512)
    }

    /// The next-level table under entry `i` of `table`, created if absent.
    static func nextLevel(_ table: UnsafeMutablePointer<UInt64>, _ i: Int) -> UnsafeMutablePointer<UInt64> {
        let e = table[i]
        if e & valid != 0 {
            if e & tableOrPage == 0 { panic("stage 2: mapping over an existing block") }
            return UnsafeMutablePointer<UInt64>(bitPattern: UInt(e & addressMask))!
        }
        let t = newTable()
        table[i] = UInt64(UInt(bitPattern: t)) | valid | tableOrPage
        return t
    }

    /// Identity-map `[ipa, ipa + size)` (4 KiB aligned, below 4 GiB).
    static func identityMap(_ ipa: UInt64, size: UInt64, _ memory: Memory) {
        if root == nil { root = newTable() }
        let attrs = attributes(memory)
        var a = ipa
        let end = ipa + size
        while a < end {
            let l1 = root!
            let l2 = nextLevel(l1, Int(a >> 30) & 3)
            let i2 = Int(a >> 21) & 511
            if a & 0x1F_FFFF == 0 && end - a >= 0x20_0000 {
                l2[i2] = a | attrs | valid
                a += 0x20_0000
            } else {
                let l3 = nextLevel(l2, i2)
                l3[Int(a >> 12) & 511] = a | attrs | valid | tableOrPage
                a += 0x1000
            }
        }
    }

    /// VTCR_EL2: T0SZ 32 (4 GiB IPA), SL0 1 (start at level 1), write-back
    /// walks, inner shareable, 4 KiB granule, PS 40 bits, RES1 bit 31.
    static let vtcr: UInt64 = 32 | 1 << 6 | 1 << 8 | 1 << 10 | 3 << 12 | 2 << 16 | 1 << 31

    /// Install the tables on this CPU (VMID 0).
    static func enable() {
        write_vtcr_el2(vtcr)
        write_vttbr_el2(UInt64(UInt(bitPattern: root!)))
        hyp_isb()
        hyp_tlbi_vmalls12e1is()
    }
}
