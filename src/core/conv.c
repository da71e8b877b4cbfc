/* Fast stride-1 Conv1d: weights pre-packed at load into blocks of MR output
 * channels ([block][cin][k][MR]), the input copied once into a zero-padded
 * buffer (with the preceding activation fused in), and a register-blocked
 * MR x NR microkernel (AVX-512 or AVX2+FMA, chosen at run time; portable C
 * otherwise) with bias and residual add fused in its store. The summation
 * order per output is the same in every variant (ci outer, k inner, one FMA
 * chain), so results do not depend on the CPU or the thread count. */
#include <math.h>
#include <stdint.h>
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

float *conv_alloc(size_t n) {
    const size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    return n > SIZE_MAX / sizeof(float) - 64 ? NULL : aligned_alloc(64, bytes ? bytes : 64);
}

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
    const float *wp;    /* this block's packed weights [cin][k][MR] */
    const float *xp;    /* padded input, row stride ldx */
    size_t ldx;
    int cin, k, dil;
    const float *bias;  /* per row [cout] or NULL */
    const float *cbias; /* per column (indexed like y's columns) or NULL */
    const float *res;   /* added to the output, same layout as y, or NULL (may alias y) */
    float *y;           /* row stride ldy */
    size_t ldy;
    int co0, rows, t0, n;
    /* software prefetch into L2 of pf_lines 64-byte lines, 4 per row of
       stride pf_ld floats (the next column panel of xp), spread over the k loop */
    const float *pf;
    size_t pf_ld;
    int pf_lines;
    const float *ap;    /* tile_avx512_rows: A's first row of this block, row stride lda */
    size_t lda;
    void (*post)(float *row, size_t n); /* applied to each stored row piece, or NULL */
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
        float *yo = a->y + (size_t)co * a->ldy + a->t0;
        const float *ro = a->res ? a->res + (size_t)co * a->ldy + a->t0 : NULL;
        const float *cb = a->cbias ? a->cbias + a->t0 : NULL;
        for (int j = 0; j < a->n; j++) yo[j] = acc[r][j] + b + (cb ? cb[j] : 0.0f) + (ro ? ro[j] : 0.0f);
        if (a->post) a->post(yo, (size_t)a->n);
    }
}

#ifdef SBV2_X86
/* One step of the tile's L2 prefetch: the next pf_per of its pf_lines lines. */
#define PF_STEP(a, pfl, pf_per)                                                                                    \
    for (int u = 0; u < (pf_per) && (pfl) < (a)->pf_lines; u++, (pfl)++)                                            \
    _mm_prefetch((const char *)((a)->pf + (size_t)((pfl) >> 2) * (a)->pf_ld + (size_t)((pfl)&3) * 16), _MM_HINT_T1)

/* bias, column bias and residual, then the masked store of the 6 x 64 tile */
__attribute__((target("avx512f"))) static inline void store_avx512(const tile_args *a, __m512 acc[MR][4]) {
    for (int r = 0; r < a->rows; r++) {
        int co = a->co0 + r;
        __m512 b = _mm512_set1_ps(a->bias ? a->bias[co] : 0.0f);
        float *yo = a->y + (size_t)co * a->ldy + a->t0;
        const float *ro = a->res ? a->res + (size_t)co * a->ldy + a->t0 : NULL;
        for (int v = 0; v < 4; v++) {
            int left = a->n - 16 * v;
            if (left <= 0) break;
            __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
            __m512 o = _mm512_add_ps(acc[r][v], b);
            if (a->cbias) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(m, a->cbias + a->t0 + 16 * v));
            if (ro) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(m, ro + 16 * v));
            _mm512_mask_storeu_ps(yo + 16 * v, m, o);
        }
        if (a->post) a->post(yo, (size_t)a->n);
    }
}

/* 6 x 64 tile: 24 zmm accumulators, 4 loads + 6 broadcasts per (ci, k). */
__attribute__((target("avx512f"))) static void tile_avx512(const tile_args *a) {
    __m512 acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    const int steps = a->cin * a->k, pf_per = a->pf_lines > 0 ? (a->pf_lines + steps - 1) / steps : 0;
    int pfl = 0;
    for (int ci = 0; ci < a->cin; ci++) {
        const float *xr = a->xp + (size_t)ci * a->ldx + a->t0;
        const float *w = a->wp + (size_t)ci * a->k * MR;
        for (int kk = 0; kk < a->k; kk++, w += MR) {
            const float *xs = xr + kk * a->dil;
            PF_STEP(a, pfl, pf_per);
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
    store_avx512(a, acc);
}

/* The same tile for a plain matrix product, with the 6 rows of A read in
 * place (row stride lda; rows past `rows` repeat the last one and are not
 * stored), so A needs no packing, and only the nv 16-column vectors the
 * tile needs are computed (attention products have odd widths). Same
 * summation order as tile_avx512. */
__attribute__((target("avx512f"), always_inline)) static inline void rows_nv(const tile_args *a, const int nv) {
    __m512 acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    const float *ar[MR];
    for (int r = 0; r < MR; r++) ar[r] = a->ap + (size_t)(r < a->rows ? r : a->rows - 1) * a->lda;
    const int steps = a->cin, pf_per = a->pf_lines > 0 ? (a->pf_lines + steps - 1) / steps : 0;
    int pfl = 0;
    for (int ci = 0; ci < a->cin; ci++) {
        const float *xs = a->xp + (size_t)ci * a->ldx + a->t0;
        PF_STEP(a, pfl, pf_per);
        __m512 x[4];
        for (int v = 0; v < nv; v++) x[v] = _mm512_loadu_ps(xs + 16 * v);
        for (int r = 0; r < MR; r++) {
            __m512 wv = _mm512_set1_ps(ar[r][ci]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(wv, x[v], acc[r][v]);
        }
    }
    store_avx512(a, acc);
}

__attribute__((target("avx512f"))) static void tile_avx512_rows(const tile_args *a) {
    switch ((a->n + 15) / 16) {
    case 1: rows_nv(a, 1); break;
    case 2: rows_nv(a, 2); break;
    case 3: rows_nv(a, 3); break;
    default: rows_nv(a, 4); break;
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
        float *yo = a->y + (size_t)co * a->ldy + a->t0;
        const float *ro = a->res ? a->res + (size_t)co * a->ldy + a->t0 : NULL;
        const float *cb = a->cbias ? a->cbias + a->t0 : NULL;
        float tmp[16];
        _mm256_storeu_ps(tmp, acc[r][0]);
        _mm256_storeu_ps(tmp + 8, acc[r][1]);
        for (int j = 0; j < a->n; j++) yo[j] = tmp[j] + b + (cb ? cb[j] : 0.0f) + (ro ? ro[j] : 0.0f);
        if (a->post) a->post(yo, (size_t)a->n);
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

static void tile_run(isa_t isa, const tile_args *a) {
#ifdef SBV2_X86
    if (isa == ISA_AVX512) tile_avx512(a);
    else if (isa == ISA_AVX2) tile_avx2(a);
    else tile_generic(a);
#else
    (void)isa;
    tile_generic(a);
#endif
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
        tile_args a = {j->packed + (size_t)b * j->cin * j->k * MR, xp, ldx, j->cin, j->k, j->dil, j->bias, NULL, j->res,
                       j->y, (size_t)j->tout, b * MR, j->cout - b * MR < MR ? j->cout - b * MR : MR, tt * nr,
                       j->tout - tt * nr < nr ? j->tout - tt * nr : nr, NULL, 0, 0, NULL, 0, NULL};
        tile_run(isa, &a);
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

/* Rows [b*MR, b*MR+MR) of A (row stride lda) as one packed block [K][MR],
 * zeros past M. */
static void pack_block(const float *a, size_t lda, int M, int K, int b, float *dst) {
    for (int r = 0; r < MR; r++) {
        const int row = b * MR + r;
        if (row < M) {
            const float *src = a + (size_t)row * lda;
            for (int k = 0; k < K; k++) dst[(size_t)k * MR + r] = src[k];
        } else {
            for (int k = 0; k < K; k++) dst[(size_t)k * MR + r] = 0.0f;
        }
    }
}

/* Thread tid of nth's share of conv_gemm (see below). */
static void gemm_part(const gemm_job *g, isa_t isa, int nr, int kc, int tid, int nth) {
    const int M = g->M, K = g->K, N = g->N, nks = (K + kc - 1) / kc;
    const int blocks = (M + MR - 1) / MR, tiles = (N + nr - 1) / nr;
    float *pk = g->pack_buf;
    const int direct = isa == ISA_AVX512; /* A read in place; the other kernels take it packed */
    if (!direct) {
        for (int b = tid; b < blocks; b += nth) pack_block(g->a, g->lda, M, K, b, pk + (size_t)b * K * MR);
#pragma omp barrier
    }
    /* this thread's contiguous share of (panel, block) output tiles, each with
       all its K slices (so no two threads accumulate into one tile). Per
       panel and slice, a kc x 64 piece of B is read from memory by the
       first block and from cache by the rest, which meanwhile prefetch the
       next piece. */
    const long pairs = (long)tiles * blocks, p0 = pairs * tid / nth, p1 = pairs * (tid + 1) / nth;
    if (p1 <= p0) return;
    const int tt0 = (int)(p0 / blocks), tt1 = (int)((p1 - 1) / blocks);
    for (int tt = tt0; tt <= tt1; tt++) {
        const int b_lo = tt == tt0 ? (int)(p0 % blocks) : 0, b_hi = tt == tt1 ? (int)((p1 - 1) % blocks) + 1 : blocks;
        for (int ks = 0; ks < nks; ks++) {
            const int k0 = ks * kc, kn = K - k0 < kc ? K - k0 : kc;
            const int acc = g->accumulate || ks > 0;
            /* the next piece this thread reads: the next slice, else the next panel */
            const int has_next = ks + 1 < nks || tt < tt1;
            const int ntt = ks + 1 < nks ? tt : tt + 1, nk0 = ks + 1 < nks ? k0 + kc : 0;
            const int nkn = K - nk0 < kc ? K - nk0 : kc, helpers = b_hi - b_lo > 1 ? b_hi - b_lo - 1 : 1;
            for (int b = b_lo; b < b_hi; b++) {
                tile_args a = {pk + (size_t)b * K * MR + (size_t)k0 * MR, g->b + (size_t)k0 * g->ldb, g->ldb, kn, 1, 1, NULL,
                               ks == 0 ? g->cbias : NULL, acc ? g->c : NULL, g->c, g->ldc, b * MR,
                               M - b * MR < MR ? M - b * MR : MR, tt * nr, N - tt * nr < nr ? N - tt * nr : nr, NULL, 0, 0,
                               g->a + (size_t)b * MR * g->lda + k0, g->lda, ks == nks - 1 ? g->post : NULL};
                /* blocks after the first each fetch a share of the next piece's rows
                   (a lone block fetches them all) */
                const int me = b_hi - b_lo > 1 ? b - b_lo - 1 : 0;
                if (g->prefetch && isa == ISA_AVX512 && has_next && me >= 0) {
                    const int per = (nkn + helpers - 1) / helpers, r0 = me * per, r1 = r0 + per < nkn ? r0 + per : nkn;
                    if (r1 > r0) {
                        a.pf = g->b + (size_t)(nk0 + r0) * g->ldb + (size_t)ntt * nr;
                        a.pf_ld = g->ldb;
                        a.pf_lines = 4 * (r1 - r0);
                    }
                }
#ifdef SBV2_X86
                if (direct) tile_avx512_rows(&a);
                else
#endif
                    tile_run(isa, &a);
            }
        }
    }
}

int conv_gemm(const gemm_job *g) { return conv_gemm_isa(g, 0); }

int conv_gemm_isa(const gemm_job *g, int force) {
    isa_t isa = detect_isa();
    if (force == 1) isa = ISA_GENERIC;
    else if (force == 2 && isa == ISA_AVX512) isa = ISA_AVX2;
    const int nr = isa == ISA_AVX2 ? 16 : 64, M = g->M, K = g->K, N = g->N;
    const int kc = g->kc > 0 && g->kc < K ? g->kc : K;
    int nt = g->n_threads > 0 ? g->n_threads : 1;
    if ((double)M * K * N < 2e5 || ((M + MR - 1) / MR) * ((N + nr - 1) / nr) < 2) nt = 1;
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    if (nt == 1) { /* no parallel region: attention heads call this many times */
        gemm_part(g, isa, nr, kc, 0, 1);
        return 0;
    }
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        gemm_part(g, isa, nr, kc, omp_get_thread_num(), omp_get_num_threads());
#else
        gemm_part(g, isa, nr, kc, 0, 1);
#endif
    }
    return 0;
}

int conv_matmul(const float *a, int M, int K, const float *b, size_t ldb, int N, float *c, float *pack_buf, int nt) {
    gemm_job g = {a, (size_t)K, M, K, b, ldb, N, c, (size_t)N, NULL, 0, 0, 0, pack_buf, nt, NULL};
    return conv_gemm(&g);
}

/* ---- peak measurement (for the benchmark) ---------------------------------- */

#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The kernel's own rate on an in-cache product (48 x 256 x 512 per thread):
 * the roof its large products can approach. (A loop of independent FMA
 * chains reads about 30 % lower on Zen 4 than this kernel sustains.) */
double conv_fma_peak_gflops(int n_threads, double seconds) {
    if (n_threads < 1) n_threads = 1;
    const int M = 48, K = 256, N = 512;
    float *a = conv_alloc((size_t)M * K * n_threads), *b = conv_alloc((size_t)K * (N + 64));
    float *c = conv_alloc((size_t)M * N * n_threads), *pk = conv_alloc(conv_packed_size(M * n_threads, K, 1));
    double best = 0;
    if (a && b && c && pk) {
        for (size_t i = 0; i < (size_t)M * K * n_threads; i++) a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)K * (N + 64); i++) b[i] = (float)(i % 5) * 0.1f;
        gemm_job g = {a, (size_t)K, M * n_threads, K, b, (size_t)N + 64, N, c, (size_t)N, NULL, 0, 0, 0, pk, n_threads, NULL};
        const double t_end = now_s() + seconds;
        while (now_s() < t_end) {
            const double t0 = now_s();
            for (int r = 0; r < 20; r++) conv_gemm(&g);
            const double gf = 20.0 * 2.0 * M * n_threads * K * N / (now_s() - t0) / 1e9;
            if (gf > best) best = gf;
        }
    }
    free(a), free(b), free(c), free(pk);
    return best;
}
