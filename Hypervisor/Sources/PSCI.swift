/// PSCI function IDs and return codes (Arm DEN 0022).
enum PSCI {
    static let version: UInt64 = 0x8400_0000
    static let cpuSuspend32: UInt64 = 0x8400_0001
    static let cpuSuspend64: UInt64 = 0xC400_0001
    static let cpuOff: UInt64 = 0x8400_0002
    static let cpuOn32: UInt64 = 0x8400_0003
    static let cpuOn64: UInt64 = 0xC400_0003
    static let affinityInfo32: UInt64 = 0x8400_0004
    static let affinityInfo64: UInt64 = 0xC400_0004
    static let migrateInfoType: UInt64 = 0x8400_0006
    static let systemOff: UInt64 = 0x8400_0008
    static let systemReset: UInt64 = 0x8400_0009
    static let features: UInt64 = 0x8400_000A

    static let success: Int64 = 0
    static let notSupported: Int64 = -1
    static let invalidParameters: Int64 = -2
    static let denied: Int64 = -3
    static let alreadyOn: Int64 = -4
    static let onPending: Int64 = -5

    /// PSCI 1.0.
    static let versionValue: UInt64 = 0x0001_0000
    /// MIGRATE_INFO_TYPE: no Trusted OS that needs migration.
    static let migrateNotRequired: UInt64 = 2
}
