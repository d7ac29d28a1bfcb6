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
        _ = g.accessNeedsOtherVCPUsStopped(region: .distributor, offset: 0x300)
        _ = g.systemRegisterNeedsOtherVCPUsStopped(.dir)
        _ = g.dirTraps(vcpu: 0)
        _ = g.hasPendingInterrupt(vcpu: 0)
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
    return sum
}
