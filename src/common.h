/* Internal helpers shared by every part of libsbv2 (not installed). */
#ifndef SBV2_COMMON_H
#define SBV2_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "sbv2.h"

#if defined(__GNUC__)
#define SBV2_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SBV2_PRINTF(a, b)
#endif

/* Fills err (when not NULL) and returns code, so callers can write
 * `return sbv2_fail(err, SBV2_ERR_FORMAT, "...", ...);`. */
int sbv2_fail(sbv2_error *err, int code, const char *fmt, ...) SBV2_PRINTF(3, 4);
/* Prefixes an already-set message with context ("config.json: "). */
void sbv2_error_prefix(sbv2_error *err, const char *prefix);

/* Overflow-checked size arithmetic: return 0 on overflow. */
static inline int sbv2_mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

#endif
