import GICArchitecture
import GuestSupport

/// The guest's console: the PL011 the hypervisor passes through, one line
/// at a time under a lock (vCPUs print concurrently).
struct Out {
    func s(_ text: StaticString) { text.withUTF8Buffer { for b in $0 { guest_console_putc(b) } } }
    func c(_ b: UInt8) { guest_console_putc(b) }
    func hex(_ v: UInt64) {
        s("0x")
        var started = false
        var shift = 60
        while shift >= 0 {
            let n = UInt8((v >> UInt64(shift)) & 0xF)
            if n != 0 || started || shift == 0 {
                started = true
                c(n < 10 ? 0x30 + n : 0x57 + n)
            }
            shift -= 4
        }
    }
    func dec(_ value: Int) {
        var v = value
        if v < 0 { c(0x2D); v = 0 - v }
        var div = 1
        while v / div >= 10 { div *= 10 }
        while div > 0 {
            c(UInt8(0x30 + (v / div) % 10))
            div /= 10
        }
    }
}

let consoleLock = SpinLock()

func say(_ body: (Out) -> Void) {
    consoleLock.lock()
    body(Out())
    Out().c(0x0A)
    consoleLock.unlock()
}
