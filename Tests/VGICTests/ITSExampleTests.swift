import Foundation
import GICArchitecture
import GICModel
import Testing
import VGIC
import VGICModelPlatform

// BEGIN EXAMPLE
/// QEMU virt's layout: distributor, ITS, redistributors, RAM.
let itsBase: UInt64 = 0x0808_0000
let ram: UInt64 = 0x4000_0000

/// A GICv3 vGIC with an ITS for one vCPU, on the hardware model with 1 MiB of RAM.
func makeITSVM() throws(VGICError) -> (VGIC<ModelPlatform>, GICModel, GuestRAM) {
    var d = try VGICDevice(version: .v3, vcpuCount: 1)
    try d.setDistributorBase(0x0800_0000)
    try d.setRedistributorBase(0x080A_0000)
    try d.addITS(base: itsBase, configuration: ITSConfiguration(lpis: 256, devices: 16, events: 256,
                                                                collections: 4))
    let model = GICModel(version: .v3, cpus: 1, listRegisters: 4, priorityBits: 5)
    let memory = GuestRAM(base: ram, size: 0x10_0000)
    return (try d.initialize(platform: ModelPlatform(model: model, memory: memory)), model, memory)
}

/// The guest's GIC driver: LPI tables, the ITS's tables and queue, and one
/// device (DeviceID 42) whose event 0 is LPI 8192 on vCPU 0.
func guestMapsDevice42(_ vgic: VGIC<ModelPlatform>, _ memory: GuestRAM) {
    vgic.guestMMIOWrite(vcpu: 0, address: 0x0800_0000, width: 4, value: 0x12)                  // GICD_CTLR
    memory.store(ram + 0x1_0000, 0xA3, width: 1)                   // LPI 8192: priority 0xA0, enabled
    vgic.guestMMIOWrite(vcpu: 0, address: 0x080A_0070, width: 8, value: ram + 0x1_0000 | 15)  // PROPBASER
    vgic.guestMMIOWrite(vcpu: 0, address: 0x080A_0078, width: 8, value: ram + 0x2_0000)       // PENDBASER
    vgic.guestMMIOWrite(vcpu: 0, address: 0x080A_0000, width: 4, value: 1)                    // EnableLPIs
    vgic.guestMMIOWrite(vcpu: 0, address: itsBase + 0x100, width: 8, value: ram + 0x3_0000 | 1 << 63)  // devices
    vgic.guestMMIOWrite(vcpu: 0, address: itsBase + 0x108, width: 8, value: ram + 0x4_0000 | 1 << 63)  // collections
    vgic.guestMMIOWrite(vcpu: 0, address: itsBase + 0x80, width: 8, value: ram + 0x5_0000 | 1 << 63)   // queue
    vgic.guestMMIOWrite(vcpu: 0, address: itsBase, width: 4, value: 1)                                // enabled
    let commands: [ITSCommand] = [.mapd(device: 42, ittAddress: ram + 0x6_0000, eventIDBits: 4),
                                  .mapc(icid: 0, target: 0), .mapti(device: 42, event: 0, lpi: 8192, icid: 0)]
    for (k, c) in commands.enumerated() {
        for (j, word) in [c.dw0, c.dw1, c.dw2, c.dw3].enumerated() {
            memory.store(ram + 0x5_0000 + UInt64(32 * k + 8 * j), word)
        }
    }
    vgic.guestMMIOWrite(vcpu: 0, address: itsBase + 0x88, width: 8, value: UInt64(32 * commands.count))  // CWRITER
}

/// Device 42 signals MSIs; the VM migrates through KVM's ITS ABI with one
/// pending. Returns the LPIs the guest took before and after.
func itsExample() throws(VGICError) -> (before: UInt64, after: UInt64) {
    let (vgic, model, memory) = try makeITSVM()
    guestMapsDevice42(vgic, memory)
    vgic.vcpuEnter(0)
    model.writeSystemRegister(cpu: 0, .pmr, 0xF0)
    model.writeSystemRegister(cpu: 0, .igrpen1, 1)
    vgic.vcpuExit(0)

    // The device writes EventID 0 to GITS_TRANSLATER (KVM_SIGNAL_MSI).
    let doorbell = itsBase + 0x1_0040
    let outcome = try vgic.signalMSI(doorbell: doorbell, deviceID: 42, eventID: 0)
    precondition(outcome == .delivered)
    vgic.vcpuEnter(0)
    let before = model.readSystemRegister(cpu: 0, .iar1)
    model.writeSystemRegister(cpu: 0, .eoir1, before)
    vgic.vcpuExit(0)

    // Save: one more MSI pending, the pending tables and the ITS tables into
    // guest RAM, then the registers (every vCPU is out).
    _ = try vgic.signalMSI(doorbell: doorbell, deviceID: 42, eventID: 0)
    try vgic.saveLPIPendingTables()
    try vgic.saveITSTables()
    let redistributorRegisters: [UInt32] = [0x70, 0x78, 0x00]  // PROPBASER, PENDBASER, CTLR
    var redistributor: [UInt64] = []
    for r in redistributorRegisters {
        redistributor.append(try vgic.vmmRead(region: .redistributor(0), offset: r, width: r == 0 ? 4 : 8))
    }
    let its: [(UInt32, Int)] = [(0x04, 4), (0x80, 8), (0x100, 8), (0x108, 8), (0x88, 8), (0x90, 8)]
    var itsValues: [UInt64] = []
    for (r, w) in its { itsValues.append(try vgic.vmmRead(region: .its, offset: r, width: w)) }
    let itsControl = try vgic.vmmRead(region: .its, offset: 0, width: 4)

    // Restore on the destination, in KVM's order: the RAM, the
    // redistributor, the ITS registers but GITS_CTLR, the tables, GITS_CTLR.
    let (dest, model2, memory2) = try makeITSVM()
    memory2.replaceContents(memory.contents)
    try dest.vmmWrite(region: .distributor, offset: 0, width: 4, value: 0x12)
    for (k, r) in redistributorRegisters.enumerated() {
        try dest.vmmWrite(region: .redistributor(0), offset: r, width: r == 0 ? 4 : 8, value: redistributor[k])
    }
    for (k, (r, w)) in its.enumerated() { try dest.vmmWrite(region: .its, offset: r, width: w, value: itsValues[k]) }
    try dest.restoreITSTables()
    try dest.vmmWrite(region: .its, offset: 0, width: 4, value: itsControl)
    try dest.vmmWriteSystemRegister(vcpu: 0, .pmr, 0xF0)
    try dest.vmmWriteSystemRegister(vcpu: 0, .igrpen1, 1)
    dest.vcpuEnter(0)
    let after = model2.readSystemRegister(cpu: 0, .iar1)
    model2.writeSystemRegister(cpu: 0, .eoir1, after)
    dest.vcpuExit(0)
    return (before, after)
}
// END EXAMPLE

@Suite("The ITS example of docs/vmm-api.md")
struct ITSExampleTests {
    @Test func theLPIIsTakenBeforeAndAfterTheMigration() throws {
        let r = try itsExample()
        #expect(r.before == 8192 && r.after == 8192)
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
        let start = try #require(docLines.firstIndex { $0 == "<!-- example: Tests/VGICTests/ITSExampleTests.swift -->" })
        #expect(docLines[start + 1] == "```swift")
        let close = try #require(docLines[(start + 2)...].firstIndex { $0 == "```" })
        #expect(docLines[(start + 2)..<close].joined(separator: "\n") == example)
    }
}
