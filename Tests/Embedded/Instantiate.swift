// Compiled only by scripts/build-embedded.sh, in Embedded Swift for
// aarch64-none-none-elf, together with the VGIC and GICModel modules: the
// generic vGIC is specialised for a concrete platform here (as the
// hypervisor specialises it), so that every line of it goes through the
// Embedded compiler, not only its non-generic parts.

import GICArchitecture
import GICModel
import VGIC
import VGICModelPlatform

/// Every public operation once, for each GIC version.
@_cdecl("vgic_embedded_exercise")
public func exercise() -> UInt64 {
    var sum: UInt64 = 0
    for version in [GICVersion.v3, GICVersion.v2] {
        let model = GICModel(version: version, cpus: 2, listRegisters: 4, priorityBits: 5)
        let config = VGICConfiguration(version: version, vcpuCount: 2, irqCount: 128)
        guard let g = try? VGIC(configuration: config, platform: ModelPlatform(model: model)) else { return 0 }
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: 0, width: 4, value: 3)
        try? g.setLine(40, level: true)
        try? g.pulse(41)
        try? g.map(27, vcpu: 1, physicalIntid: 27, levelFromPhysical: true)
        try? g.unmap(27, vcpu: 1)
        g.vcpuEnter(0)
        sum &+= model.readSystemRegister(cpu: 0, .iar1)
        sum &+= model.readGICV(cpu: 0, offset: 0x0C, width: 4)
        g.vcpuExit(0)
        sum &+= g.guestMMIORead(vcpu: 1, region: .redistributor(1), offset: 8, width: 8)
        g.guestSystemRegisterWrite(vcpu: 0, .sgi1r, 1)
        g.guestMMIOWrite(vcpu: 0, region: .distributor, offset: 0x304, width: 4, value: 1)
        g.guestSystemRegisterWrite(vcpu: 0, .dir, 40)
        try? g.hardwareInterruptTaken(27, vcpu: 1)
        try? g.setDeactivationNotification(40, true)
        g.takeDeactivations(vcpu: 0) { sum &+= UInt64($0) }
        _ = g.firstLeakedTwin()
        _ = g.dirTraps(vcpu: 0)
        _ = g.hasPendingInterrupt(vcpu: 0)
        try? g.resetCPUInterface(vcpu: 1)
        sum &+= (try? g.vmmRead(region: .distributor, offset: 4, width: 4)) ?? 0
        try? g.vmmWrite(region: .distributor, offset: 0x104, width: 4, value: 1)
        if let bytes = try? g.snapshot(), let h = try? VGIC.restore(snapshot: bytes, platform: g.platform) {
            h.vcpuEnter(1)
            h.vcpuExit(1)
            try? h.restore(snapshot: bytes)
            sum &+= UInt64((try? VGICSnapshot(bytes: bytes))?.interrupts.count ?? 0)
        }
        sum &+= UInt64(model.violations.count)
    }
    sum &+= exerciseDevice()
    sum &+= exerciseITS()
    return sum
}

/// The ITS and LPIs: guest memory, the tables, commands, MSIs.
func exerciseITS() -> UInt64 {
    var sum: UInt64 = 0
    let model = GICModel(version: .v3, cpus: 2, listRegisters: 4, priorityBits: 5)
    let ram = GuestRAM(base: 0x4000_0000, size: 0x10_0000)
    guard var device = try? VGICDevice(version: .v3, vcpuCount: 2) else { return 0 }
    try? device.setDistributorBase(0x0800_0000)
    try? device.setRedistributorBase(0x080A_0000)
    try? device.addITS(base: 0x0808_0000, configuration: ITSConfiguration(lpis: 16, devices: 4, events: 16,
                                                                            collections: 4))
    guard let g = try? device.initialize(platform: ModelPlatform(model: model, memory: ram)) else { return 0 }
    g.guestMMIOWrite(vcpu: 0, address: 0x0800_0000, width: 4, value: 0x12)
    g.guestMMIOWrite(vcpu: 0, address: 0x080A_0070, width: 8, value: 0x4001_000F)
    g.guestMMIOWrite(vcpu: 0, address: 0x080A_0078, width: 8, value: 0x4002_0000)
    g.guestMMIOWrite(vcpu: 0, address: 0x080A_0000, width: 4, value: 1)
    ram.store(0x4001_0000, 0x43, width: 1)
    g.guestMMIOWrite(vcpu: 0, address: 0x0808_0100, width: 8, value: 0x8000_0000_4004_0000)
    g.guestMMIOWrite(vcpu: 0, address: 0x0808_0108, width: 8, value: 0x8000_0000_4005_0000)
    g.guestMMIOWrite(vcpu: 0, address: 0x0808_0080, width: 8, value: 0x8000_0000_4006_0000)
    g.guestMMIOWrite(vcpu: 0, address: 0x0808_0000, width: 4, value: 1)
    let commands: [ITSCommand] = [.mapd(device: 1, ittAddress: 0x4008_0000, eventIDBits: 2), .mapc(icid: 0, target: 0),
                                  .mapti(device: 1, event: 0, lpi: 8192, icid: 0), .event(.int, device: 1, event: 0),
                                  .movi(device: 1, event: 0, icid: 0), .invall(icid: 0), .sync(target: 0),
                                  .movall(from: 1, to: 0), .event(.inv, device: 1, event: 0)]
    for (k, c) in commands.enumerated() {
        let a = 0x4006_0000 + 32 * UInt64(k)
        ram.store(a, c.dw0)
        ram.store(a + 8, c.dw1)
        ram.store(a + 16, c.dw2)
        ram.store(a + 24, c.dw3)
    }
    g.guestMMIOWrite(vcpu: 0, address: 0x0808_0088, width: 8, value: 32 * UInt64(commands.count))
    if let outcome = try? g.signalMSI(doorbell: 0x0809_0040, deviceID: 1, eventID: 0) {
        sum &+= UInt64(bitPattern: Int64(outcome.kvmReturnValue))
    }
    g.vcpuEnter(0)
    sum &+= model.readSystemRegister(cpu: 0, .iar1)
    g.vcpuExit(0)
    sum &+= g.itsCommandCounts.processed
    sum &+= (try? g.vmmRead(region: .its, offset: 0x8, width: 8)) ?? 0
    try? g.vmmWrite(region: .its, offset: 0x4, width: 4, value: 0x5600_043B)
    try? g.saveLPIPendingTables()
    try? g.saveITSTables()
    if let bytes = try? g.snapshot(), let h = try? VGIC.restore(snapshot: bytes, platform: g.platform) {
        sum &+= UInt64((try? VGICSnapshot(bytes: bytes))?.its?.lpis.count ?? 0)
        try? h.restore(snapshot: bytes)
    }
    try? g.vmmWrite(region: .its, offset: 0x0, width: 4, value: 0)
    try? g.vmmResetITS()
    g.guestMMIOWrite(vcpu: 0, address: 0x0808_0100, width: 8, value: 0x8000_0000_4004_0000)
    g.guestMMIOWrite(vcpu: 0, address: 0x0808_0108, width: 8, value: 0x8000_0000_4005_0000)
    try? g.restoreITSTables()
    return sum
}

/// The device API, address dispatch and the VMM's CPU-interface and
/// line-level accessors.
func exerciseDevice() -> UInt64 {
    var sum: UInt64 = 0
    for version in [GICVersion.v3, GICVersion.v2] {
        let model = GICModel(version: version, cpus: 2, listRegisters: 4, priorityBits: 5)
        guard var device = try? VGICDevice(version: version, vcpuCount: 2, ipaBits: 40) else { return 0 }
        try? device.setIRQCount(128)
        try? device.setDistributorBase(0x0800_0000)
        if version == .v3 {
            try? device.addRedistributorRegion(index: 0, base: 0x080A_0000, count: 1)
            try? device.setRedistributorRegion(kvmAttribute: RedistributorRegion(index: 1, base: 0x0810_0000,
                                                                                  count: 1).kvmAttribute)
            _ = try? device.redistributorRegion(index: 1)
        } else {
            try? device.setCPUInterfaceBase(0x0801_0000)
        }
        let configured = device
        guard let g = try? device.initialize(platform: ModelPlatform(model: model)) else { return 0 }
        sum &+= g.guestMMIORead(vcpu: 1, address: 0x0810_0008, width: 8) ?? 0
        g.guestMMIOWrite(vcpu: 0, address: 0x0800_0000, width: 4, value: 3)
        _ = g.guestMMIORead(vcpu: 0, address: 0x0800_0300, width: 4)
        _ = g.location(ofAddress: 0x080A_0000)
        _ = g.baseAddress(of: .redistributor(1))
        try? g.vmmWriteSystemRegister(vcpu: 0, .pmr, 0xF0)
        sum &+= (try? g.vmmReadSystemRegister(vcpu: 0, .ctlr)) ?? 0
        try? g.vmmSetLineLevels(vcpu: 0, firstINTID: 32, 1)
        sum &+= UInt64((try? g.vmmLineLevels(vcpu: 0, firstINTID: 32)) ?? 0)
        if let bytes = try? g.snapshot() {
            var twin = configured
            _ = try? twin.initialize(restoring: bytes, platform: g.platform)
        }
    }
    return sum
}
