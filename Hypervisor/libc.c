// What the Embedded Swift runtime needs from a C library, for EL2: memory
// functions, a heap (size-class free lists over a bump region), putchar
// (the PL011) and a random source for hashing seeds.
#include <stddef.h>
#include <stdint.h>
#include "hyp.h"

// ---- Memory functions -------------------------------------------------------
void *memset(void *d, int c, size_t n) {
    uint8_t *p = d;
    while (n && ((uintptr_t)p & 7)) { *p++ = (uint8_t)c; n--; }
    uint64_t w = (uint8_t)c * 0x0101010101010101ull;
    while (n >= 8) { *(uint64_t *)p = w; p += 8; n -= 8; }
    while (n--) *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n) {
    uint8_t *dp = d;
    const uint8_t *sp = s;
    if ((((uintptr_t)dp | (uintptr_t)sp) & 7) == 0) {
        while (n >= 8) { *(uint64_t *)dp = *(const uint64_t *)sp; dp += 8; sp += 8; n -= 8; }
    }
    while (n--) *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n) {
    uint8_t *dp = d;
    const uint8_t *sp = s;
    if (dp == sp || n == 0) return d;
    if (dp < sp || dp >= sp + n) return memcpy(d, s, n);
    dp += n; sp += n;
    while (n--) *--dp = *--sp;
    return d;
}

int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

// ---- Heap -------------------------------------------------------------------
// Every block has a 16-byte header: the size class (or, for an aligned
// allocation, a marker and the underlying block).
#define NCLASSES 8            // 16 .. 2048 bytes
#define LARGE_CLASS 0xFFFF
#define ALIGNED_MARK 0xA11A

struct header { uint64_t kind; uint64_t size_or_base; };
struct free_block { struct free_block *next; uint64_t size; };

static uintptr_t heap_next;
static struct free_block *free_lists[NCLASSES];
static struct free_block *large_free;
static volatile uint32_t heap_lock;

static void lock_heap(void) {
    while (__atomic_exchange_n(&heap_lock, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(&heap_lock, __ATOMIC_RELAXED)) {}
    }
}
static void unlock_heap(void) { __atomic_store_n(&heap_lock, 0, __ATOMIC_RELEASE); }

void hyp_panic_c(const char *msg);

static void *bump(size_t bytes, size_t align) {
    if (!heap_next) heap_next = (uintptr_t)__heap_start;
    uintptr_t p = (heap_next + align - 1) & ~(uintptr_t)(align - 1);
    if (p + bytes > (uintptr_t)__heap_end) {
        unlock_heap();
        hyp_panic_c("out of heap memory");
    }
    heap_next = p + bytes;
    return (void *)p;
}

void *hyp_alloc_pages(size_t bytes) {
    lock_heap();
    void *p = bump((bytes + 4095) & ~(size_t)4095, 4096);
    unlock_heap();
    memset(p, 0, bytes);
    return p;
}

size_t hyp_heap_used(void) {
    return heap_next ? heap_next - (uintptr_t)__heap_start : 0;
}

void *malloc(size_t n) {
    if (n == 0) n = 1;
    lock_heap();
    struct header *h;
    if (n <= (16u << (NCLASSES - 1))) {
        unsigned c = 0;
        while ((16u << c) < n) c++;
        struct free_block *b = free_lists[c];
        if (b) {
            free_lists[c] = b->next;
            h = (struct header *)b;
        } else {
            h = bump(sizeof(struct header) + (16u << c), 16);
        }
        h->kind = c;
        h->size_or_base = 16u << c;
    } else {
        size_t size = (n + 15) & ~(size_t)15;
        struct free_block **pp = &large_free;
        h = 0;
        while (*pp) {
            if ((*pp)->size >= size) {
                struct free_block *b = *pp;
                *pp = b->next;
                size = b->size;
                h = (struct header *)b;
                break;
            }
            pp = &(*pp)->next;
        }
        if (!h) h = bump(sizeof(struct header) + size, 16);
        h->kind = LARGE_CLASS;
        h->size_or_base = size;
    }
    unlock_heap();
    return h + 1;
}

void free(void *p) {
    if (!p) return;
    struct header *h = (struct header *)p - 1;
    if (h->kind == ALIGNED_MARK) {
        free((void *)h->size_or_base);
        return;
    }
    lock_heap();
    struct free_block *b = (struct free_block *)h;
    if (h->kind == LARGE_CLASS) {
        uint64_t size = h->size_or_base;
        b->size = size;
        b->next = large_free;
        large_free = b;
    } else if (h->kind < NCLASSES) {
        unsigned c = (unsigned)h->kind;
        b->next = free_lists[c];
        free_lists[c] = b;
    } else {
        unlock_heap();
        hyp_panic_c("free: corrupt heap block");
    }
    unlock_heap();
}

int posix_memalign(void **out, size_t align, size_t n) {
    if (align <= 16) {
        *out = malloc(n);
        return 0;
    }
    uint8_t *raw = malloc(n + align + sizeof(struct header));
    uintptr_t a = ((uintptr_t)raw + sizeof(struct header) + align - 1) & ~(uintptr_t)(align - 1);
    struct header *h = (struct header *)a - 1;
    h->kind = ALIGNED_MARK;
    h->size_or_base = (uint64_t)(uintptr_t)raw;
    *out = (void *)a;
    return 0;
}

void *calloc(size_t a, size_t b) {
    void *p = malloc(a * b);
    memset(p, 0, a * b);
    return p;
}

// ---- Console ----------------------------------------------------------------
#define UART_BASE 0x09000000ul
#define UART_DR 0x00
#define UART_FR 0x18
#define UART_FR_TXFF (1u << 5)

void hyp_console_putc(uint8_t c) {
    while (mmio_read32(UART_BASE + UART_FR) & UART_FR_TXFF) {}
    mmio_write32(UART_BASE + UART_DR, c);
}

int putchar(int c) {
    hyp_console_putc((uint8_t)c);
    return c;
}

// ---- Randomness (hash seeds only) -------------------------------------------
void arc4random_buf(void *buf, size_t n) {
    static uint64_t state;
    uint8_t *p = buf;
    if (!state) state = read_cntpct_el0() | 1;
    for (size_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        p[i] = (uint8_t)state;
    }
}
