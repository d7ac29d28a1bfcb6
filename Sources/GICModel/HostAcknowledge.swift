extension GICModel {
    /// The host's CPU interface acknowledges physical interrupt `intid` (for
    /// a private one, on physical CPU `cpu`): if it is pending and not active
    /// it becomes active and its pending latch is consumed (a level input
    /// that is still high keeps it pending); returns whether it was taken.
    /// The model has no host CPU interface of its own: this is what a
    /// hypervisor's IAR read does to the distributor's state.
    public func acknowledgePhysical(_ intid: UInt32, cpu: Int) -> Bool {
        guard physicalPending(intid, cpu: cpu), !physicalActive(intid, cpu: cpu) else { return false }
        setPhysicalActive(intid, cpu: cpu, true)
        setPhysicalPending(intid, cpu: cpu, false)
        return true
    }
}
