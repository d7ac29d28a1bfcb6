import Foundation
import Testing
import VGIC
@testable import VGICScenario

@Suite("snapshot inspect")
struct SnapshotReportTests {
    /// The snapshots a script's `save` statements take, by line.
    static func snapshots(_ source: String) -> [Int: [UInt8]] {
        var taken: [Int: [UInt8]] = [:]
        let report = ScenarioFile.run(source: source, path: "t.vgs", snapshots: { taken[$0] = $1 })
        #expect(report.passed, "\(report)")
        return taken
    }

    @Test func onlyWhatIsNotAtReset() throws {
        let taken = Self.snapshots("""
            vm gic=v3 vcpus=2 irqs=64
            save
            cpu 0 write gicd 0x0 0x12
            cpu 0 write gicd 0x104 0x1
            cpu 0 write gicd 0xc08 0x2
            cpu 0 write gicd 0x420 0xa0 w=8
            cpu 0 write gicd 0x6100 0x1 w=64
            cpu 1 msr ICC_PMR_EL1 0xf0
            cpu 1 msr ICC_IGRPEN1_EL1 1
            pulse 32
            save
            """)
        #expect(taken.keys.sorted() == [2, 11])
        let fresh = try SnapshotReport.describe(taken[2]!)
        #expect(fresh.contains("GICv3, 2 vCPUs, irqs=64"))
        #expect(fresh.contains("distributor: at reset"))
        #expect(fresh.contains("CPU interface of every vCPU: at reset"))
        #expect(fresh.contains("interrupts: 0 of 96 not at reset"))
        let busy = try SnapshotReport.describe(taken[11]!)
        #expect(busy.contains("distributor: EnableGrp1=1"))
        #expect(busy.contains("vCPU 1: EnableGrp1=1, PMR=0xf0"))
        #expect(!busy.contains("vCPU 0:"))
        #expect(busy.contains("CPU interface of the other vCPU: at reset"))
        #expect(busy.contains("interrupts: 1 of 96 not at reset:"))
        #expect(busy.contains("  SPI 32: enabled, pending, edge-triggered, priority 0xa0, route 0x1 (vCPU 1)"))
    }

    @Test func invalidSnapshotsNameTheProblem() throws {
        let bytes = Self.snapshots("vm gic=v2 vcpus=1\nsave")[2]!
        #expect(throws: VGICError.invalidSnapshot(.truncated)) { try SnapshotReport.describe(Array(bytes.prefix(30))) }
        let path = NSTemporaryDirectory() + "vgic-inspect-\(getpid()).snap"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bad = bytes
        bad[bad.count - 1] ^= 1
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bad)))
        #expect(throws: SnapshotReport.Problem.self) { try SnapshotReport.inspect(path: path) }
        do {
            _ = try SnapshotReport.inspect(path: path)
        } catch {
            #expect(error.description.hasSuffix("snapshot checksum mismatch (corrupted) (checksumMismatch)"))
        }
    }
}
