import Testing
@testable import VGICScenario

@Suite("whole scripts")
struct ScriptTests {
    /// The example of docs/scenarios.md.
    @Test func contractExample() throws {
        let s = try ScenarioParser.parse("""
            vm gic=v3 vcpus=2 irqs=128
            cpu 0 write gicd 0x0 0x12            # ARE + EnableGrp1
            cpu 0 write gicd 0x84 0xffffffff     # SPIs 32..63 in group 1
            cpu 0 write gicd 0xc08 0x2           # SPI 32 edge-triggered
            cpu 0 write gicd 0x104 0x1           # enable SPI 32
            cpu 0 write gicd 0x420 0xa0 w=8      # priority of SPI 32
            cpu 0 write gicd 0x6100 0x0 w=64     # route SPI 32 to vCPU 0
            cpu 0 msr ICC_PMR_EL1 0xf0
            cpu 0 msr ICC_IGRPEN1_EL1 1
            pulse 32
            expect cpu 0 irq 1
            cpu 0 mrs ICC_IAR1_EL1 -> 32
            cpu 0 msr ICC_EOIR1_EL1 32
            cpu 0 mrs ICC_IAR1_EL1 -> 1023
            """)
        #expect(s.machine == Machine(version: .v3, vcpus: 2, irqs: 128))
        let expected: [Action] = [
            .write(cpu: 0, region: .gicd, offset: 0x0, value: 0x12, width: .bits32),
            .write(cpu: 0, region: .gicd, offset: 0x84, value: 0xffff_ffff, width: .bits32),
            .write(cpu: 0, region: .gicd, offset: 0xc08, value: 0x2, width: .bits32),
            .write(cpu: 0, region: .gicd, offset: 0x104, value: 0x1, width: .bits32),
            .write(cpu: 0, region: .gicd, offset: 0x420, value: 0xa0, width: .bits8),
            .write(cpu: 0, region: .gicd, offset: 0x6100, value: 0x0, width: .bits64),
            .msr(cpu: 0, register: .pmr, value: 0xf0),
            .msr(cpu: 0, register: .igrpen1, value: 1),
            .pulse(intid: 32, vcpu: nil),
            .expectIRQ(cpu: 0, signalled: true),
            .mrs(cpu: 0, register: .iar1, expect: .value(32, mask: nil)),
            .msr(cpu: 0, register: .eoir1, value: 32),
            .mrs(cpu: 0, register: .iar1, expect: .value(1023, mask: nil)),
        ]
        #expect(s.statements.map(\.action) == expected)
        #expect(s.statements.map(\.line) == Array(2...14))
        let noneRejected = s.statements.allSatisfy { !$0.mustBeRejected }
        #expect(noneRejected)
        #expect(s.statements[4].text == "cpu 0 write gicd 0x420 0xa0 w=8")
    }

    /// A parse error is reported as `FAIL path:LINE: expected ..., seen '<token>'`.
    @Test func parseErrorReport() {
        let report = ScenarioFile.run(source: "vm gic=v2 vcpus=2\n\ncpu 0 msr ICC_PMR_EL1 1\n", path: "t/x.vgs")
        #expect(!report.passed)
        #expect(report.description ==
            "FAIL t/x.vgs:3: expected write, read or exit (msr and mrs need gic=v3), seen 'msr'")
        let eol = ScenarioFile.run(source: "vm gic=v3 vcpus=1\ncpu 0 read gicd 0x0", path: "y.vgs")
        #expect(eol.description == "FAIL y.vgs:2: expected '-> VALUE|any', seen end of line")
    }

    @Test func unreadableFile() {
        let report = ScenarioFile.run(path: "/nonexistent/dir/none.vgs")
        #expect(report.failure?.line == 0)
        #expect(report.description.hasPrefix("FAIL /nonexistent/dir/none.vgs:0: expected a readable"))
    }

    @Test func passReport() {
        #expect(FileReport(path: "a.vgs", failure: nil).description == "PASS a.vgs")
    }
}
