// swift-tools-version: 6.1
import PackageDescription

// Benchmarks for swift-vgic, kept in their own package so that the main
// package (and its Embedded build) never depends on package-benchmark.
// Run with `make bench` or `cd Benchmarks && swift package benchmark`.
let package = Package(
    name: "swift-vgic-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "swift-vgic", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1",
                 traits: ["MallocInterposer"]),
    ],
    targets: [
        // package-benchmark finds benchmark targets by their directory: it
        // must sit directly in a folder named `Benchmarks` (this package's root).
        .executableTarget(
            name: "VGICBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GICArchitecture", package: "swift-vgic"),
                "VGICWorkloads",
            ],
            path: "VGICBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        // The vGIC operations measured, shared by the benchmarks and VGICOpCounter.
        .target(
            name: "VGICWorkloads",
            dependencies: [
                .product(name: "GICArchitecture", package: "swift-vgic"),
                .product(name: "VGIC", package: "swift-vgic"),
                .product(name: "GICModel", package: "swift-vgic"),
                .product(name: "VGICModelPlatform", package: "swift-vgic"),
            ],
            path: "Workloads"
        ),
        // N iterations of one operation, for instruction counts under callgrind
        // (scripts/instructions.sh). Kept under Tools/ so that the benchmark
        // plugin, which runs every executable whose folder sits directly in
        // `Benchmarks`, does not take it for a benchmark.
        .executableTarget(
            name: "VGICOpCounter",
            dependencies: ["VGICWorkloads"],
            path: "Tools/VGICOpCounter"
        ),
    ]
)
