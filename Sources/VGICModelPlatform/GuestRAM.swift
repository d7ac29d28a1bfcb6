import GICArchitecture

/// A guest's RAM for the hosted vGIC: `size` bytes at guest physical
/// `base`, zeroed at creation. The vGIC reads and writes it through
/// `ModelPlatform` (the ITS command queue, the device, collection and ITT
/// tables, the LPI configuration and pending tables); tests and the
/// scenario runner play the guest with `load`/`store`. Every access is
/// bounds-checked: one that is not wholly inside fails and changes nothing.
///
/// Safe from several threads: one lock, which comes after the vGIC's in the
/// lock order (docs/locking.md) and is held only inside these methods.
public final class GuestRAM: @unchecked Sendable {
    public let base: UInt64
    public let size: UInt64
    private let lock = SpinLock()
    @exclusivity(unchecked) private var bytes: [UInt8]
    /// Accesses that fell outside (for fuzzers: the vGIC must never make
    /// one it did not check).
    @exclusivity(unchecked) public private(set) var refusedAccesses = 0

    public init(base: UInt64, size: Int) {
        self.base = base
        self.size = UInt64(max(size, 0))
        bytes = [UInt8](repeating: 0, count: max(size, 0))
    }

    /// The offset of `[address, address + count)` in the RAM, or nil.
    @inline(__always)
    private func offset(_ address: UInt64, _ count: Int) -> Int? {
        guard address >= base, count >= 0 else { return nil }
        let o = address - base
        guard o <= size, UInt64(count) <= size - o else { return nil }
        return Int(o)
    }

    public func read(_ address: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let o = offset(address, buffer.count) else {
            refusedAccesses += 1
            return false
        }
        for k in 0..<buffer.count { buffer[k] = bytes[o + k] }
        return true
    }

    public func write(_ address: UInt64, from buffer: UnsafeRawBufferPointer) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let o = offset(address, buffer.count) else {
            refusedAccesses += 1
            return false
        }
        for k in 0..<buffer.count { bytes[o + k] = buffer[k] }
        return true
    }

    /// A little-endian value of `width` bytes (1, 2, 4 or 8), or nil outside.
    public func load(_ address: UInt64, width: Int = 8) -> UInt64? {
        var v: UInt64 = 0
        let ok = withUnsafeMutableBytes(of: &v) { read(address, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<width])) }
        return ok ? UInt64(littleEndian: v) : nil
    }

    /// Stores the low `width` bytes of `value`, little-endian; false outside.
    @discardableResult
    public func store(_ address: UInt64, _ value: UInt64, width: Int = 8) -> Bool {
        var v = value.littleEndian
        return withUnsafeBytes(of: &v) { write(address, from: UnsafeRawBufferPointer(rebasing: $0[0..<width])) }
    }

    /// A copy of every byte (for save/restore checks).
    public var contents: [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return bytes
    }

    /// Replaces every byte (a migrated guest's RAM); false when the size differs.
    @discardableResult
    public func replaceContents(_ new: [UInt8]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard new.count == bytes.count else { return false }
        bytes = new
        return true
    }
}
