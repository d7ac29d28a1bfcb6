// The vGIC operations that the benchmarks (VGICBenchmarks, wall clock and
// mallocs) and the instruction counter (VGICOpCounter, under callgrind)
// measure. Both run exactly the same code: a `VGICWorkload` sets up a VM on
// the GIC hardware model, warms it up, and then `step()` performs one
// operation, allocation-free, leaving the VM in the state it found it in.

import GICArchitecture
import GICModel
import VGIC
import VGICModelPlatform

/// One measured operation.
public enum VGICOperation: String, CaseIterable, Sendable {
    case interruptV3 = "interrupt-v3"
    case readEnableV3 = "read-isenabler-v3"
    case readPriorityV3 = "read-ipriorityr-v3"
    case writeEnableV3 = "write-isenabler-v3"
    case writePriorityByteV3 = "write-ipriorityr-byte-v3"
    case flushSync4 = "flush-sync-4"
    case flushSync16 = "flush-sync-16"
    case flushSync64 = "flush-sync-64"
    case interruptV2 = "interrupt-v2"
    case readEnableV2 = "read-isenabler-v2"
    case readPriorityV2 = "read-ipriorityr-v2"
    case writeEnableV2 = "write-isenabler-v2"
    case writePriorityByteV2 = "write-ipriorityr-byte-v2"

    /// What one operation does, for reports.
    public var title: String {
        switch self {
        case .interruptV3: "v3 interrupt end to end (pulse, flush, IAR1, EOIR1, sync)"
        case .readEnableV3: "v3 MMIO read GICD_ISENABLER1 (32 bits)"
        case .readPriorityV3: "v3 MMIO read GICD_IPRIORITYR8 (32 bits)"
        case .writeEnableV3: "v3 MMIO write GICD_ISENABLER1 (32 bits)"
        case .writePriorityByteV3: "v3 MMIO write GICD_IPRIORITYR byte"
        case .flushSync4: "v3 flush+sync, 4 pending on 4 LRs"
        case .flushSync16: "v3 flush+sync, 16 pending on 4 LRs"
        case .flushSync64: "v3 flush+sync, 64 pending on 4 LRs"
        case .interruptV2: "v2 interrupt end to end (pulse, flush, IAR, EOIR, sync)"
        case .readEnableV2: "v2 MMIO read GICD_ISENABLER1 (32 bits)"
        case .readPriorityV2: "v2 MMIO read GICD_IPRIORITYR8 (32 bits)"
        case .writeEnableV2: "v2 MMIO write GICD_ISENABLER1 (32 bits)"
        case .writePriorityByteV2: "v2 MMIO write GICD_IPRIORITYR byte"
        }
    }

    public var version: GICVersion {
        switch self {
        case .interruptV2, .readEnableV2, .readPriorityV2, .writeEnableV2, .writePriorityByteV2: .v2
        default: .v3
        }
    }

    /// Interrupts left pending for the flush+sync operations.
    var pendingCount: Int {
        switch self {
        case .flushSync4: 4
        case .flushSync16: 16
        case .flushSync64: 64
        default: 0
        }
    }
}

/// The VM every workload runs: 4 vCPUs, 256 INTIDs, 5 priority bits and 4
/// list registers (the vGIC's defaults), on the hardware model.
public final class VGICWorkload {
    public static let vcpuCount = 4
    public static let listRegisters = 4

    /// The SPI the interrupt and MMIO operations use.
    static let spi: UInt32 = 32

    public let operation: VGICOperation
    public let model: GICModel
    public let platform: ModelPlatform
    public let vgic: VGIC<ModelPlatform>
    /// Steps whose outcome was not the expected one (an interrupt not
    /// delivered, a register that read back wrong). Must stay 0.
    public private(set) var failures = 0

    public init(_ operation: VGICOperation) throws(VGICError) {
        self.operation = operation
        let version = operation.version
        model = GICModel(version: version, cpus: Self.vcpuCount, listRegisters: Self.listRegisters,
                         priorityBits: 5)
        platform = ModelPlatform(model: model)
        vgic = try VGIC(configuration: VGICConfiguration(version: version, vcpuCount: Self.vcpuCount,
                                                         irqCount: 256, listRegisters: Self.listRegisters),
                        platform: platform)
        setUpGuest()
        // Warm-up: every array the operation touches exists and has been
        // written (no copy-on-write left), every lazy global is initialised.
        for _ in 0..<64 { step() }
        failures = 0
        _ = platform.takeKicks()
        model.clearViolations()
    }

    /// What a guest's GIC driver does at boot: enable the distributor, make
    /// SPIs 32..95 edge-triggered with a priority, route them to vCPU 0,
    /// enable them; on vCPU 0, open the CPU interface (PMR, group enable).
    func setUpGuest() {
        let v3 = operation.version == .v3
        mmioWrite(GICD.ctlr, 4, v3 ? 0x13 : 0x1)
        for word: UInt32 in 2..<6 {
            mmioWrite(GICD.icfgr + 4 * word, 4, 0xAAAA_AAAA)
        }
        for k: UInt32 in 0..<64 {
            let id = 32 + k
            // Distinct priorities in a mixed order, so that flush sorts.
            mmioWrite(GICD.ipriorityr + id, 1, UInt64(0x40 + (k * 5 % 16) * 8))
            if v3 {
                mmioWrite(GICD.irouter + 8 * id, 8, Affinity(vcpuIndex: 0).irouter)
            } else {
                mmioWrite(GICD.itargetsr + id, 1, 1)
            }
        }
        mmioWrite(GICD.isenabler + 4, 4, 0xFFFF_FFFF)
        mmioWrite(GICD.isenabler + 8, 4, 0xFFFF_FFFF)

        vgic.vcpuEnter(0)
        if v3 {
            model.writeSystemRegister(cpu: 0, .pmr, 0xF0)
            model.writeSystemRegister(cpu: 0, .igrpen1, 1)
        } else {
            model.writeGICV(cpu: 0, offset: GICC.pmr, width: 4, 0xF0)
            model.writeGICV(cpu: 0, offset: GICC.ctlr, width: 4, 1)
        }
        vgic.vcpuExit(0)

        let pending = operation.pendingCount
        for k in 0..<pending {
            do { try vgic.pulse(32 + UInt32(k)) } catch { failures += 1 }
        }
    }

    private func mmioWrite(_ offset: UInt32, _ width: Int, _ value: UInt64) {
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: offset, width: width, value: value)
    }

    /// One operation. Allocation-free.
    @inline(never)
    public func step() {
        switch operation {
        case .interruptV3, .interruptV2:
            interrupt()
        case .readEnableV3, .readEnableV2:
            let v = vgic.guestMMIORead(vcpu: 0, region: .distributor, offset: GICD.isenabler + 4, width: 4)
            if v != 0xFFFF_FFFF { failures += 1 }
        case .readPriorityV3, .readPriorityV2:
            // GICD_IPRIORITYR8: SPIs 32..35.
            let v = vgic.guestMMIORead(vcpu: 0, region: .distributor, offset: GICD.ipriorityr + 32, width: 4)
            if v == 0 { failures += 1 }
        case .writeEnableV3, .writeEnableV2:
            vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.isenabler + 4, width: 4,
                                value: 1 << UInt64(Self.spi - 32))
        case .writePriorityByteV3, .writePriorityByteV2:
            vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ipriorityr + Self.spi, width: 1,
                                value: 0x40)
        case .flushSync4, .flushSync16, .flushSync64:
            vgic.vcpuEnter(0)
            vgic.vcpuExit(0)
        }
    }

    /// An edge SPI from its device to the guest's EOI and back out.
    @inline(__always)
    func interrupt() {
        do { try vgic.pulse(Self.spi) } catch { failures += 1 }
        vgic.vcpuEnter(0)
        let intid: UInt64
        if operation.version == .v3 {
            intid = model.readSystemRegister(cpu: 0, .iar1)
            model.writeSystemRegister(cpu: 0, .eoir1, intid)
        } else {
            intid = model.readGICV(cpu: 0, offset: GICC.iar, width: 4)
            model.writeGICV(cpu: 0, offset: GICC.eoir, width: 4, intid)
        }
        vgic.vcpuExit(0)
        if intid != UInt64(Self.spi) { failures += 1 }
    }

    /// `n` operations.
    @inline(never)
    public func run(_ n: Int) {
        for _ in 0..<n { step() }
    }

    /// A description of what went wrong, or nil: failed steps, violations
    /// the hardware model recorded.
    public func problems() -> String? {
        var wrongLRs = 0
        if operation.pendingCount > 0 {
            // Flush must fill every list register with a pending interrupt.
            vgic.vcpuEnter(0)
            for n in 0..<Self.listRegisters where ICH_LR.decode(model.readLR(cpu: 0, n)).state != .pending {
                wrongLRs += 1
            }
            vgic.vcpuExit(0)
        }
        let violations = model.violations
        if failures == 0 && violations.isEmpty && wrongLRs == 0 { return nil }
        return "\(operation.rawValue): \(failures) failed step(s), \(wrongLRs) list register(s) not pending, "
            + "\(violations.count) architecture violation(s)"
    }
}
