import HypSupport

/// The guest's device tree, derived from the one QEMU gives the hypervisor
/// (at the base of RAM): the same machine as the guest sees it.
///
/// Copied token by token (flattened device tree v17) with these edits:
///   - `/psci`: `method = "hvc"` (the guest calls the hypervisor, not firmware)
///   - `/memory@40000000`: `reg` = the guest's RAM
///   - the GIC node: no `interrupts` (the maintenance interrupt is the
///     hypervisor's), no ITS child
///   - no devices the guest is not given: PCIe, the platform bus, flash,
///     virtio-mmio, GPIO and its keys, fw-cfg
/// Everything else stays: the CPUs, the timer, the UART, the RTC, the PMU, `/chosen`
/// (with `bootargs` when QEMU had `-append`). With an initial RAM disk,
/// `/chosen` gains `linux,initrd-start` and `linux,initrd-end`. Strings and
/// the reservation map are copied as they are (the two new names appended);
/// the edits never grow a property.
enum DeviceTree {
    static let magic: UInt32 = 0xD00D_FEED
    static let beginNode: UInt32 = 1
    static let endNode: UInt32 = 2
    static let property: UInt32 = 3
    static let nop: UInt32 = 4
    static let end: UInt32 = 9

    static let droppedNodes: [StaticString] = [
        "pcie@", "platform-bus@", "flash@", "virtio_mmio@", "pl061@", "gpio-keys", "fw-cfg@", "its@",
    ]

    static let initrdStartName: StaticString = "linux,initrd-start"
    static let initrdEndName: StaticString = "linux,initrd-end"

    @inline(__always) static func be32(_ p: UnsafeRawPointer, _ off: Int) -> UInt32 {
        UInt32(bigEndian: p.loadUnaligned(fromByteOffset: off, as: UInt32.self))
    }
    @inline(__always) static func put32(_ p: UnsafeMutableRawPointer, _ off: Int, _ v: UInt32) {
        p.storeBytes(of: v.bigEndian, toByteOffset: off, as: UInt32.self)
    }

    /// Does the NUL-terminated string at `s` start with `prefix`?
    static func hasPrefix(_ s: UnsafeRawPointer, _ prefix: StaticString) -> Bool {
        var ok = true
        prefix.withUTF8Buffer { buf in
            for (i, b) in buf.enumerated() where s.load(fromByteOffset: i, as: UInt8.self) != b {
                ok = false
                break
            }
        }
        return ok
    }

    /// Is the NUL-terminated string at `s` exactly `text`?
    static func equals(_ s: UnsafeRawPointer, _ text: StaticString) -> Bool {
        hasPrefix(s, text) && s.load(fromByteOffset: text.utf8CodeUnitCount, as: UInt8.self) == 0
    }

    static func stringLength(_ s: UnsafeRawPointer) -> Int {
        var n = 0
        while s.load(fromByteOffset: n, as: UInt8.self) != 0 { n += 1 }
        return n
    }

    /// Build the guest's tree at `output` from QEMU's at `input`. Returns
    /// false (and writes nothing useful) if `input` is not a device tree.
    static func derive(from input: UInt64, to output: UInt64, memoryBase: UInt64, memorySize: UInt64,
                       initrd: (start: UInt64, end: UInt64)? = nil) -> Bool {
        guard let src = UnsafeRawPointer(bitPattern: UInt(input)),
              let dst = UnsafeMutableRawPointer(bitPattern: UInt(output)) else { return false }
        guard be32(src, 0) == magic, be32(src, 20) >= 16 else { return false }
        let total = Int(be32(src, 4))
        let structOff = Int(be32(src, 8)), stringsOff = Int(be32(src, 12)), rsvOff = Int(be32(src, 16))
        let stringsSize = Int(be32(src, 32)), structSize = Int(be32(src, 36))
        guard total <= 0x10_0000, structOff + structSize <= total, stringsOff + stringsSize <= total,
              rsvOff < structOff else { return false }

        // Header, then the reservation map, the structure block, the strings.
        let headerSize = 40
        let rsvSize = structOff - rsvOff
        var o = headerSize
        memcpy(dst + o, src + rsvOff, rsvSize)
        let newRsv = o
        o += rsvSize
        let newStruct = o

        var depth = 0
        var skipDepth = -1  // inside a dropped node: its depth
        var node1 = 0  // the open child of the root: 1 psci, 2 memory, 3 GIC, 0 other
        var i = structOff
        let limit = structOff + structSize
        while i < limit {
            let token = be32(src, i)
            switch token {
            case beginNode:
                let name = src + i + 4
                let len = stringLength(name)
                let size = 4 + ((len + 1 + 3) & ~3)
                depth += 1
                if skipDepth < 0 {
                    var drop = false
                    for p in droppedNodes where hasPrefix(name, p) { drop = true }
                    if drop {
                        skipDepth = depth
                    } else {
                        if depth == 2 {
                            node1 = equals(name, "psci") ? 1 : hasPrefix(name, "memory@") ? 2
                                : hasPrefix(name, "intc@") ? 3 : equals(name, "chosen") ? 4 : 0
                        }
                        memcpy(dst + o, src + i, size)
                        o += size
                    }
                }
                i += size
            case endNode:
                if skipDepth < 0 && depth == 2 && node1 == 4, let rd = initrd {
                    // linux,initrd-start and -end: u64 each, names after the copied strings.
                    for (k, value) in [rd.start, rd.end].enumerated() {
                        put32(dst, o, property)
                        put32(dst, o + 4, 8)
                        put32(dst, o + 8, UInt32(stringsSize + (k == 0 ? 0 : initrdStartName.utf8CodeUnitCount + 1)))
                        put32(dst, o + 12, UInt32(value >> 32))
                        put32(dst, o + 16, UInt32(truncatingIfNeeded: value))
                        o += 20
                    }
                }
                if skipDepth < 0 {
                    put32(dst, o, endNode)
                    o += 4
                }
                if depth == skipDepth { skipDepth = -1 }
                depth -= 1
                i += 4
            case property:
                let len = Int(be32(src, i + 4))
                let nameOff = Int(be32(src, i + 8))
                let size = 12 + ((len + 3) & ~3)
                let name = src + stringsOff + nameOff
                if skipDepth < 0 {
                    let dropProperty = depth == 2 && node1 == 3 && equals(name, "interrupts")
                    if !dropProperty {
                        memcpy(dst + o, src + i, size)
                        if depth == 2 && node1 == 1 && equals(name, "method") && len == 4 {
                            put32(dst, o + 12, 0x6876_6300)  // "hvc\0"
                        }
                        if depth == 2 && node1 == 2 && equals(name, "reg") && len == 16 {
                            put32(dst, o + 12, UInt32(memoryBase >> 32))
                            put32(dst, o + 16, UInt32(truncatingIfNeeded: memoryBase))
                            put32(dst, o + 20, UInt32(memorySize >> 32))
                            put32(dst, o + 24, UInt32(truncatingIfNeeded: memorySize))
                        }
                        o += size
                    }
                }
                i += size
            case nop:
                i += 4
            case end:
                put32(dst, o, end)
                o += 4
                i = limit
            default:
                return false
            }
        }
        let newStructSize = o - newStruct
        let newStrings = o
        memcpy(dst + o, src + stringsOff, stringsSize)
        o += stringsSize
        var newStringsSize = stringsSize
        if initrd != nil {
            for name in [initrdStartName, initrdEndName] {
                name.withUTF8Buffer { buf in
                    for (k, b) in buf.enumerated() { dst.storeBytes(of: b, toByteOffset: o + k, as: UInt8.self) }
                    dst.storeBytes(of: UInt8(0), toByteOffset: o + buf.count, as: UInt8.self)
                    o += buf.count + 1
                    newStringsSize += buf.count + 1
                }
            }
        }

        put32(dst, 0, magic)
        put32(dst, 4, UInt32(o))
        put32(dst, 8, UInt32(newStruct))
        put32(dst, 12, UInt32(newStrings))
        put32(dst, 16, UInt32(newRsv))
        put32(dst, 20, 17)
        put32(dst, 24, 16)
        put32(dst, 28, be32(src, 28))
        put32(dst, 32, UInt32(newStringsSize))
        put32(dst, 36, UInt32(newStructSize))
        hyp_clean_dcache_range(UInt(output), o)
        return true
    }
}
