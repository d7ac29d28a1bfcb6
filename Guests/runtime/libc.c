// The little C library the demo guest's Embedded Swift needs.
#include <stddef.h>
#include <stdint.h>
#include "guest.h"

static uint32_t shared_words[1024];
uint32_t *guest_shared(void) { return shared_words; }

void *memset(void *d, int c, size_t n) {
    uint8_t *p = d;
    while (n--) *p++ = (uint8_t)c;
    return d;
}
void *memcpy(void *d, const void *s, size_t n) {
    uint8_t *dp = d;
    const uint8_t *sp = s;
    while (n--) *dp++ = *sp++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    uint8_t *dp = d;
    const uint8_t *sp = s;
    if (dp < sp) { while (n--) *dp++ = *sp++; }
    else { dp += n; sp += n; while (n--) *--dp = *--sp; }
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}
size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

// A bump heap: the guest allocates a little at start and never frees much.
extern char __heap_start[], __heap_end[];
static uintptr_t next;
static uint32_t heap_lock;
void *malloc(size_t n) {
    while (__atomic_exchange_n(&heap_lock, 1, __ATOMIC_ACQUIRE)) {}
    if (!next) next = (uintptr_t)__heap_start;
    uintptr_t p = (next + 15) & ~(uintptr_t)15;
    next = p + n;
    void *r = next > (uintptr_t)__heap_end ? 0 : (void *)p;
    __atomic_store_n(&heap_lock, 0, __ATOMIC_RELEASE);
    return r;
}
void free(void *p) { (void)p; }
int posix_memalign(void **out, size_t align, size_t n) {
    void *p = malloc(n + align);
    *out = (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    return 0;
}

#define UART 0x09000000ul
void guest_console_putc(uint8_t c) {
    while (mmio_read32(UART + 0x18) & (1u << 5)) {}
    mmio_write32(UART, c);
}
int putchar(int c) { guest_console_putc((uint8_t)c); return c; }

void arc4random_buf(void *buf, size_t n) {
    static uint64_t s = 0x9E3779B97F4A7C15ull;
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; p[i] = (uint8_t)s; }
}
