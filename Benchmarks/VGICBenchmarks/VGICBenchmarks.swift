// Benchmarks for swift-vgic. Run with `make bench` (or, from this folder,
// `swift package benchmark`; `swift package benchmark --filter 'ICH_LR.*'`
// runs a subset).
//
// Layout: one `register…Benchmarks()` function per area, each called from
// `benchmarks` below. Add the vGIC's own benchmarks (inject, flush/sync of the
// list registers, maintenance handling, SGI routing) as new functions in this
// file and call them from `benchmarks`.
//
// Metrics: this machine's kernel gives no hardware instruction counter
// (`perf stat -e instructions true` says "not supported"), so the benchmarks
// measure wall-clock time and heap allocations. For exact instruction counts
// per operation use `scripts/callgrind.sh`.

import Benchmark
import GICArchitecture

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )

    registerArchitectureBenchmarks()
    // registerVGICBenchmarks()      -- vGIC operations (to be added)
}

// MARK: - GICArchitecture: register encodings

/// 1000 list registers covering every state, both groups, HW and EOI forms.
private func sampleListRegisters() -> [ListRegister] {
    let states: [ListRegisterState] = [.invalid, .pending, .active, .pendingActive]
    return (0..<1000).map { i -> ListRegister in
        let hw = i % 3 == 0
        return ListRegister(
            vINTID: UInt32(16 + i),
            state: states[i % states.count],
            hw: hw,
            pINTID: hw ? UInt32(32 + i % 988) : 0,
            eoi: !hw && i % 2 == 0,
            group: UInt8(i & 1),
            priority: UInt8(truncatingIfNeeded: i &* 8),
            sourceCPU: hw ? 0 : UInt8(i % 8))
    }
}

private func registerArchitectureBenchmarks() {
    let lrs = sampleListRegisters()

    // Each iteration encodes and decodes the 1000 list registers (scalingFactor
    // .kilo: the report's per-operation figures are for one encode + decode).
    Benchmark("ICH_LR encode+decode (GICv3)") { benchmark in
        for i in benchmark.scaledIterations {
            let raw = ICH_LR.encode(identity(lrs[i]))
            blackHole(ICH_LR.decode(identity(raw)))
        }
    }

    Benchmark("GICH_LR encode+decode (GICv2)") { benchmark in
        for i in benchmark.scaledIterations {
            let raw = GICH_LR.encode(identity(lrs[i]))
            blackHole(GICH_LR.decode(identity(raw)))
        }
    }
}
