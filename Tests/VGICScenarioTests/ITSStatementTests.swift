import Foundation
import GICArchitecture
import Testing
import VGIC
@testable import VGICScenario

let itsHeader = "vm gic=v3 vcpus=2 its=1"

@Suite("ITS statements")
struct ITSStatementTests {
    @Test func theHeaderGivesAnITSAndGuestRAM() throws {
        let m = try ScenarioParser.parse("vm gic=v3 vcpus=2 its=1 lpis=16 mem=0x200000").machine
        #expect(m.its && m.lpis == 16 && m.memory == 0x20_0000)
        #expect(m.itsConfiguration == ITSConfiguration(lpis: 16, devices: 64, events: 16, collections: 64))
        let d = try ScenarioParser.parse(itsHeader).machine
        #expect(d.lpis == Machine.defaultLPIs && d.memory == Machine.defaultITSMemory)
        let plain = try ScenarioParser.parse("vm gic=v3 vcpus=1 mem=0x1000").machine
        #expect(!plain.its && plain.memory == 0x1000 && plain.itsConfiguration == nil)
        #expect(plain.header == "vm gic=v3 vcpus=1 irqs=256 lrs=4 pri-bits=5 mem=4096")
        #expect(m.header == "vm gic=v3 vcpus=2 irqs=256 lrs=4 pri-bits=5 its=1 lpis=16 mem=2097152")
    }

    @Test(arguments: [
        Rejected(script: "vm gic=v2 vcpus=1 its=1", line: 1, token: "its=1"),
        Rejected(script: "vm gic=v3 vcpus=1 its=2", line: 1, token: "its=2"),
        Rejected(script: "vm gic=v3 vcpus=1 lpis=8", line: 1, token: "lpis=8"),
        Rejected(script: "vm gic=v3 vcpus=1 its=1 lpis=0", line: 1, token: "lpis=0"),
        Rejected(script: "vm gic=v3 vcpus=1 mem=100", line: 1, token: "mem=100"),
        Rejected("cpu 0 read its 0x0 -> 0", token: "its"),
        Rejected("cpu 0 its int dev=1 event=0", token: "its"),
        Rejected("cpu 0 read its 0x20000 -> 0", header: itsHeader, token: "0x20000"),
        Rejected("mem write 0x3fffffff 0 w=8", header: itsHeader, token: "0x3fffffff"),
        Rejected("mem write 0x400ffffc 0 w=64", header: itsHeader, token: "0x400ffffc"),
        Rejected("mem read 0x40000000 w=8", header: itsHeader, token: nil),
        Rejected("mem write 0x40000000 0x100 w=8", header: itsHeader, token: "0x100"),
        Rejected("cpu 0 its frob dev=1", header: itsHeader, token: "frob"),
        Rejected("cpu 0 its int dev=1", header: itsHeader, token: nil),
        Rejected("cpu 0 its int dev=1 event=2 icid=0", header: itsHeader, token: "icid=0"),
        Rejected("cpu 0 its mapc icid=0x10000 rd=0", header: itsHeader, token: "icid=0x10000"),
        Rejected("cpu 0 its mapd dev=1 itt=0x40080010 bits=4", header: itsHeader, token: "itt=0x40080010"),
        Rejected("cpu 0 its mapd dev=1 itt=0x40080000 bits=0", header: itsHeader, token: "bits=0"),
        Rejected("cpu 0 its raw 1 2 3", header: itsHeader, token: nil),
        Rejected("msi event=0", header: itsHeader, token: nil),
        Rejected("msi dev=1 event=0 -> maybe", header: itsHeader, token: "maybe"),
        Rejected("! mem write 0x40000000 1", header: itsHeader, token: "!"),
        Rejected("! cpu 0 its sync rd=0", header: itsHeader, token: "!"),
    ])
    func rejected(_ r: Rejected) {
        check(r)
    }

    @Test func statementsParse() throws {
        #expect(try actions("""
            mem write 0x40010000 0x43 w=8
            mem read 0x40010000 w=8 -> 0x43
            cpu 1 its mapd dev=3 itt=0x40080000 bits=5
            cpu 0 its mapc icid=2 rd=1 v=0
            cpu 0 its mapti dev=3 event=4 lpi=8200 icid=2
            cpu 0 its int dev=3 event=4
            cpu 0 its raw 0x3 0x4 0 0
            cpu 0 write its 0x88 0x20 w=64
            msi dev=3 event=4
            msi dev=3 event=4 doorbell=0x08090040 -> lpis-disabled
            ! msi dev=3 event=4 doorbell=0x1000
            """, header: itsHeader) == [
            .memWrite(address: 0x4001_0000, value: 0x43, width: .bits8),
            .memRead(address: 0x4001_0000, width: .bits8, expect: .value(0x43, mask: nil)),
            .itsCommand(cpu: 1, command: .mapd(device: 3, ittAddress: 0x4008_0000, eventIDBits: 5)),
            .itsCommand(cpu: 0, command: .mapc(icid: 2, target: 1, valid: false)),
            .itsCommand(cpu: 0, command: .mapti(device: 3, event: 4, lpi: 8200, icid: 2)),
            .itsCommand(cpu: 0, command: .event(.int, device: 3, event: 4)),
            .itsCommand(cpu: 0, command: ITSCommand(dw0: 3, dw1: 4)),
            .write(cpu: 0, region: .its, offset: 0x88, value: 0x20, width: .bits64),
            .msi(device: 3, event: 4, doorbell: nil, expect: nil),
            .msi(device: 3, event: 4, doorbell: 0x0809_0040, expect: .lpisDisabled),
            .msi(device: 3, event: 4, doorbell: 0x1000, expect: nil),
        ])
    }

    /// Every command prints back as a statement that parses to the same 32 bytes.
    @Test func commandsPrintBackToTheSameBytes() throws {
        let commands: [ITSCommand] = [
            .mapd(device: 7, ittAddress: 0x4008_0100, eventIDBits: 16), .mapd(device: 7, ittAddress: 0, eventIDBits: 1, valid: false),
            .mapc(icid: 0xFFFF, target: 3), .mapc(icid: 1, target: 0, valid: false),
            .mapti(device: 1, event: 2, lpi: 8192, icid: 3), .mapi(device: 1, event: 9000, icid: 0),
            .movi(device: 1, event: 2, icid: 4), .event(.int, device: 0, event: 0), .event(.clear, device: 1, event: 1),
            .event(.inv, device: 2, event: 2), .event(.discard, device: 3, event: 3), .invall(icid: 5),
            .sync(target: 1), .movall(from: 0, to: 1),
            ITSCommand(dw0: 0xFF, dw1: 1, dw2: 2, dw3: 3),
            ITSCommand(dw0: 0x0000_0001_0000_0103, dw1: 5),  // INT with stray bits in DW0: raw
        ]
        for c in commands {
            let a = Action.itsCommand(cpu: 1, command: c)
            #expect(try action(a.script, header: itsHeader) == a, "\(a.script)")
        }
        #expect(Action.itsCommand(cpu: 0, command: .event(.int, device: 1, event: 2)).script == "cpu 0 its int dev=1 event=2")
        #expect(Action.itsCommand(cpu: 0, command: ITSCommand(dw0: 0xFF)).script == "cpu 0 its raw 0xff 0x0 0x0 0x0")
    }

    @Test func memoryAndMSIStatementsPrintBack() throws {
        for a: Action in [.memWrite(address: 0x4000_0010, value: 7, width: .bits16),
                          .memRead(address: 0x4000_0010, width: .bits64, expect: .any),
                          .msi(device: 1, event: 2, doorbell: 0x0809_0040, expect: .delivered),
                          .msi(device: 1, event: 2, doorbell: nil, expect: nil)] {
            #expect(try action(a.script, header: itsHeader) == a, "\(a.script)")
        }
    }

    @Test func anMSIOutcomeThatDiffersFailsTheStatement() throws {
        let s = try ScenarioParser.parse(itsHeader + "\nmsi dev=1 event=0 -> delivered")
        var r = Runner(scenario: s)
        #expect(r.start() == nil)
        let failure = r.step(s.statements[0]) { _, _ in }
        #expect(failure?.seen == "its-disabled")
    }
}

@Suite("snapshot inspect: the ITS")
struct ITSSnapshotReportTests {
    @Test func theITSSectionIsShown() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Scenarios/its-save-restore.vgs").path
        let source = try String(contentsOfFile: path, encoding: .utf8)
        let taken = SnapshotReportTests.snapshots(source)
        let bytes = try #require(taken.values.first)
        let report = try SnapshotReport.describe(bytes)
        #expect(report.contains("vGIC snapshot, format 3"))
        #expect(report.contains("ITS: pools of 16 LPIs, 16 events, 64 devices, 64 collections"))
        #expect(report.contains("GICR_PROPBASER=0x4001018f"))
        #expect(report.contains("vCPU 1 EnableLPIs=1"))
        #expect(report.contains("ITS registers: enabled, GITS_CBASER="))
        #expect(report.contains("collections: 2: 0 -> vCPU 0, 1 -> vCPU 1"))
        #expect(report.contains("device 4: ITT 0x40080000, 2 EventID bits, 2 events: 0 -> LPI 8192 (collection 0), 1 -> LPI 8193 (collection 1)"))
        #expect(report.contains("LPI 8192: enabled, priority 0x40, to vCPU 0, pending"))
        #expect(report.contains("LPI 8193: enabled, priority 0x20, to vCPU 1, active on vCPU 1, acknowledged"))
    }

    @Test func vmmITSStatementsParseAndPrint() throws {
        for op in ITSOperation.allCases {
            let a = Action.vmmITS(op)
            #expect(try action(a.script, header: itsHeader) == a)
        }
        check(Rejected("vmm its frob", header: itsHeader, token: "frob"))
    }
}
