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
