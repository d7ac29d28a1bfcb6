// The vGIC's own invariants, checked by both fuzzers (compiled into one
// module with the vGIC, so its internal state is in reach).

import VGIC
import VGICModelPlatform

/// The vGIC's own invariants: well-formed ap_lists, each interrupt on the
/// list its target oracle names, list-register bookkeeping that matches.
func vgicInvariants(_ g: VGIC<ModelPlatform>) -> String? {
    var listed = 0
    for v in 0..<g.vcpuCount {
        var prev: Int32 = -1
        var i = g.vcpus[v].apHead
        var n = 0
        while i >= 0 {
            n += 1
            if n > g.irqs.count { return "ap_list of vCPU \(v) has a cycle" }
            let s = g.irqs[Int(i)]
            if s.apOwner != Int32(v) { return "INTID \(s.intid) on vCPU \(v)'s ap_list names owner \(s.apOwner)" }
            if s.apPrev != prev { return "INTID \(s.intid) on vCPU \(v)'s ap_list has a broken back link" }
            prev = i
            i = s.apNext
        }
        listed += n
        if g.vcpus[v].lrsUsed > g.lrCount { return "vCPU \(v) uses \(g.vcpus[v].lrsUsed) list registers" }
        if !g.vcpus[v].inGuest && g.vcpus[v].lrsUsed != 0 { return "vCPU \(v) is out with list registers in use" }
    }
    var owned = 0
    for i in 0..<g.irqs.count {
        let s = g.irqs[i]
        if i < g.lpiBase && (g.enabledWords[i >> 5] >> UInt32(i & 31) & 1 != 0) != s.enabled {
            return "INTID \(s.intid) (index \(i)): the ISENABLER mirror says \(!s.enabled), the interrupt \(s.enabled)"
        }
        if s.apOwner >= 0 { owned += 1 }
        if s.lr >= 0 {
            guard s.apOwner >= 0, g.vcpus[Int(s.apOwner)].inGuest,
                  g.slots[Int(s.apOwner) * 16 + Int(s.lr)].irq == Int32(i) else {
                return "INTID \(s.intid) claims list register \(s.lr) of vCPU \(s.apOwner), which does not hold it"
            }
        }
        let target = g.targetOracle(i)
        if target != s.apOwner {
            return "INTID \(s.intid) (index \(i)) is on vCPU \(s.apOwner)'s ap_list, its target oracle says \(target)"
        }
    }
    if owned != listed { return "\(owned) interrupts name an ap_list owner, \(listed) are on the lists" }
    return nil
}
