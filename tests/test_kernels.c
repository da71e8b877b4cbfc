/* The fast kernels against plain reference loops in double precision:
 * packed conv (run-time ISA and the portable variant), fused leaky ReLU /
 * residual / padding, and Winograd F(3,3) with dilations and long kernels,
 * over awkward sizes (channels not multiples of the block, lengths not
 * multiples of a tile, T smaller than the kernel span). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conv.h"
#include "core/rng.h"
#include "core/fftconv.h"
#include "core/winograd.h"

static int passed = 0, failed = 0;

static void ref_conv(const float *w, const float *b, int co_n, int ci_n, int k, int dil, int pad_l, const float *x,
                     int tin, float slope, const float *res, float *y, int tout) {
    for (int co = 0; co < co_n; co++)
        for (int t = 0; t < tout; t++) {
            double acc = b ? b[co] : 0;
            for (int ci = 0; ci < ci_n; ci++)
                for (int kk = 0; kk < k; kk++) {
                    int s = t + kk * dil - pad_l;
                    if (s < 0 || s >= tin) continue;
                    double v = x[(size_t)ci * tin + s];
                    if (slope >= 0) v = v > 0 ? v : v * slope;
                    acc += (double)w[((size_t)co * ci_n + ci) * k + kk] * v;
                }
            y[(size_t)co * tout + t] = (float)(acc + (res ? res[(size_t)co * tout + t] : 0));
        }
}

static double maxdiff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* bit-identical to the portable kernel's result */
static void check_same(const char *what, const float *want, const float *got, size_t n) {
    if (!memcmp(want, got, sizeof(float) * n)) passed++;
    else {
        failed++;
        printf("FAIL %s: not bit-identical to the portable kernel (max|d| %.3g)\n", what, maxdiff(want, got, n));
    }
}

static void check(const char *what, double err, double tol) {
    if (err <= tol) passed++;
    else {
        failed++;
        printf("FAIL %s: max|d| %.3g > %.3g\n", what, err, tol);
    }
}

int main(void) {
    sbv2_rng rng;
    sbv2_rng_seed(&rng, 7);
    printf("kernels: %s\n", conv_isa_name()); /* the run-time path (isa_test.sh checks it) */
    const int shapes[][6] = {/* cout cin k dil T pad-mode */
                             {1, 1, 1, 1, 1, 0},   {5, 3, 3, 1, 17, 1},    {13, 7, 7, 3, 70, 1},  {16, 16, 11, 5, 129, 1},
                             {6, 32, 5, 1, 64, 1}, {33, 20, 16, 1, 40, 2}, {8, 8, 11, 5, 4, 1},   {64, 48, 3, 1, 300, 1},
                             {7, 9, 2, 2, 23, 2},  {12, 12, 9, 3, 1, 1},   {64, 64, 7, 1, 8000, 1}, {20, 24, 11, 5, 3001, 1},
                             {3, 2, 17, 2, 41, 1}};
    char name[128];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int CO = shapes[s][0], CI = shapes[s][1], K = shapes[s][2], D = shapes[s][3], T = shapes[s][4];
        const int pad = shapes[s][5] == 1 ? (K - 1) * D / 2 : shapes[s][5] == 2 ? K - 1 : 0;
        const int tout = T + 2 * pad - (K - 1) * D > 0 ? T + 2 * pad - (K - 1) * D : 1;
        float *w = malloc(sizeof(float) * CO * CI * K), *b = malloc(sizeof(float) * CO);
        float *x = malloc(sizeof(float) * CI * T), *res = malloc(sizeof(float) * CO * tout);
        float *y0 = malloc(sizeof(float) * CO * tout), *y1 = malloc(sizeof(float) * CO * tout);
        float *pk = malloc(sizeof(float) * conv_packed_size(CO, CI, K));
        sbv2_rng_normal(&rng, w, (size_t)CO * CI * K);
        sbv2_rng_normal(&rng, b, CO);
        sbv2_rng_normal(&rng, x, (size_t)CI * T);
        sbv2_rng_normal(&rng, res, (size_t)CO * tout);
        conv_pack(w, CO, CI, K, pk);
        const double tol = 2e-5 * sqrt((double)CI * K);
        float *yg = malloc(sizeof(float) * CO * tout);
        for (int leaky = 0; leaky < 2; leaky++)
            for (int pth = 0; pth < 3; pth++) {
                /* the portable path first, then at most AVX2, then the run-time one: all bit-identical */
                const int force = pth == 0 ? CONV_FORCE_GENERIC : pth == 1 ? CONV_FORCE_AVX2 : CONV_FORCE_NONE;
                ref_conv(w, b, CO, CI, K, D, pad, x, T, leaky ? 0.1f : -1.0f, leaky ? res : NULL, y0, tout);
                conv_job j = {pk, b, CO, CI, K, D, pad, x, T, leaky ? CONV_ACT_LEAKY : CONV_ACT_NONE, 0.1f, NULL,
                              leaky ? res : NULL, y1, tout, 3, force, NULL, 0};
                conv_run(&j);
                snprintf(name, sizeof name, "conv %dx%dx%d dil %d T %d %s %s", CO, CI, K, D, T, leaky ? "lrelu+res" : "plain",
                         pth == 0 ? "generic" : pth == 1 ? "avx2 or less" : conv_isa_name());
                check(name, maxdiff(y0, y1, (size_t)CO * tout), tol);
                if (pth == 0) memcpy(yg, y1, sizeof(float) * CO * tout);
                else check_same(name, yg, y1, (size_t)CO * tout);
            }
        free(yg);
        if (K % 2 == 1 && K >= 3 && shapes[s][5] == 1 && CO == CO) {
            /* Winograd: "same" conv, square or not, with and without a residual */
            float *wp = malloc(sizeof(float) * wino_packed_size(CO, CI, K));
            wino_conv wc;
            wino_prepare(&wc, w, b, CO, CI, K, wp);
            scratch ws;
            memset(&ws, 0, sizeof ws);
            for (int withres = 0; withres < 2; withres++) {
                ref_conv(w, b, CO, CI, K, D, pad, x, T, 0.1f, withres ? res : NULL, y0, T);
                int rc = wino_run(&wc, x, T, D, 0.1f, withres ? res : NULL, y1, 2, withres ? &ws : NULL);
                snprintf(name, sizeof name, "winograd %dx%dx%d dil %d T %d%s", CO, CI, K, D, T, withres ? " +res" : "");
                check(name, rc == 0 ? maxdiff(y0, y1, (size_t)CO * T) : INFINITY, 4 * tol);
            }
            scratch_free(&ws);
            free(wp);
        }
        if (fftc_supported(K) && shapes[s][5] == 1) {
            /* FFT overlap-save: same contract as Winograd; several chunks, residues, threads */
            float *fp = malloc(sizeof(float) * fftc_packed_size(CO, CI, K));
            fft_conv fcv;
            fftc_prepare(&fcv, w, b, CO, CI, K, fp);
            scratch ws;
            memset(&ws, 0, sizeof ws);
            for (int withres = 0; withres < 2; withres++) {
                ref_conv(w, b, CO, CI, K, D, pad, x, T, 0.1f, withres ? res : NULL, y0, T);
                int rc = fcv.ok ? fftc_run(&fcv, x, T, D, 0.1f, withres ? res : NULL, y1, 2, withres ? &ws : NULL) : -1;
                snprintf(name, sizeof name, "fft %dx%dx%d dil %d T %d%s", CO, CI, K, D, T, withres ? " +res" : "");
                const double e = rc == 0 ? maxdiff(y0, y1, (size_t)CO * T) : INFINITY;
                printf("%s: max|d| %.3g\n", name, e);
                check(name, e, 4 * tol);
            }
            scratch_free(&ws);
            free(fp);
        }
        free(w), free(b), free(x), free(res), free(y0), free(y1), free(pk);
    }
    /* conv_gemm: strided A and C, B rows readable only to the next 64 columns,
       K slices, accumulate, column bias, prefetch, 1 and 2 threads */
    const int gs[][5] = {/* M K N kc lda-extra */
                         {1, 1, 1, 0, 0},    {5, 7, 63, 0, 3},     {6, 64, 64, 0, 0},     {13, 100, 130, 0, 5},
                         {42, 300, 200, 128, 1}, {7, 2500, 70, 1024, 0}, {37, 64, 300, 0, 64}, {61, 33, 1, 0, 2},
                         {13, 2500, 130, 1024, 0}};
    for (size_t s = 0; s < sizeof gs / sizeof gs[0]; s++) {
        const int M = gs[s][0], K = gs[s][1], N = gs[s][2], kc = gs[s][3];
        const size_t lda = (size_t)K + gs[s][4], ldb = (size_t)N + 16, ldc = (size_t)N + 3;
        const size_t nbr = ((size_t)N + 63) / 64 * 64; /* last row readable to here */
        float *A = malloc(sizeof(float) * M * lda), *B = conv_alloc((K - 1) * ldb + nbr), *cb = malloc(sizeof(float) * N);
        float *C0 = malloc(sizeof(float) * M * ldc), *C1 = malloc(sizeof(float) * M * ldc);
        sbv2_rng_normal(&rng, A, (size_t)M * lda);
        sbv2_rng_normal(&rng, B, (K - 1) * ldb + nbr);
        sbv2_rng_normal(&rng, cb, N);
        float *Ci = malloc(sizeof(float) * M * ldc), *Cg = malloc(sizeof(float) * M * ldc);
        const int nts[3] = {1, 3, 5};
        /* portable first, then at most AVX2, then the run-time path */
        const int forces[3] = {CONV_FORCE_GENERIC, CONV_FORCE_AVX2, CONV_FORCE_NONE};
        for (int acc = 0; acc < 2; acc++) {
            sbv2_rng_normal(&rng, Ci, (size_t)M * ldc);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double v = (acc ? Ci[i * ldc + j] : 0) + cb[j];
                    for (int k = 0; k < K; k++) v += (double)A[i * lda + k] * B[k * ldb + j];
                    C0[i * ldc + j] = (float)v;
                }
            for (int ti = 0; ti < 3; ti++)
                for (int pth = 0; pth < 3; pth++) {
                    const int nt = nts[ti];
                    memcpy(C1, Ci, sizeof(float) * M * ldc);
                    gemm_job g = {A, lda, M, K, B, ldb, N, C1, ldc, cb, acc, kc, 1, nt, NULL, 0, 0, NULL, NULL, 0, NULL, 0};
                    conv_gemm_isa(&g, forces[pth]);
                    double e = 0;
                    for (int i = 0; i < M; i++) e = fmax(e, maxdiff(C0 + i * ldc, C1 + i * ldc, N));
                    snprintf(name, sizeof name, "gemm %dx%dx%d kc %d%s %d threads %s", M, K, N, kc, acc ? " +acc" : "", nt,
                             pth == 2 ? conv_isa_name() : pth == 0 ? "generic" : "avx2 or less");
                    printf("%s: max|d| %.3g\n", name, e);
                    check(name, e, 1e-6 * sqrt((double)K) * 8);
                    /* the portable result at 1 thread is the reference for every path and count */
                    if (ti == 0 && pth == 0) memcpy(Cg, C1, sizeof(float) * M * ldc);
                    else check_same(name, Cg, C1, (size_t)M * ldc);
                }
            /* B in 64-column panels, as rows or as 16-column strips (the BERT's
               weights): the same sums, so the same bits, on every path */
            const size_t ps = (size_t)K * 64;
            float *P = conv_alloc(nbr / 64 * ps);
            for (int strips = 0; strips < 2 && P; strips++) {
                for (size_t c = 0; c < nbr; c++)
                    for (int k = 0; k < K; k++)
                        P[gemm_panel_at(ps, strips, (size_t)k, c)] = c < (size_t)N ? B[k * ldb + c] : 0.0f;
                for (int ti = 0; ti < 2; ti++)
                    for (int pth = 0; pth < 3; pth++) {
                        memcpy(C1, Ci, sizeof(float) * M * ldc);
                        gemm_job g = {A, lda, M, K, P, 64, N, C1, ldc, cb, acc, kc, 1, nts[ti], NULL, ps, strips, NULL, NULL, 0, NULL, 0};
                        conv_gemm_isa(&g, forces[pth]);
                        snprintf(name, sizeof name, "gemm %dx%dx%d kc %d%s, B in %s, %d threads %s", M, K, N, kc, acc ? " +acc" : "",
                                 strips ? "strips" : "panels", nts[ti], pth == 2 ? conv_isa_name() : pth == 0 ? "generic" : "avx2 or less");
                        check_same(name, Cg, C1, (size_t)M * ldc);
                    }
            }
            /* strips with room to pack A (the AVX2 path turns its loops round),
               at thread counts that do not divide the panels */
            const int wts[5] = {1, 2, 3, 5, 8};
            float *W = P ? conv_alloc(gemm_work_floats(M, K, 8)) : NULL;
            for (int ti = 0; ti < 5 && W; ti++)
                for (int pth = 0; pth < 3; pth++) {
                    memcpy(C1, Ci, sizeof(float) * M * ldc);
                    gemm_job g = {A, lda, M, K, P, 64, N, C1, ldc, cb, acc, kc, 1, wts[ti], NULL, ps, 1, W, NULL, 0, NULL, 0};
                    conv_gemm_isa(&g, forces[pth]);
                    snprintf(name, sizeof name, "gemm %dx%dx%d kc %d%s, B in strips, A packed, %d threads %s", M, K, N, kc, acc ? " +acc" : "",
                             wts[ti], pth == 2 ? conv_isa_name() : pth == 0 ? "generic" : "avx2 or less");
                    check_same(name, Cg, C1, (size_t)M * ldc);
                }
            if (P && !W) check("work room", INFINITY, 0);
            /* B as the sum or difference of two panel stores (gemm_job.b2, the
               operands of Strassen's products): the bits of the product on the
               formed B, on every path, layout and thread count, A in place and
               packed; and A as a sum (a2), which the AVX2 form packs */
            const size_t pn = nbr / 64 * ps;
            float *P2 = W ? conv_alloc(pn) : NULL, *Pc = W ? conv_alloc(pn) : NULL;
            float *Cr = malloc(sizeof(float) * M * ldc), *A2 = malloc(sizeof(float) * M * lda), *As = malloc(sizeof(float) * M * lda);
            if (W && (!P2 || !Pc || !Cr || !A2 || !As)) check("b2 room", INFINITY, 0);
            if (A2) sbv2_rng_normal(&rng, A2, (size_t)M * lda);
            for (int strips = 0; strips < 2 && P2 && Pc && Cr && A2 && As; strips++) {
                for (size_t c = 0; c < nbr; c++)
                    for (int k = 0; k < K; k++) P[gemm_panel_at(ps, strips, (size_t)k, c)] = c < (size_t)N ? B[k * ldb + c] : 0.0f;
                sbv2_rng_normal(&rng, P2, pn);
                for (int sg = -1; sg <= 1; sg += 2)
                    for (int asum = 0; asum < 2; asum++) {
                        for (size_t i = 0; i < pn; i++) Pc[i] = sg > 0 ? P[i] + P2[i] : P[i] - P2[i];
                        for (size_t i = 0; i < (size_t)M * lda; i++) As[i] = asum ? (sg > 0 ? A[i] + A2[i] : A[i] - A2[i]) : A[i];
                        memcpy(Cr, Ci, sizeof(float) * M * ldc);
                        gemm_job r = {As, lda, M, K, Pc, 64, N, Cr, ldc, cb, acc, kc, 1, 1, NULL, ps, strips, NULL, NULL, 0, NULL, 0};
                        conv_gemm_isa(&r, CONV_FORCE_GENERIC);
                        for (int ti = 0; ti < 5; ti++)
                            for (int pth = 0; pth < 3; pth++) {
                                /* a2 only where A is packed (the AVX2 form): elsewhere refused */
                                const int packs = strips && (pth == 1 ? isa_active() >= ISA_AVX2 : pth == 2 && isa_active() == ISA_AVX2);
                                memcpy(C1, Ci, sizeof(float) * M * ldc);
                                gemm_job g = {A, lda, M, K, P, 64, N, C1, ldc, cb, acc, kc, 1, wts[ti], NULL, ps, strips, W, P2, sg,
                                              asum ? A2 : NULL, sg};
                                const int rc = conv_gemm_isa(&g, forces[pth]);
                                snprintf(name, sizeof name, "gemm %dx%dx%d kc %d%s, B in %s %s b2%s, %d threads %s", M, K, N, kc,
                                         acc ? " +acc" : "", strips ? "strips" : "panels", sg > 0 ? "+" : "-", asum ? ", A +- a2" : "",
                                         wts[ti], pth == 2 ? conv_isa_name() : pth == 0 ? "generic" : "avx2 or less");
                                if (asum && !packs) {
                                    check(name, rc == -1 ? 0.0 : INFINITY, 0);
                                    continue;
                                }
                                check(name, rc == 0 ? 0.0 : INFINITY, 0);
                                check_same(name, Cr, C1, (size_t)M * ldc);
                            }
                    }
                /* a batch of products of one shape (Strassen's seven share their
                   regions): each job's own bits, on every path and thread count */
                float *Cb[3] = {malloc(sizeof(float) * M * ldc), malloc(sizeof(float) * M * ldc), malloc(sizeof(float) * M * ldc)};
                float *Wb = conv_alloc(gemm_batch_work_floats(M, K, 3, 8));
                if (!Cb[0] || !Cb[1] || !Cb[2] || !Wb) check("batch room", INFINITY, 0);
                for (int ti = 0; ti < 5 && Cb[0] && Cb[1] && Cb[2] && Wb; ti++)
                    for (int pth = 0; pth < 3; pth++) {
                        const int packs = strips && (pth == 1 ? isa_active() >= ISA_AVX2 : pth == 2 && isa_active() == ISA_AVX2);
                        gemm_job jb[3];
                        for (int j = 0; j < 3; j++) {
                            memcpy(Cb[j], Ci, sizeof(float) * M * ldc);
                            /* plain; B + b2 and A - a2 (where A is packed); B - b2 */
                            jb[j] = (gemm_job){A, lda, M, K, P, 64, N, Cb[j], ldc, cb, acc, kc, 1, wts[ti], NULL, ps, strips, NULL,
                                               j ? P2 : NULL, j == 1 ? 1 : -1, j == 1 && packs ? A2 : NULL, -1};
                        }
                        const int rc = conv_gemm_batch_isa(jb, 3, Wb, forces[pth]);
                        for (int j = 0; j < 3; j++) {
                            for (size_t i = 0; i < pn; i++) Pc[i] = j == 0 ? P[i] : j == 1 ? P[i] + P2[i] : P[i] - P2[i];
                            for (size_t i = 0; i < (size_t)M * lda; i++) As[i] = j == 1 && packs ? A[i] - A2[i] : A[i];
                            memcpy(Cr, Ci, sizeof(float) * M * ldc);
                            gemm_job r = {As, lda, M, K, Pc, 64, N, Cr, ldc, cb, acc, kc, 1, 1, NULL, ps, strips, NULL, NULL, 0, NULL, 0};
                            conv_gemm_isa(&r, CONV_FORCE_GENERIC);
                            snprintf(name, sizeof name, "gemm batch job %d, %dx%dx%d kc %d%s, B in %s, %d threads %s", j, M, K, N, kc,
                                     acc ? " +acc" : "", strips ? "strips" : "panels", wts[ti],
                                     pth == 2 ? conv_isa_name() : pth == 0 ? "generic" : "avx2 or less");
                            check(name, rc == 0 ? 0.0 : INFINITY, 0);
                            check_same(name, Cr, Cb[j], (size_t)M * ldc);
                        }
                    }
                if (Wb) { /* shapes that differ: refused */
                    gemm_job jb[2] = {{A, lda, M, K, P, 64, N, C1, ldc, cb, acc, kc, 1, 1, NULL, ps, strips, NULL, NULL, 0, NULL, 0},
                                      {A, lda, M, K, P, 64, N > 1 ? N - 1 : N + 1, C1, ldc, cb, acc, kc, 1, 1, NULL, ps, strips, NULL, NULL, 0, NULL, 0}};
                    check("gemm batch of two shapes refused", conv_gemm_batch(jb, 2, Wb) == -1 ? 0.0 : INFINITY, 0);
                }
                free(Cb[0]), free(Cb[1]), free(Cb[2]), free(Wb);
                /* b2 needs its room and panels: an error */
                gemm_job bad = {A, lda, M, K, P, 64, N, C1, ldc, cb, acc, kc, 1, 1, NULL, ps, strips, NULL, P2, 1, NULL, 0};
                check("gemm b2 without work refused", conv_gemm(&bad) == -1 ? 0.0 : INFINITY, 0);
            }
            free(A2), free(As);
            free(P2), free(Pc), free(Cr);
            free(W);
            free(P);
        }
        free(Ci), free(Cg);
        free(A), free(B), free(cb), free(C0), free(C1);
    }
    { /* a batch of more panels than the turned form's flags on the stack (3 x 180):
         each job's own bits at 3 and 8 threads */
        const int M = 7, K = 9, N = 64 * 180, jobs = 3;
        const size_t ps = (size_t)K * 64, pn = (size_t)N / 64 * ps;
        float *A = malloc(sizeof(float) * M * K), *P = conv_alloc(pn), *P2 = conv_alloc(pn), *Pc = conv_alloc(pn);
        float *C = malloc(sizeof(float) * jobs * M * N), *R = malloc(sizeof(float) * M * N), *W = conv_alloc(gemm_batch_work_floats(M, K, jobs, 8));
        if (!A || !P || !P2 || !Pc || !C || !R || !W) check("wide batch room", INFINITY, 0);
        else {
            sbv2_rng_normal(&rng, A, (size_t)M * K), sbv2_rng_normal(&rng, P, pn), sbv2_rng_normal(&rng, P2, pn);
            const int nts[2] = {3, 8}, forces[2] = {CONV_FORCE_AVX2, CONV_FORCE_NONE};
            for (int ti = 0; ti < 2; ti++)
                for (int pth = 0; pth < 2; pth++) {
                    gemm_job jb[3];
                    for (int j = 0; j < jobs; j++)
                        jb[j] = (gemm_job){A, (size_t)K, M, K, P, 64, N, C + (size_t)j * M * N, (size_t)N, NULL, 0, 0, 1, nts[ti], NULL, ps, 1,
                                           NULL, j ? P2 : NULL, j == 1 ? 1 : -1, NULL, 0};
                    const int rc = conv_gemm_batch_isa(jb, jobs, W, forces[pth]);
                    for (int j = 0; j < jobs; j++) {
                        for (size_t i = 0; i < pn; i++) Pc[i] = j == 0 ? P[i] : j == 1 ? P[i] + P2[i] : P[i] - P2[i];
                        gemm_job r = {A, (size_t)K, M, K, Pc, 64, N, R, (size_t)N, NULL, 0, 0, 1, 1, NULL, ps, 1, NULL, NULL, 0, NULL, 0};
                        conv_gemm_isa(&r, CONV_FORCE_GENERIC);
                        snprintf(name, sizeof name, "gemm batch of %d panels, job %d, %d threads %s", jobs * N / 64, j, nts[ti],
                                 pth ? conv_isa_name() : "avx2 or less");
                        check(name, rc == 0 ? 0.0 : INFINITY, 0);
                        check_same(name, R, C + (size_t)j * M * N, (size_t)M * N);
                    }
                }
        }
        free(A), free(P), free(P2), free(Pc), free(C), free(R), free(W);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
