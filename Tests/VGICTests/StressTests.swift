import Foundation
import GICArchitecture
import GICModel
import Synchronization
import Testing
import VGIC
import VGICModelPlatform

/// vCPU threads run guests (acknowledge, EOI, send SGIs) on the hardware
/// model while device threads inject edge and level SPIs. Every interrupt is
/// raised again only after its previous delivery was seen, so the exact
/// number of deliveries is known: nothing may be lost, nothing delivered
/// twice, nothing delivered to a vCPU it is not routed to. Run under
/// ThreadSanitizer by `make test` (`--filter Stress`).
@Suite("Stress")
struct StressTests {
    static let vcpus = 4
    static let rounds = 400
    static let edgeSPIs: [UInt32] = Array(32..<40)
    static let levelSPIs: [UInt32] = Array(40..<48)

    /// Counts shared by the threads, under the project's SpinLock (whose
    /// atomics ThreadSanitizer sees, unlike the runtime's Mutex internals).
    final class Counters: @unchecked Sendable {
        let lock = SpinLock()
        /// delivered[intid * vcpus + vcpu]
        private var delivered = [Int](repeating: 0, count: 64 * StressTests.vcpus)
        private var sent = [Int](repeating: 0, count: StressTests.vcpus)
        let misrouted = Atomic<Int>(0)
        let done = Atomic<Bool>(false)

        func count(_ intid: UInt32, on v: Int) -> Int { lock.withLock { delivered[Int(intid) * StressTests.vcpus + v] } }
        func deliver(_ intid: UInt32, on v: Int) { lock.withLock { delivered[Int(intid) * StressTests.vcpus + v] += 1 } }
        func sentCount(_ v: Int) -> Int { lock.withLock { sent[v] } }
        func send(_ v: Int) { lock.withLock { sent[v] += 1 } }
    }

    static func target(of intid: UInt32) -> Int { Int(intid) % vcpus }

    @Test func devicesAndVCPUsOnThreadsLoseAndDuplicateNothing() throws {
        let model = GICModel(version: .v3, cpus: Self.vcpus, listRegisters: 4, priorityBits: 5)
        let platform = ModelPlatform(model: model)
        let vgic = try VGIC(configuration: VGICConfiguration(version: .v3, vcpuCount: Self.vcpus, irqCount: 64,
                                                             listRegisters: 4), platform: platform)
        // Guest set-up through the distributor.
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ctlr, width: 4, value: 0x13)
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.icfgr + 8, width: 4, value: 0x0000_AAAA)
        for id in Self.edgeSPIs + Self.levelSPIs {
            vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.ipriorityr + id, width: 1, value: 0x80)
            vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.irouter + 8 * id, width: 8,
                                value: Affinity(vcpuIndex: Self.target(of: id)).irouter)
        }
        vgic.guestMMIOWrite(vcpu: 0, region: .distributor, offset: GICD.isenabler + 4, width: 4, value: 0xFFFF)
        for v in 0..<Self.vcpus {
            vgic.vcpuEnter(v)
            model.writeSystemRegister(cpu: v, .pmr, 0xF0)
            model.writeSystemRegister(cpu: v, .igrpen1, 1)
            vgic.vcpuExit(v)
        }

        let c = Counters()
        var threads: [Thread] = []
        for v in 0..<Self.vcpus {
            threads.append(Thread { Self.runVCPU(v, vgic, model, platform, c) })
        }
        let devices: [[UInt32]] = [Self.edgeSPIs + Self.levelSPIs.prefix(4), Array(Self.levelSPIs.suffix(4))]
        let finished = Atomic<Int>(0)
        for spis in devices {
            threads.append(Thread {
                Self.runDevice(spis, vgic, c)
                finished.add(1, ordering: .sequentiallyConsistent)
            })
        }
        for t in threads { t.start() }

        let deadline = Date().addingTimeInterval(60)
        func sgisDone() -> Bool {
            (0..<Self.vcpus).allSatisfy { v in c.count(UInt32(v), on: (v + 1) % Self.vcpus) >= Self.rounds }
        }
        while (finished.load(ordering: .sequentiallyConsistent) < devices.count || !sgisDone()) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        c.done.store(true, ordering: .sequentiallyConsistent)
        Thread.sleep(forTimeInterval: 0.2)

        #expect(finished.load(ordering: .sequentiallyConsistent) == devices.count, "device threads finished in time")
        for id in Self.edgeSPIs + Self.levelSPIs {
            let t = Self.target(of: id)
            #expect(c.count(id, on: t) == Self.rounds, "SPI \(id) delivered exactly once per raise")
            for v in 0..<Self.vcpus where v != t { #expect(c.count(id, on: v) == 0, "SPI \(id) only on vCPU \(t)") }
        }
        for v in 0..<Self.vcpus {
            #expect(c.count(UInt32(v), on: (v + 1) % Self.vcpus) == c.sentCount(v), "SGI \(v): one delivery per send")
        }
        #expect(c.misrouted.load(ordering: .sequentiallyConsistent) == 0)
        #expect(model.violations.isEmpty)
    }

    /// A device raises each of its SPIs, waits until the guest has taken it,
    /// and raises it again: edge by pulses, level by holding the line up
    /// until the guest's handler lowers it.
    static func runDevice(_ spis: [UInt32], _ vgic: VGIC<ModelPlatform>, _ c: Counters) {
        for round in 0..<rounds {
            for id in spis {
                if edgeSPIs.contains(id) {
                    try? vgic.pulse(id)
                } else {
                    try? vgic.setLine(id, level: true)
                }
                while c.count(id, on: target(of: id)) <= round && !c.done.load(ordering: .relaxed) {
                    sched_yield()
                }
            }
        }
    }

    /// A vCPU: enter, acknowledge and EOI what is pending, lower level lines
    /// in the handler (a device access: an exit), send its SGI to the next
    /// vCPU once the previous one arrived, exit, and again.
    static func runVCPU(_ v: Int, _ vgic: VGIC<ModelPlatform>, _ model: GICModel, _ platform: ModelPlatform,
                        _ c: Counters) {
        let next = (v + 1) % vcpus
        while !c.done.load(ordering: .relaxed) {
            vgic.vcpuEnter(v)
            for _ in 0..<8 {
                let iar = UInt32(truncatingIfNeeded: model.readSystemRegister(cpu: v, .iar1))
                if iar >= INTID.spiLimit { break }
                if iar >= 32 && target(of: iar) != v { c.misrouted.add(1, ordering: .relaxed) }
                if levelSPIs.contains(iar) {
                    // The handler quiets the device (an MMIO exit) before the
                    // device may raise the line again.
                    vgic.vcpuExit(v)
                    try? vgic.setLine(iar, level: false)
                    vgic.vcpuEnter(v)
                }
                c.deliver(iar, on: v)
                model.writeSystemRegister(cpu: v, .eoir1, UInt64(iar))
            }
            let mine = c.sentCount(v)
            if mine < rounds && c.count(UInt32(v), on: next) == mine {
                c.send(v)
                vgic.vcpuExit(v)
                vgic.guestSystemRegisterWrite(vcpu: v, .sgi1r,
                                              SGIRequest(intid: UInt32(v), targetList: 1 << UInt16(next)).rawValue)
                vgic.vcpuEnter(v)
            }
            _ = platform.takeKick(vcpu: v)
            _ = model.maintenanceInterruptPending(cpu: v)
            vgic.vcpuExit(v)
            sched_yield()
        }
    }
}
