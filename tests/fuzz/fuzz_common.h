/* Shared by the libFuzzer targets: a reader that carves typed values off the
 * front of the input, so one input drives several fields. Reads past the end
 * give zeros. */
#ifndef SBV2_FUZZ_COMMON_H
#define SBV2_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n;
} fz_in;

static inline uint8_t fz_u8(fz_in *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t fz_u32(fz_in *in) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | fz_u8(in);
    return v;
}

static inline double fz_f64(fz_in *in) { /* any bit pattern: NaN, infinities, subnormals */
    uint64_t b = (uint64_t)fz_u32(in) << 32 | fz_u32(in);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* A piece of at most max bytes (a length byte first), as a fresh
 * NUL-terminated copy in buf (max + 1 bytes). */
static inline const char *fz_str(fz_in *in, char *buf, size_t max) {
    size_t len = fz_u8(in);
    if (len > max) len = max;
    if (len > in->n) len = in->n;
    memcpy(buf, in->p, len);
    buf[len] = '\0';
    in->p += len, in->n -= len;
    return buf;
}

/* Where the golden data lives (tests read it in place): the build sets it. */
#ifndef SBV2_GOLDEN_DIR
#define SBV2_GOLDEN_DIR "../shared/golden"
#endif

#endif
