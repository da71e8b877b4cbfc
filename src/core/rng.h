/* Seeded Gaussian noise: xoshiro256** seeded by splitmix64, Box-Muller.
 * Deterministic for a seed, independent of thread count. */
#ifndef SBV2_RNG_H
#define SBV2_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct sbv2_rng {
    uint64_t s[4];
} sbv2_rng;

static inline uint64_t sbv2_splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void sbv2_rng_seed(sbv2_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = sbv2_splitmix64(&seed);
}

static inline uint64_t sbv2_rng_next(sbv2_rng *r) {
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* n standard normal floats. */
static inline void sbv2_rng_normal(sbv2_rng *r, float *out, size_t n) {
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(sbv2_rng_next(r) >> 11) + 1.0) * 0x1.0p-53; /* (0, 1] */
        double u2 = (double)(sbv2_rng_next(r) >> 11) * 0x1.0p-53;
        double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
        out[i] = (float)(rad * cos(th));
        if (i + 1 < n) out[i + 1] = (float)(rad * sin(th));
    }
}

#endif
