#include "core/ops.h"
#include "core/conv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Adds w * x[t + off] to y[t] for every t in [0, tout) whose source index is
 * inside [0, tin): the zero padding is never materialised. */
static inline void axpy_shift(float *restrict y, const float *restrict x, float w, int tin, int tout, int off) {
    int t0 = off < 0 ? -off : 0;
    int t1 = tin - off;
    if (t1 > tout) t1 = tout;
    for (int t = t0; t < t1; t++) y[t] += w * x[t + off];
}

int op_conv1d(const conv1d_t *c, const float *x, int tin, int dil, int pad_l, float *y, int tout, int nt) {
    if (c->packed) {
        conv_job j = {c->packed, c->b, c->cout, c->cin, c->k, dil, pad_l, x, tin, CONV_ACT_NONE, 0.0f, NULL, NULL, y, tout, nt, 0, NULL, 0};
        return conv_run(&j);
    }
    const int cin = c->cin, k = c->k;
    (void)nt;
#pragma omp parallel for num_threads(nt > 0 ? nt : 1) schedule(static) if ((long)c->cout * cin * k * tout > 200000)
    for (int co = 0; co < c->cout; co++) {
        float *yo = y + (size_t)co * tout;
        float bias = c->b ? c->b[co] : 0.0f;
        for (int t = 0; t < tout; t++) yo[t] = bias;
        const float *wo = c->w + (size_t)co * cin * k;
        for (int ci = 0; ci < cin; ci++) {
            const float *xi = x + (size_t)ci * tin;
            for (int kk = 0; kk < k; kk++) axpy_shift(yo, xi, wo[ci * k + kk], tin, tout, kk * dil - pad_l);
        }
    }
    return 0;
}

int op_conv1d_fused(const conv1d_t *c, const float *x, int tin, int dil, int pad_l, float slope, const float *res,
                    float *y, int tout, int nt, scratch *ws) {
    if (c->packed) {
        conv_job j = {c->packed, c->b, c->cout, c->cin, c->k, dil, pad_l, x, tin, CONV_ACT_LEAKY, slope, NULL, res, y, tout, nt, 0, ws, 0};
        return conv_run(&j);
    }
    /* unpacked fallback: explicit steps */
    float *a = malloc(sizeof(float) * (size_t)c->cin * (size_t)tin), *o = malloc(sizeof(float) * (size_t)c->cout * (size_t)tout);
    if (!a || !o) { free(a); free(o); return -1; }
    memcpy(a, x, sizeof(float) * (size_t)c->cin * (size_t)tin);
    op_leaky_relu(a, (size_t)c->cin * (size_t)tin, slope);
    op_conv1d(c, a, tin, dil, pad_l, o, tout, nt);
    for (size_t i = 0; i < (size_t)c->cout * (size_t)tout; i++) y[i] = o[i] + (res ? res[i] : 0.0f);
    free(a);
    free(o);
    return 0;
}

void op_conv1d_depthwise(const conv1d_t *c, const float *x, int t, int dil, int pad_l, float *y) {
    for (int ch = 0; ch < c->cout; ch++) {
        float *yo = y + (size_t)ch * t;
        float bias = c->b ? c->b[ch] : 0.0f;
        for (int i = 0; i < t; i++) yo[i] = bias;
        for (int kk = 0; kk < c->k; kk++)
            axpy_shift(yo, x + (size_t)ch * t, c->w[ch * c->k + kk], t, t, kk * dil - pad_l);
    }
}

void op_layernorm(const layernorm_t *ln, float *x, int t) {
    const int c = ln->c;
    for (int i = 0; i < t; i++) {
        double mean = 0, var = 0;
        for (int ch = 0; ch < c; ch++) mean += x[(size_t)ch * t + i];
        mean /= c;
        for (int ch = 0; ch < c; ch++) {
            double d = x[(size_t)ch * t + i] - mean;
            var += d * d;
        }
        var /= c;
        float inv = (float)(1.0 / sqrt(var + (ln->eps > 0 ? ln->eps : 1e-5)));
        float m = (float)mean;
        for (int ch = 0; ch < c; ch++) {
            float *v = &x[(size_t)ch * t + i];
            *v = (*v - m) * inv * ln->gamma[ch] + ln->beta[ch];
        }
    }
}

void op_leaky_relu(float *x, size_t n, float slope) {
    for (size_t i = 0; i < n; i++) x[i] = lrelu_f(x[i], slope);
}

void op_relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0.0f;
}

void op_gelu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void op_mul_mask(float *x, int c, int t, const float *mask) {
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < t; i++) x[(size_t)ch * t + i] *= mask[i];
}

void op_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void op_add_par(float *y, const float *x, size_t n, int nt) {
    (void)nt;
#pragma omp parallel for num_threads(nt > 0 ? nt : 1) schedule(static) if (nt > 1 && n > 100000)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}
