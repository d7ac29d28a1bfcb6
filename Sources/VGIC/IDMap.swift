/// A map from 64-bit keys to 32-bit values with a fixed capacity, for the
/// ITS and LPI tables (DeviceID -> device, (DeviceID, EventID) -> ITE,
/// ICID -> vCPU, LPI INTID -> slot).
///
/// Open addressing with linear probing in a power-of-two table at most half
/// full, so a lookup is O(1) on average and no operation allocates after
/// `init`. Deletion shifts the following entries back (no tombstones), so
/// the table never degrades however many mappings come and go.
struct IDMap {
    private static let empty = UInt64.max

    private var keys: [UInt64]
    private var values: [Int32]
    private let mask: Int
    /// Entries the map accepts (`insert` refuses more).
    let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 0)
        var size = 4
        while size < self.capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: IDMap.empty, count: size)
        values = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        // Fibonacci hashing: consecutive IDs spread over the table.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The value for `key`, or -1.
    @inline(__always)
    func find(_ key: UInt64) -> Int32 {
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == IDMap.empty { return -1 }
            i = (i + 1) & mask
        }
    }

    /// Adds or replaces `key`. False when the key is new and the map is full.
    @discardableResult
    mutating func insert(_ key: UInt64, _ value: Int32) -> Bool {
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key {
                values[i] = value
                return true
            }
            if k == IDMap.empty {
                guard count < capacity else { return false }
                keys[i] = key
                values[i] = value
                count += 1
                return true
            }
            i = (i + 1) & mask
        }
    }

    /// Removes `key`; false when it was not there.
    @discardableResult
    mutating func remove(_ key: UInt64) -> Bool {
        var i = home(key)
        while keys[i] != key {
            if keys[i] == IDMap.empty { return false }
            i = (i + 1) & mask
        }
        // Backward-shift deletion: move each following entry of the run into
        // the hole when its home position allows it.
        var hole = i
        var j = (i + 1) & mask
        while keys[j] != IDMap.empty {
            let h = home(keys[j])
            // Does the entry at j live (cyclically) in (hole, j]? Then it stays.
            let stays = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j)
            if !stays {
                keys[hole] = keys[j]
                values[hole] = values[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        keys[hole] = IDMap.empty
        values[hole] = -1
        count -= 1
        return true
    }

    mutating func removeAll() {
        guard count > 0 else { return }
        for i in 0..<keys.count {
            keys[i] = IDMap.empty
            values[i] = -1
        }
        count = 0
    }

    /// Every (key, value), in table order (for save, snapshot and checks).
    func forEach(_ body: (UInt64, Int32) -> Void) {
        for i in 0..<keys.count where keys[i] != IDMap.empty { body(keys[i], values[i]) }
    }
}

/// A stack of free slot indices for a fixed pool (no allocation after init).
struct FreeList {
    private var stack: [Int32]
    private(set) var count: Int

    init(capacity: Int) {
        // Lowest index on top: slots are handed out in ascending order.
        stack = [Int32](repeating: 0, count: max(capacity, 0))
        for k in 0..<stack.count { stack[k] = Int32(stack.count - 1 - k) }
        count = stack.count
    }

    mutating func take() -> Int32 {
        guard count > 0 else { return -1 }
        count -= 1
        return stack[count]
    }

    mutating func give(_ slot: Int32) {
        stack[count] = slot
        count += 1
    }

    /// Every slot free again, in the order of a new list.
    mutating func reset() {
        for k in 0..<stack.count { stack[k] = Int32(stack.count - 1 - k) }
        count = stack.count
    }
}
