// System-register and device-memory accessors shared by the hypervisor
// (Hypervisor/include/hyp.h) and the bare-metal guests
// (Guests/runtime/include/guest.h). Everything goes through `asm volatile`
// so that the optimizer can neither merge, reorder nor drop an access.
#ifndef A64_ACCESS_H
#define A64_ACCESS_H

#include <stdint.h>

// read_<fn>() / write_<fn>(v) for the system register `reg`.
#define A64_SYSREG(fn, reg)                                                     \
    static inline uint64_t read_##fn(void) {                                    \
        uint64_t v;                                                             \
        __asm__ volatile("mrs %0, " #reg : "=r"(v) :: "memory");                \
        return v;                                                               \
    }                                                                           \
    static inline void write_##fn(uint64_t v) {                                 \
        __asm__ volatile("msr " #reg ", %0" :: "r"(v) : "memory");              \
    }

static inline uint8_t mmio_read8(uintptr_t a) {
    uint8_t v; __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
static inline uint16_t mmio_read16(uintptr_t a) {
    uint16_t v; __asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
static inline uint32_t mmio_read32(uintptr_t a) {
    uint32_t v; __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
static inline uint64_t mmio_read64(uintptr_t a) {
    uint64_t v; __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v;
}
static inline void mmio_write8(uintptr_t a, uint8_t v) {
    __asm__ volatile("strb %w0, [%1]" :: "r"(v), "r"(a) : "memory");
}
static inline void mmio_write16(uintptr_t a, uint16_t v) {
    __asm__ volatile("strh %w0, [%1]" :: "r"(v), "r"(a) : "memory");
}
static inline void mmio_write32(uintptr_t a, uint32_t v) {
    __asm__ volatile("str %w0, [%1]" :: "r"(v), "r"(a) : "memory");
}
static inline void mmio_write64(uintptr_t a, uint64_t v) {
    __asm__ volatile("str %0, [%1]" :: "r"(v), "r"(a) : "memory");
}

#endif
