import GICArchitecture
import HypSupport
import Synchronization
import VGIC

/// `ESR_EL2` exception classes the hypervisor handles.
enum ExceptionClass {
    static let unknown: UInt64 = 0x00
    static let wfx: UInt64 = 0x01
    static let hvc64: UInt64 = 0x16
    static let smc64: UInt64 = 0x17
    static let systemRegister: UInt64 = 0x18
    static let instructionAbortLower: UInt64 = 0x20
    static let instructionAbortSame: UInt64 = 0x21
    static let dataAbortLower: UInt64 = 0x24
    static let dataAbortSame: UInt64 = 0x25
}

func handleSynchronousExit(_ slot: VCPUSlot) -> ExitAction {
    let esr = read_esr_el2()
    let ec = (esr >> 26) & 0x3F
    let c = slot.context
    switch ec {
    case ExceptionClass.wfx:
        c.pointee.pc += 4
        slot.stats.wfi += 1
        // WFE is not trapped (HCR_EL2.TWE = 0); ISS bit 0 clear: WFI.
        if esr & 1 == 0 { idleUntilInterrupt(slot) }
        return .resume
    case ExceptionClass.hvc64:
        slot.stats.hvc += 1
        return handlePSCI(slot)
    case ExceptionClass.smc64:
        c.pointee.pc += 4
        return handlePSCI(slot)
    case ExceptionClass.systemRegister:
        slot.stats.systemRegister += 1
        handleSystemRegister(slot, esr: esr)
        return .resume
    case ExceptionClass.dataAbortLower:
        slot.stats.mmio += 1
        handleDataAbort(slot, esr: esr)
        return .resume
    case ExceptionClass.instructionAbortLower:
        injectAbort(slot, instruction: true, far: read_far_el2())
        return .resume
    default:
        injectUndefined(slot)
        return .resume
    }
}

// MARK: Trapped system registers

/// `ESR_EL2.ISS` for a trapped MSR/MRS: Op0 21:20, Op2 19:17, Op1 16:14,
/// CRn 13:10, Rt 9:5, CRm 4:1, Direction 0 (1 = read).
func handleSystemRegister(_ slot: VCPUSlot, esr: UInt64) {
    let op0 = (esr >> 20) & 3, op2 = (esr >> 17) & 7, op1 = (esr >> 14) & 7
    let crn = (esr >> 10) & 0xF, rt = UInt32((esr >> 5) & 0x1F), crm = (esr >> 1) & 0xF
    let isRead = esr & 1 != 0
    let c = slot.context
    var reg: CPUInterfaceRegister? = nil
    if op0 == 3 && op1 == 0 && crn == 12 && crm == 11 {
        switch op2 {
        case 1: reg = .dir
        case 5: reg = .sgi1r
        case 6: reg = .asgi1r
        case 7: reg = .sgi0r
        default: reg = nil
        }
    }
    // The SGI registers and DIR are write-only; any other trapped register
    // is one the guest may not use.
    guard let r = reg, !isRead else {
        injectUndefined(slot)
        return
    }
    VM.vgic!.guestSystemRegisterWrite(vcpu: slot.index, r, hyp_ctx_get(c, rt))
    c.pointee.pc += 4
}

// MARK: Data aborts: the emulated GIC frames

/// A stage-2 data abort: an access to the distributor or a redistributor
/// frame goes to the vGIC; anything else, or an access the syndrome does not
/// describe (ISV = 0: load/store pair, writeback), is an external abort for
/// the guest.
func handleDataAbort(_ slot: VCPUSlot, esr: UInt64) {
    let far = read_far_el2()
    let ipa = (read_hpfar_el2() >> 4) << 12 | far & 0xFFF
    let isv = esr & (1 << 24) != 0
    let s1ptw = esr & (1 << 7) != 0
    guard isv, !s1ptw, let (region, offset) = gicRegion(ipa) else {
        injectAbort(slot, instruction: false, far: far)
        return
    }
    let width = 1 << Int((esr >> 22) & 3)
    let signExtend = esr & (1 << 21) != 0
    let rt = UInt32((esr >> 16) & 0x1F)
    let sixtyFour = esr & (1 << 15) != 0
    let isWrite = esr & (1 << 6) != 0
    let c = slot.context
    let vgic = VM.vgic!
    let v = slot.index

    if isWrite {
        var value = hyp_ctx_get(c, rt)
        if width < 8 { value &= (1 << UInt64(width * 8)) - 1 }
        vgic.guestMMIOWrite(vcpu: v, region: region, offset: offset, width: width, value: value)
    } else {
        var value = vgic.guestMMIORead(vcpu: v, region: region, offset: offset, width: width)
        let bits = UInt64(width * 8)
        if width < 8 {
            value &= (1 << bits) - 1
            if signExtend && value & (1 << (bits - 1)) != 0 { value |= ~((1 << bits) - 1) }
        }
        // A 32-bit destination (SF = 0) is a W register: the upper half is zero.
        if !sixtyFour { value &= 0xFFFF_FFFF }
        hyp_ctx_set(c, rt, value)
    }
    c.pointee.pc += 4
}

/// The vGIC frame an IPA falls in: the distributor, or the redistributor of
/// an existing vCPU.
func gicRegion(_ ipa: UInt64) -> (VGICRegion, UInt32)? {
    if ipa >= VM.distributorBase && ipa < VM.distributorBase + UInt64(GICD.sizeV3) {
        return (.distributor, UInt32(ipa - VM.distributorBase))
    }
    let frames = UInt64(VM.vcpuCount) * UInt64(GICR.frameSize)
    if ipa >= VM.redistributorBase && ipa < VM.redistributorBase + frames {
        let rel = ipa - VM.redistributorBase
        return (.redistributor(Int(rel / UInt64(GICR.frameSize))), UInt32(rel % UInt64(GICR.frameSize)))
    }
    return nil
}

// MARK: Exceptions for the guest

/// Take a synchronous exception to the guest's EL1, as the hardware would:
/// ELR/SPSR/ESR(/FAR)_EL1 saved, PC to VBAR_EL1 at the offset for where the
/// guest was, EL1h with DAIF masked.
func injectSynchronous(_ slot: VCPUSlot, esr: UInt64, far: UInt64?) {
    slot.stats.injected += 1
    let c = slot.context
    let pstate = c.pointee.pstate
    write_elr_el1(c.pointee.pc)
    write_spsr_el1(pstate)
    write_esr_el1(esr)
    if let f = far { write_far_el1(f) }
    let offset: UInt64
    if pstate & 0x10 != 0 {
        offset = 0x600  // from AArch32 EL0
    } else {
        switch pstate & 0xF {
        case 0x4: offset = 0x000  // EL1t
        case 0x5: offset = 0x200  // EL1h
        default: offset = 0x400   // EL0
        }
    }
    c.pointee.pc = read_vbar_el1() + offset
    c.pointee.pstate = 0x3C5
}

/// The current EL1 (not EL0): exception classes for "same level" differ.
func fromEL1(_ slot: VCPUSlot) -> Bool {
    let p = slot.context.pointee.pstate
    return p & 0x10 == 0 && p & 0xC == 0x4
}

func injectUndefined(_ slot: VCPUSlot) {
    injectSynchronous(slot, esr: 1 << 25, far: nil)
}

/// A synchronous external abort (DFSC/IFSC 0b010000).
func injectAbort(_ slot: VCPUSlot, instruction: Bool, far: UInt64) {
    let el1 = fromEL1(slot)
    let ec: UInt64
    if instruction {
        ec = el1 ? ExceptionClass.instructionAbortSame : ExceptionClass.instructionAbortLower
    } else {
        ec = el1 ? ExceptionClass.dataAbortSame : ExceptionClass.dataAbortLower
    }
    var iss: UInt64 = 0x10
    if !instruction { iss |= read_esr_el2() & (1 << 6) }  // WnR
    injectSynchronous(slot, esr: ec << 26 | 1 << 25 | iss, far: far)
}
