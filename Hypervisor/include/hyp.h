// The hypervisor's narrow layer to the machine: system registers, MMIO,
// barriers, SMC and the guest context. Everything that must not be merged,
// reordered or dropped by the optimizer goes through `asm volatile` here.
#ifndef HYP_H
#define HYP_H

#include <stdint.h>
#include <stddef.h>
#include "../../Shared/include/a64_access.h"

// ---- System registers -------------------------------------------------------

A64_SYSREG(mpidr, mpidr_el1)
A64_SYSREG(midr, midr_el1)
A64_SYSREG(currentel, CurrentEL)
A64_SYSREG(esr_el2, esr_el2)
A64_SYSREG(far_el2, far_el2)
A64_SYSREG(hpfar_el2, hpfar_el2)
A64_SYSREG(elr_el2, elr_el2)
A64_SYSREG(spsr_el2, spsr_el2)
A64_SYSREG(hcr_el2, hcr_el2)
A64_SYSREG(vtcr_el2, vtcr_el2)
A64_SYSREG(vttbr_el2, vttbr_el2)
A64_SYSREG(vmpidr_el2, vmpidr_el2)
A64_SYSREG(vpidr_el2, vpidr_el2)
A64_SYSREG(cptr_el2, cptr_el2)
A64_SYSREG(mdcr_el2, mdcr_el2)
A64_SYSREG(cnthctl_el2, cnthctl_el2)
A64_SYSREG(cntvoff_el2, cntvoff_el2)
A64_SYSREG(tpidr_el2, tpidr_el2)
A64_SYSREG(sctlr_el1, sctlr_el1)
A64_SYSREG(esr_el1, esr_el1)
A64_SYSREG(far_el1, far_el1)
A64_SYSREG(elr_el1, elr_el1)
A64_SYSREG(spsr_el1, spsr_el1)
A64_SYSREG(vbar_el1, vbar_el1)
A64_SYSREG(cpacr_el1, cpacr_el1)
A64_SYSREG(pmcr_el0, pmcr_el0)
A64_SYSREG(cntfrq_el0, cntfrq_el0)
A64_SYSREG(cntpct_el0, cntpct_el0)
A64_SYSREG(cntvct_el0, cntvct_el0)
A64_SYSREG(cntv_ctl_el0, cntv_ctl_el0)
A64_SYSREG(cntv_cval_el0, cntv_cval_el0)
A64_SYSREG(cntp_ctl_el0, cntp_ctl_el0)
A64_SYSREG(cnthp_ctl_el2, cnthp_ctl_el2)

// GICv3 CPU interface (physical, as EL2 sees it).
A64_SYSREG(icc_sre_el2, S3_4_C12_C9_5)
A64_SYSREG(icc_sre_el1, S3_0_C12_C12_5)
A64_SYSREG(icc_pmr_el1, S3_0_C4_C6_0)
A64_SYSREG(icc_bpr1_el1, S3_0_C12_C12_3)
A64_SYSREG(icc_ctlr_el1, S3_0_C12_C12_4)
A64_SYSREG(icc_igrpen1_el1, S3_0_C12_C12_7)
A64_SYSREG(icc_iar1_el1, S3_0_C12_C12_0)
A64_SYSREG(icc_eoir1_el1, S3_0_C12_C12_1)
A64_SYSREG(icc_dir_el1, S3_0_C12_C11_1)
A64_SYSREG(icc_sgi1r_el1, S3_0_C12_C11_5)

// GICv3 virtualization extension.
A64_SYSREG(ich_hcr_el2, S3_4_C12_C11_0)
A64_SYSREG(ich_vtr_el2, S3_4_C12_C11_1)
A64_SYSREG(ich_misr_el2, S3_4_C12_C11_2)
A64_SYSREG(ich_eisr_el2, S3_4_C12_C11_3)
A64_SYSREG(ich_elrsr_el2, S3_4_C12_C11_5)
A64_SYSREG(ich_vmcr_el2, S3_4_C12_C11_7)
A64_SYSREG(ich_ap0r0_el2, S3_4_C12_C8_0)
A64_SYSREG(ich_ap0r1_el2, S3_4_C12_C8_1)
A64_SYSREG(ich_ap0r2_el2, S3_4_C12_C8_2)
A64_SYSREG(ich_ap0r3_el2, S3_4_C12_C8_3)
A64_SYSREG(ich_ap1r0_el2, S3_4_C12_C9_0)
A64_SYSREG(ich_ap1r1_el2, S3_4_C12_C9_1)
A64_SYSREG(ich_ap1r2_el2, S3_4_C12_C9_2)
A64_SYSREG(ich_ap1r3_el2, S3_4_C12_C9_3)
A64_SYSREG(ich_lr0_el2, S3_4_C12_C12_0)
A64_SYSREG(ich_lr1_el2, S3_4_C12_C12_1)
A64_SYSREG(ich_lr2_el2, S3_4_C12_C12_2)
A64_SYSREG(ich_lr3_el2, S3_4_C12_C12_3)
A64_SYSREG(ich_lr4_el2, S3_4_C12_C12_4)
A64_SYSREG(ich_lr5_el2, S3_4_C12_C12_5)
A64_SYSREG(ich_lr6_el2, S3_4_C12_C12_6)
A64_SYSREG(ich_lr7_el2, S3_4_C12_C12_7)
A64_SYSREG(ich_lr8_el2, S3_4_C12_C13_0)
A64_SYSREG(ich_lr9_el2, S3_4_C12_C13_1)
A64_SYSREG(ich_lr10_el2, S3_4_C12_C13_2)
A64_SYSREG(ich_lr11_el2, S3_4_C12_C13_3)
A64_SYSREG(ich_lr12_el2, S3_4_C12_C13_4)
A64_SYSREG(ich_lr13_el2, S3_4_C12_C13_5)
A64_SYSREG(ich_lr14_el2, S3_4_C12_C13_6)
A64_SYSREG(ich_lr15_el2, S3_4_C12_C13_7)

// ---- Barriers and hints -----------------------------------------------------
static inline void hyp_isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline void hyp_dsb_sy(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void hyp_dsb_ish(void) { __asm__ volatile("dsb ish" ::: "memory"); }
static inline void hyp_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void hyp_wfe(void) { __asm__ volatile("wfe" ::: "memory"); }
static inline void hyp_sev(void) { __asm__ volatile("sev" ::: "memory"); }
static inline void hyp_yield(void) { __asm__ volatile("yield" ::: "memory"); }
static inline void hyp_tlbi_vmalls12e1is(void) {
    __asm__ volatile("dsb ishst\n tlbi vmalls12e1is\n dsb ish\n isb" ::: "memory");
}
static inline void hyp_tlbi_alle2(void) {
    __asm__ volatile("dsb ishst\n tlbi alle2\n dsb ish\n isb" ::: "memory");
}

// Clean a range to the point of coherency (code written for a guest that
// starts with its MMU and caches off).
static inline void hyp_clean_dcache_range(uintptr_t a, size_t n) {
    for (uintptr_t p = a & ~(uintptr_t)63; p < a + n; p += 64)
        __asm__ volatile("dc cvac, %0" :: "r"(p) : "memory");
    __asm__ volatile("dsb sy\n ic iallu\n dsb sy\n isb" ::: "memory");
}

void *memmove(void *d, const void *s, size_t n);
void *memcpy(void *d, const void *s, size_t n);

// ---- MMIO: mmio_read8..64 / mmio_write8..64 (a64_access.h) ------------------

// ---- Firmware call (SMCCC, PSCI through SMC) --------------------------------
static inline uint64_t hyp_smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    __asm__ volatile("smc #0"
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                     :
                     : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13",
                       "x14", "x15", "x16", "x17", "memory");
    return x0;
}

// ---- Guest context ----------------------------------------------------------
// Saved by the EL2 vectors on every exit, restored by hyp_enter_guest. The
// layout is shared with boot.S: x0..x30 at 0, pc (ELR_EL2) at 248, pstate
// (SPSR_EL2) at 256.
struct hyp_vcpu_context {
    uint64_t x[31];
    uint64_t pc;
    uint64_t pstate;
    uint64_t pad;
};

static inline uint64_t hyp_ctx_get(const struct hyp_vcpu_context *c, unsigned n) {
    return n < 31 ? c->x[n] : 0;  // register 31 is XZR here
}
static inline void hyp_ctx_set(struct hyp_vcpu_context *c, unsigned n, uint64_t v) {
    if (n < 31) c->x[n] = v;
}

// Exit reasons returned by hyp_enter_guest (the vector that was taken).
enum {
    HYP_EXIT_SYNC = 0,
    HYP_EXIT_IRQ = 1,
    HYP_EXIT_FIQ = 2,
    HYP_EXIT_SERROR = 3,
};

// boot.S
uint64_t hyp_enter_guest(struct hyp_vcpu_context *ctx);
extern char __hyp_image_start[];
extern char __hyp_image_end[];
extern char __heap_start[];
extern char __heap_end[];
void hyp_secondary_entry(void);

// libc.c
void hyp_console_putc(uint8_t c);
void *hyp_alloc_pages(size_t bytes);
size_t hyp_heap_used(void);

#endif
