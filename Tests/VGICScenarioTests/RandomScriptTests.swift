import Foundation
import GICArchitecture
import Testing
@testable import VGICScenario

/// SplitMix64: a seeded generator, so that a failing script can be rebuilt.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A random well-formed script: guest accesses anywhere in the frames, VMM
/// injections and mappings, physical lines, save and restore. Reads expect
/// nothing; the runner still fails on a refusal, a livelock or an
/// architecture violation.
func randomScript(seed: UInt64) -> String {
    var g = SplitMix64(state: seed)
    let v3 = Bool.random(using: &g)
    let vcpus = Int.random(in: 1...4, using: &g)
    var lines = ["vm gic=\(v3 ? "v3" : "v2") vcpus=\(vcpus) irqs=96 lrs=\(Int.random(in: 1...4, using: &g))"
        + " pri-bits=\(v3 ? Int.random(in: 5...8, using: &g) : 5)"]
    // Interrupts enabled at the distributor and the CPU interfaces, so that
    // what the random accesses enable gets delivered.
    lines += v3 ? ["cpu 0 write gicd 0x0 0x13"] : ["cpu 0 write gicd 0x0 0x3", "cpu 0 write gicd 0x820 0x01020408"]
    lines += ["cpu 0 write gicd 0x104 0xffffffff", "cpu 0 write gicd 0x108 0xffffffff"]
    for c in 0..<vcpus {
        lines += v3 ? ["cpu \(c) write gicr:\(c) 0x10100 0xffffffff", "cpu \(c) msr ICC_PMR_EL1 0xf0",
                       "cpu \(c) msr ICC_IGRPEN0_EL1 1", "cpu \(c) msr ICC_IGRPEN1_EL1 1"]
                    : ["cpu \(c) write gicd 0x100 0xffffffff", "cpu \(c) write gicc 0x4 0xf0", "cpu \(c) write gicc 0x0 0x3"]
    }
    let registers = CPUInterfaceRegister.allCases
    var mapped: Set<String> = []
    var saved = false
    for _ in 0..<Int.random(in: 10...60, using: &g) {
        let cpu = Int.random(in: 0..<vcpus, using: &g)
        let region = v3 ? (Bool.random(using: &g) ? "gicd" : "gicr:\(Int.random(in: 0..<vcpus, using: &g))")
                        : (Bool.random(using: &g) ? "gicd" : "gicc")
        let size: UInt32 = region == "gicd" ? (v3 ? 0x10000 : 0x1000) : (region == "gicc" ? 0x2000 : 0x20000)
        let width = [8, 16, 32, 32, 64].randomElement(using: &g)!
        // Mostly the register blocks that hold interrupt state, sometimes anywhere.
        var offset = Bool.random(using: &g) ? UInt32.random(in: 0..<0x1000, using: &g)
                                            : UInt32.random(in: 0..<(size - 8), using: &g)
        if region.hasPrefix("gicr") && Bool.random(using: &g) { offset = GICR.sgiBase + offset % 0x1000 }
        offset -= offset % UInt32(width / 8)
        let value = UInt64.random(in: 0...UInt64.max, using: &g) & (width == 64 ? .max : (1 << UInt64(width)) - 1)
        let ppi = UInt32.random(in: 16..<32, using: &g)
        let spi = UInt32.random(in: 32..<96, using: &g)
        let intid = Bool.random(using: &g) ? "\(ppi) cpu=\(cpu)" : "\(spi)"
        switch Int.random(in: 0..<12, using: &g) {
        case 0, 1: lines.append("cpu \(cpu) write \(region) \(hex(UInt64(offset))) \(hex(value)) w=\(width)")
        case 2: lines.append("cpu \(cpu) read \(region) \(hex(UInt64(offset))) w=\(width) -> any")
        case 3 where v3:
            let r = registers.randomElement(using: &g)!
            lines.append(r.isWritable ? "cpu \(cpu) msr \(r.name) \(hex(value))" : "cpu \(cpu) mrs \(r.name) -> any")
        case 3: lines.append("cpu \(cpu) read gicc 0xc -> any")
        case 4: lines.append(Bool.random(using: &g) ? "cpu \(cpu) exit"
                                 : (v3 ? "cpu \(cpu) mrs ICC_IAR1_EL1 -> any" : "cpu \(cpu) read gicc 0xc -> any"))
        case 5: lines.append("line \(intid.split(separator: " ")[0]) \(Int.random(in: 0...1, using: &g))"
            + (intid.contains("cpu") ? " cpu=\(cpu)" : ""))
        case 6: lines.append("pulse \(intid)")
        case 7:
            let n = intid.split(separator: " ")[0]
            if mapped.remove(intid) != nil {
                lines.append("unmap \(intid)")
            } else {
                mapped.insert(intid)
                let level = Bool.random(using: &g) ? " level=phys" : ""
                lines.append("map \(n) pintid=\(UInt32(n)! < 32 ? n : "\(UInt32(n)! + 100)")"
                    + (intid.contains("cpu") ? " cpu=\(cpu)" : "") + level)
            }
        case 8:
            let p = Bool.random(using: &g) ? "\(ppi) 1 cpu=\(cpu)" : "\(spi + 100) 1"
            lines.append("phys line \(p.replacingOccurrences(of: " 1", with: " \(Int.random(in: 0...1, using: &g))"))")
        case 9:
            let o = region.hasPrefix("gicr") ? GICR.sgiBase + [0x100, 0x200, 0x300, 0x400].randomElement(using: &g)!
                : (region == "gicc" ? [0, 4, 8].randomElement(using: &g)! : [0, 0x100, 0x104, 0x204, 0x304].randomElement(using: &g)!)
            let who = region.hasPrefix("gicr") ? "" : " cpu=\(cpu)"
            lines.append(Bool.random(using: &g) ? "vmm read \(region) \(hex(UInt64(o)))\(who) -> any"
                                                : "vmm write \(region) \(hex(UInt64(o))) \(hex(value & 0xffff_ffff))\(who)")
        case 10:
            lines.append("save")
            saved = true
        default:
            if saved { lines.append("restore") }
        }
    }
    return lines.joined(separator: "\n")
}

@Suite("random scripts")
struct RandomScriptTests {
    /// The runner and the vGIC survive random well-formed scripts: no trap,
    /// no refusal of a well-formed request, no livelock, no architecture violation.
    @Test(arguments: 0..<8)
    func randomScriptsRun(_ batch: Int) {
        for i in 0..<25 {
            let seed = UInt64(batch * 25 + i)
            let source = randomScript(seed: seed)
            let report = ScenarioFile.run(source: source, path: "random-\(seed).vgs")
            #expect(report.passed, "seed \(seed): \(report)\n\(source)")
        }
    }
}
