// swift-tools-version: 6.1
import PackageDescription

// The portable modules (GICArchitecture, VGIC, GICModel) depend on nothing and
// build both hosted and in Embedded Swift for aarch64-none-none-elf.
// The vGIC is generic over its platform: a client (a VMM, the benchmarks)
// gets specialized code only if the vGIC's bodies cross the module boundary.
let crossModule: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "swift-vgic",
    products: [
        .library(name: "GICArchitecture", targets: ["GICArchitecture"]),
        .library(name: "VGIC", targets: ["VGIC"]),
        .library(name: "GICModel", targets: ["GICModel"]),
        .library(name: "VGICModelPlatform", targets: ["VGICModelPlatform"]),
        .library(name: "VGICScenario", targets: ["VGICScenario"]),
        .executable(name: "vgic", targets: ["vgic"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `make docs`: the DocC catalogs of GICArchitecture, VGIC and GICModel.
        // A command plugin only: nothing that builds links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(name: "GICArchitecture"),
        .target(name: "VGIC", dependencies: ["GICArchitecture"], swiftSettings: crossModule),
        .target(name: "GICModel", dependencies: ["GICArchitecture"]),
        .target(name: "VGICModelPlatform", dependencies: ["GICArchitecture", "VGIC", "GICModel"]),
        .target(name: "VGICScenario", dependencies: ["GICArchitecture", "VGIC", "GICModel", "VGICModelPlatform"]),
        .executableTarget(
            name: "vgic",
            dependencies: [
                "VGICScenario",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "GICArchitectureTests", dependencies: ["GICArchitecture"]),
        .testTarget(name: "GICModelTests", dependencies: ["GICModel", "GICArchitecture"]),
        .testTarget(name: "VGICTests", dependencies: ["VGIC", "GICModel", "GICArchitecture", "VGICModelPlatform"]),
        .testTarget(name: "VGICScenarioTests", dependencies: ["VGICScenario"]),
    ],
    swiftLanguageModes: [.v6]
)
