/// A script line split into tokens: `#` starts a comment, tokens are separated
/// by blanks (spaces or tabs).
struct SourceLine {
    let number: Int
    /// The line without comment and outer blanks.
    let text: String
    let tokens: [Substring]

    init(number: Int, raw: Substring) {
        self.number = number
        let code = raw.firstIndex(of: "#").map { raw[..<$0] } ?? raw
        tokens = code.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
        text = tokens.joined(separator: " ")
    }
}

/// Script numbers: decimal or `0x` hex, `_` between digits, at most 64 bits.
enum Number {
    static func parse<S: StringProtocol>(_ s: S) -> UInt64? {
        var digits = Substring(s)
        var radix: UInt64 = 10
        if digits.hasPrefix("0x") {
            radix = 16
            digits = digits.dropFirst(2)
        }
        guard let first = digits.first, let last = digits.last, first != "_", last != "_" else {
            return nil
        }
        var value: UInt64 = 0
        var previousWasSeparator = false
        for c in digits {
            if c == "_" {
                if previousWasSeparator { return nil }
                previousWasSeparator = true
                continue
            }
            previousWasSeparator = false
            guard c.isASCII, let d = c.hexDigitValue, UInt64(d) < radix else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: radix)
            let (sum, o2) = shifted.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }
}
