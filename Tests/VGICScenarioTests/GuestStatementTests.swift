import GICArchitecture
import Testing
@testable import VGICScenario

@Suite("guest statements")
struct GuestStatementTests {
    @Test func writeDefaultsTo32Bits() throws {
        #expect(try action("cpu 0 write gicd 0x0 0x12") ==
            .write(cpu: 0, region: .gicd, offset: 0, value: 0x12, width: .bits32))
    }

    @Test func writeWidths() throws {
        #expect(try actions("""
            cpu 1 write gicd 0x420 0xa0 w=8
            cpu 1 write gicd 0x420 0xa0a0 w=16
            cpu 0 write gicd 0x6100 0x0000_0001_0000_0000 w=64
            cpu 0 write gicr:1 0x10100 0xffffffff w=32
            cpu 0 write gicd 0xfffc 1
            cpu 0 write gicr:1 0x1fff8 1 w=64
            """) == [
            .write(cpu: 1, region: .gicd, offset: 0x420, value: 0xa0, width: .bits8),
            .write(cpu: 1, region: .gicd, offset: 0x420, value: 0xa0a0, width: .bits16),
            .write(cpu: 0, region: .gicd, offset: 0x6100, value: 0x1_0000_0000, width: .bits64),
            .write(cpu: 0, region: .gicr(1), offset: 0x10100, value: 0xffff_ffff, width: .bits32),
            .write(cpu: 0, region: .gicd, offset: 0xfffc, value: 1, width: .bits32),
            .write(cpu: 0, region: .gicr(1), offset: 0x1fff8, value: 1, width: .bits64),
        ])
    }

    @Test func reads() throws {
        #expect(try actions("""
            cpu 0 read gicd 0x4 -> 0x5
            cpu 0 read gicd 0x4 -> any
            cpu 1 read gicr:0 0x8 w=64 -> 0x100 mask=0xffff_ff00
            cpu 1 read gicr:0 0x8 -> 0x10 mask=0xff w=64
            cpu 0 read gicd 0x400 -> 0xa0 w=8
            """) == [
            .read(cpu: 0, region: .gicd, offset: 4, width: .bits32, expect: .value(5, mask: nil)),
            .read(cpu: 0, region: .gicd, offset: 4, width: .bits32, expect: .any),
            .read(cpu: 1, region: .gicr(0), offset: 8, width: .bits64, expect: .value(0x100, mask: 0xffff_ff00)),
            .read(cpu: 1, region: .gicr(0), offset: 8, width: .bits64, expect: .value(0x10, mask: 0xff)),
            .read(cpu: 0, region: .gicd, offset: 0x400, width: .bits8, expect: .value(0xa0, mask: nil)),
        ])
    }

    @Test func systemRegisters() throws {
        #expect(try actions("""
            cpu 0 msr ICC_PMR_EL1 0xf0
            cpu 1 mrs ICC_IAR1_EL1 -> 1023
            cpu 0 mrs ICC_CTLR_EL1 -> 0 mask=0x2
            cpu 0 msr ICC_SGI1R_EL1 0x0000_0001_0000_0100
            cpu 0 mrs ICC_SRE_EL1 -> any
            """) == [
            .msr(cpu: 0, register: .pmr, value: 0xf0),
            .mrs(cpu: 1, register: .iar1, expect: .value(1023, mask: nil)),
            .mrs(cpu: 0, register: .ctlr, expect: .value(0, mask: 2)),
            .msr(cpu: 0, register: .sgi1r, value: 0x1_0000_0100),
            .mrs(cpu: 0, register: .sre, expect: .any),
        ])
    }

    /// Every name of docs/scenarios.md is known, each as readable and writable as
    /// the architecture makes it.
    @Test(arguments: CPUInterfaceRegister.allCases)
    func everyRegisterName(_ r: CPUInterfaceRegister) throws {
        let name = r.name.description
        if r.isWritable {
            #expect(try action("cpu 0 msr \(name) 1") == .msr(cpu: 0, register: r, value: 1))
        } else {
            check(Rejected("cpu 0 msr \(name) 1", token: name))
        }
        if r.isReadable {
            #expect(try action("cpu 0 mrs \(name) -> 1") == .mrs(cpu: 0, register: r, expect: .value(1, mask: nil)))
        } else {
            check(Rejected("cpu 0 mrs \(name) -> 1", token: name))
        }
    }

    @Test func readOnlyAndWriteOnlyRegisters() {
        let readOnly = CPUInterfaceRegister.allCases.filter { !$0.isWritable }
        let writeOnly = CPUInterfaceRegister.allCases.filter { !$0.isReadable }
        #expect(readOnly == [.iar0, .iar1, .hppir0, .hppir1, .rpr])
        #expect(writeOnly == [.eoir0, .eoir1, .dir, .sgi0r, .sgi1r, .asgi1r])
    }

    @Test func exitAndExpectIRQ() throws {
        #expect(try actions("cpu 1 exit\nexpect cpu 0 irq 1\nexpect cpu 1 irq 0") == [
            .exit(cpu: 1), .expectIRQ(cpu: 0, signalled: true), .expectIRQ(cpu: 1, signalled: false),
        ])
    }

    @Test func v2CPUInterfaceAndDistributor() throws {
        #expect(try actions("""
            cpu 0 write gicc 0x1000 0x20
            cpu 1 read gicc 0xc -> 1023
            cpu 1 read gicc 0x1ffc -> any
            cpu 0 write gicd 0xf00 0x0002_0001
            cpu 0 read gicd 0xffc -> any
            cpu 0 read gicd 0x800 w=8 -> 1
            """, header: v2) == [
            .write(cpu: 0, region: .gicc, offset: 0x1000, value: 0x20, width: .bits32),
            .read(cpu: 1, region: .gicc, offset: 0xc, width: .bits32, expect: .value(1023, mask: nil)),
            .read(cpu: 1, region: .gicc, offset: 0x1ffc, width: .bits32, expect: .any),
            .write(cpu: 0, region: .gicd, offset: 0xf00, value: 0x2_0001, width: .bits32),
            .read(cpu: 0, region: .gicd, offset: 0xffc, width: .bits32, expect: .any),
            .read(cpu: 0, region: .gicd, offset: 0x800, width: .bits8, expect: .value(1, mask: nil)),
        ])
    }

    @Test func lineNumbersCountCommentsAndBlankLines() throws {
        let s = try ScenarioParser.parse("""
            # header follows
            vm gic=v3 vcpus=1

            # set the mask
            cpu 0 msr ICC_PMR_EL1 0xf0   # comment after a statement
            \tcpu  0\t exit
            """)
        #expect(s.statements == [
            Statement(line: 5, action: .msr(cpu: 0, register: .pmr, value: 0xf0)),
            Statement(line: 6, action: .exit(cpu: 0)),
        ])
        #expect(s.statements.map(\.text) == ["cpu 0 msr ICC_PMR_EL1 0xf0", "cpu 0 exit"])
    }

    @Test(arguments: [
        // vCPU numbers
        Rejected("cpu 2 exit", token: "2"),
        Rejected("cpu x exit", token: "x"),
        Rejected("cpu", token: nil),
        Rejected("expect cpu 2 irq 1", token: "2"),
        // verbs
        Rejected("cpu 0 poke gicd 0 0", token: "poke"),
        Rejected("cpu 0", token: nil),
        Rejected("cpu 0 exit now", token: "now"),
        // regions
        Rejected("cpu 0 write gicr:2 0x0 0", token: "gicr:2"),
        Rejected("cpu 0 write gicr: 0x0 0", token: "gicr:"),
        Rejected("cpu 0 write gicr 0x0 0", token: "gicr"),
        Rejected("cpu 0 write gicc 0x0 0", token: "gicc"),
        Rejected("cpu 0 write gicr:0 0x0 0", header: v2, token: "gicr:0"),
        Rejected("cpu 0 write its 0x0 0", token: "its"),
        Rejected("cpu 0 write", token: nil),
        // offsets beyond the frames
        Rejected("cpu 0 write gicd 0x10000 0", token: "0x10000"),
        Rejected("cpu 0 write gicd 0xfffe 0", token: "0xfffe"),
        Rejected("cpu 0 write gicd 0xfffc 0 w=64", token: "0xfffc"),
        Rejected("cpu 0 write gicr:0 0x20000 0", token: "0x20000"),
        Rejected("cpu 0 write gicd 0x1000 0", header: v2, token: "0x1000"),
        Rejected("cpu 0 write gicc 0x2000 0", header: v2, token: "0x2000"),
        Rejected("cpu 0 read gicd 0x1_0000_0000 -> any", token: "0x1_0000_0000"),
        Rejected("cpu 0 write gicd", token: nil),
        // values and widths
        Rejected("cpu 0 write gicd 0x0 0x100 w=8", token: "0x100"),
        Rejected("cpu 0 write gicd 0x0 0x1_0000_0000", token: "0x1_0000_0000"),
        Rejected("cpu 0 write gicd 0x0 0x1_0000_0000_0000_0000 w=64", token: "0x1_0000_0000_0000_0000"),
        Rejected("cpu 0 write gicd 0x0 -1", token: "-1"),
        Rejected("cpu 0 write gicd 0x0 1 w=12", token: "w=12"),
        Rejected("cpu 0 write gicd 0x0 1 w=", token: "w="),
        Rejected("cpu 0 write gicd 0x0 1 w=32 w=32", token: "w=32"),
        Rejected("cpu 0 write gicd 0x0 1 x=1", token: "x=1"),
        Rejected("cpu 0 write gicd 0x0 1 cpu=1", token: "cpu=1"),
        Rejected("cpu 0 write gicd 0x0 1 2", token: "2"),
        Rejected("cpu 0 write gicd 0x0", token: nil),
        // read expectations
        Rejected("cpu 0 read gicd 0x0", token: nil),
        Rejected("cpu 0 read gicd 0x0 w=32", token: nil),
        Rejected("cpu 0 read gicd 0x0 ->", token: nil),
        Rejected("cpu 0 read gicd 0x0 -> foo", token: "foo"),
        Rejected("cpu 0 read gicd 0x0 -> 1 -> 2", token: "->"),
        Rejected("cpu 0 read gicd 0x0 -> any mask=0xf", token: "mask=0xf"),
        Rejected("cpu 0 read gicd 0x0 -> 0x10 mask=0xf", token: "0x10"),
        Rejected("cpu 0 read gicd 0x0 -> 1 mask=x", token: "mask=x"),
        Rejected("cpu 0 read gicd 0x0 w=8 -> 0x100", token: "0x100"),
        Rejected("cpu 0 read gicd 0x0 -> 1 extra", token: "extra"),
        Rejected("cpu 0 write gicd 0x0 1 -> 1", token: "->"),
        Rejected("cpu 0 write gicd 0x0 1 mask=1", token: "mask=1"),
        // system registers
        Rejected("cpu 0 msr ICC_PMR_EL1 1", header: v2, token: "msr"),
        Rejected("cpu 0 mrs ICC_IAR1_EL1 -> any", header: v2, token: "mrs"),
        Rejected("cpu 0 msr ICC_FOO_EL1 1", token: "ICC_FOO_EL1"),
        Rejected("cpu 0 msr icc_pmr_el1 1", token: "icc_pmr_el1"),
        Rejected("cpu 0 msr ICV_PMR_EL1 1", token: "ICV_PMR_EL1"),
        Rejected("cpu 0 msr ICC_PMR_EL1", token: nil),
        Rejected("cpu 0 msr ICC_PMR_EL1 1 w=8", token: "w=8"),
        Rejected("cpu 0 msr", token: nil),
        Rejected("cpu 0 mrs ICC_PMR_EL1", token: nil),
        Rejected("cpu 0 mrs ICC_PMR_EL1 -> 0x1_0000_0000_0000_0000", token: "0x1_0000_0000_0000_0000"),
        Rejected("cpu 0 mrs ICC_PMR_EL1 w=32 -> 0", token: "w=32"),
        // expect cpu
        Rejected("expect cpu 0 irq 2", token: "2"),
        Rejected("expect cpu 0 irk 1", token: "irk"),
        Rejected("expect cpu 0 irq", token: nil),
        Rejected("expect cpu 0 irq 1 cpu=1", token: "cpu=1"),
        Rejected("expect foo", token: "foo"),
        Rejected("expect", token: nil),
        // guests get architectural behaviour, never errors
        Rejected("! cpu 0 exit", token: "!"),
        Rejected("!cpu 0 exit", token: "!"),
        Rejected("! cpu 0 write gicd 0x0 1", token: "!"),
        Rejected("! cpu 0 msr ICC_PMR_EL1 1", token: "!"),
        Rejected("! expect cpu 0 irq 1", token: "!"),
    ])
    func rejected(_ r: Rejected) {
        check(r)
    }

    /// A failing line after good ones is reported at its own line.
    @Test func errorLineIsTheFailingOne() {
        let e = parseError("vm gic=v3 vcpus=1\ncpu 0 exit\n\n# c\ncpu 0 write gicd 0x0 1 w=7\ncpu 0 exit")
        #expect(e == ParseError(line: 5, token: "w=7", expected: "w=8|16|32|64"))
    }
}
