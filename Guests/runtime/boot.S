// Demo guest entry at EL1 (MMU off, x0 = device tree on the boot CPU, the
// CPU index on the others), identity map with the MMU on, IRQ vector.
#define STACK_SIZE 0x8000
#define BLOCK_DEVICE ((1 << 0) | (0 << 2) | (1 << 10) | (3 << 53))
#define BLOCK_NORMAL ((1 << 0) | (1 << 2) | (3 << 8) | (1 << 10))
// TCR_EL1: T0SZ 25, WB walks, inner shareable, 4 KiB, EPD1, IPS 40 bits.
#define TCR_VALUE 0x200803519
#define SCTLR_VALUE 0x30D0180D

    .section .text.boot, "ax"
    .global _start
_start:
    msr     daifset, #0xf
    mov     x20, x0                 // device tree
    mov     x19, #0
    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
1:  cmp     x1, x2
    b.hs    2f
    str     xzr, [x1], #8
    b       1b
2:  adrp    x1, l1_table
    add     x1, x1, :lo12:l1_table
    ldr     x2, =BLOCK_DEVICE
    str     x2, [x1, #0]
    ldr     x2, =(BLOCK_NORMAL | 0x40000000)
    str     x2, [x1, #8]
    dsb     sy
    b       common

    .global guest_secondary_entry
guest_secondary_entry:
    msr     daifset, #0xf
    mov     x19, x0
    mov     x20, #0
common:
    adrp    x1, __stacks_end
    add     x1, x1, :lo12:__stacks_end
    mov     x2, #STACK_SIZE
    msub    x1, x19, x2, x1
    mov     sp, x1
    adrp    x1, vectors
    add     x1, x1, :lo12:vectors
    msr     vbar_el1, x1
    ldr     x1, =0xFF00
    msr     mair_el1, x1
    ldr     x1, =TCR_VALUE
    msr     tcr_el1, x1
    adrp    x1, l1_table
    add     x1, x1, :lo12:l1_table
    msr     ttbr0_el1, x1
    isb
    tlbi    vmalle1
    dsb     sy
    isb
    ldr     x1, =SCTLR_VALUE
    msr     sctlr_el1, x1
    isb
    mov     x1, #(3 << 20)          // CPACR_EL1.FPEN: no FP traps
    msr     cpacr_el1, x1
    isb
    mov     x0, x19
    mov     x1, x20
    bl      guest_main
3:  wfi
    b       3b

.macro SAVE_AND_CALL fn
    sub     sp, sp, #192
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x30, [sp, #144]
    mrs     x0, elr_el1
    mrs     x1, spsr_el1
    stp     x0, x1, [sp, #160]
    mov     x0, sp                  // the frame: x0..x18, x30, ELR, SPSR
    bl      \fn
    ldp     x0, x1, [sp, #160]
    msr     elr_el1, x0
    msr     spsr_el1, x1
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x30, [sp, #144]
    add     sp, sp, #192
    eret
.endm

    .text
    .balign 0x800
vectors:
    .balign 0x80
    b       fault           // EL1t sync
    .balign 0x80
    b       fault
    .balign 0x80
    b       fault
    .balign 0x80
    b       fault
    .balign 0x80            // EL1h sync
    b       sync_el1h
    .balign 0x80            // EL1h IRQ
    b       irq_el1h
    .balign 0x80
    b       fault
    .balign 0x80
    b       fault
    .rept 8
    .balign 0x80
    b       fault
    .endr

sync_el1h:
    SAVE_AND_CALL guest_sync
irq_el1h:
    SAVE_AND_CALL guest_irq
fault:
    SAVE_AND_CALL guest_fault

    .ltorg
    .bss
    .balign 4096
l1_table:
    .space 4096
