#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fuzz input as a stream of little-endian numbers; zeros once exhausted.
struct FuzzInput {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    }

    var exhausted: Bool { at >= bytes.count }

    mutating func u8() -> UInt8 {
        defer { at += 1 }
        return at < bytes.count ? bytes[at] : 0
    }

    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> UInt32 { UInt32(u16()) | UInt32(u16()) << 16 }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }

    /// A number below `n` (n > 0).
    mutating func below(_ n: Int) -> Int { Int(u8()) % n }
    mutating func bool() -> Bool { u8() & 1 != 0 }
}

/// Whether the environment variable is set (VGIC_FUZZ_PRINT: print the
/// decoded scenario of each input run).
func environmentFlag(_ name: String) -> Bool { getenv(name) != nil }

/// Report a finding and stop: libFuzzer saves the input as a crash.
func finding(_ message: String) -> Never {
    let text = Array("\n==vgic-fuzz== FINDING: \(message)\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}
