import GICArchitecture

/// The `key=value` options and the `-> VALUE|any` of a statement, in any order
/// after its fixed words.
struct Options {
    /// Each key given, with its whole `key=value` token (to name it in errors).
    var tokens: [String: Substring] = [:]
    /// The token after `->`, when the statement has one.
    var arrowValue: Substring?

    func value(_ key: String) -> Substring? {
        guard let t = tokens[key], let eq = t.firstIndex(of: "=") else { return nil }
        return t[t.index(after: eq)...]
    }
}

/// Walks the tokens of one line; each reader throws a `ParseError` naming the
/// token it could not take.
struct Cursor {
    let line: SourceLine
    private var tokens: [Substring]
    private var index = 0

    init(_ line: SourceLine) {
        self.line = line
        tokens = line.tokens
    }

    func error(at token: Substring?, _ expected: String) -> ParseError {
        ParseError(line: line.number, token: token.map(String.init), expected: expected)
    }

    /// Takes a leading `!`, written alone or glued to the keyword (`!line`).
    mutating func takeBang() -> Substring? {
        guard let first = tokens.first, first.hasPrefix("!") else { return nil }
        if first == "!" {
            index = 1
        } else {
            tokens[0] = first.dropFirst()
        }
        return "!"
    }

    mutating func next(expecting expected: String) throws(ParseError) -> Substring {
        guard index < tokens.count else { throw error(at: nil, expected) }
        defer { index += 1 }
        return tokens[index]
    }

    func end() throws(ParseError) {
        if index < tokens.count { throw error(at: tokens[index], "end of line") }
    }

    mutating func word(_ w: String) throws(ParseError) {
        let t = try next(expecting: "'\(w)'")
        guard t == w else { throw error(at: t, "'\(w)'") }
    }

    /// `0` or `1`.
    mutating func bit() throws(ParseError) -> Bool {
        let t = try next(expecting: "0 or 1")
        switch t {
        case "0": return false
        case "1": return true
        default: throw error(at: t, "0 or 1")
        }
    }

    /// A virtual INTID for the vGIC's API: any 32-bit number (the API refuses
    /// the ones that do not exist).
    mutating func intid() throws(ParseError) -> UInt32 {
        let t = try next(expecting: "an INTID")
        guard let v = Number.parse(t), v <= UInt32.max else { throw error(at: t, "an INTID") }
        return UInt32(v)
    }

    /// A physical INTID of the hardware model, which implements every INTID
    /// below 1020; only PPIs and SPIs have an input line.
    mutating func physicalIntid(allowSGI: Bool) throws(ParseError) -> (UInt32, Substring) {
        let what = allowSGI ? "a physical INTID below 1020" : "a physical PPI or SPI (16..1019)"
        let t = try next(expecting: what)
        guard let v = Number.parse(t), v < UInt64(INTID.spiLimit), allowSGI || v >= UInt64(INTID.sgiCount) else {
            throw error(at: t, what)
        }
        return (UInt32(v), t)
    }

    /// The `cpu=M` of `phys` statements: the physical CPU of a PPI (0 unless
    /// given); physical SPIs have one state for the whole GIC and refuse it.
    func physicalCPU(_ o: Options, intid: UInt32, intidToken: Substring, _ m: Machine) throws(ParseError) -> Int {
        guard let t = o.tokens["cpu"] else { return 0 }
        guard INTID.isPrivate(intid) else {
            throw error(at: t, "no cpu= for physical SPI \(intid) (an SPI has one state for the whole GIC)")
        }
        guard let v = Number.parse(o.value("cpu")!), v < UInt64(m.vcpus) else {
            throw error(at: t, "cpu=M, a physical CPU 0..\(m.vcpus - 1)")
        }
        return Int(v)
    }

    /// The N of `cpu N ...` and `expect cpu N`: a vCPU of the machine.
    mutating func guestCPU(_ m: Machine) throws(ParseError) -> Int {
        let what = "a vCPU number 0..\(m.vcpus - 1)"
        let t = try next(expecting: what)
        guard let v = Number.parse(t), v < UInt64(m.vcpus) else { throw error(at: t, what) }
        return Int(v)
    }

    /// `gicd`, `gicr:M` (GICv3) or `gicc` (GICv2); `its` with `its=1`.
    mutating func region(_ m: Machine) throws(ParseError) -> Region {
        let what = m.version == .v3 ? "a region gicd or gicr:M (gic=v3)\(m.its ? " or its" : "")"
            : "a region gicd or gicc (gic=v2)"
        let t = try next(expecting: what)
        switch t {
        case "gicd": return .gicd
        case "gicc" where m.version == .v2: return .gicc
        case "its" where m.its: return .its
        default:
            guard m.version == .v3, t.hasPrefix("gicr:") else { throw error(at: t, what) }
            guard let v = Number.parse(t.dropFirst(5)), v < UInt64(m.vcpus) else {
                throw error(at: t, "gicr:M with M a vCPU 0..\(m.vcpus - 1)")
            }
            return .gicr(Int(v))
        }
    }

    /// An offset whose whole access lies inside the region's frames.
    func offset(_ t: Substring, region: Region, width: AccessWidth, _ m: Machine) throws(ParseError) -> UInt32 {
        let size = m.size(of: region)!
        guard let v = Number.parse(t), v <= UInt64(size - width.bytes) else {
            throw error(at: t, "an offset inside \(region) (below \(hex(UInt64(size))) for a \(width.rawValue)-bit access)")
        }
        return UInt32(v)
    }

    /// A value that a `width`-bit access can carry.
    func value(_ t: Substring, width: AccessWidth) throws(ParseError) -> UInt64 {
        guard let v = Number.parse(t) else { throw error(at: t, "a number (decimal or 0x hex)") }
        guard v & ~width.valueMask == 0 else { throw error(at: t, "a value that fits \(width.rawValue) bits") }
        return v
    }

    /// The rest of the line: options among `keys` (each at most once, in any
    /// order) and, where `arrow`, a `-> VALUE|any` (required) with `mask=M`.
    mutating func options(_ keys: [String], arrow: Bool = false, arrowOptional: Bool = false) throws(ParseError)
        -> Options {
        var o = Options()
        let allowed = arrow ? keys + ["mask"] : keys
        let what = (allowed.map { "\($0)=" } + (arrow ? ["'->'"] : [])).joined(separator: ", ")
        let unexpected = what.isEmpty ? "end of line" : "end of line or \(what)"
        while index < tokens.count {
            let t = tokens[index]
            index += 1
            if t == "->" {
                guard arrow, o.arrowValue == nil else {
                    throw error(at: t, arrow ? "a single '->'" : unexpected)
                }
                o.arrowValue = try next(expecting: "a value or 'any' after '->'")
                continue
            }
            guard let eq = t.firstIndex(of: "="), allowed.contains(String(t[..<eq])) else {
                throw error(at: t, unexpected)
            }
            let key = String(t[..<eq])
            guard o.tokens[key] == nil else { throw error(at: t, "each option once (\(key)= is repeated)") }
            o.tokens[key] = t
        }
        if arrow, !arrowOptional, o.arrowValue == nil { throw error(at: nil, "'-> VALUE|any'") }
        return o
    }

    /// An integer option within `range`, or nil when absent.
    func integer(_ o: Options, _ key: String, in range: ClosedRange<Int>, _ what: String) throws(ParseError) -> Int? {
        guard let t = o.tokens[key] else { return nil }
        guard let v = Number.parse(o.value(key)!), v <= UInt64(range.upperBound), Int(v) >= range.lowerBound else {
            throw error(at: t, what)
        }
        return Int(v)
    }

    /// `w=`, 32 unless given.
    func width(_ o: Options, allowed: [AccessWidth]) throws(ParseError) -> AccessWidth {
        guard let t = o.tokens["w"] else { return .bits32 }
        guard let v = Number.parse(o.value("w")!), let w = AccessWidth(rawValue: Int(truncatingIfNeeded: v)),
              UInt64(w.rawValue) == v, allowed.contains(w) else {
            throw error(at: t, "w=" + allowed.map { String($0.rawValue) }.joined(separator: "|"))
        }
        return w
    }

    /// `cpu=N` of a VMM statement: any 32-bit vCPU number (the vGIC's API
    /// refuses the ones that do not exist).
    func vcpuOption(_ o: Options) throws(ParseError) -> Int? {
        guard let t = o.tokens["cpu"] else { return nil }
        guard let v = Number.parse(o.value("cpu")!), v <= UInt32.max else { throw error(at: t, "cpu=N, a vCPU number") }
        return Int(v)
    }

    /// `-> VALUE [mask=M]` or `-> any`; VALUE must fit the access and lie
    /// inside the mask, or the expectation could never hold.
    func expectation(_ o: Options, width: AccessWidth) throws(ParseError) -> Expectation {
        let t = o.arrowValue!
        let maskToken = o.tokens["mask"]
        if t == "any" {
            if let maskToken { throw error(at: maskToken, "no mask= with '-> any'") }
            return .any
        }
        guard let v = Number.parse(t) else { throw error(at: t, "a value or 'any' after '->'") }
        guard v & ~width.valueMask == 0 else { throw error(at: t, "a value that fits \(width.rawValue) bits") }
        guard let maskToken else { return .value(v, mask: nil) }
        guard let mask = Number.parse(o.value("mask")!) else { throw error(at: maskToken, "mask=M, a number") }
        guard v & ~mask == 0 else { throw error(at: t, "a value within mask=\(hex(mask))") }
        return .value(v, mask: mask)
    }
}
