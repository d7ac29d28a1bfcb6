/// A fixed number of elements allocated once, when the vGIC is built, and
/// freed with it: the storage of the vGIC's per-interrupt and per-vCPU
/// state. Unlike an `Array` stored in a class, an element written through it
/// costs no uniqueness check (copy-on-write) and no copy of its neighbours,
/// and reading one field of an element reads that field alone. Indices are
/// still checked: an index out of range stops the program rather than
/// corrupting memory.
///
/// A value of this type is a reference to its storage (copies share it);
/// only the `VGIC` that allocated it frees it, in its `deinit`.
struct FixedStorage<Element>: RandomAccessCollection {
    let base: UnsafeMutablePointer<Element>
    let count: Int

    init(repeating value: Element, count: Int) {
        self.count = count
        base = UnsafeMutablePointer<Element>.allocate(capacity: Swift.max(count, 1))
        base.initialize(repeating: value, count: count)
    }

    /// Give the memory back (the owner's deinit).
    func free() {
        base.deinitialize(count: count)
        base.deallocate()
    }

    var startIndex: Int { 0 }
    var endIndex: Int { count }

    subscript(i: Int) -> Element {
        @inline(__always) unsafeAddress {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "vGIC storage index out of range")
            return UnsafePointer(base + i)
        }
        @inline(__always) nonmutating unsafeMutableAddress {
            precondition(UInt(bitPattern: i) < UInt(bitPattern: count), "vGIC storage index out of range")
            return base + i
        }
    }
}
