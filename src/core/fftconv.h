/* FFT (overlap-save) "same" Conv1d for the decoder's long resblock kernels
 * (see fftconv.c). Same contract as wino_run(). */
#ifndef SBV2_FFTCONV_H
#define SBV2_FFTCONV_H

#include <stddef.h>

struct scratch;

#define FFTC_N 32            /* transform length per tile */
#define FFTC_BINS 17         /* bins of a real 32-point transform */

typedef struct fft_conv {
    int cout, cin, k, ok;
    const float *bias;
    /* per bin, conv_pack()ed with k = 1: bins 0 and 16 (real) [cout][cin];
       bins 1..15 [cout][2*cin] = [Re H | Im H] (see fftconv.c) */
    float *packed[FFTC_BINS];
} fft_conv;

/* Kernels the FFT path takes: odd, 5..17 taps (>= 16 outputs per tile). */
int fftc_supported(int k);
size_t fftc_packed_size(int cout, int cin, int k);
/* w: [cout][cin][k] (PyTorch layout); packed: fftc_packed_size() floats. */
void fftc_prepare(fft_conv *fc, const float *w, const float *bias, int cout, int cin, int k, float *packed);
/* y[co][t] = bias + res + sum conv(lrelu(x, slope)), stride 1, dilation dil,
 * zero padding (k-1)*dil/2 on both sides, T outputs. y may alias res and x.
 * 0 on success, -1 when out of memory. */
int fftc_run(const fft_conv *fc, const float *x, int T, int dil, float slope, const float *res, float *y, int nt,
             struct scratch *ws);

#endif
