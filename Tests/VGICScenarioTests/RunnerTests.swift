import Foundation
import GICArchitecture
import Testing
@testable import VGICScenario

/// Runs `source` and returns its report and the trace of the statements run.
func runScript(_ source: String, path: String = "t.vgs") -> (FileReport, [(Int, String)]) {
    var trace: [(Int, String)] = []
    let report = ScenarioFile.run(source: source, path: path) { statement, observed in
        trace.append((statement.line, observed))
    }
    return (report, trace)
}

let spi32Setup = """
    vm gic=v3 vcpus=2 irqs=128
    cpu 0 write gicd 0x0 0x12
    cpu 0 write gicd 0xc08 0x2
    cpu 0 write gicd 0x104 0x1
    cpu 0 write gicd 0x420 0xa0 w=8
    cpu 0 msr ICC_PMR_EL1 0xf0
    cpu 0 msr ICC_IGRPEN1_EL1 1
    """

@Suite("runner")
struct RunnerTests {
    @Test func contractExamplePasses() {
        let (report, trace) = runScript(spi32Setup + """

            pulse 32
            expect cpu 0 irq 1
            cpu 0 mrs ICC_IAR1_EL1 -> 32
            cpu 0 msr ICC_EOIR1_EL1 32
            cpu 0 mrs ICC_IAR1_EL1 -> 1023
            """)
        #expect(report.description == "PASS t.vgs")
        #expect(trace.count == 11)
        #expect(trace.first { $0.0 == 9 }?.1 == "irq 1")
        #expect(trace.first { $0.0 == 10 }?.1 == "0x20")
    }

    /// The first failure stops the file: later statements do not run.
    @Test func stopsAtFirstFailure() {
        let (report, trace) = runScript(spi32Setup + """

            pulse 32
            cpu 0 mrs ICC_IAR1_EL1 -> 33
            cpu 0 mrs ICC_IAR1_EL1 -> 1023
            """)
        #expect(report.description == "FAIL t.vgs:9: expected 0x21, seen 0x20")
        #expect(trace.last?.0 == 9)
    }

    @Test func maskedExpectation() {
        let (pass, _) = runScript("vm gic=v3 vcpus=1\ncpu 0 mrs ICC_CTLR_EL1 -> 0x400 mask=0x703")
        #expect(pass.passed)
        let (fail, _) = runScript("vm gic=v3 vcpus=1\ncpu 0 mrs ICC_CTLR_EL1 -> 0x402 mask=0x703")
        #expect(fail.failure?.line == 2)
        #expect(fail.failure?.expected == "0x402 (mask 0x703)")
    }

    @Test func expectIRQFailure() {
        let (report, _) = runScript(spi32Setup + "\nexpect cpu 0 irq 1")
        #expect(report.description == "FAIL t.vgs:8: expected vCPU 0 signalling a virtual IRQ, seen none signalled")
    }

    @Test func rejectionsAreChecked() {
        let (refused, trace) = runScript("vm gic=v3 vcpus=1\n! line 5 1 cpu=0\nline 32 1")
        #expect(refused.passed)
        #expect(trace[0].1.hasPrefix("refused: an SGI cannot be raised as a line"))
        let (accepted, _) = runScript("vm gic=v3 vcpus=1\n! line 32 1")
        #expect(accepted.description ==
            "FAIL t.vgs:2: expected the vGIC's API to refuse the statement, seen it accepted it")
        let (unexpected, _) = runScript("vm gic=v3 vcpus=1\nline 20 1")
        #expect(unexpected.failure?.expected == "the vGIC's API to accept the statement")
        #expect(unexpected.failure?.seen.hasPrefix("refusal: a PPI needs cpu=") == true)
    }

    @Test func physicalExpectations() {
        let (report, _) = runScript("vm gic=v3 vcpus=2\nphys line 27 1 cpu=1\nexpect phys 27 pending 1 cpu=1\n"
            + "expect phys 27 pending 0 cpu=0\nexpect phys 40 pending 1")
        #expect(report.description == "FAIL t.vgs:5: expected physical 40 pending 1, seen pending 0")
    }

    /// A new architecture violation in the model fails the statement after
    /// which it is seen, naming the rule.
    @Test func violationsFailTheStatement() throws {
        let scenario = try ScenarioParser.parse("vm gic=v3 vcpus=1\ncpu 0 exit\ncpu 0 exit")
        var runner = Runner(scenario: scenario)
        #expect(runner.start() == nil)
        #expect(runner.step(scenario.statements[0]) { _, _ in } == nil)
        runner.model.writeLR(cpu: 0, 7, 0)  // beyond the 4 list registers
        let failure = runner.step(scenario.statements[1]) { _, _ in }
        #expect(failure?.line == 3)
        #expect(failure?.expected == "no architecture violation")
        #expect(failure?.seen == "cpu 0 intid 0: list register index beyond ICH_VTR_EL2.ListRegs (access to an unimplemented LR)")
    }

    /// `restore` goes back to the state of `save`, on a fresh model with the
    /// mappings and physical lines applied again.
    @Test func restoreReturnsToTheSnapshot() {
        let (report, _) = runScript(spi32Setup + """

            map 40 pintid=48
            phys line 48 1
            save
            pulse 32
            cpu 0 read gicd 0x204 -> 0x1
            restore
            cpu 0 read gicd 0x204 -> 0x0
            expect phys 48 pending 1
            ! map 40 pintid=48
            unmap 40
            """)
        #expect(report.passed, "\(report)")
    }

    @Test func vmmAccessesStopEveryVCPU() {
        // Were a vCPU left in the guest, the vGIC would refuse (vcpuRunning).
        let (report, _) = runScript(spi32Setup + "\ncpu 1 exit\nexpect cpu 1 irq 0\nvmm read gicd 0x104 -> 0x1\nsave")
        #expect(report.passed, "\(report)")
    }

    @Test func parseErrorsRunNothing() {
        let (report, trace) = runScript("vm gic=v3 vcpus=1\nline 32 1\ncpu 0 frob")
        #expect(report.description == "FAIL t.vgs:3: expected write, read, msr, mrs or exit, seen 'frob'")
        #expect(trace.isEmpty)
    }

    static let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scenarios")

    /// Every bundled scenario passes.
    @Test func bundledScenariosPass() throws {
        let folder = RunnerTests.scenarios
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasSuffix(".vgs") }.sorted()
        #expect(!files.isEmpty)
        for file in files {
            let report = ScenarioFile.run(path: folder.appendingPathComponent(file).path)
            #expect(report.passed, "\(report)")
        }
    }

}
