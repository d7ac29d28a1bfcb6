// The conformance guest's extra layer to the machine: the GIC CPU-interface
// system registers the shared runtime (guest.h) does not name, ISR_EL1,
// FIQ masking and 64-bit atomics. Everything here is an instruction or two;
// the tests themselves are Swift.
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include <stdint.h>

#define CF_SYSREG(fn, reg)                                                      \
    static inline uint64_t cf_read_##fn(void) {                                 \
        uint64_t v;                                                             \
        __asm__ volatile("mrs %0, " #reg : "=r"(v) :: "memory");                \
        return v;                                                               \
    }                                                                           \
    static inline void cf_write_##fn(uint64_t v) {                              \
        __asm__ volatile("msr " #reg ", %0" :: "r"(v) : "memory");              \
    }

// GIC CPU interface (ICC_*; under a hypervisor the ICV_* registers).
CF_SYSREG(iar0, S3_0_C12_C8_0)
CF_SYSREG(eoir0, S3_0_C12_C8_1)
CF_SYSREG(hppir0, S3_0_C12_C8_2)
CF_SYSREG(bpr0, S3_0_C12_C8_3)
CF_SYSREG(ap0r0, S3_0_C12_C8_4)
CF_SYSREG(ap1r0, S3_0_C12_C9_0)
CF_SYSREG(dir, S3_0_C12_C11_1)
CF_SYSREG(rpr, S3_0_C12_C11_3)
CF_SYSREG(sgi1r, S3_0_C12_C11_5)
CF_SYSREG(asgi1r, S3_0_C12_C11_6)
CF_SYSREG(sgi0r, S3_0_C12_C11_7)
CF_SYSREG(iar1, S3_0_C12_C12_0)
CF_SYSREG(eoir1, S3_0_C12_C12_1)
CF_SYSREG(hppir1, S3_0_C12_C12_2)
CF_SYSREG(bpr1, S3_0_C12_C12_3)
CF_SYSREG(ctlr, S3_0_C12_C12_4)
CF_SYSREG(sre, S3_0_C12_C12_5)
CF_SYSREG(igrpen0, S3_0_C12_C12_6)
CF_SYSREG(igrpen1, S3_0_C12_C12_7)
CF_SYSREG(pmr, S3_0_C4_C6_0)
// Pending physical/virtual IRQ and FIQ, whatever PSTATE masks (I bit 7, F bit 6).
CF_SYSREG(isr, S3_0_C12_C1_0)

// The virtual and EL1 physical timers, the counter.
CF_SYSREG(cntfrq, cntfrq_el0)
CF_SYSREG(cntvct, cntvct_el0)
CF_SYSREG(cntv_ctl, cntv_ctl_el0)
CF_SYSREG(cntv_cval, cntv_cval_el0)
CF_SYSREG(cntv_tval, cntv_tval_el0)
CF_SYSREG(cntp_ctl, cntp_ctl_el0)
CF_SYSREG(mpidr, mpidr_el1)
CF_SYSREG(daif, daif)

static inline void cf_isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline void cf_dsb(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void cf_wfi(void) { __asm__ volatile("dsb sy\n\twfi" ::: "memory"); }
static inline void cf_wfe(void) { __asm__ volatile("wfe" ::: "memory"); }
static inline void cf_sev(void) { __asm__ volatile("dsb sy\n\tsev" ::: "memory"); }
static inline void cf_irq_enable(void) { __asm__ volatile("msr daifclr, #2" ::: "memory"); }
static inline void cf_irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }
static inline void cf_fiq_disable(void) { __asm__ volatile("msr daifset, #1" ::: "memory"); }

static inline uint64_t cf_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void cf_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t cf_add(uint64_t *p, uint64_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t cf_cas(uint64_t *p, uint64_t expected, uint64_t desired) {
    __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}

// A 64-bit MMIO store in two 32-bit halves (GICD_IROUTER's word access).
static inline void cf_mmio_write32(uintptr_t a, uint32_t v) {
    __asm__ volatile("str %w0, [%1]" :: "r"(v), "r"(a) : "memory");
}
static inline uint32_t cf_mmio_read32(uintptr_t a) {
    uint32_t v; __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
static inline uint64_t cf_mmio_read64(uintptr_t a) {
    uint64_t v; __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
static inline void cf_mmio_write64(uintptr_t a, uint64_t v) {
    __asm__ volatile("str %0, [%1]" :: "r"(v), "r"(a) : "memory");
}
static inline uint8_t cf_mmio_read8(uintptr_t a) {
    uint8_t v; __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
static inline void cf_mmio_write8(uintptr_t a, uint8_t v) {
    __asm__ volatile("strb %w0, [%1]" :: "r"(v), "r"(a) : "memory");
}

static inline uint64_t cf_hvc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
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

#endif
