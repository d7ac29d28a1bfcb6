import Foundation
import Testing

// BEGIN EXAMPLE (docs/vmm-api.md and README.md show this code; a test checks they are the same)
import GICArchitecture
import GICModel
import VGIC
import VGICModelPlatform

/// Guest physical addresses of the vGIC's frames (the machine model's choice).
let distributorBase: UInt64 = 0x0800_0000
let redistributorBase: UInt64 = 0x080A_0000

/// Configure a two-vCPU GICv3 as KVM's device API would: create, number of
/// IRQs, base addresses (the caller initializes it).
func makeDevice() throws(VGICError) -> VGICDevice {
    var device = try VGICDevice(version: .v3, vcpuCount: 2, ipaBits: 40)
    try device.setIRQCount(128)
    try device.setDistributorBase(distributorBase)
    try device.addRedistributorRegion(index: 0, base: redistributorBase, count: 2)
    return device
}

/// The hypervisor's data-abort handler: an access the vGIC does not claim
/// (nil, false) belongs to another device.
func trappedRead(_ vgic: VGIC<ModelPlatform>, vcpu: Int, address: UInt64) -> UInt64? {
    vgic.guestMMIORead(vcpu: vcpu, address: address, width: 4)
}

/// Make every kicked vCPU that is in the guest exit and re-enter (a real
/// hypervisor sends an IPI; the vCPU's exit path calls `vcpuExit`, its entry
/// path `vcpuEnter`).
func serviceKicks(_ vgic: VGIC<ModelPlatform>) {
    for v in vgic.platform.takeKicks() where vgic.isInGuest(vcpu: v) {
        vgic.vcpuExit(v)
        vgic.vcpuEnter(v)
    }
}

/// Create, configure, run, inject, snapshot and restore. Returns the INTID
/// the guest acknowledged and whether the restored vGIC still had it active.
func exampleVM() throws(VGICError) -> (acknowledged: UInt64, activeAfterRestore: Bool) {
    // 1. Create and configure, then initialize: the configuration is fixed from here on.
    var device = try makeDevice()
    let model = GICModel(version: .v3, cpus: 2, listRegisters: 4, priorityBits: 5)
    let vgic = try device.initialize(platform: ModelPlatform(model: model))

    // 2. The guest programs the distributor: its trapped accesses are
    //    dispatched by address. GICD_CTLR: EnableGrp1 (affinity routing is
    //    always on); SPI 40 edge-triggered, enabled, priority 0xA0, routed
    //    to vCPU 1.
    vgic.guestMMIOWrite(vcpu: 0, address: distributorBase + 0x0000, width: 4, value: 0x12)
    vgic.guestMMIOWrite(vcpu: 0, address: distributorBase + 0x0C08, width: 4, value: 2 << 16)
    vgic.guestMMIOWrite(vcpu: 0, address: distributorBase + 0x0104, width: 4, value: 1 << 8)
    vgic.guestMMIOWrite(vcpu: 0, address: distributorBase + 0x0428, width: 1, value: 0xA0)
    vgic.guestMMIOWrite(vcpu: 0, address: distributorBase + 0x6000 + 8 * 40, width: 8,
                        value: Affinity(vcpuIndex: 1).irouter)
    // vCPU 1 reads its GICR_TYPER (the second redistributor frame): Last is set.
    let typer = trappedRead(vgic, vcpu: 1, address: redistributorBase + 0x2_0000 + 0x8) ?? 0
    precondition(typer & 0x10 != 0)
    precondition(trappedRead(vgic, vcpu: 0, address: 0x0900_0000) == nil)  // not the vGIC's

    // 3. Run vCPU 1: on entry the vGIC loads its CPU interface and list
    //    registers; the guest's ICC_* accesses go to the hardware.
    vgic.vcpuEnter(1)
    model.writeSystemRegister(cpu: 1, .pmr, 0xF0)
    model.writeSystemRegister(cpu: 1, .igrpen1, 1)

    // 4. A device raises SPI 40: the vGIC kicks vCPU 1, which re-enters with
    //    the interrupt in a list register; the guest acknowledges it.
    try vgic.pulse(40)
    serviceKicks(vgic)
    let intid = model.readSystemRegister(cpu: 1, .iar1)
    vgic.vcpuExit(1)

    // 5. Save: every vCPU is out of the guest. The snapshot holds all of the
    //    vGIC's state; the VMM's register view is there too (KVM's uaccess).
    let bytes = try vgic.snapshot()
    let pmr = try vgic.vmmReadSystemRegister(vcpu: 1, .pmr)
    precondition(pmr == 0xF0)

    // 6. Restore on the destination: a device configured the same way,
    //    initialized from the snapshot.
    var destination = try makeDevice()
    let model2 = GICModel(version: .v3, cpus: 2, listRegisters: 4, priorityBits: 5)
    let restored = try destination.initialize(restoring: bytes, platform: ModelPlatform(model: model2))
    let active = try restored.vmmRead(region: .distributor, offset: 0x0304, width: 4) & (1 << 8) != 0

    // 7. The guest goes on where it was: it ends the interrupt it acknowledged.
    restored.vcpuEnter(1)
    model2.writeSystemRegister(cpu: 1, .eoir1, intid)
    restored.vcpuExit(1)
    let stillActive = try restored.vmmRead(region: .distributor, offset: 0x0304, width: 4)
    precondition(stillActive == 0)
    precondition(model.violations.isEmpty && model2.violations.isEmpty)
    return (intid, active)
}
// END EXAMPLE

@Suite("The VMM API example of docs/vmm-api.md")
struct VMMAPIExampleTests {
    @Test func exampleRuns() throws {
        let result = try exampleVM()
        #expect(result.acknowledged == 40)
        #expect(result.activeAfterRestore)
    }

    /// docs/vmm-api.md shows exactly the code between the markers above.
    @Test func documentationShowsThisCode() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: here, encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex { $0.hasPrefix("// BEGIN EXAMPLE") })
        let end = try #require(lines.firstIndex { $0.hasPrefix("// END EXAMPLE") })
        let example = lines[(begin + 1)..<end].joined(separator: "\n")
        for page in ["docs/vmm-api.md", "README.md"] {
            let doc = try String(contentsOf: root.appendingPathComponent(page), encoding: .utf8)
            let docLines = doc.components(separatedBy: "\n")
            let start = try #require(docLines.firstIndex { $0 == "<!-- example: Tests/VGICTests/VMMAPIExampleTests.swift -->" })
            #expect(docLines[start + 1] == "```swift")
            let close = try #require(docLines[(start + 2)...].firstIndex { $0 == "```" })
            let shown = docLines[(start + 2)..<close].joined(separator: "\n")
            #expect(shown == example, "\(page)'s example differs from the tested one")
        }
    }
}
