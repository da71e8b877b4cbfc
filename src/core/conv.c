/* Fast stride-1 Conv1d: weights pre-packed at load into blocks of MR output
 * channels ([block][cin][k][MR]), the input copied once into a zero-padded
 * buffer (with the preceding activation fused in), and a register-blocked
 * MR x NR microkernel (AVX-512 or AVX2+FMA, chosen at run time; portable C
 * otherwise) with bias and residual add fused in its store. The summation
 * order per output is the same in every variant (ci outer, k inner, one FMA
 * chain), so results do not depend on the CPU or the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/conv.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SBV2_X86 1
#endif

#define MR 6 /* output channels per block */

size_t conv_packed_size(int cout, int cin, int k) {
    size_t blocks = (size_t)(cout + MR - 1) / MR;
    return blocks * (size_t)cin * (size_t)k * MR;
}

void conv_pack(const float *w, int cout, int cin, int k, float *packed) {
    int blocks = (cout + MR - 1) / MR;
    for (int b = 0; b < blocks; b++)
        for (int ci = 0; ci < cin; ci++)
            for (int kk = 0; kk < k; kk++) {
                float *dst = packed + (((size_t)b * cin + ci) * k + kk) * MR;
                for (int r = 0; r < MR; r++) {
                    int co = b * MR + r;
                    dst[r] = co < cout ? w[((size_t)co * cin + ci) * k + kk] : 0.0f;
                }
            }
}

/* One tile: rows [co0, co0+MR) x columns [t0, t0+n), n <= NR. xp rows have
 * stride ldx and already hold the left padding, so x[t + kk*dil] is in range. */
typedef struct tile_args {
    const float *wp;   /* this block's packed weights [cin][k][MR] */
    const float *xp;   /* padded input, row stride ldx */
    size_t ldx;
    int cin, k, dil;
    const float *bias; /* [cout] or NULL */
    const float *res;  /* residual [cout][tout] or NULL */
    float *y;          /* [cout][tout] */
    int tout, co0, rows, t0, n;
} tile_args;

static void tile_generic(const tile_args *a) {
    float acc[MR][64];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < a->n; j++) acc[r][j] = 0.0f;
    for (int ci = 0; ci < a->cin; ci++) {
        const float *xr = a->xp + (size_t)ci * a->ldx + a->t0;
        for (int kk = 0; kk < a->k; kk++) {
            const float *w = a->wp + ((size_t)ci * a->k + kk) * MR;
            const float *xs = xr + kk * a->dil;
            for (int r = 0; r < MR; r++)
                for (int j = 0; j < a->n; j++) acc[r][j] = fmaf(w[r], xs[j], acc[r][j]);
        }
    }
    for (int r = 0; r < a->rows; r++) {
        int co = a->co0 + r;
        float b = a->bias ? a->bias[co] : 0.0f;
        float *yo = a->y + (size_t)co * a->tout + a->t0;
        const float *ro = a->res ? a->res + (size_t)co * a->tout + a->t0 : NULL;
        for (int j = 0; j < a->n; j++) yo[j] = acc[r][j] + b + (ro ? ro[j] : 0.0f);
    }
}

#ifdef SBV2_X86
/* 6 x 64 tile: 24 zmm accumulators, 4 loads + 6 broadcasts per (ci, k). */
__attribute__((target("avx512f"))) static void tile_avx512(const tile_args *a) {
    __m512 acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    for (int ci = 0; ci < a->cin; ci++) {
        const float *xr = a->xp + (size_t)ci * a->ldx + a->t0;
        const float *w = a->wp + (size_t)ci * a->k * MR;
        for (int kk = 0; kk < a->k; kk++, w += MR) {
            const float *xs = xr + kk * a->dil;
            __m512 x0 = _mm512_loadu_ps(xs), x1 = _mm512_loadu_ps(xs + 16);
            __m512 x2 = _mm512_loadu_ps(xs + 32), x3 = _mm512_loadu_ps(xs + 48);
            for (int r = 0; r < MR; r++) {
                __m512 wv = _mm512_set1_ps(w[r]);
                acc[r][0] = _mm512_fmadd_ps(wv, x0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(wv, x1, acc[r][1]);
                acc[r][2] = _mm512_fmadd_ps(wv, x2, acc[r][2]);
                acc[r][3] = _mm512_fmadd_ps(wv, x3, acc[r][3]);
            }
        }
    }
    for (int r = 0; r < a->rows; r++) {
        int co = a->co0 + r;
        __m512 b = _mm512_set1_ps(a->bias ? a->bias[co] : 0.0f);
        float *yo = a->y + (size_t)co * a->tout + a->t0;
        const float *ro = a->res ? a->res + (size_t)co * a->tout + a->t0 : NULL;
        for (int v = 0; v < 4; v++) {
            int left = a->n - 16 * v;
            if (left <= 0) break;
            __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512 o = _mm512_add_ps(acc[r][v], b);
            if (ro) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(m, ro + 16 * v));
            _mm512_mask_storeu_ps(yo + 16 * v, m, o);
        }
    }
}

/* 6 x 16 tile: 12 ymm accumulators (the classic AVX2 sgemm shape). */
__attribute__((target("avx2,fma"))) static void tile_avx2(const tile_args *a) {
    __m256 acc[MR][2];
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int ci = 0; ci < a->cin; ci++) {
        const float *xr = a->xp + (size_t)ci * a->ldx + a->t0;
        const float *w = a->wp + (size_t)ci * a->k * MR;
        for (int kk = 0; kk < a->k; kk++, w += MR) {
            const float *xs = xr + kk * a->dil;
            __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8);
            for (int r = 0; r < MR; r++) {
                __m256 wv = _mm256_broadcast_ss(&w[r]);
                acc[r][0] = _mm256_fmadd_ps(wv, x0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(wv, x1, acc[r][1]);
            }
        }
    }
    for (int r = 0; r < a->rows; r++) {
        int co = a->co0 + r;
        float b = a->bias ? a->bias[co] : 0.0f;
        float *yo = a->y + (size_t)co * a->tout + a->t0;
        const float *ro = a->res ? a->res + (size_t)co * a->tout + a->t0 : NULL;
        float tmp[16];
        _mm256_storeu_ps(tmp, acc[r][0]);
        _mm256_storeu_ps(tmp + 8, acc[r][1]);
        for (int j = 0; j < a->n; j++) yo[j] = tmp[j] + b + (ro ? ro[j] : 0.0f);
    }
}
#endif

typedef enum { ISA_GENERIC, ISA_AVX2, ISA_AVX512 } isa_t;

static isa_t detect_isa(void) {
#ifdef SBV2_X86
    /* the cpu model is initialised by libgcc before main; reading it is pure */
    if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
    return ISA_GENERIC;
}

const char *conv_isa_name(void) {
    switch (detect_isa()) {
    case ISA_AVX512: return "avx512";
    case ISA_AVX2: return "avx2+fma";
    default: return "generic";
    }
}

float *scratch_get(scratch *s, int slot, size_t n) {
    if (!s) return malloc(sizeof(float) * (n ? n : 1));
    if (s->cap[slot] < n) {
        free(s->p[slot]);
        size_t cap = n + n / 4 + 1024; /* some headroom for the next, longer request */
        s->p[slot] = malloc(sizeof(float) * cap);
        s->cap[slot] = s->p[slot] ? cap : 0;
    }
    return s->p[slot];
}

void scratch_free(scratch *s) {
    for (int i = 0; s && i < SCRATCH_SLOTS; i++) free(s->p[i]), s->p[i] = NULL, s->cap[i] = 0;
}

static int run_tiles(const conv_job *j, isa_t isa, int nr, const float *xp, size_t ldx) {
    const int blocks = (j->cout + MR - 1) / MR;
    const int tiles = (j->tout + nr - 1) / nr;
    const long work = (long)blocks * tiles;
    const int nt = j->n_threads > 0 ? j->n_threads : 1;
    (void)nt;
#pragma omp parallel for num_threads(nt) schedule(static) if (work > 1 && (long)j->cout * j->cin * j->k * j->tout > 400000)
    for (long w = 0; w < work; w++) {
        /* time tiles outer: one tile's input panel stays in cache while every
           output-channel block reads it */
        int tt = (int)(w / blocks), b = (int)(w % blocks);
        tile_args a = {j->packed + (size_t)b * j->cin * j->k * MR, xp, ldx, j->cin, j->k, j->dil, j->bias, j->res, j->y,
                       j->tout, b * MR, j->cout - b * MR < MR ? j->cout - b * MR : MR, tt * nr,
                       j->tout - tt * nr < nr ? j->tout - tt * nr : nr};
#ifdef SBV2_X86
        if (isa == ISA_AVX512) tile_avx512(&a);
        else if (isa == ISA_AVX2) tile_avx2(&a);
        else tile_generic(&a);
#else
        tile_generic(&a);
#endif
    }
    return 0;
}

int conv_run(const conv_job *j) {
    const isa_t isa = j->force_generic ? ISA_GENERIC : detect_isa();
    const int nr = isa == ISA_AVX512 ? 64 : isa == ISA_AVX2 ? 16 : 64;
    const int span = (j->k - 1) * j->dil;
    /* padded, activated input; NR spare zeros on the right so full tiles can read */
    const size_t ldx = (size_t)j->tout + (size_t)span + (size_t)nr;
    if (j->x_ld) return run_tiles(j, isa, nr, j->x, j->x_ld);
    float *xp = scratch_get(j->ws, SCR_CONV_IN, ldx * (size_t)j->cin);
    if (!xp) return -1;
    /* row: zeros, then x[t] at t + pad_l for the t that land inside, zeros */
    const int t_lo = j->pad_l < 0 ? -j->pad_l : 0;
    long t_hi = (long)ldx - j->pad_l;
    if (t_hi > j->tin) t_hi = j->tin;
    const size_t d_lo = (size_t)(t_lo + j->pad_l), d_hi = t_hi > t_lo ? (size_t)(t_hi + j->pad_l) : d_lo;
#pragma omp parallel for num_threads(j->n_threads > 0 ? j->n_threads : 1) schedule(static) if ((long)j->cin * j->tin > 100000)
    for (int ci = 0; ci < j->cin; ci++) {
        float *row = xp + (size_t)ci * ldx;
        const float *src = j->x + (size_t)ci * j->tin;
        memset(row, 0, sizeof(float) * d_lo);
        memset(row + d_hi, 0, sizeof(float) * (ldx - d_hi));
        for (long t = t_lo; t < t_hi; t++) {
            float v = src[t];
            if (j->act == CONV_ACT_LEAKY) v = v > 0 ? v : v * j->slope;
            if (j->mask) v *= j->mask[t];
            row[t + j->pad_l] = v;
        }
    }
    int rc = run_tiles(j, isa, nr, xp, ldx);
    if (!j->ws) free(xp);
    return rc;
}

float *conv_thread_slice(float *base, size_t per_thread) {
#ifdef _OPENMP
    return base + (size_t)omp_get_thread_num() * per_thread;
#else
    (void)per_thread;
    return base;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
static void lrelu_copy(const float *restrict x, int n, float slope, float *restrict o) {
    for (int i = 0; i < n; i++) o[i] = x[i] > 0 ? x[i] : x[i] * slope;
}

void conv_pad_activate_row(const float *x, int T, float slope, int pad_l, size_t lda, float *a) {
    memset(a, 0, sizeof(float) * (size_t)pad_l);
    lrelu_copy(x, T, slope, a + pad_l);
    memset(a + pad_l + T, 0, sizeof(float) * (lda - (size_t)pad_l - (size_t)T));
}

int conv_matmul(const float *a, int M, int K, const float *b, size_t ldb, int N, float *c, float *pack_buf, int nt) {
    conv_pack(a, M, K, 1, pack_buf);
    conv_job j = {pack_buf, NULL, M, K, 1, 1, 0, b, N, CONV_ACT_NONE, 0.0f, NULL, NULL, c, N, nt, 0, NULL, ldb};
    return conv_run(&j);
}

/* ---- peak measurement (for the benchmark) ---------------------------------- */

#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#ifdef SBV2_X86
/* 24 independent FMA chains: enough to cover FMA latency on current cores. */
__attribute__((target("avx512f"))) static double fma_loop_avx512(long iters) {
    __m512 a[24], m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 24; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 24; i++) a[i] = _mm512_fmadd_ps(a[i], m, c);
    float s = 0, tmp[16];
    for (int i = 0; i < 24; i++) { _mm512_storeu_ps(tmp, a[i]); s += tmp[0]; }
    return (double)s;
}

__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iters) {
    __m256 a[12], m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    float s = 0, tmp[8];
    for (int i = 0; i < 12; i++) { _mm256_storeu_ps(tmp, a[i]); s += tmp[0]; }
    return (double)s;
}
#endif

double conv_fma_peak_gflops(int n_threads, double seconds) {
    isa_t isa = detect_isa();
    if (n_threads < 1) n_threads = 1;
    const long iters = 2000000;
    double flops_per_call = isa == ISA_AVX512 ? 24.0 * 32 * iters : isa == ISA_AVX2 ? 12.0 * 16 * iters : 0;
    if (flops_per_call == 0) return 0;
    double best = 0;
    volatile double sink = 0;
    double t_end = now_s() + seconds;
    while (now_s() < t_end) {
        double t0 = now_s();
#pragma omp parallel num_threads(n_threads) reduction(+ : sink)
        {
#ifdef SBV2_X86
            sink += isa == ISA_AVX512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters);
#endif
        }
        double dt = now_s() - t0, g = flops_per_call * n_threads / dt / 1e9;
        if (g > best) best = g;
    }
    (void)sink;
    return best;
}
