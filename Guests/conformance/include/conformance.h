// The conformance and difftest guests' extra layer to the machine, on top of
// the shared runtime's (guest.h: MMIO, HVC, the timers, the GIC registers
// the demo needs): the other GIC CPU-interface registers, ISR_EL1, WFE/SEV
// and 64-bit atomics. Everything here is an instruction or two; the tests
// themselves are Swift.
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include <stdint.h>
#include "guest.h"

// GIC CPU interface (ICC_*; under a hypervisor the ICV_* registers).
A64_SYSREG(icc_iar0, S3_0_C12_C8_0)
A64_SYSREG(icc_eoir0, S3_0_C12_C8_1)
A64_SYSREG(icc_hppir0, S3_0_C12_C8_2)
A64_SYSREG(icc_bpr0, S3_0_C12_C8_3)
A64_SYSREG(icc_ap0r0, S3_0_C12_C8_4)
A64_SYSREG(icc_ap1r0, S3_0_C12_C9_0)
A64_SYSREG(icc_rpr, S3_0_C12_C11_3)
A64_SYSREG(icc_hppir1, S3_0_C12_C12_2)
A64_SYSREG(icc_igrpen0, S3_0_C12_C12_6)
// Pending physical/virtual IRQ and FIQ, whatever PSTATE masks (I bit 7, F bit 6).
A64_SYSREG(isr, S3_0_C12_C1_0)

// WFI after the stores before it are visible (the runtime's guest_wfi has no barrier).
static inline void cf_wfi(void) { __asm__ volatile("dsb sy\n\twfi" ::: "memory"); }
static inline void cf_wfe(void) { __asm__ volatile("wfe" ::: "memory"); }
static inline void cf_sev(void) { __asm__ volatile("dsb sy\n\tsev" ::: "memory"); }

static inline uint64_t cf_load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void cf_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t cf_add(uint64_t *p, uint64_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }

#endif
