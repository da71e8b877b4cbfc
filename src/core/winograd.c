/* "Same" dilated Conv1d with Winograd minimal filtering F(3,3): 5 products
 * per 3 outputs instead of 9. Long kernels are split into pieces of 3 taps
 * (K=7 -> 3 pieces, K=11 -> 4) so the transforms stay the small, well-
 * conditioned F(3,3) ones (points 0, 1, -1, 2, inf): the fp32 error stays
 * near that of direct convolution.
 *
 * Dilation d: output t = q*d + rho only sees the subsequence x[n*d + rho], so
 * each residue rho is an undilated problem. Tiles of 3 outputs need 5 inputs
 * x[3n .. 3n+4]; piece p (taps 3p..3p+2) needs the tile 3p inputs later, i.e.
 * tile n+p. So with V_a[ci][n] = (B^T x-tile n)_a, the transformed output is
 *   M_a[co][n] = sum_p sum_ci U_a[co][ci][p] V_a[ci][n + p],
 * a P-tap stride-1 convolution over tiles, run by the packed conv kernel for
 * each of the 5 points a. Then y = A^T M + bias (+ residual). */
#include <stdlib.h>
#include <string.h>

#include "core/conv.h"
#include "core/winograd.h"
#include "core/isa.h"


/* F(3,3), points 0, 1, -1, 2, inf; rows of B^T scaled to integers and the
 * matching rows of G scaled back:
 *   B^T d: 2d0-d1-2d2+d3 | 2d1+d2-d3 | -2d1+3d2-d3 | d3-d1 | 2d1-d2-2d3+d4
 *   G g:   g0/2 | (g0+g1+g2)/2 | (g0-g1+g2)/6 | (g0+2g1+4g2)/6 | g2
 *   A^T m: m0+m1+m2+m3 | m1-m2+2m3 | m1+m2+4m3+m4 */
static void kernel_transform(const float g[3], float u[5]) {
    u[0] = g[0] * 0.5f;
    u[1] = (g[0] + g[1] + g[2]) * 0.5f;
    u[2] = (g[0] - g[1] + g[2]) * (1.0f / 6.0f);
    u[3] = (g[0] + 2.0f * g[1] + 4.0f * g[2]) * (1.0f / 6.0f);
    u[4] = g[2];
}

size_t wino_packed_size(int cout, int cin, int k) {
    int P = (k + 2) / 3;
    return 5 * conv_packed_size(cout, cin, P);
}

void wino_prepare(wino_conv *wc, const float *w, const float *bias, int cout, int cin, int k, float *packed) {
    const int P = (k + 2) / 3;
    wc->cout = cout, wc->cin = cin, wc->k = k, wc->pieces = P, wc->bias = bias;
    const size_t per = conv_packed_size(cout, cin, P);
    float *tmp = malloc(sizeof(float) * (size_t)cout * cin * P * 5);
    for (size_t i = 0; tmp && i < (size_t)cout * cin; i++) {
        for (int p = 0; p < P; p++) {
            float g[3], u[5];
            for (int j = 0; j < 3; j++) g[j] = 3 * p + j < k ? w[i * k + 3 * p + j] : 0.0f;
            kernel_transform(g, u);
            for (int a = 0; a < 5; a++) tmp[((size_t)a * cout * cin + i) * P + p] = u[a];
        }
    }
    for (int a = 0; a < 5; a++) {
        wc->packed[a] = packed + per * a;
        if (tmp) conv_pack(tmp + (size_t)a * cout * cin * P, cout, cin, P, wc->packed[a]);
    }
    wc->ok = tmp != NULL;
    free(tmp);
}

/* The transforms run over whole rows of tiles, vectorised for the active
 * kernel path (SBV2_MULTIVERSION): inputs arrive de-interleaved into p0/p1/p2 (the 1st,
 * 2nd, 3rd element of each tile), so tile n reads p0[n] p1[n] p2[n] p0[n+1] p1[n+1]. */

SBV2_BODY void transform_rows_body(const float *restrict p0, const float *restrict p1, const float *restrict p2, int n,
                                       float *restrict v0, float *restrict v1, float *restrict v2, float *restrict v3,
                                       float *restrict v4) {
    for (int i = 0; i < n; i++) {
        const float d0 = p0[i], d1 = p1[i], d2 = p2[i], d3 = p0[i + 1], d4 = p1[i + 1];
        v0[i] = 2.0f * d0 - d1 - 2.0f * d2 + d3;
        v1[i] = 2.0f * d1 + d2 - d3;
        v2[i] = -2.0f * d1 + 3.0f * d2 - d3;
        v3[i] = d3 - d1;
        v4[i] = 2.0f * d1 - d2 - 2.0f * d3 + d4;
    }
}
SBV2_MULTIVERSION(transform_rows, (const float *restrict p0, const float *restrict p1, const float *restrict p2, int n, float *restrict v0, float *restrict v1, float *restrict v2, float *restrict v3, float *restrict v4), (p0, p1, p2, n, v0, v1, v2, v3, v4))

SBV2_BODY void output_rows_body(const float *restrict m0, const float *restrict m1, const float *restrict m2,
                                    const float *restrict m3, const float *restrict m4, int n, float *restrict o0,
                                    float *restrict o1, float *restrict o2) {
    for (int i = 0; i < n; i++) {
        o0[i] = m0[i] + m1[i] + m2[i] + m3[i];
        o1[i] = m1[i] - m2[i] + 2.0f * m3[i];
        o2[i] = m1[i] + m2[i] + 4.0f * m3[i] + m4[i];
    }
}
SBV2_MULTIVERSION(output_rows, (const float *restrict m0, const float *restrict m1, const float *restrict m2, const float *restrict m3, const float *restrict m4, int n, float *restrict o0, float *restrict o1, float *restrict o2), (m0, m1, m2, m3, m4, n, o0, o1, o2))

/* p_j[n] = src[(3n + j) * d] for n in [0, cnt]: the residue's tile inputs. */
SBV2_BODY void gather_rows_body(const float *restrict src, int d, int cnt, float *restrict p0, float *restrict p1,
                                    float *restrict p2) {
    const int s3 = 3 * d;
    for (int n = 0; n <= cnt; n++) {
        p0[n] = src[(size_t)n * s3];
        p1[n] = src[(size_t)n * s3 + d];
        p2[n] = src[(size_t)n * s3 + 2 * d];
    }
}
SBV2_MULTIVERSION(gather_rows, (const float *restrict src, int d, int cnt, float *restrict p0, float *restrict p1, float *restrict p2), (src, d, cnt, p0, p1, p2))

/* dst[(3n + i) * d] = o_i[n] + b (+ res[same]) for tiles entirely inside. */
SBV2_BODY void scatter_rows_body(const float *restrict o0, const float *restrict o1, const float *restrict o2, int n_full,
                                     int d, float b, const float *res, float *dst) {
    const size_t s3 = 3 * (size_t)d;
    if (res)
        for (int n = 0; n < n_full; n++) {
            dst[n * s3] = o0[n] + b + res[n * s3];
            dst[n * s3 + d] = o1[n] + b + res[n * s3 + d];
            dst[n * s3 + 2 * d] = o2[n] + b + res[n * s3 + 2 * d];
        }
    else
        for (int n = 0; n < n_full; n++) {
            dst[n * s3] = o0[n] + b;
            dst[n * s3 + d] = o1[n] + b;
            dst[n * s3 + 2 * d] = o2[n] + b;
        }
}
SBV2_MULTIVERSION(scatter_rows, (const float *restrict o0, const float *restrict o1, const float *restrict o2, int n_full, int d, float b, const float *res, float *dst), (o0, o1, o2, n_full, d, b, res, dst))

typedef struct { int r, n0, cnt; } wchunk;

/* Work is cut into chunks of tiles of one residue that a thread runs start to
 * finish (transform, 5 products, output transform): its buffers stay in
 * cache and the scratch stays small whatever the length. */
int wino_run(const wino_conv *wc, const float *x, int T, int dil, float slope, const float *res, float *y, int nt,
             scratch *ws) {
    const int C = wc->cin, CO = wc->cout, P = wc->pieces, K = wc->k;
    const int pad_l = (K - 1) * dil / 2, nth = nt > 0 ? nt : 1;
    const isa_t isa = isa_active();
    if (T <= 0) return 0;
    int tc = (1 << 18) / (5 * C);
    tc = tc < 64 ? 64 : tc > 512 ? 512 : tc & ~63;
    int ntile_max = 0, nchunk = 0;
    for (int r = 0; r < dil && r < T; r++) {
        const int q = (T - r + dil - 1) / dil, nt_r = (q + 2) / 3;
        if (nt_r > ntile_max) ntile_max = nt_r;
        nchunk += (nt_r + tc - 1) / tc;
    }
    const int cnt_max = ((ntile_max < tc ? ntile_max : tc) + 63) & ~63;
    /* activated, zero-padded input rows, long enough for whole padded chunks */
    size_t lda = (size_t)(3 * (ntile_max + cnt_max + P) + 6) * dil;
    if (lda < (size_t)pad_l + T) lda = (size_t)pad_l + T;
    const int cols = cnt_max + P; /* transformed tiles per chunk (+1 spare) */
    const size_t ldv = (size_t)cols + 64, prow = (size_t)cols + 2;
    const size_t per_thread = 3 * prow + 5 * (size_t)C * ldv + 5 * (size_t)CO * cnt_max;
    wchunk *chunks = malloc(sizeof(wchunk) * (size_t)nchunk);
    float *a = scratch_get(ws, SCR_CONV_IN, (size_t)C * lda);
    float *work = scratch_get(ws, SCR_WINO_V, per_thread * nth);
    if (!chunks || !a || !work) {
        free(chunks);
        if (!ws) free(a), free(work);
        return -1;
    }
    for (int r = 0, c = 0; r < dil && r < T; r++) {
        const int q = (T - r + dil - 1) / dil, nt_r = (q + 2) / 3;
        for (int n0 = 0; n0 < nt_r; n0 += tc) chunks[c++] = (wchunk){r, n0, nt_r - n0 < tc ? nt_r - n0 : tc};
    }
#pragma omp parallel num_threads(nth) if ((long)C * T > 20000)
    {
#pragma omp for schedule(static)
        for (int ci = 0; ci < C; ci++) {
            conv_pad_activate_row(isa, x + (size_t)ci * T, T, slope, pad_l, lda, a + (size_t)ci * lda);
        }
        float *wb = conv_thread_slice(work, per_thread);
        float *p0 = wb, *p1 = p0 + prow, *p2 = p1 + prow;
        float *v = p2 + prow, *mm = v + 5 * (size_t)C * ldv;
#pragma omp for schedule(dynamic, 1)
        for (int ic = 0; ic < nchunk; ic++) {
            const wchunk ch = chunks[ic];
            const int cnt = (ch.cnt + 63) & ~63, nv = cnt + P - 1; /* outputs, transformed tiles */
            const size_t st = (size_t)C * ldv;
            for (int ci = 0; ci < C; ci++) {
                gather_rows(isa, a + (size_t)ci * lda + (size_t)3 * ch.n0 * dil + ch.r, dil, nv, p0, p1, p2);
                float *vb = v + (size_t)ci * ldv;
                transform_rows(isa, p0, p1, p2, nv, vb, vb + st, vb + 2 * st, vb + 3 * st, vb + 4 * st);
                for (int e = 0; e < 5; e++) memset(vb + e * st + nv, 0, sizeof(float) * (ldv - nv));
            }
            for (int e = 0; e < 5; e++) {
                conv_job j = {wc->packed[e], NULL, CO, C, P, 1, 0, v + e * st, nv, CONV_ACT_NONE, 0.0f, NULL, NULL,
                              mm + (size_t)e * CO * cnt, cnt, 1, 0, NULL, ldv};
                conv_run(&j);
            }
            const int q = (T - ch.r + dil - 1) / dil;
            for (int co = 0; co < CO; co++) {
                const float b = wc->bias ? wc->bias[co] : 0.0f;
                float *yo = y + (size_t)co * T + ch.r + (size_t)3 * ch.n0 * dil;
                const float *ro = res ? res + (size_t)co * T + ch.r + (size_t)3 * ch.n0 * dil : NULL;
                const float *mb = mm + (size_t)co * cnt;
                const size_t sm = (size_t)CO * cnt;
                output_rows(isa, mb, mb + sm, mb + 2 * sm, mb + 3 * sm, mb + 4 * sm, ch.cnt, p0, p1, p2);
                /* whole tiles vectorised, the last partial one element by element */
                const int left = q - 3 * ch.n0, n_full = left / 3 < ch.cnt ? left / 3 : ch.cnt;
                scatter_rows(isa, p0, p1, p2, n_full, dil, b, ro, yo);
                for (int n = n_full; n < ch.cnt; n++) {
                    const float o[3] = {p0[n], p1[n], p2[n]};
                    for (int i = 0; i < 3 && 3 * n + i < left; i++) {
                        const size_t t = (size_t)(3 * n + i) * dil;
                        yo[t] = o[i] + b + (ro ? ro[t] : 0.0f);
                    }
                }
            }
        }
    }
    free(chunks);
    if (!ws) free(a), free(work);
    return 0;
}
