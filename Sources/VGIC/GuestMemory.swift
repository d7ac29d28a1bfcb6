import GICArchitecture

// Guest memory through the platform (docs/its.md): little-endian values of
// the tables the ITS and the redistributors keep in guest RAM. Every access
// is bounds-checked by the platform; nil or false means the address is not
// guest RAM (or wraps around), and the caller does what the architecture
// allows for a table it cannot reach.

extension VGIC {
    @inline(__always)
    func readGuest8(_ address: UInt64) -> UInt8? {
        var b: UInt8 = 0
        let ok = withUnsafeMutableBytes(of: &b) { platform.readGuestMemory(address, into: $0) }
        return ok ? b : nil
    }

    @inline(__always)
    func writeGuest8(_ address: UInt64, _ value: UInt8) -> Bool {
        var b = value
        return withUnsafeBytes(of: &b) { platform.writeGuestMemory(address, from: $0) }
    }

    @inline(__always)
    func readGuest64(_ address: UInt64) -> UInt64? {
        guard address <= UInt64.max - 7 else { return nil }
        var v: UInt64 = 0
        let ok = withUnsafeMutableBytes(of: &v) { platform.readGuestMemory(address, into: $0) }
        return ok ? UInt64(littleEndian: v) : nil
    }

    @inline(__always)
    func writeGuest64(_ address: UInt64, _ value: UInt64) -> Bool {
        guard address <= UInt64.max - 7 else { return false }
        var v = value.littleEndian
        return withUnsafeBytes(of: &v) { platform.writeGuestMemory(address, from: $0) }
    }

    /// One 32-byte ITS command at `address`, or nil.
    func readGuestCommand(_ address: UInt64) -> ITSCommand? {
        guard address <= UInt64.max - 31 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &words) { platform.readGuestMemory(address, into: $0) }
        guard ok else { return nil }
        return ITSCommand(dw0: UInt64(littleEndian: words.0), dw1: UInt64(littleEndian: words.1),
                          dw2: UInt64(littleEndian: words.2), dw3: UInt64(littleEndian: words.3))
    }
}
