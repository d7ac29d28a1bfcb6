import Foundation
import GICArchitecture
import GICModel
import Testing
import VGIC
import VGICModelPlatform

// BEGIN EXAMPLE
/// A level-triggered device the VMM emulates: its line is high while it
/// has work the guest has not taken.
final class EmulatedDevice {
    let intid: UInt32
    var work = 0
    init(intid: UInt32) { self.intid = intid }
}

/// What the VMM does after each exit of `vcpu`: resample the line of every
/// device whose interrupt the guest deactivated (KVM's irqfd resample).
func resampleDeactivated(_ vgic: VGIC<ModelPlatform>, vcpu: Int, _ device: EmulatedDevice) {
    vgic.takeDeactivations(vcpu: vcpu) { intid in
        guard intid == device.intid else { return }
        try? vgic.setLine(intid, level: device.work > 0)
    }
}

/// The device has three pieces of work for the guest; each interrupt the
/// guest takes, it does one and ends the interrupt. Returns how often the
/// guest was interrupted.
func deactivationExample() throws(VGICError) -> Int {
    var d = try VGICDevice(version: .v3, vcpuCount: 1)
    try d.setDistributorBase(0x0800_0000)
    try d.addRedistributorRegion(index: 0, base: 0x080A_0000, count: 1)
    let model = GICModel(version: .v3, cpus: 1, listRegisters: 4, priorityBits: 5)
    let vgic = try d.initialize(platform: ModelPlatform(model: model))
    // The guest: SPI 45 level-sensitive, enabled; its CPU interface on.
    vgic.guestMMIOWrite(vcpu: 0, address: 0x0800_0000, width: 4, value: 0x12)
    vgic.guestMMIOWrite(vcpu: 0, address: 0x0800_0104, width: 4, value: 1 << 13)
    vgic.guestMMIOWrite(vcpu: 0, address: 0x0800_042D, width: 1, value: 0xA0)

    let device = EmulatedDevice(intid: 45)
    try vgic.setDeactivationNotification(45, true)
    device.work = 3
    try vgic.setLine(45, level: true)

    var taken = 0
    vgic.vcpuEnter(0)
    model.writeSystemRegister(cpu: 0, .pmr, 0xF0)
    model.writeSystemRegister(cpu: 0, .igrpen1, 1)
    for _ in 0..<10 {
        let intid = model.readSystemRegister(cpu: 0, .iar1)
        if intid == 1023 { break }
        taken += 1
        device.work -= 1  // the guest's handler
        model.writeSystemRegister(cpu: 0, .eoir1, intid)
        // The deactivation of a level interrupt the VMM watches raises a
        // maintenance interrupt (the list register's EOI bit): an exit.
        vgic.vcpuExit(0)
        resampleDeactivated(vgic, vcpu: 0, device)
        vgic.vcpuEnter(0)
    }
    vgic.vcpuExit(0)
    return taken
}
// END EXAMPLE

@Suite("The deactivation example of docs/vmm-api.md")
struct DeactivationExampleTests {
    @Test func theGuestIsInterruptedOncePerPieceOfWork() throws {
        #expect(try deactivationExample() == 3)
    }

    @Test func withoutResamplingTheLineStaysHighForEver() throws {
        let model = GICModel(version: .v3, cpus: 1, listRegisters: 4, priorityBits: 5)
        let vgic = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 1, irqCount: 64),
                            platform: ModelPlatform(model: model))
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: 0, width: 4, value: 0x12)
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: 0x104, width: 4, value: 1 << 13)
        try vgic.setDeactivationNotification(45, true)
        try vgic.setLine(45, level: true)
        vgic.vcpuEnter(0)
        model.writeSystemRegister(cpu: 0, .pmr, 0xF0)
        model.writeSystemRegister(cpu: 0, .igrpen1, 1)
        #expect(model.readSystemRegister(cpu: 0, .iar1) == 45)
        model.writeSystemRegister(cpu: 0, .eoir1, 45)
        #expect(model.maintenanceInterruptPending(cpu: 0), "the EOI of a watched level interrupt exits")
        vgic.vcpuExit(0)
        var seen: [UInt32] = []
        vgic.takeDeactivations(vcpu: 0) { seen.append($0) }
        #expect(seen == [45])
        vgic.takeDeactivations(vcpu: 0) { seen.append($0) }
        #expect(seen == [45], "drained once")
        vgic.vcpuEnter(0)
        #expect(model.readSystemRegister(cpu: 0, .iar1) == 45, "the line is still high: pending again")
    }

    @Test func aPPIIsRecordedForItsOwnerAndAnUnwatchedInterruptNotAtAll() throws {
        let model = GICModel(version: .v3, cpus: 2, listRegisters: 4, priorityBits: 5)
        let vgic = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: 2, irqCount: 64),
                            platform: ModelPlatform(model: model))
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: 0, width: 4, value: 0x12)
        try vgic.setDeactivationNotification(20, vcpu: 1, true)
        #expect(throws: VGICError.sgiCannotBeALine(3)) { try vgic.setDeactivationNotification(3, vcpu: 0, true) }
        // Active PPI 20 of vCPU 1 and SPI 33; vCPU 0 clears both through vCPU 1's frame and the distributor.
        vgic.guestMMIOWrite(vcpu: 0, region: .redistributor(1), offset: GICR.sgiBase + GICD.isactiver, width: 4,
                            value: 1 << 20)
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.isactiver + 4, width: 4, value: 1 << 1)
        vgic.guestMMIOWrite(vcpu: 0, region: .redistributor(1), offset: GICR.sgiBase + GICD.icactiver, width: 4,
                            value: 1 << 20)
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.icactiver + 4, width: 4, value: 1 << 1)
        var onZero: [UInt32] = [], onOne: [UInt32] = []
        vgic.takeDeactivations(vcpu: 0) { onZero.append($0) }
        vgic.takeDeactivations(vcpu: 1) { onOne.append($0) }
        #expect(onZero.isEmpty)
        #expect(onOne == [20])
    }

    /// docs/vmm-api.md shows exactly the code between the markers above.
    @Test func documentationShowsThisCode() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let lines = try String(contentsOf: here, encoding: .utf8).components(separatedBy: "\n")
        let begin = try #require(lines.firstIndex { $0.hasPrefix("// BEGIN EXAMPLE") })
        let end = try #require(lines.firstIndex { $0.hasPrefix("// END EXAMPLE") })
        let example = lines[(begin + 1)..<end].joined(separator: "\n")
        let doc = try String(contentsOf: root.appendingPathComponent("docs/vmm-api.md"), encoding: .utf8)
        let docLines = doc.components(separatedBy: "\n")
        let start = try #require(docLines.firstIndex {
            $0 == "<!-- example: Tests/VGICTests/DeactivationExampleTests.swift -->"
        })
        #expect(docLines[start + 1] == "```swift")
        let close = try #require(docLines[(start + 2)...].firstIndex { $0 == "```" })
        #expect(docLines[(start + 2)..<close].joined(separator: "\n") == example)
    }
}
