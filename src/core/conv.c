/* Fast stride-1 Conv1d: weights pre-packed at load into blocks of MR output
 * channels ([block][cin][k][MR]), the input copied once into a zero-padded
 * buffer (with the preceding activation fused in), and a register-blocked
 * MR x NR microkernel (AVX-512 or AVX2+FMA, chosen at run time; portable C
 * otherwise) with bias and residual add fused in its store. The summation
 * order per output is the same in every variant (ci outer, k inner, one FMA
 * chain), so results do not depend on the CPU or the thread count. */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/conv.h"
#include "core/isa.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef SBV2_X86
#include <immintrin.h>
#endif

#define MR 6 /* output channels per block */

/* Large buffers (weights) go on 2 MiB boundaries, whole 2 MiB pages, with a
 * transparent-huge-page hint: a weight panel's rows are a row stride apart
 * (up to 16 KiB), so with 4 KiB pages every row is a TLB miss. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)
float *conv_alloc(size_t n) {
    if (n > SIZE_MAX / sizeof(float) - HUGE_PAGE) return NULL;
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    if (bytes < HUGE_MIN) return aligned_alloc(64, bytes ? bytes : 64);
    bytes = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    float *p = aligned_alloc(HUGE_PAGE, bytes);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, bytes, MADV_HUGEPAGE); /* a hint: without it, plain pages */
#endif
    return p;
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

/* One tile: rows [co0, co0+MR) x columns [t0, t0+n), n <= NR. The weights
 * come packed (wp: [cin][k][MR]) or, for a plain product (k == 1), as the
 * rows of A read in place (ap, row stride lda; rows past `rows` repeat the
 * last one and are not stored). xp rows have stride ldx and already hold the
 * left padding, so x[t + kk*dil] is in range. */
typedef struct tile_args {
    const float *wp;    /* this block's packed weights [cin][k][MR], or NULL with ap */
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
    const float *ap;    /* A's first row of this block, row stride lda (k == 1), or NULL */
    size_t lda;
    void (*post)(float *row, size_t n); /* applied to each stored row piece, or NULL */
    int xcol;           /* xp's column of the tile's first column (t0, or 0 in a B panel) */
    /* > 0: xp is a panel of 16-column strips (gemm_job.b_strips), each strip
       xstrip floats from the last, rows of ldx = 16; 0: rows of ldx */
    size_t xstrip;
} tile_args;

/* Floats in xp from one 16-column vector of a row to the next (the prefetch's
   lines of a row too): 16 in rows, the strip stride in strips. */
static inline size_t x_vstride(const tile_args *a) { return a->xstrip ? a->xstrip : 16; }
/* Offset in xp of column j's element of row 0 (rows follow at ldx). */
static inline size_t x_col(const tile_args *a, int j) {
    return a->xstrip ? (size_t)(j / 16) * a->xstrip + (size_t)(j % 16) : (size_t)a->xcol + (size_t)j;
}

/* Offset of the tile's row r of A (rows past `rows` repeat the last one). */
static inline size_t a_row(const tile_args *a, int r) { return (size_t)(r < a->rows ? r : a->rows - 1) * a->lda; }

/* the weight of row r at step s (s = ci*k + kk) */
#define TILE_W(a, ar, s, r) ((a)->ap ? (ar)[r][s] : (a)->wp[(size_t)(s)*MR + (r)])

static void tile_generic(const tile_args *a) {
    float acc[MR][64];
    const float *ar[MR];
    for (int r = 0; r < MR; r++) ar[r] = a->ap ? a->ap + a_row(a, r) : NULL;
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < a->n; j++) acc[r][j] = 0.0f;
    size_t xo[64];
    for (int j = 0; j < a->n; j++) xo[j] = x_col(a, j);
    for (int ci = 0; ci < a->cin; ci++) {
        const float *xr = a->xp + (size_t)ci * a->ldx;
        for (int kk = 0; kk < a->k; kk++) {
            const int s = ci * a->k + kk;
            const float *xs = xr + kk * a->dil;
            for (int r = 0; r < MR; r++) {
                const float w = TILE_W(a, ar, s, r);
                for (int j = 0; j < a->n; j++) acc[r][j] = fmaf(w, xs[xo[j]], acc[r][j]);
            }
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
    _mm_prefetch((const char *)((a)->pf + (size_t)((pfl) >> 2) * (a)->pf_ld + (size_t)((pfl)&3) * x_vstride(a)), _MM_HINT_T1)

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

/* 6 x 64 tile: 24 zmm accumulators, nv (<= 4) loads + 6 broadcasts per
 * (ci, k); only the 16-column vectors the tile needs are computed
 * (attention products have odd widths). */
__attribute__((target("avx512f"), always_inline)) static inline void tile_avx512_nv(const tile_args *a, const int nv,
                                                                                  const int direct) {
    __m512 acc[MR][4];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    const float *ar[MR];
    for (int r = 0; r < MR; r++) ar[r] = direct ? a->ap + a_row(a, r) : NULL;
    const int steps = a->cin * a->k, pf_per = a->pf_lines > 0 ? (a->pf_lines + steps - 1) / steps : 0;
    int pfl = 0;
    const size_t vs = x_vstride(a);
    if (direct && a->rows == MR && a->k == 1) {
        /* a full block of A in place: rows 1, 2 (4, 5) as p0 (p3) + 1 or 2 strides,
           so the row pointers stay in registers (the general loop below reloads
           them from the stack every step); the same FMAs in the same order */
        const size_t ld = a->lda;
        const float *p0 = a->ap, *p3 = a->ap + 3 * ld, *xs = a->xp + a->xcol;
        for (int ci = 0; ci < a->cin; ci++, xs += a->ldx, p0++, p3++) {
            PF_STEP(a, pfl, pf_per);
            __m512 x[4];
            for (int v = 0; v < nv; v++) x[v] = _mm512_loadu_ps(xs + vs * v);
            const __m512 w0 = _mm512_set1_ps(p0[0]), w1 = _mm512_set1_ps(p0[ld]), w2 = _mm512_set1_ps(p0[2 * ld]);
            for (int v = 0; v < nv; v++) acc[0][v] = _mm512_fmadd_ps(w0, x[v], acc[0][v]);
            for (int v = 0; v < nv; v++) acc[1][v] = _mm512_fmadd_ps(w1, x[v], acc[1][v]);
            for (int v = 0; v < nv; v++) acc[2][v] = _mm512_fmadd_ps(w2, x[v], acc[2][v]);
            const __m512 w3 = _mm512_set1_ps(p3[0]), w4 = _mm512_set1_ps(p3[ld]), w5 = _mm512_set1_ps(p3[2 * ld]);
            for (int v = 0; v < nv; v++) acc[3][v] = _mm512_fmadd_ps(w3, x[v], acc[3][v]);
            for (int v = 0; v < nv; v++) acc[4][v] = _mm512_fmadd_ps(w4, x[v], acc[4][v]);
            for (int v = 0; v < nv; v++) acc[5][v] = _mm512_fmadd_ps(w5, x[v], acc[5][v]);
        }
        store_avx512(a, acc);
        return;
    }
    for (int ci = 0; ci < a->cin; ci++) {
        const float *xr = a->xp + (size_t)ci * a->ldx + a->xcol;
        for (int kk = 0; kk < a->k; kk++) {
            const int s = ci * a->k + kk;
            const float *xs = xr + kk * a->dil;
            PF_STEP(a, pfl, pf_per);
            __m512 x[4];
            for (int v = 0; v < nv; v++) x[v] = _mm512_loadu_ps(xs + vs * v);
            for (int r = 0; r < MR; r++) {
                const __m512 wv = _mm512_set1_ps(direct ? ar[r][s] : a->wp[(size_t)s * MR + r]);
                for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(wv, x[v], acc[r][v]);
            }
        }
    }
    store_avx512(a, acc);
}

__attribute__((target("avx512f"))) static void tile_avx512(const tile_args *a) {
    const int nv = (a->n + 15) / 16;
    if (a->ap) {
        if (nv == 1) tile_avx512_nv(a, 1, 1);
        else if (nv == 2) tile_avx512_nv(a, 2, 1);
        else if (nv == 3) tile_avx512_nv(a, 3, 1);
        else tile_avx512_nv(a, 4, 1);
    } else {
        if (nv == 1) tile_avx512_nv(a, 1, 0);
        else if (nv == 2) tile_avx512_nv(a, 2, 0);
        else if (nv == 3) tile_avx512_nv(a, 3, 0);
        else tile_avx512_nv(a, 4, 0);
    }
}

/* The AVX2 tile: the same 6 x 64 tile (same loops, same order per output)
 * as 16-column strips, each a 6 x 16 block of 12 ymm accumulators kept in
 * registers: 2 loads + 6 broadcasts per 12 FMAs. Named accumulators and a
 * store by constant index, so the compiler keeps them out of memory.
 * The input channels go in chunks of AVX2_CB: every strip runs over one
 * chunk before the next, so the chunk's rows of the input panel (AVX2_CB x
 * 64 floats, 16 KB) are read from memory once and from L1 by the other
 * strips; the accumulators wait in acc between chunks (exact: the FMA chain
 * per output is unchanged). */
#define AVX2_CB 64
#define AVX2_CB_STRIPS 256
#define AVX2_ROW(r, w)                                       \
    do {                                                     \
        const __m256 wv = _mm256_broadcast_ss(w);            \
        c##r##0 = _mm256_fmadd_ps(wv, x0, c##r##0);          \
        c##r##1 = _mm256_fmadd_ps(wv, x1, c##r##1);          \
    } while (0)
/* the first strip pulls the rest of its input row (the later strips' columns) into L1 */
#define L1_ROW_PF(xs) \
    _mm_prefetch((const char *)((xs) + 16), _MM_HINT_T0), _mm_prefetch((const char *)((xs) + 32), _MM_HINT_T0), \
        _mm_prefetch((const char *)((xs) + 48), _MM_HINT_T0)
#define AVX2_ACC(F) F(0, 0) F(0, 1) F(1, 0) F(1, 1) F(2, 0) F(2, 1) F(3, 0) F(3, 1) F(4, 0) F(4, 1) F(5, 0) F(5, 1)

/* Strip `col` over input channels [c0, c0 + cn): mode 0 packed weights with
 * k taps, 1 packed 1x1, 2 rows of A in place. */
__attribute__((target("avx2,fma"), always_inline)) static inline void strip_avx2(const tile_args *a, const int col, const int mode,
                                                                                const int c0, const int cn, float acc[MR][64],
                                                                                int *pfl, const int pf_per, const int l1pf) {
#define LOAD_ACC(r, h) __m256 c##r##h = c0 ? _mm256_load_ps(acc[r] + col + 8 * h) : _mm256_setzero_ps();
    AVX2_ACC(LOAD_ACC)
#undef LOAD_ACC
    const int pp = col == 0 ? pf_per : 0; /* the prefetch rides on the first strip */
    if (mode == 2 && a->rows == MR) {
        /* a full block: rows 1, 2 (4, 5) as ar (ar3) + 1 or 2 strides, 3 address
           registers instead of 6; B's rows 8 steps ahead fetched into L1 (the
           hardware misses the start of each strip's run: 5-6 % on the BERT) */
        const size_t ld = a->lda;
        const float *ar = a->ap + c0, *ar3 = ar + 3 * ld, *xs = a->xp + (size_t)c0 * a->ldx + x_col(a, col);
        for (int ci = 0; ci < cn; ci++, xs += a->ldx, ar++, ar3++) {
            PF_STEP(a, *pfl, pp);
            _mm_prefetch((const char *)(xs + 8 * a->ldx), _MM_HINT_T0);
            if (l1pf) L1_ROW_PF(xs);
            const __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8);
            AVX2_ROW(0, ar); AVX2_ROW(1, ar + ld); AVX2_ROW(2, ar + 2 * ld);
            AVX2_ROW(3, ar3); AVX2_ROW(4, ar3 + ld); AVX2_ROW(5, ar3 + 2 * ld);
        }
    } else if (mode == 2) {
        const size_t l1 = a_row(a, 1), l2 = a_row(a, 2), l3 = a_row(a, 3), l4 = a_row(a, 4), l5 = a_row(a, 5);
        const float *ar = a->ap + c0, *xs = a->xp + (size_t)c0 * a->ldx + x_col(a, col);
        for (int ci = 0; ci < cn; ci++, xs += a->ldx, ar++) {
            PF_STEP(a, *pfl, pp);
            if (l1pf) L1_ROW_PF(xs);
            const __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8);
            AVX2_ROW(0, ar); AVX2_ROW(1, ar + l1); AVX2_ROW(2, ar + l2);
            AVX2_ROW(3, ar + l3); AVX2_ROW(4, ar + l4); AVX2_ROW(5, ar + l5);
        }
    } else if (mode == 1) { /* 1x1 (the FFT bins and the Winograd pieces): one flat loop */
        const float *w = a->wp + (size_t)c0 * MR, *xs = a->xp + (size_t)c0 * a->ldx + x_col(a, col);
        for (int ci = 0; ci < cn; ci++, xs += a->ldx, w += MR) {
            PF_STEP(a, *pfl, pp);
            if (l1pf) L1_ROW_PF(xs);
            const __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8);
            AVX2_ROW(0, w); AVX2_ROW(1, w + 1); AVX2_ROW(2, w + 2);
            AVX2_ROW(3, w + 3); AVX2_ROW(4, w + 4); AVX2_ROW(5, w + 5);
        }
    } else {
        const float *w = a->wp + (size_t)c0 * a->k * MR;
        for (int ci = c0; ci < c0 + cn; ci++) {
            const float *xr = a->xp + (size_t)ci * a->ldx + x_col(a, col);
            for (int kk = 0; kk < a->k; kk++, w += MR) {
                const float *xs = xr + kk * a->dil;
                PF_STEP(a, *pfl, pp);
                const __m256 x0 = _mm256_loadu_ps(xs), x1 = _mm256_loadu_ps(xs + 8);
                AVX2_ROW(0, w); AVX2_ROW(1, w + 1); AVX2_ROW(2, w + 2);
                AVX2_ROW(3, w + 3); AVX2_ROW(4, w + 4); AVX2_ROW(5, w + 5);
            }
        }
    }
#define STORE_ACC(r, h) _mm256_store_ps(acc[r] + col + 8 * h, c##r##h);
    AVX2_ACC(STORE_ACC)
#undef STORE_ACC
}

/* The AVX2 store of finished accumulators (rows 64 floats apart) into rows
 * [co0, co0 + rows), columns [t0, t0 + n) of y: + row bias, + column bias,
 * + residual (laid out as y, may alias it), in the same order as the other
 * kernels, then post on each row piece. */
__attribute__((target("avx2,fma"))) static void store_rows_avx2(const float *acc, int co0, int rows, int t0, int n, const float *bias,
                                                               const float *cbias, const float *res, float *y, size_t ldy,
                                                               void (*post)(float *, size_t)) {
    const float *cb = cbias ? cbias + t0 : NULL;
    for (int r = 0; r < rows; r++) {
        const int co = co0 + r;
        const float b = bias ? bias[co] : 0.0f, *ar = acc + (size_t)r * 64;
        float *yo = y + (size_t)co * ldy + t0;
        const float *ro = res ? res + (size_t)co * ldy + t0 : NULL;
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            __m256 o = _mm256_add_ps(_mm256_load_ps(ar + j), _mm256_set1_ps(b));
            if (cb) o = _mm256_add_ps(o, _mm256_loadu_ps(cb + j));
            if (ro) o = _mm256_add_ps(o, _mm256_loadu_ps(ro + j));
            _mm256_storeu_ps(yo + j, o);
        }
        for (; j < n; j++) yo[j] = ar[j] + b + (cb ? cb[j] : 0.0f) + (ro ? ro[j] : 0.0f);
        if (post) post(yo, (size_t)n);
    }
}

__attribute__((target("avx2,fma"), always_inline)) static inline void tile_avx2_mode(const tile_args *a, const int mode) {
    __attribute__((aligned(32))) float acc[MR][64];
    /* the prefetch is spread over the first strip's steps of every chunk */
    const int steps = a->cin * a->k, pf_per = a->pf_lines > 0 ? (a->pf_lines + steps - 1) / steps : 0;
    int pfl = 0;
    /* products: B streams in, A rows stay: smaller chunks (measured); B in
       strips: each strip's B is one contiguous stream, so a strip runs over
       AVX2_CB_STRIPS inputs (6 rows of A, 6 KB, stay in L1) */
    const int cb = a->xstrip ? AVX2_CB_STRIPS : mode == 2 ? AVX2_CB / 2 : AVX2_CB;
    for (int c0 = 0; c0 < a->cin; c0 += cb) {
        const int cn = a->cin - c0 < cb ? a->cin - c0 : cb;
        if (a->n == 64) { /* a full tile: the first strip also fetches the others' columns into L1 */
            strip_avx2(a, 0, mode, c0, cn, acc, &pfl, pf_per, mode == 2 && !a->xstrip);
            for (int col = 16; col < 64; col += 16) strip_avx2(a, col, mode, c0, cn, acc, &pfl, pf_per, 0);
        } else {
            for (int col = 0; col < a->n; col += 16) strip_avx2(a, col, mode, c0, cn, acc, &pfl, pf_per, 0);
        }
    }
    store_rows_avx2(acc[0], a->co0, a->rows, a->t0, a->n, a->bias, a->cbias, a->res, a->y, a->ldy, a->post);
}

/* The turned-round product (gemm_job.work): one 6 x 16 block over cn steps,
 * A packed [cn][6] (one stream), B a strip's contiguous [cn][16] (in L1 for
 * every block). acc: the block's accumulators, rows 64 floats apart, loaded
 * first when the chain continues. pf: pf_n lines (16 floats apart) to fetch
 * into L2, one every 4 steps, or NULL. With form (Strassen's b2): B's chunk
 * is bs + b2, or bs - b2 (neg flips b2's sign bit: p + (-q) is p - q exactly,
 * the values conv_signed_sum forms), formed step by step as this block reads
 * it and stored at form for the blocks after it, so the sum costs no pass of
 * its own (a separate pass cost the Strassen products 2-3 %). */
#define BLOCK_STEP(FORM)                                                                                        \
    do {                                                                                                        \
        __m256 x0 = _mm256_loadu_ps(bs), x1 = _mm256_loadu_ps(bs + 8);                                         \
        if (FORM) {                                                                                             \
            x0 = _mm256_add_ps(x0, _mm256_xor_ps(_mm256_loadu_ps(b2), neg));                                   \
            x1 = _mm256_add_ps(x1, _mm256_xor_ps(_mm256_loadu_ps(b2 + 8), neg));                               \
            _mm256_storeu_ps(form, x0), _mm256_storeu_ps(form + 8, x1);                                         \
            b2 += 16, form += 16;                                                                               \
        }                                                                                                       \
        AVX2_ROW(0, ap); AVX2_ROW(1, ap + 1); AVX2_ROW(2, ap + 2);                                              \
        AVX2_ROW(3, ap + 3); AVX2_ROW(4, ap + 4); AVX2_ROW(5, ap + 5);                                          \
    } while (0)
/* the prefetched steps (one line every 4th; one flat loop: unrolled by 4 it
   spilled two accumulators), then the rest; FORM a constant, so each
   instance compiles without the branch */
#define BLOCK_STEPS(FORM)                                                                                       \
    do {                                                                                                        \
        for (const float *pl = pf; k < kp; k++, ap += MR, bs += 16) {                                           \
            if (!(k & 3)) _mm_prefetch((const char *)pl, _MM_HINT_T1), pl += 16;                                \
            BLOCK_STEP(FORM);                                                                                   \
        }                                                                                                       \
        for (; k < cn; k++, ap += MR, bs += 16) BLOCK_STEP(FORM);                                               \
    } while (0)
__attribute__((target("avx2,fma"))) static void block_avx2(const float *ap, const float *bs, const int cn, float *acc,
                                                           const int load, const float *pf, const int pf_n,
                                                           const float *b2, const int b2_sign, float *form) {
#define LOAD_ACC(r, h) __m256 c##r##h = load ? _mm256_load_ps(acc + (r) * 64 + 8 * (h)) : _mm256_setzero_ps();
    AVX2_ACC(LOAD_ACC)
#undef LOAD_ACC
    const __m256 neg = _mm256_set1_ps(b2_sign > 0 ? 0.0f : -0.0f);
    int k = 0;
    const int kp = 4 * pf_n < cn ? 4 * pf_n : cn;
    if (form) BLOCK_STEPS(1);
    else BLOCK_STEPS(0);
#define STORE_ACC(r, h) _mm256_store_ps(acc + (r) * 64 + 8 * (h), c##r##h);
    AVX2_ACC(STORE_ACC)
#undef STORE_ACC
}
#undef BLOCK_STEPS
#undef BLOCK_STEP

__attribute__((target("avx2,fma"))) static void tile_avx2(const tile_args *a) {
    if (a->ap) tile_avx2_mode(a, 2);
    else if (a->k == 1) tile_avx2_mode(a, 1);
    else tile_avx2_mode(a, 0);
}
#endif

/* the kernel path: the active one, or at most `force` (tests) */
static isa_t pick_isa(int force) {
    isa_t isa = isa_active();
    if (force == CONV_FORCE_GENERIC) isa = ISA_GENERIC;
    else if (force == CONV_FORCE_AVX2 && isa == ISA_AVX512) isa = ISA_AVX2;
    return isa;
}

const char *conv_isa_name(void) { return isa_name(isa_active()); }

SBV2_BODY void lrelu_copy_body(const float *restrict x, int n, float slope, float *restrict o) {
    for (int i = 0; i < n; i++) o[i] = lrelu_f(x[i], slope);
}
SBV2_MULTIVERSION(lrelu_copy, (const float *restrict x, int n, float slope, float *restrict o), (x, n, slope, o))

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
                       j->tout - tt * nr < nr ? j->tout - tt * nr : nr, NULL, 0, 0, NULL, 0, NULL, tt * nr, 0};
        tile_run(isa, &a);
    }
    return 0;
}

int conv_run(const conv_job *j) {
    const isa_t isa = pick_isa(j->force);
    const int nr = 64; /* tile width on every path (AVX2 runs it as 16-column strips) */
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
        float *dst = row + t_lo + j->pad_l;
        const int n = t_hi > t_lo ? (int)(t_hi - t_lo) : 0;
        if (j->act == CONV_ACT_LEAKY) lrelu_copy(isa, src + t_lo, n, j->slope, dst);
        else memcpy(dst, src + t_lo, sizeof(float) * (size_t)n);
        if (j->mask)
            for (int t = 0; t < n; t++) dst[t] *= j->mask[t_lo + t];
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


void conv_pad_activate_row(isa_t isa, const float *x, int T, float slope, int pad_l, size_t lda, float *a) {
    memset(a, 0, sizeof(float) * (size_t)pad_l);
    lrelu_copy(isa, x, T, slope, a + pad_l);
    memset(a + pad_l + T, 0, sizeof(float) * (lda - (size_t)pad_l - (size_t)T));
}

#define TR_CHUNK 256 /* steps of a strip's chunk: 16 KB of B, kept in L1 */

/* the packed A, rounded so the accumulators after it are 64-byte aligned */
static size_t tr_pack_floats(size_t blocks, int K) { return (blocks * MR * (size_t)(K > 0 ? K : 0) + 15) & ~(size_t)15; }

/* a thread's room for a piece of B formed from b and b2: a whole panel's
   slice (kc x 64) in gemm_part, a strip's chunk in the turned-round form */
static size_t b_room_floats(int K) {
    const size_t n = (size_t)(K > 0 ? K : 0) * 64;
    return (n > TR_CHUNK * 16 ? n : TR_CHUNK * 16);
}

/* packed A a batch has room for: two per job (a_plan), one for a lone job */
static size_t batch_packs(int n_jobs) { return n_jobs > 1 ? 2 * (size_t)n_jobs : 1; }

/* The room (gemm_job.work) of npacks packed A laid out for nt threads:
 * the packs, then every thread's accumulators, then every thread's room for
 * B pieces. Thread tid's accumulators, and its room: */
static size_t acc_at(size_t blocks, int K, size_t npacks, int tid) {
    return npacks * tr_pack_floats(blocks, K) + (size_t)tid * blocks * MR * 64;
}
static size_t room_at(size_t blocks, int K, size_t npacks, int nt, int tid) {
    return acc_at(blocks, K, npacks, nt) + (size_t)tid * b_room_floats(K);
}

/* a batch's room: batch_packs(n_jobs) packs (one job: gemm_work_floats) */
size_t gemm_batch_work_floats(int M, int K, int n_jobs, int n_threads) {
    const int nt = n_threads > 0 ? n_threads : 1;
    return room_at((size_t)(M > 0 ? (M + MR - 1) / MR : 0), K, batch_packs(n_jobs), nt, nt);
}

size_t gemm_work_floats(int M, int K, int n_threads) { return gemm_batch_work_floats(M, K, 1, n_threads); }

/* Thread tid's room for B pieces in a lone product's room (laid out for
   g->n_threads threads as gemm_work_floats) */
static float *b_room(const gemm_job *g, int tid) {
    return g->work + room_at((size_t)(g->M + MR - 1) / MR, g->K, 1, g->n_threads > 0 ? g->n_threads : 1, tid);
}

/* Thread tid of nth's share of conv_gemm (see below). */
static void gemm_part(const gemm_job *g, isa_t isa, int nr, int kc, int tid, int nth) {
    const int M = g->M, K = g->K, N = g->N, nks = (K + kc - 1) / kc;
    const int blocks = (M + MR - 1) / MR, tiles = (N + nr - 1) / nr;
    /* every kernel reads A in place: no packing pass, so no barrier (this runs
       inside other parallel regions with nth == 1, where a barrier would bind
       to the outer team) */
    /* this thread's contiguous share of (panel, block) output tiles, each with
       all its K slices (so no two threads accumulate into one tile). Per
       panel and slice, a kc x 64 piece of B is read from memory by the
       first block and from cache by the rest, which meanwhile prefetch the
       next piece. */
    const int pan = g->b_pstride > 0, strips = pan && g->b_strips;
    const size_t ldb = strips ? 16 : pan ? 64 : g->ldb, xstrip = strips ? g->b_pstride / 4 : 0;
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
            /* B row-major (row k0 of the whole matrix) or the panel of this tile;
               with b2 this thread's sum of the two panels' pieces (as kn rows of
               64 or four strips of kn x 16) */
            const float *bk = pan ? g->b + (size_t)tt * g->b_pstride + (size_t)k0 * ldb : g->b + (size_t)k0 * g->ldb;
            size_t xst = xstrip;
            if (g->b2) {
                float *room = b_room(g, tid);
                for (int s4 = 0; s4 < (strips ? 4 : 1); s4++) {
                    const size_t at = (size_t)tt * g->b_pstride + (size_t)s4 * xstrip + (size_t)k0 * ldb;
                    conv_signed_sum(room + (size_t)s4 * kn * ldb, g->b + at, g->b2 + at, (size_t)kn * ldb, g->b2_sign);
                }
                bk = room, xst = strips ? (size_t)kn * 16 : 0;
            }
            for (int b = b_lo; b < b_hi; b++) {
                tile_args a = {NULL, bk, ldb, kn, 1, 1, NULL,
                               ks == 0 ? g->cbias : NULL, acc ? g->c : NULL, g->c, g->ldc, b * MR,
                               M - b * MR < MR ? M - b * MR : MR, tt * nr, N - tt * nr < nr ? N - tt * nr : nr, NULL, 0, 0,
                               g->a + (size_t)b * MR * g->lda + k0, g->lda, ks == nks - 1 ? g->post : NULL, pan ? 0 : tt * nr,
                               xst};
                /* blocks after the first each fetch a share of the next piece's rows
                   (a lone block fetches them all) */
                const int me = b_hi - b_lo > 1 ? b - b_lo - 1 : 0;
                if (g->prefetch && isa != ISA_GENERIC && has_next && me >= 0) {
                    const int per = (nkn + helpers - 1) / helpers, r0 = me * per, r1 = r0 + per < nkn ? r0 + per : nkn;
                    if (r1 > r0) {
                        a.pf = pan ? g->b + (size_t)ntt * g->b_pstride + (size_t)(nk0 + r0) * ldb
                                   : g->b + (size_t)(nk0 + r0) * g->ldb + (size_t)ntt * nr;
                        a.pf_ld = ldb;
                        a.pf_lines = 4 * (r1 - r0);
                    }
                }
                tile_run(isa, &a);
            }
        }
    }
}

/* ---- the turned-round product (gemm_job.work, AVX2, B in strips) ---------- */

/* Packed A: K in pieces of TR_CHUNK steps; per piece, every block's steps
 * [6 floats each] one after another, so the kernel's A is one stream across
 * the blocks of a chunk (the prefetcher does not restart at each block).
 * Offset of block b's step k: */
static size_t tr_a_at(int blocks, int K, int b, int k) {
    const int p = k / TR_CHUNK, len = K - p * TR_CHUNK < TR_CHUNK ? K - p * TR_CHUNK : TR_CHUNK;
    return ((size_t)p * TR_CHUNK * (size_t)blocks + (size_t)b * (size_t)len + (size_t)(k % TR_CHUNK)) * MR;
}

#ifdef SBV2_X86
/* the turned-round form runs only on AVX2: its packing passes may use it */
#define PACK_TARGET __attribute__((target("avx2")))
#else
#define PACK_TARGET
#endif

/* block b of A's steps [k0, k0 + kn) as [kn][6] at dst (rows past M repeat the
   last one, as a_row does) */
PACK_TARGET static void pack_a_rows(const gemm_job *g, int b, int k0, int kn, float *dst) {
    const float *rows[MR];
    for (int r = 0; r < MR; r++) rows[r] = g->a + (size_t)(b * MR + r < g->M ? b * MR + r : g->M - 1) * g->lda + k0;
#ifdef SBV2_X86
    /* the next block's rows of this piece (of a and a2) into L2 meanwhile: a
       block reads each row for only K steps, too short a run for the hardware
       prefetcher, and the rows come from L3 (the layer before wrote them) */
    for (int r = (b + 1) * MR; r < (b + 2) * MR && r < g->M; r++) {
        const size_t at = (size_t)r * g->lda + (size_t)k0;
        for (int k = 0; k < kn; k += 16) {
            _mm_prefetch((const char *)(g->a + at + k), _MM_HINT_T1);
            if (g->a2) _mm_prefetch((const char *)(g->a2 + at + k), _MM_HINT_T1);
        }
    }
#endif
    float sum[MR][TR_CHUNK]; /* with a2: the rows a +- a2 first (kn <= TR_CHUNK) */
    if (g->a2)
        for (int r = 0; r < MR; r++) {
            conv_signed_sum(sum[r], rows[r], g->a2 + (rows[r] - g->a), (size_t)kn, g->a2_sign);
            rows[r] = sum[r];
        }
    int k = 0;
#ifdef SBV2_X86
    /* 4 steps at a time: rows 0-3 transposed 4 x 4, rows 4-5 interleaved in pairs
       (scalar, this pass cost ~3 % of the BERT) */
    for (; k + 4 <= kn; k += 4) {
        __m128 a0 = _mm_loadu_ps(rows[0] + k), a1 = _mm_loadu_ps(rows[1] + k), a2 = _mm_loadu_ps(rows[2] + k),
               a3 = _mm_loadu_ps(rows[3] + k);
        _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
        const __m128 a4 = _mm_loadu_ps(rows[4] + k), a5 = _mm_loadu_ps(rows[5] + k);
        const __m128 lo = _mm_unpacklo_ps(a4, a5), hi = _mm_unpackhi_ps(a4, a5);
        float *d = dst + (size_t)k * MR;
        _mm_storeu_ps(d, a0), _mm_storel_pi((__m64 *)(void *)(d + 4), lo);
        _mm_storeu_ps(d + 6, a1), _mm_storeh_pi((__m64 *)(void *)(d + 10), lo);
        _mm_storeu_ps(d + 12, a2), _mm_storel_pi((__m64 *)(void *)(d + 16), hi);
        _mm_storeu_ps(d + 18, a3), _mm_storeh_pi((__m64 *)(void *)(d + 22), hi);
    }
#endif
    for (; k < kn; k++)
        for (int r = 0; r < MR; r++) dst[(size_t)k * MR + r] = rows[r][k];
}

static void pack_a_block(const gemm_job *g, int b, int blocks, float *pa) {
    for (int p0 = 0; p0 < g->K; p0 += TR_CHUNK)
        pack_a_rows(g, b, p0, g->K - p0 < TR_CHUNK ? g->K - p0 : TR_CHUNK, pa + tr_a_at(blocks, g->K, b, p0));
}

/* K's slice length, and the threads for n_jobs products of g's shape (one
   for small work or a single tile) */
static int gemm_kc(const gemm_job *g) { return g->kc > 0 && g->kc < g->K ? g->kc : g->K; }
static int gemm_nt(const gemm_job *g, int n_jobs) {
    const double tiles = (double)((g->M + MR - 1) / MR) * ((g->N + 63) / 64) * n_jobs;
    return (double)g->M * g->K * g->N * n_jobs < 2e5 || tiles < 2 ? 1 : g->n_threads > 0 ? g->n_threads : 1;
}

#ifdef SBV2_X86
/* Panel q of g, with A packed at pa, a thread's accumulators acc and room
 * for B pieces. Per K slice (as in gemm_part): per chunk and strip, every
 * block runs over the chunk (B from L1 after the first), the blocks after
 * the first fetching the next chunk into L2; then each block's slice result
 * is stored as the tile kernels store theirs. After the panel's last chunk
 * they fetch the start of the panel this thread runs next: nb (and nb2, its
 * second term), or nothing. */
__attribute__((target("avx2,fma"))) static void turned_panel(const gemm_job *g, const float *pa, float *acc, float *room,
                                                             int kc, int q, const float *nb, const float *nb2) {
    const int M = g->M, K = g->K, N = g->N, blocks = (M + MR - 1) / MR, nks = (K + kc - 1) / kc;
    const size_t xs = g->b_pstride / 4;
    const int n = N - q * 64 < 64 ? N - q * 64 : 64, ns = (n + 15) / 16;
    for (int ks = 0; ks < nks; ks++) {
        const int k0 = ks * kc, kn = K - k0 < kc ? K - k0 : kc;
        const float *b0 = g->b + (size_t)q * g->b_pstride + (size_t)k0 * 16; /* strip 0 at row k0 */
        for (int c0 = 0, cn; c0 < kn; c0 += cn) { /* chunk outer: its rows of A (all blocks) stay in L2 */
            /* chunks follow A's pieces */
            cn = TR_CHUNK - (k0 + c0) % TR_CHUNK, cn = kn - c0 < cn ? kn - c0 : cn;
            for (int s = 0; s < ns; s++) {
                const float *bs = b0 + (size_t)s * xs + (size_t)c0 * 16;
                /* the piece read next (nx, and nx2 of the second term): the next
                   strip's chunk, strip 0's next chunk, the next slice's or the
                   next panel's first */
                const float *nx = NULL, *nx2 = NULL;
                int nn = 0;
                if (s + 1 < ns) nx = bs + xs, nn = cn;
                else if (c0 + cn < kn) nx = b0 + (size_t)(c0 + cn) * 16, nn = kn - c0 - cn;
                else if (ks + 1 < nks) nx = b0 + (size_t)kn * 16, nn = K - k0 - kn;
                if (nx && g->b2) nx2 = g->b2 + (nx - g->b);
                else if (!nx) nx = nb, nx2 = nb2, nn = K;
                nn = nn < TR_CHUNK ? nn : TR_CHUNK;
                if (nn > kc) nn = kc;
                /* with b2 the first block forms the chunk of the sum in room (L1) as it
                   reads it; the others read it there */
                const float *b2s = g->b2 ? g->b2 + (bs - g->b) : NULL;
                /* the blocks after the first fetch the next chunk of every term: one
                   group of them per term, each block a share of its term's lines */
                const int helpers = blocks > 1 ? blocks - 1 : 1, pterms = nx2 ? 2 : 1;
                for (int b = 0; b < blocks; b++) {
                    const int me = blocks > 1 ? b - 1 : 0, grp = me % pterms, in = me / pterms;
                    const int gsize = (helpers - grp + pterms - 1) / pterms, per = gsize > 0 ? (nn + gsize - 1) / gsize : 0;
                    const int l0 = in * per, l1 = l0 + per < nn ? l0 + per : nn;
                    const int pf_n = g->prefetch && nx && me >= 0 && l1 > l0 ? l1 - l0 : 0;
                    const float *pf = pf_n ? (grp ? nx2 : nx) + (size_t)l0 * 16 : NULL;
                    block_avx2(pa + tr_a_at(blocks, K, b, k0 + c0), b > 0 && b2s ? room : bs, cn, acc + (size_t)b * MR * 64 + s * 16,
                               c0 > 0, pf, pf_n, b == 0 ? b2s : NULL, g->b2_sign, b == 0 && b2s ? room : NULL);
                }
            }
        }
        /* the slice's result, stored as gemm_part's tiles store theirs (the blocks'
           accumulators follow one another, so row co is at acc + co * 64) */
        store_rows_avx2(acc, 0, M, q * 64, n, NULL, ks == 0 ? g->cbias : NULL, g->accumulate || ks > 0 ? g->c : NULL, g->c,
                        g->ldc, ks == nks - 1 ? g->post : NULL);
    }
}

/* The panels of a batch's jobs, as items (job-major) */
typedef struct {
    const gemm_job *jobs;
    int panels, kc;
    long items;
    const float *const *pa; /* per job: its packed A */
    atomic_uchar *taken;    /* per item: 1 once a thread has it */
} turned_batch;

/* item i, then fetch item nx's start (or none: -1) */
static void turned_item(const turned_batch *t, float *acc, float *room, long i, long nx) {
    const gemm_job *g = &t->jobs[i / t->panels], *gn = nx >= 0 ? &t->jobs[nx / t->panels] : NULL;
    const size_t nq = gn ? (size_t)(nx % t->panels) * gn->b_pstride : 0;
    turned_panel(g, t->pa[i / t->panels], acc, room, t->kc, (int)(i % t->panels), gn ? gn->b + nq : NULL,
                 gn && gn->b2 ? gn->b2 + nq : NULL);
}

/* whether this thread takes item i (without flags, out of memory for them:
   every item of its own range, and no other) */
static int turned_take(const turned_batch *t, long i) { return !t->taken || !atomic_exchange(&t->taken[i], 1); }

/* Thread tid of nt's items: its own contiguous range upwards, then the
 * other threads' ranges downwards from their ends, each item run by the
 * thread that takes it first. A thread that runs ahead thus takes over the
 * tail of a slower one's share instead of waiting for it, and each thread
 * still streams B (and fetches the next item's start) in order. */
static void turned_share(const turned_batch *t, float *acc, float *room, int tid, int nt) {
    for (int o = 0; o < (t->taken ? nt : 1); o++) {
        const int v = (tid + o) % nt;
        const long r0 = t->items * v / nt, r1 = t->items * (v + 1) / nt;
        if (o == 0)
            for (long i = r0; i < r1 && turned_take(t, i); i++) turned_item(t, acc, room, i, i + 1 < r1 ? i + 1 : -1);
        else
            for (long i = r1 - 1; i >= r0 && turned_take(t, i); i--) turned_item(t, acc, room, i, i > r0 ? i - 1 : -1);
    }
}

/* How a batch packs its A: each distinct matrix among the jobs' a and a2
 * once (a transposing pass), then the A of each job with a2 as the sum of
 * two packed ones (a plain pass over contiguous floats, the same values as
 * summing rows first). Strassen's seven products read four quadrants: four
 * transposes and five sums instead of seven of each. Slots: packs in the
 * batch's room. */
typedef struct {
    int n_base, n_slots;
    gemm_job base[2 * CONV_BATCH_MAX]; /* the matrix of slot s < n_base (as a job's a, no a2) */
    int slot[CONV_BATCH_MAX];          /* job j's packed A */
    int src[CONV_BATCH_MAX][2];        /* with a2: the slots of its a and a2 (else -1) */
} a_plan;

static int plan_base(a_plan *p, const gemm_job *g, const float *a) {
    for (int s = 0; s < p->n_base; s++)
        if (p->base[s].a == a && p->base[s].lda == g->lda) return s;
    p->base[p->n_base] = *g;
    p->base[p->n_base].a = a, p->base[p->n_base].a2 = NULL;
    return p->n_base++;
}

/* the plan for jobs (whose room holds batch_packs(n_jobs) packs) */
static void plan_a(const gemm_job *jobs, int n_jobs, a_plan *p) {
    p->n_base = 0;
    for (int j = 0; j < n_jobs; j++) {
        p->src[j][0] = plan_base(p, &jobs[j], jobs[j].a);
        p->src[j][1] = jobs[j].a2 ? plan_base(p, &jobs[j], jobs[j].a2) : -1;
    }
    p->n_slots = p->n_base;
    for (int j = 0; j < n_jobs; j++) p->slot[j] = p->src[j][1] < 0 ? p->src[j][0] : p->n_slots++;
    if (p->n_base >= n_jobs || (size_t)p->n_slots > batch_packs(n_jobs)) { /* no fewer transposes (or no room): each job its own */
        p->n_base = 0, p->n_slots = n_jobs;
        for (int j = 0; j < n_jobs; j++) p->slot[j] = j, p->src[j][0] = p->src[j][1] = -1;
    }
}

/* block b of every slot: the distinct matrices, then the sums (or each job's own) */
PACK_TARGET static void plan_pack_block(const a_plan *p, const gemm_job *jobs, int n_jobs, int b, int blocks, float *work, size_t pk) {
    const int K = jobs[0].K;
    for (int s = 0; s < p->n_base; s++) pack_a_block(&p->base[s], b, blocks, work + (size_t)s * pk);
    for (int j = 0; j < n_jobs; j++)
        if (p->src[j][0] < 0) pack_a_block(&jobs[j], b, blocks, work + (size_t)p->slot[j] * pk); /* a +- a2 as it packs */
        else if (p->src[j][1] >= 0)
            for (int k0 = 0; k0 < K; k0 += TR_CHUNK) { /* block b's run of each piece */
                const size_t at = tr_a_at(blocks, K, b, k0), n = (size_t)(K - k0 < TR_CHUNK ? K - k0 : TR_CHUNK) * MR;
                conv_signed_sum(work + (size_t)p->slot[j] * pk + at, work + (size_t)p->src[j][0] * pk + at,
                                work + (size_t)p->src[j][1] * pk + at, n, jobs[j].a2_sign);
            }
}

/* Products of one shape (the jobs of conv_gemm_batch), turned round: every
 * job's A packed first (a_plan; in a region of its own, so no barrier),
 * then all the jobs' panels in one region, shared out by turned_share. Each
 * panel is computed whole by one thread, so the result does not depend on
 * which thread ran it or on the thread count. One thread: no region (the
 * heads call this inside theirs). */
static void gemm_turned(const gemm_job *jobs, int n_jobs, float *work) {
    const gemm_job *g0 = &jobs[0];
    const int blocks = (g0->M + MR - 1) / MR, panels = (g0->N + 63) / 64, kc = gemm_kc(g0), nt = gemm_nt(g0, n_jobs);
    const long items = (long)n_jobs * panels;
    const size_t pk = tr_pack_floats((size_t)blocks, g0->K), np = batch_packs(n_jobs);
    a_plan plan;
    plan_a(jobs, n_jobs, &plan);
    const float *pa[CONV_BATCH_MAX];
    for (int j = 0; j < n_jobs; j++) pa[j] = work + (size_t)plan.slot[j] * pk;
    atomic_uchar few[512], *taken = nt == 1 ? NULL : items <= 512 ? few : malloc(sizeof(atomic_uchar) * (size_t)items);
    for (long i = 0; taken && i < items; i++) atomic_init(&taken[i], 0);
    const turned_batch t = {jobs, panels, kc, items, pa, taken};
    if (nt == 1) { /* no region: pack, then the one share (every item in order) */
        for (int b = 0; b < blocks; b++) plan_pack_block(&plan, jobs, n_jobs, b, blocks, work, pk);
        turned_share(&t, work + acc_at((size_t)blocks, g0->K, np, 0), work + room_at((size_t)blocks, g0->K, np, 1, 0), 0, 1);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int b = 0; b < blocks; b++) plan_pack_block(&plan, jobs, n_jobs, b, blocks, work, pk);
#pragma omp parallel num_threads(nt)
    {
#ifdef _OPENMP
        const int tid = omp_get_thread_num(), nth = omp_get_num_threads();
#else
        const int tid = 0, nth = 1;
#endif
        turned_share(&t, work + acc_at((size_t)blocks, g0->K, np, tid), work + room_at((size_t)blocks, g0->K, np, nt, tid), tid, nth);
    }
    if (taken != few) free(taken);
}
#endif

/* the turned-round form: AVX2, B in strips, room to pack A */
static int packs_a(const gemm_job *g, isa_t isa) { return g->work && g->b_strips && g->b_pstride > 0 && isa == ISA_AVX2; }

int gemm_packs_a(const gemm_job *g) { return packs_a(g, pick_isa(0)); }

int conv_gemm(const gemm_job *g) { return conv_gemm_isa(g, 0); }

int conv_gemm_isa(const gemm_job *g, int force) {
    const isa_t isa = pick_isa(force);
    const int nr = 64, M = g->M, K = g->K, N = g->N, kc = gemm_kc(g), nt = gemm_nt(g, 1);
    if (g->b2 && (!g->work || g->b_pstride == 0)) return -1;
    if (g->a2 && !packs_a(g, isa)) return -1;
    if (M <= 0 || N <= 0 || K <= 0) return 0;
#ifdef SBV2_X86
    if (packs_a(g, isa)) {
        gemm_turned(g, 1, g->work);
        return 0;
    }
#endif
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

int conv_gemm_batch(const gemm_job *jobs, int n_jobs, float *work) { return conv_gemm_batch_isa(jobs, n_jobs, work, 0); }

int conv_gemm_batch_isa(const gemm_job *jobs, int n_jobs, float *work, int force) {
    if (n_jobs <= 0) return 0;
    if (!jobs || !work || n_jobs > CONV_BATCH_MAX) return -1;
    const gemm_job *g0 = &jobs[0];
    for (int i = 1; i < n_jobs; i++) {
        const gemm_job *g = &jobs[i];
        if (g->M != g0->M || g->K != g0->K || g->N != g0->N || g->kc != g0->kc || g->n_threads != g0->n_threads ||
            g->b_pstride != g0->b_pstride || g->b_strips != g0->b_strips)
            return -1;
    }
    const isa_t isa = pick_isa(force);
    gemm_job one = *g0;
    one.work = work;
#ifdef SBV2_X86
    if (packs_a(&one, isa) && g0->M > 0 && g0->N > 0 && g0->K > 0) {
        gemm_turned(jobs, n_jobs, work);
        return 0;
    }
#endif
    for (int i = 0; i < n_jobs; i++) { /* one at a time, in the batch's room */
        one = jobs[i];
        one.work = work;
        if (conv_gemm_isa(&one, force) != 0) return -1;
    }
    return 0;
}

int conv_matmul(const float *a, int M, int K, const float *b, size_t ldb, int N, float *c, int nt) {
    gemm_job g = {a, (size_t)K, M, K, b, ldb, N, c, (size_t)N, NULL, 0, 0, 0, nt, NULL, 0, 0, NULL, NULL, 0, NULL, 0};
    return conv_gemm(&g);
}

/* ---- peak measurement (for the benchmark) ---------------------------------- */

#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The kernel's own rate on an in-cache product (48 x 256 x 512 per thread)
 * on the active path: the roof its large products can approach. */
double conv_kernel_gflops(int n_threads, double seconds) {
    if (n_threads < 1) n_threads = 1;
    const int M = 48, K = 256, N = 512;
    float *a = conv_alloc((size_t)M * K * n_threads), *b = conv_alloc((size_t)K * (N + 64));
    float *c = conv_alloc((size_t)M * N * n_threads);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)M * K * n_threads; i++) a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)K * (N + 64); i++) b[i] = (float)(i % 5) * 0.1f;
        gemm_job g = {a, (size_t)K, M * n_threads, K, b, (size_t)N + 64, N, c, (size_t)N, NULL, 0, 0, 0, n_threads, NULL, 0, 0, NULL, NULL, 0, NULL, 0};
        const double t_end = now_s() + seconds;
        while (now_s() < t_end) {
            const double t0 = now_s();
            for (int r = 0; r < 20; r++) conv_gemm(&g);
            const double gf = 20.0 * 2.0 * M * n_threads * K * N / (now_s() - t0) / 1e9;
            if (gf > best) best = gf;
        }
    }
    free(a), free(b), free(c);
    return best;
}

/* The FMA units' peak as a plain loop of independent FMA chains reaches it
 * (12 chains of 8 lanes on AVX2, 12 of 16 on AVX-512, 8 scalar ones
 * otherwise), in registers, no memory traffic. Returns GFLOP/s of one thread;
 * out keeps the result alive. */
#ifdef SBV2_X86
/* One loop per vector width: 12 named chains (an array of vectors would live
 * on the stack) of c = c * m + d; P is the intrinsics' prefix, L the lanes. */
#define FMA_LOOP(name, isa_attr, T, P, L)                                                                    \
    __attribute__((target(isa_attr))) static double name(long iters, float *out) {                          \
        const T m = P##_set1_ps(0.999999f), d = P##_set1_ps(1e-7f);                                          \
        T c0 = P##_set1_ps(0), c1 = P##_set1_ps(1), c2 = P##_set1_ps(2), c3 = P##_set1_ps(3);                \
        T c4 = P##_set1_ps(4), c5 = P##_set1_ps(5), c6 = P##_set1_ps(6), c7 = P##_set1_ps(7);                \
        T c8 = P##_set1_ps(8), c9 = P##_set1_ps(9), c10 = P##_set1_ps(10), c11 = P##_set1_ps(11);            \
        const double t0 = now_s();                                                                           \
        for (long it = 0; it < iters; it++) {                                                                \
            c0 = P##_fmadd_ps(c0, m, d), c1 = P##_fmadd_ps(c1, m, d), c2 = P##_fmadd_ps(c2, m, d);           \
            c3 = P##_fmadd_ps(c3, m, d), c4 = P##_fmadd_ps(c4, m, d), c5 = P##_fmadd_ps(c5, m, d);           \
            c6 = P##_fmadd_ps(c6, m, d), c7 = P##_fmadd_ps(c7, m, d), c8 = P##_fmadd_ps(c8, m, d);           \
            c9 = P##_fmadd_ps(c9, m, d), c10 = P##_fmadd_ps(c10, m, d), c11 = P##_fmadd_ps(c11, m, d);       \
        }                                                                                                    \
        const double dt = now_s() - t0;                                                                      \
        c0 = P##_add_ps(P##_add_ps(P##_add_ps(c0, c1), P##_add_ps(c2, c3)), P##_add_ps(c4, c5));             \
        c6 = P##_add_ps(P##_add_ps(P##_add_ps(c6, c7), P##_add_ps(c8, c9)), P##_add_ps(c10, c11));           \
        *out = P##_cvtss_f32(P##_add_ps(c0, c6));                                                            \
        return (double)iters * 12 * (L) * 2 / dt / 1e9;                                                      \
    }
FMA_LOOP(fma_loop_avx2, "avx2,fma", __m256, _mm256, 8)
FMA_LOOP(fma_loop_avx512, "avx512f", __m512, _mm512, 16)
#endif

static double fma_loop_generic(long iters, float *out) {
    float c[8];
    for (int i = 0; i < 8; i++) c[i] = (float)i;
    const double t0 = now_s();
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 8; i++) c[i] = fmaf(c[i], 0.999999f, 1e-7f);
    const double dt = now_s() - t0;
    *out = c[0] + c[7];
    return (double)iters * 8 * 2 / dt / 1e9;
}

double conv_fma_loop_gflops(int n_threads, double seconds) {
    if (n_threads < 1) n_threads = 1;
    const isa_t isa = isa_active();
    double total = 0;
#pragma omp parallel num_threads(n_threads) reduction(+ : total)
    {
        double best = 0;
        float sink = 0;
        long iters = 1 << 16;
        const double t_end = now_s() + seconds;
        while (now_s() < t_end) {
            double gf;
#ifdef SBV2_X86
            if (isa == ISA_AVX512) gf = fma_loop_avx512(iters, &sink);
            else if (isa == ISA_AVX2) gf = fma_loop_avx2(iters, &sink);
            else
#endif
                gf = fma_loop_generic(iters / 16, &sink);
            if (gf > best) best = gf;
            if (iters < (1 << 22)) iters *= 2;
        }
        total += best + (sink == 12345.0f ? 1e-9 : 0.0);
    }
    return total;
}
