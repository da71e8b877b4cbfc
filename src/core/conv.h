/* Fast stride-1 Conv1d over packed weights (see conv.c). */
#ifndef SBV2_CONV_H
#define SBV2_CONV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/isa.h"

/* Leaky ReLU as a sign-bit select: the same value as v > 0 ? v : v * slope
 * (NaN aside), but without a branch, so loops over it vectorise (GCC will not
 * if-convert the comparison under ISO C's trapping math). */
static inline float lrelu_f(float v, float slope) {
    const float s = v * slope;
    uint32_t b, sb;
    memcpy(&b, &v, 4), memcpy(&sb, &s, 4);
    const uint32_t m = (uint32_t)((int32_t)b >> 31); /* all ones when negative */
    const uint32_t r = (b & ~m) | (sb & m);
    float o;
    memcpy(&o, &r, 4);
    return o;
}

/* d = p + q (sign > 0) or p - q: the operand sums of Strassen's products
 * (gemm_job.b2, a2 and the BERT's own), one rounding per element wherever it
 * runs, so every path forms the same values. */
static inline void conv_signed_sum(float *restrict d, const float *restrict p, const float *restrict q, size_t n, int sign) {
    if (sign > 0)
        for (size_t i = 0; i < n; i++) d[i] = p[i] + q[i];
    else
        for (size_t i = 0; i < n; i++) d[i] = p[i] - q[i];
}

typedef enum { CONV_ACT_NONE = 0, CONV_ACT_LEAKY = 1 } conv_act;
enum { CONV_FORCE_NONE = 0, CONV_FORCE_GENERIC = 1, CONV_FORCE_AVX2 = 2 };

/* Grow-only scratch buffers owned by a per-request state, so steady-state
 * inference allocates nothing (no page-fault storms). Slots are named below. */
#define SCRATCH_SLOTS 9
enum { SCR_CONV_IN = 0, SCR_WINO_V, SCR_DEC_X, SCR_DEC_Y, SCR_DEC_ACC, SCR_DEC_TMP, SCR_ATTN_QKV, SCR_ATTN_HEADS, SCR_FFT_WORK };
typedef struct scratch {
    float *p[SCRATCH_SLOTS];
    size_t cap[SCRATCH_SLOTS];
} scratch;

/* n floats in `slot` (contents undefined), or NULL when out of memory. With
 * s == NULL the caller owns a fresh malloc() and must free it. */
float *scratch_get(scratch *s, int slot, size_t n);
void scratch_free(scratch *s);

typedef struct conv_job {
    const float *packed; /* conv_pack() output */
    const float *bias;   /* [cout] or NULL */
    int cout, cin, k, dil, pad_l;
    const float *x;      /* [cin][tin] */
    int tin;
    conv_act act;        /* applied to x first (leaky ReLU with `slope`) */
    float slope;
    const float *mask;   /* [tin] multiplied into x after the activation, or NULL */
    const float *res;    /* [cout][tout] added to the output, or NULL (may alias y) */
    float *y;            /* [cout][tout] */
    int tout;
    int n_threads;
    int force;           /* tests: CONV_FORCE_GENERIC or CONV_FORCE_AVX2 caps the kernel path, 0 = as active */
    scratch *ws;         /* optional reusable memory for the padded input */
    size_t x_ld;         /* > 0: x is already padded (row stride x_ld, pad_l zeros in
                            front, >= 64 readable zeros after tin); act/mask unused */
} conv_job;

/* n floats at a 64-byte boundary (free() releases them), or NULL: the
 * kernel's 16-float loads and stores then never straddle two cache lines. */
float *conv_alloc(size_t n);
size_t conv_packed_size(int cout, int cin, int k);
void conv_pack(const float *w, int cout, int cin, int k, float *packed);
/* 0 on success, -1 when out of memory. */
int conv_run(const conv_job *j);
const char *conv_isa_name(void);
/* This thread's slice of a buffer holding per_thread floats for each thread
 * of the enclosing OpenMP region. */
float *conv_thread_slice(float *base, size_t per_thread);
/* One activated, zero-padded input row for the transform-domain kernels
 * (Winograd, FFT): a[0..pad_l) = 0, a[pad_l + t] = lrelu(x[t], slope),
 * zeros up to lda, on the path the caller resolved. */
void conv_pad_activate_row(isa_t isa, const float *x, int T, float slope, int pad_l, size_t lda, float *a);
/* C [M][N] = A [M][K] x B [K][N], contiguous A and C: conv_gemm without
 * strides (B rows of stride ldb, readable to the next multiple of 64 columns).
 * Returns 0. */
int conv_matmul(const float *a, int M, int K, const float *b, size_t ldb, int N, float *c, int nt);
/* C = A x B (+ C when accumulate) (+ cbias per column), row-major with
 * strides: A [M][K] (lda), B [K][N] (ldb), C [M][N] (ldc). B rows must be
 * readable up to the next multiple of 64 columns (those lanes are computed
 * and dropped); A is read in place by every kernel (packed into `work` by
 * the AVX2 strips form, below). prefetch: B is large and cold (weights),
 * so each thread fetches its next 64-column panel while computing the current
 * one. Needs M, K, N >= 1 (otherwise nothing is written); allocates nothing;
 * returns 0, or -1 for b2 without panels or work, or a2 off the turned-round
 * form. The summation order per output is fixed (k ascending, one FMA chain
 * per K slice, slices added in order), whatever the kernel or threads. */
typedef struct gemm_job {
    const float *a;
    size_t lda;
    int M, K;
    const float *b;
    size_t ldb;
    int N;
    float *c;
    size_t ldc;
    const float *cbias; /* [N] or NULL */
    int accumulate;
    int kc;             /* > 0: K in slices of kc, so a kc x 64 piece of B stays in L2 */
    int prefetch;
    int n_threads;
    void (*post)(float *row, size_t n); /* or NULL: applied to each finished output row piece */
    /* > 0: B is stored in 64-column panels instead (ldb unused): column c of
       row k at b[(c / 64) * b_pstride + k * 64 + c % 64], so a tile's piece
       of B is one contiguous run (streamed, no TLB miss per row). */
    size_t b_pstride;
    /* with b_pstride: each panel is four 16-column strips of all of B's rows
       (b_pstride / 64 of them), b_pstride / 4 floats apart (gemm_panel_at).
       The AVX2 tile then reads each 6 x 16 strip's B as one contiguous run.
       Same sums, same order, either layout. */
    int b_strips;
    /* with b_strips, on the AVX2 path: gemm_work_floats(M, K, n_threads)
       floats of room, or NULL. A is then packed in blocks of 6 rows and the
       loops turn round: each strip's chunk of B stays in L1 while every
       block of A streams past it (B is read from L2 once per chunk, not once
       per block). Same sums, same order. */
    float *work;
    /* or NULL: B is b + b2 (b2_sign > 0) or b - b2, two panel stores of one
       layout, formed a piece at a time in `work` (needed then, as are panels)
       as the kernels read it: the operands of Strassen's products (the
       BERT's linear layers) without a copy of the weights. Every path forms
       the same values, so the same bits. */
    const float *b2;
    int b2_sign;
    /* or NULL: A is a + a2 (a2_sign > 0) or a - a2, same lda, formed as the
       turned-round form packs A (the other paths read A in place and refuse
       it: -1). Rows of both must exist up to M. */
    const float *a2;
    int a2_sign;
} gemm_job;
/* Room for gemm_job.work: the packed A and accumulators of the turned-round
   product, and per thread a piece of B for b2. Sized for n_threads threads,
   and enough for any product of at most M rows and K steps. */
size_t gemm_work_floats(int M, int K, int n_threads);
/* Room for conv_gemm_batch: n_jobs products of at most M rows and K steps. */
#define CONV_BATCH_MAX 16
size_t gemm_batch_work_floats(int M, int K, int n_jobs, int n_threads);
/* Whether conv_gemm(g) takes the turned-round form, which packs A (and so
   takes gemm_job.a2) on the active path. */
int gemm_packs_a(const gemm_job *g);
/* Where W^T[k][c] (row k, column c of B) sits in a panel store of panel
   stride ps (b_pstride), as rows of 64 columns or as 16-column strips. */
static inline size_t gemm_panel_at(size_t ps, int strips, size_t k, size_t c) {
    return strips ? c / 64 * ps + c % 64 / 16 * (ps / 4) + k * 16 + c % 16 : c / 64 * ps + k * 64 + c % 64;
}
int conv_gemm(const gemm_job *g);
/* n_jobs products of one shape (M, K, N, kc, n_threads and B's layout the
 * same; each its own A, B, C, bias, post), as conv_gemm runs each, with the
 * same bits, in `work` (gemm_batch_work_floats; the jobs' own work is not
 * used). In the turned-round form they share two parallel regions; each
 * thread runs its own range of the panels, then takes over the others'
 * from their ends, so one thread running ahead of the other does not wait
 * at the end of each product; and a matrix that is
 * several jobs' A (or a2) is packed once. At most CONV_BATCH_MAX jobs. -1
 * if the shapes differ or conv_gemm would refuse a job. */
int conv_gemm_batch(const gemm_job *jobs, int n_jobs, float *work);
/* Tests: the same with the portable kernel (CONV_FORCE_GENERIC) or at most
 * AVX2 (CONV_FORCE_AVX2). */
int conv_gemm_isa(const gemm_job *g, int force);
int conv_gemm_batch_isa(const gemm_job *jobs, int n_jobs, float *work, int force);
/* Measured fp32 rate (GFLOP/s, n_threads threads, about `seconds`) of the
 * active path's kernel on an in-cache product, and of a plain loop of
 * independent FMA chains: the peak the kernel is measured against. */
double conv_kernel_gflops(int n_threads, double seconds);
double conv_fma_loop_gflops(int n_threads, double seconds);

#endif
