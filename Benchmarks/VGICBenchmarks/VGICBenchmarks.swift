// Benchmarks for swift-vgic. Run with `make bench` (or, from this folder,
// `swift package benchmark`; `swift package benchmark --filter 'ICH_LR.*'`
// runs a subset).
//
// Layout: one `register…Benchmarks()` function per area, each called from
// `benchmarks` below. The vGIC's operations live in Workloads/ (shared with
// the instruction counter, Tools/VGICOpCounter); `registerVGICBenchmarks`
// turns each into a benchmark. docs/performance.md has the figures.
//
// Metrics: this machine's kernel gives no hardware instruction counter
// (`perf stat -e instructions true` says "not supported"), so the benchmarks
// measure wall-clock time and heap allocations. For exact instruction counts
// per operation use `bash scripts/instructions.sh` (callgrind).

import Benchmark
import GICArchitecture
import VGICWorkloads

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )

    registerArchitectureBenchmarks()
    registerVGICBenchmarks()
}

// MARK: - vGIC operations

/// A workload made by the benchmark's setup hook (once, before any measured
/// iteration) and checked by its teardown.
private final class WorkloadHolder {
    var workload: VGICWorkload?
}

/// The vGIC operations of `VGICOperation` (Workloads/VGICWorkloads.swift, the
/// same code that `scripts/instructions.sh` counts instructions of): one
/// interrupt end to end, guest distributor reads and writes, flush + sync
/// with 4, 16 and 64 pending interrupts; GICv3, and GICv2 for the first two.
///
/// Each iteration runs 1000 operations (scalingFactor .kilo) on a VM that the
/// setup hook built and warmed up, so `mallocCountTotal` is the steady state:
/// it must be 0. The teardown stops the run (non-zero exit) when an operation
/// did not do what it should (an interrupt not delivered, an architecture
/// violation, a list register not filled).
private func registerVGICBenchmarks() {
    for operation in VGICOperation.allCases {
        let holder = WorkloadHolder()
        Benchmark(
            operation.title,
            closure: { benchmark in
                guard let workload = holder.workload else {
                    benchmark.error("\(operation.rawValue): no workload")
                    return
                }
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations {
                    workload.step()
                }
                benchmark.stopMeasurement()
            },
            setup: {
                holder.workload = try VGICWorkload(operation)
            },
            teardown: {
                defer { holder.workload = nil }
                if let problem = holder.workload?.problems() {
                    // A thrown error is only printed (the run still exits 0):
                    // stop the run so that `make bench` fails.
                    fatalError("VGICBenchmarks: \(operation.title): \(problem)")
                }
            }
        )
    }
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
