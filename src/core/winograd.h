/* Winograd F(3,3) "same" Conv1d for the decoder's resblocks (see winograd.c). */
#ifndef SBV2_WINOGRAD_H
#define SBV2_WINOGRAD_H

#include <stddef.h>

struct scratch;

typedef struct wino_conv {
    int cout, cin, k, pieces, ok;
    const float *bias;
    float *packed[5]; /* per transform point: conv_pack()ed [cout][cin][pieces] */
} wino_conv;

size_t wino_packed_size(int cout, int cin, int k);
/* w: [cout][cin][k] (PyTorch layout); packed: wino_packed_size() floats. */
void wino_prepare(wino_conv *wc, const float *w, const float *bias, int cout, int cin, int k, float *packed);
/* y[co][t] = bias + res + sum conv(lrelu(x, slope)), stride 1, dilation dil,
 * zero padding (k-1)*dil/2 on both sides, T outputs. y may alias res. */
int wino_run(const wino_conv *wc, const float *x, int T, int dil, float slope, const float *res, float *y, int nt,
             struct scratch *ws);

#endif
