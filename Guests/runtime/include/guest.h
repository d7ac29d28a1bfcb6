// The guests' layer to the (virtual) machine at EL1: system registers
// (the GIC CPU interface reaches the hypervisor's ICV_* registers), MMIO,
// HVC and atomics on shared counters.
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>
#include <stddef.h>
#include "../../../Shared/include/a64_access.h"

A64_SYSREG(mpidr, mpidr_el1)
A64_SYSREG(currentel, CurrentEL)
A64_SYSREG(daif, daif)
A64_SYSREG(cntfrq, cntfrq_el0)
A64_SYSREG(cntvct, cntvct_el0)
A64_SYSREG(cntv_ctl, cntv_ctl_el0)
A64_SYSREG(cntv_cval, cntv_cval_el0)
A64_SYSREG(cntv_tval, cntv_tval_el0)
A64_SYSREG(cntpct, cntpct_el0)
A64_SYSREG(cntp_ctl, cntp_ctl_el0)
A64_SYSREG(cntp_cval, cntp_cval_el0)
A64_SYSREG(esr_el1, esr_el1)
A64_SYSREG(far_el1, far_el1)
A64_SYSREG(elr_el1, elr_el1)
A64_SYSREG(icc_sre, S3_0_C12_C12_5)
A64_SYSREG(icc_pmr, S3_0_C4_C6_0)
A64_SYSREG(icc_bpr1, S3_0_C12_C12_3)
A64_SYSREG(icc_ctlr, S3_0_C12_C12_4)
A64_SYSREG(icc_igrpen1, S3_0_C12_C12_7)
A64_SYSREG(icc_iar1, S3_0_C12_C12_0)
A64_SYSREG(icc_eoir1, S3_0_C12_C12_1)
A64_SYSREG(icc_sgi1r, S3_0_C12_C11_5)
A64_SYSREG(icc_asgi1r, S3_0_C12_C11_6)
A64_SYSREG(icc_sgi0r, S3_0_C12_C11_7)
A64_SYSREG(icc_dir, S3_0_C12_C11_1)

static inline void guest_isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline void guest_dsb(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void guest_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void guest_irq_enable(void) { __asm__ volatile("msr daifclr, #2" ::: "memory"); }
static inline void guest_irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }

// MMIO beyond a64_access.h's mmio_read8..64 / mmio_write8..64.
// A sign-extending byte load (LDRSB Xt): exercises the hypervisor's SSE path.
static inline int64_t mmio_read8_signed(uintptr_t a) {
    int64_t v; __asm__ volatile("ldrsb %0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}

static inline int32_t mmio_read16_signed_w(uintptr_t a) {
    int32_t v; __asm__ volatile("ldrsh %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
static inline int64_t mmio_read32_signed(uintptr_t a) {
    int64_t v; __asm__ volatile("ldrsw %0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
// A load pair: no valid syndrome (ISV = 0) when it traps.
static inline uint64_t mmio_read_pair(uintptr_t a) {
    uint64_t x, y; __asm__ volatile("ldp %0, %1, [%2]" : "=r"(x), "=r"(y) : "r"(a) : "memory"); return x ^ y;
}
// A store with writeback: no valid syndrome either.
static inline uintptr_t mmio_write_writeback(uintptr_t a, uint32_t v) {
    __asm__ volatile("str %w1, [%0], #4" : "+r"(a) : "r"(v) : "memory"); return a;
}
// Stores from the zero register.
static inline void mmio_write32_zero(uintptr_t a) {
    __asm__ volatile("str wzr, [%0]" :: "r"(a) : "memory");
}

// An implementation-defined register (HCR_EL2.TIDCP traps it to EL2).
static inline uint64_t read_impdef(void) {
    uint64_t v; __asm__ volatile("mrs %0, S3_1_C15_C2_1" : "=r"(v) :: "memory"); return v;
}
static inline void guest_smc(uint64_t fid, uint64_t a1) {
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    __asm__ volatile("smc #0" : "+r"(x0), "+r"(x1) :: "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9",
                     "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "memory");
}

#ifndef FUZZ_SECONDS
#define FUZZ_SECONDS 60
#endif
static inline uint64_t fuzz_seconds(void) { return FUZZ_SECONDS; }

static inline uint64_t guest_hvc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    __asm__ volatile("hvc #0"
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                     :
                     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                       "x14", "x15", "x16", "x17", "memory");
    return x0;
}

static inline uint32_t atomic_load32(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void atomic_store32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t atomic_add32(uint32_t *p, uint32_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }

void guest_console_putc(uint8_t c);
void guest_secondary_entry(void);
// Shared counters (1024 words in BSS, zeroed by the boot code).
uint32_t *guest_shared(void);

#endif
