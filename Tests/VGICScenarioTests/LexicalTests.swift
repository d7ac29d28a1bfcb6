import Testing
@testable import VGICScenario

@Suite("numbers and lines")
struct LexicalTests {
    @Test(arguments: [
        ("0", 0), ("42", 42), ("0x0", 0), ("0x2a", 42), ("0x2A", 42), ("1_000", 1000),
        ("0x0000_0001_0000_0100", 0x1_0000_0100), ("0xffff_ffff_ffff_ffff", UInt64.max),
        ("18446744073709551615", UInt64.max), ("007", 7),
    ] as [(String, UInt64)])
    func numbers(_ text: String, _ value: UInt64) {
        #expect(Number.parse(text) == value)
    }

    @Test(arguments: [
        "", "0x", "x1", "0X10", "-1", "+1", "12a", "0xg", "_1", "1_", "1__0", "0x_1", "0x1_",
        "18446744073709551616", "0x1_0000_0000_0000_0000", "1.0", "0b1", "１",
    ])
    func notNumbers(_ text: String) {
        #expect(Number.parse(text) == nil)
    }

    @Test func tokensAndComments() {
        let line = SourceLine(number: 3, raw: "  cpu\t0  write gicd 0x0 1#comment w=8\r")
        #expect(line.tokens == ["cpu", "0", "write", "gicd", "0x0", "1"])
        #expect(line.text == "cpu 0 write gicd 0x0 1")
        #expect(SourceLine(number: 1, raw: "# all comment").tokens.isEmpty)
        #expect(SourceLine(number: 1, raw: " \t ").tokens.isEmpty)
    }

    @Test func expectations() {
        #expect(Expectation.any.holds(for: 12345))
        #expect(Expectation.value(32, mask: nil).holds(for: 32))
        #expect(!Expectation.value(32, mask: nil).holds(for: 33))
        #expect(Expectation.value(0x10, mask: 0xf0).holds(for: 0x1f))
        #expect(!Expectation.value(0x10, mask: 0xf0).holds(for: 0x2f))
        #expect(Expectation.value(0x20, mask: nil).description == "0x20")
        #expect(Expectation.value(0x10, mask: 0xf0).description == "0x10 (mask 0xf0)")
    }
}
