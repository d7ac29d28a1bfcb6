import ConformanceSupport
import GICArchitecture
import GuestSupport

// PSCI through HVC (Arm DEN 0022): VERSION, AFFINITY_INFO, CPU_ON
// (including ALREADY_ON and racing callers), CPU_OFF.
//
// QEMU 7.2's own PSCI (arm_set_cpu_on in target/arm/arm-powerctl.c) checks
// for ON_PENDING but never sets it: the target's power state stays OFF until
// its start runs on the target's thread, so a second CPU_ON in that window
// returns SUCCESS again (DEN 0022 6.6: ALREADY_ON or ON_PENDING) and queues
// a second start. Those checks are known departures on the reference.
// Intermittent: whether the second call lands in that window depends on
// QEMU's threads.
let qemuOnPending: StaticString = "its CPU_ON never sets ON_PENDING: a second CPU_ON before the start runs says SUCCESS"

enum PSCIResult {
    static let success: Int64 = 0
    static let invalidParameters: Int64 = -2
    static let alreadyOn: Int64 = -4
    static let onPending: Int64 = -5
}

func psci(_ fid: UInt64, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0) -> Int64 {
    Int64(bitPattern: guest_hvc(fid, a1, a2, a3))
}

func affinityInfo(_ cpu: Int) -> Int64 { psci(PSCICall.affinityInfo, mpidrOf(cpu), 0) }

/// Job: CPU_OFF; never returns if it works.
let cpuOffJob: Job = { _ in
    guest_irq_disable()
    _ = psci(PSCICall.cpuOff)
    return 0xBAD
}

/// Job: wait for the go flag, then CPU_ON the vCPU in `arg`; returns the result.
let racingCPUOnJob: Job = { target in
    _ = spinUntil(us: mustHappenUs) { cf_load(global(G.go)) != 0 }
    return UInt64(bitPattern: psci(PSCICall.cpuOn, mpidrOf(Int(target)), entryAddress(), target))
}

/// Power `cpu` off through a job and wait until AFFINITY_INFO says OFF.
func powerOff(_ cpu: Int) -> Bool {
    post(cpu, cpuOffJob)
    return spinUntil(us: mustHappenUs) { affinityInfo(cpu) == 1 }
}

/// Wait until `cpu` has booted `boots` times in all.
func waitBoots(_ cpu: Int, _ boots: UInt64) -> Bool {
    spinUntil(us: mustHappenUs) { load(cpu, F.boots) >= boots }
}

func psciTests() {
    section("PSCI")
    begin()
    let n = vcpuCount
    let version = psci(PSCICall.version)
    check(version >= 2 && version >> 16 < 0x8000, "PSCI_VERSION is at least 0.2")
    checkEq(UInt64(bitPattern: affinityInfo(0)), 0, "AFFINITY_INFO of the caller: ON")
    checkEq(UInt64(bitPattern: psci(PSCICall.affinityInfo, 0x55, 0)), UInt64(bitPattern: PSCIResult.invalidParameters),
            "AFFINITY_INFO of no such vCPU: INVALID_PARAMETERS")
    checkEq(UInt64(bitPattern: psci(PSCICall.cpuOn, 0, entryAddress(), 0)), UInt64(bitPattern: PSCIResult.alreadyOn),
            "CPU_ON of the caller: ALREADY_ON")
    checkEq(UInt64(bitPattern: psci(PSCICall.cpuOn, 0x55, entryAddress(), 0x55)),
            UInt64(bitPattern: PSCIResult.invalidParameters), "CPU_ON of no such vCPU: INVALID_PARAMETERS")
    guard n >= 2 else {
        skip("CPU_ON/CPU_OFF of other vCPUs", needs: 2)
        return
    }
    let last = n - 1
    checkEq(UInt64(bitPattern: affinityInfo(last)), 0, "AFFINITY_INFO of a running vCPU: ON")
    checkEq(UInt64(bitPattern: psci(PSCICall.cpuOn, mpidrOf(last), entryAddress(), UInt64(last))),
            UInt64(bitPattern: PSCIResult.alreadyOn), "CPU_ON of a running vCPU: ALREADY_ON")
    for c in 1..<n { check(load(c, F.context) == UInt64(c), "CPU_ON passed the context ID in x0", cpu: c) }

    // CPU_OFF, then CPU_ON again; an SPI made pending for the vCPU while it
    // is off waits for it.
    check(powerOff(last), "CPU_OFF: AFFINITY_INFO says OFF")
    let spi = testSPI + 15
    route(spi, to: last)
    enable(spi)
    pend(spi)
    let boots = load(last, F.boots)
    let on = psci(PSCICall.cpuOn, mpidrOf(last), entryAddress(), UInt64(last))
    checkEq(UInt64(bitPattern: on), 0, "CPU_ON of a vCPU that is off: SUCCESS")
    check(waitBoots(last, boots + 1), "the vCPU starts at the entry point with the context ID")
    // CPU_ON is a warm reset of the PE: ICC_IGRPEN1_EL1.Enable resets to 0
    // (it was 1 when the vCPU turned itself off). The hypervisor resets the
    // vCPU's virtual CPU interface through VGIC.resetCPUInterface.
    checkEq(load(last, F.igrpen1AtBoot) & 1, 0, "after CPU_OFF and CPU_ON, ICC_IGRPEN1_EL1 is back to its reset value 0")
    check(spinUntil(us: mustHappenUs) { affinityInfo(last) == 0 }, "AFFINITY_INFO: ON again")
    checkEq(runOn(last, { _ in UInt64(thisCPU()) }), UInt64(last), "the restarted vCPU runs jobs again")
    let waited = runOn(last, { _ in
        let a = pollIAR1()
        if a < 1020 { eoi1(a) }
        return UInt64(a)
    })
    checkEq(waited, UInt64(spi), "the SPI made pending while it was off is taken once it is on")
    disable(spi)

    // CPU_ON twice in a row: the second finds it on or on its way.
    check(powerOff(last), "CPU_OFF again")
    let boots2 = load(last, F.boots)
    let first = psci(PSCICall.cpuOn, mpidrOf(last), entryAddress(), UInt64(last))
    let second = psci(PSCICall.cpuOn, mpidrOf(last), entryAddress(), UInt64(last))
    // What it saw: first << 32 | second (QEMU: SUCCESS twice).
    check(first == 0 && (second == PSCIResult.alreadyOn || second == PSCIResult.onPending),
          seeing: UInt64(bitPattern: first) << 32 | UInt64(UInt32(truncatingIfNeeded: second)),
          "CPU_ON twice: SUCCESS, then ALREADY_ON or ON_PENDING",
          known: .qemu(qemuOnPending, seen: 0, intermittent: true))
    _ = waitBoots(last, boots2 + 1)
    _ = spinUntil(us: 100_000) { load(last, F.boots) > boots2 + 1 }
    checkEq(load(last, F.boots) - boots2, 1, "...and the vCPU starts once",
            known: .qemu(qemuOnPending, seen: 2, intermittent: true))

    // Racing callers: two vCPUs CPU_ON the same vCPU at once.
    if n >= 3 {
        check(powerOff(last), "CPU_OFF before the race")
        let boots3 = load(last, F.boots)
        cf_store(global(G.go), 0)
        post(1, racingCPUOnJob, UInt64(last))
        if n >= 4 { post(2, racingCPUOnJob, UInt64(last)) }
        cf_store(global(G.go), 1)
        cf_sev()
        let mine = psci(PSCICall.cpuOn, mpidrOf(last), entryAddress(), UInt64(last))
        var results: [Int64] = [mine, Int64(bitPattern: wait(1) ?? 0xBAD)]
        if n >= 4 { results.append(Int64(bitPattern: wait(2) ?? 0xBAD)) }
        var successes = 0, others = true
        for r in results {
            if r == 0 {
                successes += 1
            } else if r != PSCIResult.alreadyOn && r != PSCIResult.onPending {
                others = false
            }
        }
        // What it saw: the number of SUCCESSes, plus 0x100 if another result
        // was neither ALREADY_ON nor ON_PENDING (QEMU: two or three SUCCESSes).
        check(successes == 1 && others, seeing: UInt64(successes) | (others ? 0 : 0x100),
              "racing CPU_ONs: exactly one SUCCESS, the rest ALREADY_ON or ON_PENDING",
              known: .qemu(qemuOnPending, seen: 2, 3, intermittent: true))
        _ = waitBoots(last, boots3 + 1)
        _ = spinUntil(us: 100_000) { load(last, F.boots) > boots3 + 1 }
        checkEq(load(last, F.boots) - boots3, 1, "racing CPU_ONs: the vCPU starts once",
                known: .qemu(qemuOnPending, seen: 2, 3, intermittent: true))
        cf_store(global(G.go), 0)
    } else {
        skip("racing CPU_ON callers", needs: 3)
    }
    // Every vCPU is on again for the end of the run.
    var allOn = true
    for c in 1..<n where affinityInfo(c) != 0 { allOn = false }
    check(allOn, "every vCPU is ON at the end")
}
