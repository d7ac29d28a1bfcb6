// EL2 entry, per-CPU stacks, BSS, the EL2 identity map, the exception
// vectors and the guest entry/exit path.
//
// CPU 0 enters at _start from QEMU (-kernel, EL2, MMU off). Secondaries
// enter at hyp_secondary_entry through PSCI CPU_ON with x0 = CPU index.

#define STACK_SIZE 0x10000

// EL2 stage-1 block descriptors (level 1, 1 GiB): AttrIndx 0 = Device-nGnRnE,
// 1 = Normal write-back; AF; AP[1] (RES1 at EL2); SH inner for normal memory.
#define BLOCK_DEVICE ((1 << 0) | (0 << 2) | (1 << 6) | (1 << 10) | (1 << 54))
#define BLOCK_NORMAL ((1 << 0) | (1 << 2) | (1 << 6) | (3 << 8) | (1 << 10))
// TCR_EL2: T0SZ 25 (39-bit VA, walk from level 1), WB caches, inner shareable,
// 4 KiB granule, PS 40 bits, RES1 bits 23 and 31.
#define TCR_VALUE 0x80823519
// MAIR_EL2: attr0 Device-nGnRnE, attr1 Normal WB RW-allocate.
#define MAIR_VALUE 0xFF00
// SCTLR_EL2: RES1 bits | M | C | SA | I.
#define SCTLR_VALUE 0x30C5183D

    .section .text.boot, "ax"
    .global _start
_start:
    msr     daifset, #0xf
    mov     x19, #0                     // CPU index 0
    // BSS
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:
    // The EL2 identity map: 0-1 GiB devices, 1-2 GiB RAM, 2-4 GiB devices.
    adrp    x1, el2_l1_table
    add     x1, x1, :lo12:el2_l1_table
    ldr     x2, =BLOCK_DEVICE
    str     x2, [x1, #0]
    ldr     x2, =(BLOCK_NORMAL | 0x40000000)
    str     x2, [x1, #8]
    ldr     x2, =(BLOCK_DEVICE | 0x80000000)
    str     x2, [x1, #16]
    ldr     x2, =(BLOCK_DEVICE | 0xC0000000)
    str     x2, [x1, #24]
    dsb     sy
    b       common_entry

    .global hyp_secondary_entry
hyp_secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0

common_entry:
    // Stack: top of this CPU's slot.
    adrp    x1, __stacks_end
    add     x1, x1, :lo12:__stacks_end
    mov     x2, #STACK_SIZE
    msub    x1, x19, x2, x1
    mov     sp, x1
    // Vectors.
    adrp    x1, el2_vectors
    add     x1, x1, :lo12:el2_vectors
    msr     vbar_el2, x1
    // MMU.
    ldr     x1, =MAIR_VALUE
    msr     mair_el2, x1
    ldr     x1, =TCR_VALUE
    msr     tcr_el2, x1
    adrp    x1, el2_l1_table
    add     x1, x1, :lo12:el2_l1_table
    msr     ttbr0_el2, x1
    isb
    tlbi    alle2
    dsb     sy
    isb
    ldr     x1, =SCTLR_VALUE
    msr     sctlr_el2, x1
    isb
    // FP/SIMD and SVE not trapped at EL2 (the guest owns them; the
    // hypervisor is built general-registers-only).
    ldr     x1, =0x32FF
    msr     cptr_el2, x1
    isb
    mov     x0, x19
    cbnz    x19, 3f
    bl      hyp_main
    b       hyp_halt
3:  bl      hyp_secondary_main
    b       hyp_halt

    .global hyp_halt
hyp_halt:
    msr     daifset, #0xf
4:  wfi
    b       4b

// ---- Guest entry and exit ---------------------------------------------------
// uint64_t hyp_enter_guest(struct hyp_vcpu_context *ctx)
// Saves the callee-saved registers on the EL2 stack, loads the guest's and
// ERETs. An exception from the guest comes back through a lower-EL vector,
// which stores the guest's registers in the context TPIDR_EL2 points at and
// returns from here with the exit reason.
    .text
    .global hyp_enter_guest
hyp_enter_guest:
    sub     sp, sp, #96
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    msr     tpidr_el2, x0
    ldp     x2, x3, [x0, #248]
    msr     elr_el2, x2
    msr     spsr_el2, x3
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret
    dsb     nsh
    isb

guest_exit:
    // x0 = context, x1 = reason; guest x0..x30 already saved.
    mrs     x2, elr_el2
    mrs     x3, spsr_el2
    stp     x2, x3, [x0, #248]
    mov     x0, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    add     sp, sp, #96
    ret

.macro GUEST_EXIT reason
    stp     x0, x1, [sp, #-16]!
    mrs     x0, tpidr_el2
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mov     x1, #\reason
    b       guest_exit
.endm

// An exception taken at EL2 itself is a hypervisor bug: save the registers
// and let hyp_exception print them and stop.
.macro HYP_FAULT kind
    sub     sp, sp, #256
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mov     x0, #\kind
    mov     x1, sp
    bl      hyp_exception
    b       hyp_halt
.endm

    .balign 0x800
el2_vectors:
    .balign 0x80            // current EL, SP0
    HYP_FAULT 0
    .balign 0x80
    HYP_FAULT 1
    .balign 0x80
    HYP_FAULT 2
    .balign 0x80
    HYP_FAULT 3
    .balign 0x80            // current EL, SPx
    HYP_FAULT 4
    .balign 0x80
    HYP_FAULT 5
    .balign 0x80
    HYP_FAULT 6
    .balign 0x80
    HYP_FAULT 7
    .balign 0x80            // lower EL, AArch64
    GUEST_EXIT 0
    .balign 0x80
    GUEST_EXIT 1
    .balign 0x80
    GUEST_EXIT 2
    .balign 0x80
    GUEST_EXIT 3
    .balign 0x80            // lower EL, AArch32
    GUEST_EXIT 0
    .balign 0x80
    GUEST_EXIT 1
    .balign 0x80
    GUEST_EXIT 2
    .balign 0x80
    GUEST_EXIT 3

    .ltorg

    .bss
    .balign 4096
el2_l1_table:
    .space 4096
