/* TransformerCouplingBlock in reverse: for each coupling layer from the last,
 * Flip the channels, then x1 <- (x1 - m(x0)) * mask (mean-only coupling). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/layers.h"

static void flip_channels(float *z, int C, int T) {
    for (int a = 0, b = C - 1; a < b; a++, b--)
        for (int t = 0; t < T; t++) {
            float v = z[(size_t)a * T + t];
            z[(size_t)a * T + t] = z[(size_t)b * T + t];
            z[(size_t)b * T + t] = v;
        }
}

int flow_reverse(run_ctx *r, const struct sbv2_model *m, float *z, int T, const float *mask, const float *g) {
    const int I = m->hp.inter_channels, half = I / 2, H = m->hp.hidden_channels;
    float *h = malloc(sizeof(float) * ((size_t)H * T + (size_t)half * T));
    if (!h) return SBV2_ERR_NO_MEMORY;
    float *stats = h + (size_t)H * T;
    int rc = SBV2_OK;
    for (int k = 0; k < m->hp.n_flows; k++) {
        const coupling_t *f = &m->flow[m->hp.n_flows - 1 - k];
        flip_channels(z, I, T);
        op_conv1d(&f->pre, z, T, 1, 0, h, T, r->nt);
        op_mul_mask(h, H, T, mask);
        if ((rc = encoder_forward(r, &f->enc, h, T, mask, g, NULL)) != SBV2_OK) break;
        op_conv1d(&f->post, h, T, 1, 0, stats, T, r->nt);
        op_mul_mask(stats, half, T, mask);
        float *x1 = z + (size_t)half * T;
        for (int c = 0; c < half; c++)
            for (int t = 0; t < T; t++)
                x1[(size_t)c * T + t] = (x1[(size_t)c * T + t] - stats[(size_t)c * T + t]) * mask[t];
        char name[32];
        snprintf(name, sizeof name, "flow_rev%d", k);
        run_dump(r, name, z, 2, I, T, 0);
    }
    free(h);
    return rc;
}
