import ConformanceSupport
import GICArchitecture
import GuestSupport

// The device guest's check lines: `ok N - <device> <to|of> vCPU <t>: <what>`
// (with `[by vCPU a]` when another vCPU made the access), counted and
// formatted as the conformance suite's (Guests/conformance/Sources/
// Framework.swift: the same counters, the same `# TODO` directive for a
// known departure), so that its compare.sh rules apply.
//
// A test records its checks while the devices run and prints them once they
// are quiet: every line printed is a write to the UART's data register,
// which raises the UART's transmit interrupt while it is unmasked.

/// The device and vCPU the checks being recorded are about.
nonisolated(unsafe) var subject: (device: Device, target: Int) = (.uart, 0)

struct Recorded {
    var ok: Bool
    var name: StaticString
    var got: UInt64
    var expected: UInt64
    var valued: Bool
    var device: Device
    var target: Int
    var actor: Int
    var known: Known?
}

nonisolated(unsafe) var recorded: [Recorded] = []

/// Record a check about the current subject; `by` names the vCPU that made
/// the access under test when it is not the subject's own.
func expect(_ ok: Bool, _ name: StaticString, by actor: Int = -1) {
    recorded.append(Recorded(ok: ok, name: name, got: 0, expected: 0, valued: false,
                             device: subject.device, target: subject.target, actor: actor, known: nil))
}

/// Record a check whose verdict is `ok` and whose observation is `got`: a
/// known departure (the framework's `Known`) matches what it names as seen.
func expect(_ ok: Bool, seeing got: UInt64, _ name: StaticString, by actor: Int = -1, known: Known? = nil) {
    recorded.append(Recorded(ok: ok, name: name, got: got, expected: 0, valued: false,
                             device: subject.device, target: subject.target, actor: actor, known: known))
}

/// Record a check of a value, which the log shows when it is wrong.
func expectEq(_ got: UInt64, _ expected: UInt64, _ name: StaticString, by actor: Int = -1, known: Known? = nil) {
    recorded.append(Recorded(ok: got == expected, name: name, got: got, expected: expected, valued: true,
                             device: subject.device, target: subject.target, actor: actor, known: known))
}

/// Quiet the UART and the RTC (the timers are their vCPUs' own, reset by
/// the next test), then print what was recorded.
func report() {
    quietHere(.uart)
    quietHere(.rtc)
    for r in recorded { emitDeviceCheck(r) }
    recorded.removeAll()
}

/// The framework's rules (Framework.swift, `emit`): a failure that sees what
/// its waiver names is the known departure (a TAP `# TODO` directive); a
/// pass keeps the directive, so that compare.sh reports a stale waiver.
func emitDeviceCheck(_ r: Recorded) {
    let n = Int(cf_add(global(G.checks), 1))
    var departure: Known? = nil
    if let k = r.known, r.ok || k.seen.contains(r.got) { departure = k }
    if r.ok {
        _ = cf_add(global(G.passed), 1)
    } else if departure != nil {
        _ = cf_add(global(G.knownFailures), 1)
    } else {
        _ = cf_add(global(G.failed), 1)
    }
    say {
        if !r.ok { $0.s("not ") }
        $0.s("ok ")
        $0.dec(n)
        $0.s(" - ")
        $0.s(r.device.name)
        $0.s(r.device.isSPI ? " to vCPU " : " of vCPU ")
        $0.dec(r.target)
        $0.s(": ")
        $0.s(r.name)
        if r.actor >= 0 { $0.s(" [by vCPU "); $0.dec(r.actor); $0.s("]") }
        if let k = departure {
            $0.s(k.side == .qemu ? " # TODO QEMU departs from the architecture"
                                 : " # TODO hypervisor departs from the architecture")
            if k.intermittent { $0.s(" (intermittently)") }
            $0.s(": ")
            $0.s(k.why)
        }
    }
    if !r.ok {
        if r.valued {
            say { $0.s("#   got "); $0.hex(r.got); $0.s(", expected "); $0.hex(r.expected) }
        } else if r.known != nil {
            say { $0.s("#   got "); $0.hex(r.got) }
        }
    }
    if !r.ok, let k = r.known, departure == nil {
        say {
            $0.s(k.side == .qemu ? "#   not QEMU's known departure, which sees "
                                 : "#   not the hypervisor's known departure, which sees ")
            for (i, v) in k.seen.enumerated() {
                if i > 0 { $0.s(" or ") }
                $0.hex(v)
            }
        }
    }
}

/// A device that no longer interrupts (a physical twin left active makes
/// it dead to the guest) stops the run: the check that found it is printed
/// with its reason, then the summary, then PSCI SYSTEM_OFF. Waiting on for
/// every later check would only repeat it, 2 s at a time.
func stall(_ why: StaticString) -> Never {
    expect(false, why)
    report()
    say { $0.s("# stalled: "); $0.s(subject.device.name); $0.s(": "); $0.s(why) }
    finish()
}

/// The summary line and power-off.
func finish() -> Never {
    section("End")
    let passed = Int(cf_load(global(G.passed))), failed = Int(cf_load(global(G.failed)))
    let known = Int(cf_load(global(G.knownFailures)))
    let skipped = Int(cf_load(global(G.skipped)))
    say { $0.s("# "); $0.dec(skipped); $0.s(" tests skipped (too few vCPUs), "); $0.dec(known); $0.s(" known departures (TODO)") }
    say { $0.dec(passed); $0.s(" passed, "); $0.dec(failed); $0.s(" failed") }
    _ = PSCICall.call(PSCICall.systemOff)
    while true { cf_wfi() }
}
