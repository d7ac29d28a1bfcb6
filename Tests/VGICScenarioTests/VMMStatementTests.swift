import GICArchitecture
import Testing
@testable import VGICScenario

@Suite("VMM statements")
struct VMMStatementTests {
    @Test func linesAndPulses() throws {
        #expect(try actions("""
            line 32 1
            line 20 0 cpu=1
            pulse 40
            pulse 0x1b cpu=0
            """) == [
            .line(intid: 32, level: true, vcpu: nil),
            .line(intid: 20, level: false, vcpu: 1),
            .pulse(intid: 40, vcpu: nil),
            .pulse(intid: 27, vcpu: 0),
        ])
    }

    /// What only the vGIC can refuse is left to it: SGIs, `cpu=` on SPIs,
    /// missing `cpu=` on PPIs, INTIDs and vCPUs that do not exist.
    @Test func vgicDecidesWhatItRefuses() throws {
        let s = try ScenarioParser.parse("""
            vm gic=v3 vcpus=2
            ! line 5 1 cpu=0
            ! line 40 1 cpu=0
            ! line 20 1
            ! line 2000 1
            ! pulse 20 cpu=7
            ! map 5 pintid=5 cpu=0
            ! unmap 40
            """)
        let allRejected = s.statements.allSatisfy { $0.mustBeRejected }
        #expect(allRejected)
        #expect(s.statements.map(\.action) == [
            .line(intid: 5, level: true, vcpu: 0),
            .line(intid: 40, level: true, vcpu: 0),
            .line(intid: 20, level: true, vcpu: nil),
            .line(intid: 2000, level: true, vcpu: nil),
            .pulse(intid: 20, vcpu: 7),
            .map(intid: 5, physicalIntid: 5, vcpu: 0, levelFromPhysical: false),
            .unmap(intid: 40, vcpu: nil),
        ])
    }

    @Test func bangGluedToTheKeyword() throws {
        let s = try ScenarioParser.parse("vm gic=v3 vcpus=1\n!line 5 1 cpu=0\nline 40 1")
        #expect(s.statements == [
            Statement(line: 2, mustBeRejected: true, action: .line(intid: 5, level: true, vcpu: 0)),
            Statement(line: 3, mustBeRejected: false, action: .line(intid: 40, level: true, vcpu: nil)),
        ])
    }

    @Test func mapAndUnmap() throws {
        #expect(try actions("""
            map 27 pintid=27 cpu=0 level=phys
            map 27 level=phys cpu=1 pintid=0x1a
            map 40 pintid=0x30
            unmap 27 cpu=0
            unmap 40
            """) == [
            .map(intid: 27, physicalIntid: 27, vcpu: 0, levelFromPhysical: true),
            .map(intid: 27, physicalIntid: 26, vcpu: 1, levelFromPhysical: true),
            .map(intid: 40, physicalIntid: 48, vcpu: nil, levelFromPhysical: false),
            .unmap(intid: 27, vcpu: 0),
            .unmap(intid: 40, vcpu: nil),
        ])
    }

    @Test func physicalSide() throws {
        #expect(try actions("""
            phys line 27 1 cpu=1
            phys line 27 0
            phys line 48 1
            expect phys 27 active 1 cpu=1
            expect phys 48 pending 0
            expect phys 3 pending 0 cpu=1
            """) == [
            .physLine(intid: 27, level: true, cpu: 1),
            .physLine(intid: 27, level: false, cpu: 0),
            .physLine(intid: 48, level: true, cpu: 0),
            .expectPhys(intid: 27, state: .active, value: true, cpu: 1),
            .expectPhys(intid: 48, state: .pending, value: false, cpu: 0),
            .expectPhys(intid: 3, state: .pending, value: false, cpu: 1),
        ])
    }

    @Test func vmmAccessors() throws {
        #expect(try actions("""
            vmm write gicd 0x100 0x1
            vmm write gicd 0x100 0x1 w=32 cpu=1
            vmm write gicd 0x6100 0x1 w=64
            vmm read gicr:1 0x14 -> any
            vmm read gicr:1 0x8 w=64 cpu=1 -> 0x0000_0001_0000_0110 mask=0xffffffff_ffffff10
            ! vmm read gicd 0x0 cpu=9 -> any
            """) == [
            .vmmWrite(region: .gicd, offset: 0x100, value: 1, width: .bits32, vcpu: nil),
            .vmmWrite(region: .gicd, offset: 0x100, value: 1, width: .bits32, vcpu: 1),
            .vmmWrite(region: .gicd, offset: 0x6100, value: 1, width: .bits64, vcpu: nil),
            .vmmRead(region: .gicr(1), offset: 0x14, width: .bits32, vcpu: nil, expect: .any),
            .vmmRead(region: .gicr(1), offset: 8, width: .bits64, vcpu: 1,
                     expect: .value(0x1_0000_0110, mask: 0xffff_ffff_ffff_ff10)),
            .vmmRead(region: .gicd, offset: 0, width: .bits32, vcpu: 9, expect: .any),
        ])
        #expect(try actions("vmm write gicc 0x4 0xf8 cpu=1\nvmm read gicc 0x4 cpu=1 -> 0xf8", header: v2) == [
            .vmmWrite(region: .gicc, offset: 4, value: 0xf8, width: .bits32, vcpu: 1),
            .vmmRead(region: .gicc, offset: 4, width: .bits32, vcpu: 1, expect: .value(0xf8, mask: nil)),
        ])
    }

    @Test func saveAndRestore() throws {
        let s = try ScenarioParser.parse("vm gic=v3 vcpus=1\nsave\nrestore\nrestore\n! save\n! restore")
        #expect(s.statements == [
            Statement(line: 2, action: .save),
            Statement(line: 3, action: .restore),
            Statement(line: 4, action: .restore),
            Statement(line: 5, mustBeRejected: true, action: .save),
            Statement(line: 6, mustBeRejected: true, action: .restore),
        ])
    }

    @Test(arguments: [
        Rejected("frob 1", token: "frob"),
        Rejected("!", token: nil),
        Rejected("! frob", token: "frob"),
        // line / pulse
        Rejected("line 32 2", token: "2"),
        Rejected("line 32", token: nil),
        Rejected("line", token: nil),
        Rejected("line x 1", token: "x"),
        Rejected("line 0x1_0000_0000 1", token: "0x1_0000_0000"),
        Rejected("line 32 1 cpu=x", token: "cpu=x"),
        Rejected("line 32 1 cpu=0x1_0000_0000", token: "cpu=0x1_0000_0000"),
        Rejected("line 32 1 w=32", token: "w=32"),
        Rejected("line 20 1 cpu=0 cpu=1", token: "cpu=1"),
        Rejected("line 32 1 -> 1", token: "->"),
        Rejected("pulse", token: nil),
        Rejected("pulse 32 1", token: "1"),
        // map / unmap
        Rejected("map 40", token: nil),
        Rejected("map 40 pintid=foo", token: "pintid=foo"),
        Rejected("map 40 pintid=", token: "pintid="),
        Rejected("map 40 pintid=40 level=virt", token: "level=virt"),
        Rejected("map 40 pintid=40 level=phys level=phys", token: "level=phys"),
        Rejected("map 40 40", token: "40"),
        Rejected("unmap", token: nil),
        Rejected("unmap 40 pintid=40", token: "pintid=40"),
        // phys
        Rejected("phys", token: nil),
        Rejected("phys pulse 40", token: "pulse"),
        Rejected("phys line 5 1", token: "5"),
        Rejected("phys line 1020 1", token: "1020"),
        Rejected("phys line 40 1 cpu=1", token: "cpu=1"),
        Rejected("phys line 40 1 cpu=0", token: "cpu=0"),
        Rejected("phys line 27 1 cpu=2", token: "cpu=2"),
        Rejected("phys line 27 x", token: "x"),
        Rejected("! phys line 27 1", token: "!"),
        Rejected("expect phys 40 enabled 1", token: "enabled"),
        Rejected("expect phys 40 pending", token: nil),
        Rejected("expect phys 1020 pending 0", token: "1020"),
        Rejected("expect phys 40 active 1 cpu=0", token: "cpu=0"),
        Rejected("expect phys 27 active 1 cpu=5", token: "cpu=5"),
        Rejected("! expect phys 27 active 1", token: "!"),
        // vmm
        Rejected("vmm", token: nil),
        Rejected("vmm poke gicd 0x0 1", token: "poke"),
        Rejected("vmm write gicd 0x0 1 w=8", token: "w=8"),
        Rejected("vmm read gicd 0x0 w=16 -> any", token: "w=16"),
        Rejected("vmm write gicd 0x10000 1", token: "0x10000"),
        Rejected("vmm write gicd 0x0", token: nil),
        Rejected("vmm write gicd 0x0 0x1_0000_0000", token: "0x1_0000_0000"),
        Rejected("vmm read gicr:1 0x0 cpu=0 -> any", token: "cpu=0"),
        Rejected("vmm read gicr:2 0x0 -> any", token: "gicr:2"),
        Rejected("vmm read gicc 0x0 -> any", token: "gicc"),
        Rejected("vmm read gicd 0x0", token: nil),
        Rejected("vmm read gicd 0x0 -> any mask=1", token: "mask=1"),
        Rejected("vmm write gicd 0x0 1 -> 1", token: "->"),
        Rejected("vmm read gicr:0 0x0 -> any", header: v2, token: "gicr:0"),
        // save / restore
        Rejected("restore", token: "restore"),
        Rejected("save now", token: "now"),
        Rejected(script: v3 + "\nsave\nrestore please", line: 3, token: "please"),
    ])
    func rejected(_ r: Rejected) {
        check(r)
    }

    @Test func restoreBeforeSaveNamesItsLine() {
        #expect(parseError("vm gic=v3 vcpus=1\nline 32 1\nrestore\nsave") ==
            ParseError(line: 3, token: "restore", expected: "a 'save' before 'restore'"))
    }
}
