/* Dense float32 kernels on channel-major [C][T] activations (batch 1). */
#ifndef SBV2_OPS_H
#define SBV2_OPS_H

#include <stddef.h>

struct scratch;

/* Conv1d weights as PyTorch stores them: w[cout][cin][k], optional bias. */
typedef struct conv1d_t {
    const float *w, *b;
    int cout, cin, k;
    const float *packed; /* conv_pack()ed w for the fast kernel, or NULL */
    const char *wn_key;  /* weight-norm prefix when the folded w was dropped after packing */
} conv1d_t;

typedef struct layernorm_t {
    const float *gamma, *beta;
    int c;
    float eps; /* 0 = 1e-5 (torch's default) */
} layernorm_t;

/* y[cout][tout] = conv(x[cin][tin]) with stride 1, dilation `dil`, `pad_l`
 * zeros on the left (and as many on the right as tout needs). */
int op_conv1d(const conv1d_t *c, const float *x, int tin, int dil, int pad_l, float *y, int tout, int nt);
/* Same, with a leaky ReLU (slope) applied to x first and `res` ([cout][tout],
 * may alias y) added to the result, fused into the packed kernel. */
int op_conv1d_fused(const conv1d_t *c, const float *x, int tin, int dil, int pad_l, float slope, const float *res,
                    float *y, int tout, int nt, struct scratch *ws);
/* Depthwise (groups = channels) version: w[c][1][k]. */
void op_conv1d_depthwise(const conv1d_t *c, const float *x, int t, int dil, int pad_l, float *y);
/* LayerNorm over channels for every time step (eps from ln, 1e-5 if 0), in place. */
void op_layernorm(const layernorm_t *ln, float *x, int t);

void op_leaky_relu(float *x, size_t n, float slope);
void op_relu(float *x, size_t n);
void op_gelu(float *x, size_t n);            /* exact (erf) GELU, as torch's default */
void op_mul_mask(float *x, int c, int t, const float *mask); /* x[c][t] *= mask[t] */
void op_add(float *y, const float *x, size_t n); /* y += x */
void op_add_par(float *y, const float *x, size_t n, int nt); /* y += x on nt threads (large n) */

#endif
