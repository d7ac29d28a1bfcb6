import GICArchitecture
import HypSupport

/// The PL011 console, one line at a time: `log { $0.s("x = "); $0.hex(x) }`
/// holds the console lock for the whole line so that CPUs do not interleave.
struct ConsoleWriter {
    @inline(never)
    func s(_ text: StaticString) {
        text.withUTF8Buffer { for b in $0 { hyp_console_putc(b) } }
    }

    func c(_ b: UInt8) { hyp_console_putc(b) }

    @inline(never)
    func hex(_ v: UInt64) {
        s("0x")
        var started = false
        var shift = 60
        while shift >= 0 {
            let nibble = UInt8((v >> UInt64(shift)) & 0xF)
            if nibble != 0 || started || shift == 0 {
                started = true
                c(nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
            }
            shift -= 4
        }
    }

    @inline(never)
    func dec(_ value: Int) {
        var v = value
        if v < 0 {
            c(0x2D)
            v = 0 - v
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            repeat {
                buf[n] = UInt8(0x30 + v % 10)
                v /= 10
                n += 1
            } while v > 0 && n < 20
            while n > 0 {
                n -= 1
                hyp_console_putc(buf[n])
            }
        }
    }
}

let consoleLock = SpinLock()

/// Print one line (the closure's output and a newline) under the console lock.
@inline(never)
func log(_ body: (ConsoleWriter) -> Void) {
    consoleLock.lock()
    let w = ConsoleWriter()
    body(w)
    w.c(0x0A)
    consoleLock.unlock()
}

/// Print a line without waiting for the console lock for long: a panic must
/// get out even if the lock holder is the CPU that faulted.
func logUrgent(_ body: (ConsoleWriter) -> Void) {
    var spins = 0
    var locked = false
    while spins < 1_000_000 {
        if consoleLock.tryLock() {
            locked = true
            break
        }
        spins += 1
    }
    let w = ConsoleWriter()
    body(w)
    w.c(0x0A)
    if locked { consoleLock.unlock() }
}
