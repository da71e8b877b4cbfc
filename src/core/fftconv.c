/* "Same" dilated Conv1d by overlap-save FFT, for the decoder's long resblock
 * kernels (7 and 11 taps), where it needs far fewer products than direct or
 * Winograd F(3,3) filtering: per output and channel pair 62/(33-K) real
 * multiplications (2.4 for K=7, 2.8 for K=11) against K direct and
 * 5*ceil(K/3)/3 Winograd ones.
 *
 * As in winograd.c, dilation d splits the input into d undilated residue
 * sequences s_r[j] = xa[j*d + r] (xa: activated, zero-padded input). A tile
 * of m = 33-K outputs reads 32 consecutive s_r values; with h[j] = w[K-1-j]
 * the circular convolution of h and the tile holds output q = i-(K-1) at
 * i = K-1..31. So per tile: forward real FFT of every input channel, per
 * frequency bin f a channel-mixing product Y_f = H_f X_f, inverse FFT of
 * every output channel.
 *
 * The per-bin products run on the packed conv kernel as 1x1 convolutions:
 * bins 0 and 16 are real; for a complex bin the input rows are
 *   z  = [Re X(n0), Im X(n0), Re X(n1), Im X(n1), ...]   (cin rows)
 *   z' = [-Im X(n0), Re X(n0), -Im X(n1), Re X(n1), ...] (cin rows)
 * and the weights [Re H | Im H], so column 2n gets Re(HX) and 2n+1 Im(HX):
 * 4 products per complex pair and each weight stored once (32 floats per
 * channel pair and kernel). 1/32 of the inverse transform is folded into H.
 *
 * Work is cut into chunks of tiles that one thread runs start to finish
 * (transform, 17 products, inverse), so its buffers stay in cache. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/conv.h"
#include "core/fftconv.h"
#include "core/isa.h"



#define N FFTC_N
#define NB FFTC_BINS

/* cos and sin of 2*pi*k/32 */
static const float COS32[16] = {1.000000000f,  0.980785280f,  0.923879533f,  0.831469612f, 0.707106781f,  0.555570233f,
                                0.382683432f,  0.195090322f,  0.000000000f,  -0.195090322f, -0.382683432f, -0.555570233f,
                                -0.707106781f, -0.831469612f, -0.923879533f, -0.980785280f};
static const float SIN32[16] = {0.000000000f, 0.195090322f, 0.382683432f, 0.555570233f, 0.707106781f, 0.831469612f,
                                0.923879533f, 0.980785280f, 1.000000000f, 0.980785280f, 0.923879533f, 0.831469612f,
                                0.707106781f, 0.555570233f, 0.382683432f, 0.195090322f};
/* 5-bit bit reversal: the radix-2 transform reads its input in this order */
static const unsigned char REV5[32] = {0, 16, 8, 24, 4, 20, 12, 28, 2, 18, 10, 26, 6, 22, 14, 30,
                                       1, 17, 9, 25, 5, 21, 13, 29, 3, 19, 11, 27, 7, 23, 15, 31};

int fftc_supported(int k) { return k >= 5 && k <= 17 && k % 2 == 1; }

size_t fftc_packed_size(int cout, int cin, int k) {
    (void)k;
    return 2 * conv_packed_size(cout, cin, 1) + (NB - 2) * conv_packed_size(cout, 2 * cin, 1);
}

void fftc_prepare(fft_conv *fc, const float *w, const float *bias, int cout, int cin, int k, float *packed) {
    fc->cout = cout, fc->cin = cin, fc->k = k, fc->bias = bias, fc->ok = 0;
    const size_t pair = (size_t)cout * cin;
    float *tmp = malloc(sizeof(float) * pair * 2 * NB);
    if (!tmp) return;
    float *re = tmp, *im = tmp + pair * NB; /* [bin][co][ci] */
    for (size_t i = 0; i < pair; i++) {
        for (int f = 0; f < NB; f++) {
            double sr = 0.0, si = 0.0;
            for (int j = 0; j < k; j++) { /* h[j] = w[k-1-j]; H_f = sum h[j] e^{-2 pi i f j / N} / N */
                const int a = (f * j) % N;
                const double h = w[i * k + (k - 1 - j)];
                sr += h * (a < 16 ? COS32[a] : -COS32[a - 16]);
                si -= h * (a < 16 ? SIN32[a] : -SIN32[a - 16]);
            }
            re[f * pair + i] = (float)(sr / N), im[f * pair + i] = (float)(si / N);
        }
    }
    float *p = packed;
    for (int f = 0; f < NB; f++) {
        fc->packed[f] = p;
        if (f == 0 || f == NB - 1) {
            conv_pack(re + f * pair, cout, cin, 1, p);
            p += conv_packed_size(cout, cin, 1);
        } else {
            /* [Re H | Im H] rows; im is free to reuse as the staging row */
            float *m = malloc(sizeof(float) * pair * 2);
            if (!m) { free(tmp); return; }
            for (int co = 0; co < cout; co++) {
                memcpy(m + (size_t)co * 2 * cin, re + f * pair + (size_t)co * cin, sizeof(float) * cin);
                memcpy(m + (size_t)co * 2 * cin + cin, im + f * pair + (size_t)co * cin, sizeof(float) * cin);
            }
            conv_pack(m, cout, 2 * cin, 1, p);
            free(m);
            p += conv_packed_size(cout, 2 * cin, 1);
        }
    }
    free(tmp);
    fc->ok = 1;
}

/* In-place radix-2 FFT of 32 points in `cnt` lanes: point j of lane n is
 * re[j*ld + n], im[j*ld + n]; input in bit-reversed order, output natural.
 * sign -1: forward, +1: inverse (unscaled). Lanes are the SIMD dimension. */
SBV2_BODY void fft32_lanes_body(float *re, float *im, size_t ld, int cnt, float sign, int first_len) {
    if (first_len == 2) {
        /* stages 1 and 2 (twiddles 1 and -sign*i) fused, without multiplications */
        for (int g = 0; g < N; g += 4) {
            float *restrict r0 = re + (size_t)g * ld, *restrict r1 = r0 + ld, *restrict r2 = r1 + ld, *restrict r3 = r2 + ld;
            float *restrict i0 = im + (size_t)g * ld, *restrict i1 = i0 + ld, *restrict i2 = i1 + ld, *restrict i3 = i2 + ld;
            _Pragma("GCC ivdep") for (int n = 0; n < cnt; n++) {
                const float ar = r0[n] + r1[n], ai = i0[n] + i1[n], br = r0[n] - r1[n], bi = i0[n] - i1[n];
                const float cr = r2[n] + r3[n], ci = i2[n] + i3[n], dr = r2[n] - r3[n], di = i2[n] - i3[n];
                /* t = w d with w = cos(pi/2) + sign*i*sin(pi/2) = sign*i: (-sign*di, sign*dr) */
                const float tr = -sign * di, ti = sign * dr;
                r0[n] = ar + cr, i0[n] = ai + ci, r2[n] = ar - cr, i2[n] = ai - ci;
                r1[n] = br + tr, i1[n] = bi + ti, r3[n] = br - tr, i3[n] = bi - ti;
            }
        }
        first_len = 8;
    }
    for (int len = first_len; len <= N; len <<= 1) {
        const int half = len >> 1, step = N / len;
        for (int kk = 0; kk < half; kk++) {
            const float wr = COS32[kk * step], wi = sign * SIN32[kk * step];
            for (int g = 0; g < N; g += len) {
                float *restrict ar = re + (size_t)(g + kk) * ld, *restrict ai = im + (size_t)(g + kk) * ld;
                float *restrict br = re + (size_t)(g + kk + half) * ld, *restrict bi = im + (size_t)(g + kk + half) * ld;
                if (kk == 0) {
                    _Pragma("GCC ivdep") for (int n = 0; n < cnt; n++) {
                        const float tr = br[n], ti = bi[n];
                        br[n] = ar[n] - tr, bi[n] = ai[n] - ti;
                        ar[n] += tr, ai[n] += ti;
                    }
                    continue;
                }
                _Pragma("GCC ivdep") for (int n = 0; n < cnt; n++) {
                    const float tr = wr * br[n] - wi * bi[n], ti = wr * bi[n] + wi * br[n];
                    br[n] = ar[n] - tr, bi[n] = ai[n] - ti;
                    ar[n] += tr, ai[n] += ti;
                }
            }
        }
    }
}

/* One input channel's tiles into the transform rows: lane n reads the 32
 * inputs a[off[n] + j*d]. */
SBV2_BODY void forward_tiles_body(const float *restrict a, const size_t *restrict off, int d, int cnt,
                                      float *restrict re, float *restrict im, size_t ld) {
    /* the first two radix-2 stages of real input need no multiplications:
       rows g..g+3 (bit-reversed inputs x0..x3) become
       (x0+x1+x2+x3, 0), (x0-x1, x3-x2), (x0+x1-x2-x3, 0), (x0-x1, x2-x3) */
    for (int g = 0; g < N; g += 4) {
        const float *s0 = a + (size_t)REV5[g] * d, *s1 = a + (size_t)REV5[g + 1] * d;
        const float *s2 = a + (size_t)REV5[g + 2] * d, *s3 = a + (size_t)REV5[g + 3] * d;
        float *restrict r0 = re + (size_t)g * ld, *restrict r1 = r0 + ld, *restrict r2 = r1 + ld, *restrict r3 = r2 + ld;
        float *restrict i0 = im + (size_t)g * ld, *restrict i1 = i0 + ld, *restrict i2 = i1 + ld, *restrict i3 = i2 + ld;
        _Pragma("GCC ivdep") for (int n = 0; n < cnt; n++) {
            const size_t o = off[n];
            const float x0 = s0[o], x1 = s1[o], x2 = s2[o], x3 = s3[o];
            const float u0 = x0 + x1, u1 = x0 - x1, u2 = x2 + x3, u3 = x2 - x3;
            r0[n] = u0 + u2, i0[n] = 0.0f;
            r1[n] = u1, i1[n] = -u3;
            r2[n] = u0 - u2, i2[n] = 0.0f;
            r3[n] = u1, i3[n] = u3;
        }
    }
    fft32_lanes_body(re, im, ld, cnt, -1.0f, 8);
}
SBV2_MULTIVERSION(forward_tiles, (const float *restrict a, const size_t *restrict off, int d, int cnt, float *restrict re, float *restrict im, size_t ld), (a, off, d, cnt, re, im, ld))

/* Bins of one channel into the product inputs: plane f row ci (z) and row
 * cin + ci (z'), see the top of the file. */
SBV2_BODY void spread_bins_body(const float *restrict re, const float *restrict im, size_t ld, int cnt, float *const *b,
                                    const size_t *ldb, int ci, int cin) {
    memcpy(b[0] + (size_t)ci * ldb[0], re, sizeof(float) * cnt);
    memcpy(b[NB - 1] + (size_t)ci * ldb[NB - 1], re + (size_t)(NB - 1) * ld, sizeof(float) * cnt);
    for (int f = 1; f < NB - 1; f++) {
        const float *restrict r = re + (size_t)f * ld, *restrict i = im + (size_t)f * ld;
        float *restrict z = b[f] + (size_t)ci * ldb[f], *restrict zp = b[f] + (size_t)(cin + ci) * ldb[f];
        _Pragma("GCC ivdep") for (int n = 0; n < cnt; n++) {
            z[2 * n] = r[n], z[2 * n + 1] = i[n];
            zp[2 * n] = -i[n], zp[2 * n + 1] = r[n];
        }
    }
}
SBV2_MULTIVERSION(spread_bins, (const float *restrict re, const float *restrict im, size_t ld, int cnt, float *const *b, const size_t *ldb, int ci, int cin), (re, im, ld, cnt, b, ldb, ci, cin))

/* One output channel: its bins (hermitian) back to 32 real points per tile. */
SBV2_BODY void inverse_tiles_body(float *const *mb, const size_t *ldm, int co, int cnt, float *restrict re,
                                      float *restrict im, size_t ld) {
    const float *m0 = mb[0] + (size_t)co * ldm[0], *m16 = mb[NB - 1] + (size_t)co * ldm[NB - 1];
    memcpy(re + (size_t)REV5[0] * ld, m0, sizeof(float) * cnt);
    memset(im + (size_t)REV5[0] * ld, 0, sizeof(float) * cnt);
    memcpy(re + (size_t)REV5[16] * ld, m16, sizeof(float) * cnt);
    memset(im + (size_t)REV5[16] * ld, 0, sizeof(float) * cnt);
    for (int f = 1; f < NB - 1; f++) {
        const float *restrict m = mb[f] + (size_t)co * ldm[f];
        float *restrict r1 = re + (size_t)REV5[f] * ld, *restrict i1 = im + (size_t)REV5[f] * ld;
        float *restrict r2 = re + (size_t)REV5[N - f] * ld, *restrict i2 = im + (size_t)REV5[N - f] * ld;
        _Pragma("GCC ivdep") for (int n = 0; n < cnt; n++) {
            r1[n] = r2[n] = m[2 * n];
            i1[n] = m[2 * n + 1], i2[n] = -m[2 * n + 1];
        }
    }
    fft32_lanes_body(re, im, ld, cnt, 1.0f, 2);
}
SBV2_MULTIVERSION(inverse_tiles, (float *const *mb, const size_t *ldm, int co, int cnt, float *restrict re, float *restrict im, size_t ld), (mb, ldm, co, cnt, re, im, ld))

/* A tile of the flat list: residue r, first output q0 (in residue steps),
 * outputs that exist (m, or fewer at the residue's end). */
typedef struct { int r, q0, n_out; } ftile;

/* Lane n's outputs from transform rows K-1..: y[(q0 + i)*d + r] = v + b
 * (+ res), tile by tile so stores run along y. */
static void store_tiles(const float *fr, size_t ld, int K, const ftile *tl, int cnt, int d, float b, const float *res,
                        float *y) {
    for (int n = 0; n < cnt; n++) {
        const float *src = fr + (size_t)(K - 1) * ld + n;
        const size_t t0 = (size_t)tl[n].q0 * d + tl[n].r;
        const int no = tl[n].n_out;
        float *yo = y + t0;
        const float *ro = res ? res + t0 : NULL;
        if (d == 1 && ro)
            for (int i = 0; i < no; i++) yo[i] = src[(size_t)i * ld] + b + ro[i];
        else if (d == 1)
            for (int i = 0; i < no; i++) yo[i] = src[(size_t)i * ld] + b;
        else
            for (int i = 0; i < no; i++) yo[(size_t)i * d] = src[(size_t)i * ld] + b + (ro ? ro[(size_t)i * d] : 0.0f);
    }
}

int fftc_run(const fft_conv *fc, const float *x, int T, int dil, float slope, const float *res, float *y, int nt,
             scratch *ws) {
    const int C = fc->cin, CO = fc->cout, K = fc->k, m = N + 1 - K;
    const int pad_l = (K - 1) * dil / 2, nth = nt > 0 ? nt : 1;
    const isa_t isa = isa_active();
    if (T <= 0) return 0;
    /* one flat list of the tiles of every residue, cut into equal chunks (a few
       MB of bin planes per thread); the products run on whole 64-column
       kernel tiles, i.e. 32 transform tiles, so chunks are multiples of 32 */
    int total = 0;
    for (int r = 0; r < dil && r < T; r++) total += ((T - r + dil - 1) / dil + m - 1) / m;
    int tc = (1 << 19) / (62 * C);
    tc = tc < 32 ? 32 : tc > 512 ? 512 : tc & ~31;
    int nchunk = (total + tc - 1) / tc;
    if (nchunk < 2 * nth && total > 32 * nth) nchunk = 2 * nth; /* something for every thread */
    const int csz = ((total + nchunk - 1) / nchunk + 31) & ~31;
    nchunk = (total + csz - 1) / csz;
    const int cnt_max = csz;
    ftile *tiles = malloc(sizeof(ftile) * (size_t)(total + cnt_max));
    size_t *offs = malloc(sizeof(size_t) * (size_t)(total + cnt_max));
    /* activated, zero-padded input rows; padding lanes read the zero tail */
    const size_t lda = (size_t)pad_l + T + (size_t)(N + m) * dil + 64;
    float *a = scratch_get(ws, SCR_CONV_IN, (size_t)C * lda);
    /* per thread: 64 transform rows, bin planes (inputs), bin planes (products);
       transform rows padded off multiples of 4 KiB (no store-to-load aliasing
       between the re and im rows) */
    const size_t ldf = (size_t)cnt_max + 16, ldb0 = (size_t)cnt_max + 64, ldb1 = 2 * (size_t)cnt_max;
    const size_t nb_in = 2 * (size_t)C * ldb0 + (NB - 2) * 2 * (size_t)C * ldb1;
    const size_t nb_out = 2 * (size_t)CO * cnt_max + (NB - 2) * (size_t)CO * ldb1;
    const size_t per_thread = 2 * N * ldf + 16 + nb_in + nb_out;
    float *work = scratch_get(ws, SCR_FFT_WORK, per_thread * nth);
    if (!tiles || !offs || !a || !work) {
        free(tiles), free(offs);
        if (!ws) free(a), free(work);
        return -1;
    }
    int g = 0;
    for (int r = 0; r < dil && r < T; r++) {
        const int q = (T - r + dil - 1) / dil;
        for (int q0 = 0; q0 < q; q0 += m, g++) {
            tiles[g] = (ftile){r, q0, q - q0 < m ? q - q0 : m};
            offs[g] = (size_t)q0 * dil + r;
        }
    }
    for (; g < total + cnt_max; g++) tiles[g] = (ftile){0, 0, 0}, offs[g] = (size_t)pad_l + T; /* zeros */
#pragma omp parallel num_threads(nth) if ((long)C * T > 20000)
    {
#pragma omp for schedule(static)
        for (int ci = 0; ci < C; ci++) {
            conv_pad_activate_row(isa, x + (size_t)ci * T, T, slope, pad_l, lda, a + (size_t)ci * lda);
        }
        float *wb = conv_thread_slice(work, per_thread);
        float *fre = wb, *fim = wb + N * ldf + 16;
        float *bin[NB], *mout[NB];
        size_t ldb[NB], ldm[NB];
        float *p = wb + 2 * N * ldf + 16, *q = p + nb_in;
        for (int f = 0; f < NB; f++) {
            const int real = f == 0 || f == NB - 1;
            ldb[f] = real ? ldb0 : ldb1;
            ldm[f] = real ? (size_t)cnt_max : ldb1;
            bin[f] = p, p += (real ? 1 : 2) * (size_t)C * ldb[f];
            mout[f] = q, q += (size_t)CO * ldm[f];
        }
#pragma omp for schedule(dynamic, 1)
        for (int ic = 0; ic < nchunk; ic++) {
            const int g0 = ic * csz, cnt = csz; /* lanes past the list read zeros, store nothing */
            for (int ci = 0; ci < C; ci++) {
                forward_tiles(isa, a + (size_t)ci * lda, offs + g0, dil, cnt, fre, fim, ldf);
                spread_bins(isa, fre, fim, ldf, cnt, bin, ldb, ci, C);
            }
            for (int f = 0; f < NB; f++) {
                const int real = f == 0 || f == NB - 1;
                const int cols = real ? cnt : 2 * cnt;
                if (real && cols % 64)
                    for (int ci = 0; ci < C; ci++) memset(bin[f] + (size_t)ci * ldb[f] + cols, 0, sizeof(float) * 64);
                conv_job j = {fc->packed[f], NULL, CO, real ? C : 2 * C, 1, 1, 0, bin[f], cols, CONV_ACT_NONE, 0.0f, NULL, NULL,
                              mout[f], cols, 1, 0, NULL, ldb[f]};
                ldm[f] = (size_t)cols; /* products are stored at stride cols */
                conv_run(&j);
            }
            for (int co = 0; co < CO; co++) {
                inverse_tiles(isa, mout, ldm, co, cnt, fre, fim, ldf);
                store_tiles(fre, ldf, K, tiles + g0, cnt, dil, fc->bias ? fc->bias[co] : 0.0f,
                            res ? res + (size_t)co * T : NULL, y + (size_t)co * T);
            }
        }
    }
    free(tiles), free(offs);
    if (!ws) free(a), free(work);
    return 0;
}
