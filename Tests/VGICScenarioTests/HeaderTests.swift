import GICArchitecture
import Testing
@testable import VGICScenario

@Suite("vm header")
struct HeaderTests {
    @Test func defaults() throws {
        let s = try ScenarioParser.parse("vm gic=v3 vcpus=2")
        #expect(s.machine == Machine(version: .v3, vcpus: 2, irqs: 256, listRegisters: 4, priorityBits: 5, line: 1))
        #expect(s.statements.isEmpty)
    }

    @Test func everyKeyInAnyOrder() throws {
        let s = try ScenarioParser.parse("vm pri-bits=8 lrs=16 irqs=1024 vcpus=512 gic=v3")
        #expect(s.machine == Machine(version: .v3, vcpus: 512, irqs: 1024, listRegisters: 16, priorityBits: 8))
    }

    @Test func limitsAtTheirLowEnd() throws {
        let s = try ScenarioParser.parse("vm gic=v2 vcpus=1 irqs=64 lrs=1 pri-bits=5")
        #expect(s.machine == Machine(version: .v2, vcpus: 1, irqs: 64, listRegisters: 1, priorityBits: 5))
    }

    @Test func v2AllowsEightVCPUs() throws {
        #expect(try ScenarioParser.parse("vm gic=v2 vcpus=8").machine.vcpus == 8)
    }

    @Test func headerAfterCommentsAndBlankLines() throws {
        let s = try ScenarioParser.parse("# a comment\n\n   \n\tvm gic=v3 vcpus=1 # trailing\ncpu 0 exit\n")
        #expect(s.machine.line == 4)
        #expect(s.statements == [Statement(line: 5, action: .exit(cpu: 0))])
    }

    @Test(arguments: [
        Rejected(script: "vm gic=v4 vcpus=1", line: 1, token: "gic=v4"),
        Rejected(script: "vm gic= vcpus=1", line: 1, token: "gic="),
        Rejected(script: "vm gic=v2 vcpus=9", line: 1, token: "vcpus=9"),
        Rejected(script: "vm gic=v3 vcpus=513", line: 1, token: "vcpus=513"),
        Rejected(script: "vm gic=v3 vcpus=0", line: 1, token: "vcpus=0"),
        Rejected(script: "vm gic=v3 vcpus=two", line: 1, token: "vcpus=two"),
        Rejected(script: "vm gic=v3 vcpus=1 irqs=100", line: 1, token: "irqs=100"),
        Rejected(script: "vm gic=v3 vcpus=1 irqs=32", line: 1, token: "irqs=32"),
        Rejected(script: "vm gic=v3 vcpus=1 irqs=1056", line: 1, token: "irqs=1056"),
        Rejected(script: "vm gic=v3 vcpus=1 lrs=0", line: 1, token: "lrs=0"),
        Rejected(script: "vm gic=v3 vcpus=1 lrs=17", line: 1, token: "lrs=17"),
        Rejected(script: "vm gic=v3 vcpus=1 pri-bits=4", line: 1, token: "pri-bits=4"),
        Rejected(script: "vm gic=v3 vcpus=1 pri-bits=9", line: 1, token: "pri-bits=9"),
        Rejected(script: "vm gic=v3", line: 1, token: nil),
        Rejected(script: "vm vcpus=1", line: 1, token: nil),
        Rejected(script: "vm gic=v3 vcpus=1 foo=1", line: 1, token: "foo=1"),
        Rejected(script: "vm gic=v3 vcpus=1 vcpus=2", line: 1, token: "vcpus=2"),
        Rejected(script: "vm gic=v3 vcpus=1 extra", line: 1, token: "extra"),
        Rejected(script: "# only a comment\ncpu 0 exit", line: 2, token: "cpu"),
        Rejected(script: "!vm gic=v3 vcpus=1", line: 1, token: "!vm"),
        Rejected(script: "vm gic=v3 vcpus=1\nvm gic=v3 vcpus=1", line: 2, token: "vm"),
        Rejected(script: "", line: 1, token: nil),
        Rejected(script: "# nothing\n\n", line: 1, token: nil),
    ])
    func rejected(_ r: Rejected) {
        check(r)
    }
}
