/* Duration predictors: the deterministic DurationPredictor and the reverse
 * (sampling) path of the StochasticDurationPredictor. */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/layers.h"

int dp_forward(run_ctx *r, const struct sbv2_model *m, const float *x, int L, const float *mask, const float *g,
               float *logw) {
    const dp_t *dp = &m->dp;
    const int H = m->hp.hidden_channels, F = dp->conv1.cout, K = dp->conv1.k;
    float *buf = malloc(sizeof(float) * ((size_t)H * L + 2 * (size_t)F * L + (size_t)H));
    if (!buf) return SBV2_ERR_NO_MEMORY;
    float *xi = buf, *h1 = xi + (size_t)H * L, *h2 = h1 + (size_t)F * L, *gc = h2 + (size_t)F * L;
    op_conv1d(&dp->cond, g, 1, 1, 0, gc, 1, 1);
    for (int c = 0; c < H; c++)
        for (int t = 0; t < L; t++) xi[(size_t)c * L + t] = (x[(size_t)c * L + t] + gc[c]) * mask[t];
    op_conv1d(&dp->conv1, xi, L, 1, (K - 1) / 2, h1, L, r->nt);
    op_relu(h1, (size_t)F * L);
    op_layernorm(&dp->ln1, h1, L);
    op_mul_mask(h1, F, L, mask);
    op_conv1d(&dp->conv2, h1, L, 1, (K - 1) / 2, h2, L, r->nt);
    op_relu(h2, (size_t)F * L);
    op_layernorm(&dp->ln2, h2, L);
    op_mul_mask(h2, F, L, mask);
    op_conv1d(&dp->proj, h2, L, 1, 0, logw, L, r->nt);
    op_mul_mask(logw, 1, L, mask);
    free(buf);
    return SBV2_OK;
}

/* DDSConv: dilated depth-separable convs (dilation k^i), LN, GELU, 1x1, LN,
 * GELU, residual. g (same shape as x) is added first when given. */
static int dds_forward(run_ctx *r, const dds_t *d, float *x, int C, int L, const float *mask, const float *g) {
    float *y = malloc(sizeof(float) * 2 * (size_t)C * L);
    if (!y) return SBV2_ERR_NO_MEMORY;
    float *xm = y + (size_t)C * L;
    if (g) op_add(x, g, (size_t)C * L);
    int dil = 1;
    for (int i = 0; i < d->n_layers; i++) {
        memcpy(xm, x, sizeof(float) * (size_t)C * L);
        op_mul_mask(xm, C, L, mask);
        op_conv1d_depthwise(&d->sep[i], xm, L, dil, (d->kernel * dil - dil) / 2, y);
        op_layernorm(&d->ln1[i], y, L);
        op_gelu(y, (size_t)C * L);
        op_conv1d(&d->c1x1[i], y, L, 1, 0, xm, L, r->nt);
        op_layernorm(&d->ln2[i], xm, L);
        op_gelu(xm, (size_t)C * L);
        op_add(x, xm, (size_t)C * L);
        dil *= d->kernel;
    }
    op_mul_mask(x, C, L, mask);
    free(y);
    return SBV2_OK;
}

static void flip2(float *z, int L) {
    for (int t = 0; t < L; t++) {
        float a = z[t];
        z[t] = z[L + t];
        z[L + t] = a;
    }
}

/* ConvFlow in reverse: x1 <- spline^-1(x1 | params(x0, g)). */
static int convflow_reverse(run_ctx *r, const convflow_t *cf, float *z, int L, const float *mask, const float *g,
                            int bins, float tail) {
    const int F = cf->filter, P = cf->proj.cout;
    float *h = malloc(sizeof(float) * ((size_t)F * L + (size_t)P * L));
    if (!h) return SBV2_ERR_NO_MEMORY;
    float *p = h + (size_t)F * L;
    op_conv1d(&cf->pre, z, L, 1, 0, h, L, r->nt);
    int rc = dds_forward(r, &cf->dds, h, F, L, mask, g);
    if (rc == SBV2_OK) {
        op_conv1d(&cf->proj, h, L, 1, 0, p, L, r->nt);
        op_mul_mask(p, P, L, mask);
        const float inv = 1.0f / sqrtf((float)F);
        float uw[64], uh[64], ud[64];
        for (int t = 0; t < L; t++) {
            for (int b = 0; b < bins; b++) {
                uw[b] = p[(size_t)b * L + t];
                uh[b] = p[(size_t)(bins + b) * L + t];
            }
            for (int b = 0; b < bins - 1; b++) ud[b] = p[(size_t)(2 * bins + b) * L + t];
            z[L + t] = rq_spline_inverse(z[L + t], uw, uh, ud, bins, tail, inv);
        }
        op_mul_mask(z, 2, L, mask);
    }
    free(h);
    return rc;
}

int sdp_reverse(run_ctx *r, const struct sbv2_model *m, const float *x, int L, const float *mask, const float *g,
                const float *noise, float noise_scale_w, float *logw) {
    const sdp_t *s = &m->sdp;
    const int H = m->hp.hidden_channels;
    float *h = malloc(sizeof(float) * (2 * (size_t)H * L + (size_t)H + 2 * (size_t)L));
    if (!h) return SBV2_ERR_NO_MEMORY;
    float *t1 = h + (size_t)H * L, *gc = t1 + (size_t)H * L, *z = gc + H;
    op_conv1d(&s->pre, x, L, 1, 0, h, L, r->nt);
    op_conv1d(&s->cond, g, 1, 1, 0, gc, 1, 1);
    for (int c = 0; c < H; c++)
        for (int t = 0; t < L; t++) h[(size_t)c * L + t] += gc[c];
    int rc = dds_forward(r, &s->dds, h, H, L, mask, NULL);
    if (rc != SBV2_OK) goto out;
    op_conv1d(&s->proj, h, L, 1, 0, t1, L, r->nt);
    op_mul_mask(t1, H, L, mask);
    for (int i = 0; i < 2 * L; i++) z[i] = noise ? noise[i] * noise_scale_w : 0.0f * noise_scale_w;
    /* reversed flows minus the unused first ConvFlow:
       Flip, CF[n-1], Flip, ..., CF[1], Flip, ElementwiseAffine */
    int step = 0;
    char name[32];
    for (int i = s->n_cf - 1; i >= 1; i--) {
        flip2(z, L);
        snprintf(name, sizeof name, "sdp_step%d", step++);
        run_dump(r, name, z, 2, 2, L, 0);
        if ((rc = convflow_reverse(r, &s->cf[i], z, L, mask, t1, m->hp.sdp_bins, m->hp.sdp_tail)) != SBV2_OK) goto out;
        snprintf(name, sizeof name, "sdp_step%d", step++);
        run_dump(r, name, z, 2, 2, L, 0);
    }
    flip2(z, L);
    snprintf(name, sizeof name, "sdp_step%d", step++);
    run_dump(r, name, z, 2, 2, L, 0);
    for (int c = 0; c < 2; c++) {
        float mm = s->ea_m[c], el = expf(-s->ea_logs[c]);
        for (int t = 0; t < L; t++) z[(size_t)c * L + t] = (z[(size_t)c * L + t] - mm) * el * mask[t];
    }
    snprintf(name, sizeof name, "sdp_step%d", step++);
    run_dump(r, name, z, 2, 2, L, 0);
    memcpy(logw, z, sizeof(float) * (size_t)L);
out:
    free(h);
    return rc;
}
