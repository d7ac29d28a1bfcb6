import GICArchitecture

/// Everything the vGIC knows of one virtual interrupt. Stored by value in one
/// flat array (private interrupts of vCPU v at `v * 32 + intid`, then the
/// SPIs), so that no interrupt operation allocates.
struct IRQState {
    var intid: UInt32 = 0
    /// vCPU that owns a private interrupt; -1 for SPIs.
    var privateOwner: Int32 = -1

    var enabled = false
    /// Edge: set by a rising line or a pending write; level: by a pending write.
    var pendingLatch = false
    /// The input level as the device (or VMM) drives it.
    var lineLevel = false
    var active = false
    var edge = false
    var group: UInt8 = 0
    var priority: UInt8 = 0

    /// GICv2 `ITARGETSR` CPU bitmap (SPIs).
    var targets: UInt8 = 0
    /// GICv3 `IROUTER` (affinity and IRM).
    var route: UInt64 = 0
    /// vCPU the routing selects when pending; -1 when none does.
    var routedVCPU: Int32 = -1
    /// GICv3 IROUTER.IRM: any participating vCPU may take it.
    var oneOfN = false

    /// GICv2 SGIs: the CPUs that have this SGI pending for us, and the one
    /// whose SGI is active.
    var sgiSources: UInt8 = 0
    var activeSource: UInt8 = 0

    // Hardware mapping.
    var hw = false
    var physicalINTID: UInt32 = 0
    /// Read the input level from the physical line (KVM's get_input_level).
    var levelFromPhysical = false
    /// The vGIC has set the physical twin active and nothing has deactivated it since.
    var physicalActiveHeld = false
    /// A deactivation of the physical twin requested while a running vCPU's
    /// list register holds the interrupt: applied when that vCPU exits.
    var deferredPhysicalDeactivate = false
    /// The host took the twin again while a running vCPU's HW list register
    /// held the interrupt: a deactivation that list register shows at sync
    /// ended the previous activation, not this one (PhysicalTwin.swift).
    var twinRetaken = false
    /// The host reported an activation while a running vCPU's HW list
    /// register held the interrupt: the guest's acknowledge of that entry
    /// does not consume the line this report raised.
    var lineReported = false
    /// The VMM asked to hear of this level-sensitive interrupt's
    /// deactivations (`setDeactivationNotification`).
    var notifyDeactivation = false

    // ap_list membership: the vCPU whose list holds the interrupt and the links.
    var apOwner: Int32 = -1
    var apNext: Int32 = -1
    var apPrev: Int32 = -1
    /// List register of `apOwner` holding it since the last flush, or -1.
    var lr: Int8 = -1
    /// An edge arrived while a list register held the pending state (GICv2
    /// SGIs: from the list register's source): the guest acknowledging the
    /// list register does not consume it.
    var repended = false
    /// The vGIC changed the active state while a running vCPU's list
    /// register held the interrupt: that change is the later one, and sync
    /// keeps it over what the list register shows.
    var activeOverridden = false
    /// The guest acknowledged it (seen at sync) and nothing has deactivated
    /// it since: its priority may still be in the vCPU's active priorities,
    /// so it is what an EOI the hardware could not match to a list register
    /// can have deactivated. An interrupt made active by a register write is
    /// not: the guest never took it, and its EOIs are for something else.
    var acknowledged = false

    @inline(__always)
    func pending(v2SGIs: Bool) -> Bool {
        if v2SGIs && intid < 16 { return sgiSources != 0 }
        return pendingLatch || (!edge && lineLevel)
    }
}

/// What flush wrote into one list register, for sync to compare against.
struct LRSlot {
    var irq: Int32 = -1
    var pending = false
    var active = false
    var hw = false
    var physicalINTID: UInt32 = 0
    var source: UInt8 = 0
}
