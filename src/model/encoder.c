/* attentions.Encoder: relative-position multi-head self-attention (window 4,
 * heads sharing one key/value embedding table), LayerNorm, conv FFN. Shared by
 * the text encoder and every transformer coupling layer of the flow. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conv.h"
#include "model/layers.h"

void run_dump(run_ctx *r, const char *name, const float *data, int ndim, int64_t d1, int64_t d2, int64_t d3) {
    if (!r->cb || r->aborted) return;
    sbv2_tensor_view v = {name, 0, ndim + 1, {1, d1, d2, d3}, data};
    if (r->cb(&v, r->ud) != 0) r->aborted = 1;
}

void encoder_free(encoder_t *e) {
    free(e->attn);
    free(e->ln1);
    free(e->ln2);
    free(e->ffn);
}

/* Per-head work memory: scores, q^T, out^T, padded k and v^T. */
static size_t head_floats(int T, int kc) {
    return (size_t)T * T + 2 * (size_t)T * kc + (size_t)kc * (T + 64) + (size_t)T * (kc + 64);
}

/* One head: o_h = softmax(q k^T / sqrt(kc) + rel_k) v + rel_v, written into
 * oh [kc][T]. buf (head_floats) is the head's own, so heads run in parallel. */
static int head_forward(const mha_t *a, const float *qh, const float *kh, const float *vh, int T, const float *mask,
                        float *oh, float *buf, int nt) {
    const int kc = a->q.cout / a->n_heads, W = a->window;
    const float scale = 1.0f / sqrtf((float)kc);
    float *sc = buf, *qt = sc + (size_t)T * T, *ot = qt + (size_t)T * kc;
    float *kp = ot + (size_t)T * kc, *vp = kp + (size_t)kc * (T + 64);
    const size_t ldk = (size_t)T + 64, ldv = (size_t)kc + 64;
    for (int d = 0; d < kc; d++) {
        memcpy(kp + d * ldk, kh + (size_t)d * T, sizeof(float) * (size_t)T);
        memset(kp + d * ldk + T, 0, sizeof(float) * 64);
    }
    for (int j = 0; j < T; j++) {
        for (int d = 0; d < kc; d++) vp[j * ldv + d] = vh[(size_t)d * T + j];
        memset(vp + j * ldv + kc, 0, sizeof(float) * 64);
    }
    /* content scores s[i][j] = (q_i / sqrt(kc)) . k_j */
    for (int i = 0; i < T; i++)
        for (int d = 0; d < kc; d++) qt[(size_t)i * kc + d] = qh[(size_t)d * T + i] * scale;
    if (conv_matmul(qt, T, kc, kp, ldk, T, sc, nt)) return SBV2_ERR_NO_MEMORY;
    for (int i = 0; i < T; i++) {
        float *s = sc + (size_t)i * T;
        /* relative-key scores for |j - i| <= W */
        int j0 = i - W < 0 ? 0 : i - W, j1 = i + W >= T ? T - 1 : i + W;
        for (int j = j0; j <= j1; j++) {
            const float *ek = a->rel_k + (size_t)(j - i + W) * kc;
            float acc = 0.0f;
            for (int d = 0; d < kc; d++) acc += qt[(size_t)i * kc + d] * ek[d];
            s[j] += acc;
        }
        float mx = -INFINITY;
        for (int j = 0; j < T; j++) {
            if (mask[i] * mask[j] == 0.0f) s[j] = -1e4f;
            if (s[j] > mx) mx = s[j];
        }
        float sum = 0.0f;
        for (int j = 0; j < T; j++) {
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < T; j++) s[j] *= inv;
    }
    /* out^T[i][d] = sum_j p[i][j] v[d][j]: p times v^T */
    if (conv_matmul(sc, T, T, vp, ldv, kc, ot, nt)) return SBV2_ERR_NO_MEMORY;
    for (int i = 0; i < T; i++) {
        const float *s = sc + (size_t)i * T;
        int j0 = i - W < 0 ? 0 : i - W, j1 = i + W >= T ? T - 1 : i + W;
        for (int d = 0; d < kc; d++) {
            float acc = ot[(size_t)i * kc + d];
            for (int j = j0; j <= j1; j++) acc += s[j] * a->rel_v[(size_t)(j - i + W) * kc + d];
            oh[(size_t)d * T + i] = acc;
        }
    }
    return SBV2_OK;
}

/* y = conv_o(attention(q, k, v)) for one layer; x [H][T]. */
static int mha_forward(run_ctx *r, const mha_t *a, const float *x, int T, const float *mask, float *y) {
    const int H = a->q.cout, nh = a->n_heads, kc = H / nh;
    const size_t per_head = head_floats(T, kc);
    float *q = scratch_get(r->ws, SCR_ATTN_QKV, (size_t)H * T * 4);
    float *hb = scratch_get(r->ws, SCR_ATTN_HEADS, per_head * (size_t)nh);
    int rc = SBV2_OK;
    if (!q || !hb) { rc = SBV2_ERR_NO_MEMORY; goto out; }
    float *k = q + (size_t)H * T, *v = k + (size_t)H * T, *o = v + (size_t)H * T;
    if (op_conv1d(&a->q, x, T, 1, 0, q, T, r->nt) || op_conv1d(&a->k, x, T, 1, 0, k, T, r->nt) ||
        op_conv1d(&a->v, x, T, 1, 0, v, T, r->nt)) { rc = SBV2_ERR_NO_MEMORY; goto out; }
    /* heads in parallel when there are threads for them, else threads inside each head */
    const int across = r->nt > 1 && nh > 1;
    int fails = 0;
#pragma omp parallel for num_threads(r->nt) schedule(static) reduction(+ : fails) if (across && T > 16)
    for (int h = 0; h < nh; h++)
        fails += head_forward(a, q + (size_t)h * kc * T, k + (size_t)h * kc * T, v + (size_t)h * kc * T, T, mask,
                              o + (size_t)h * kc * T, hb + per_head * (size_t)h, across ? 1 : r->nt) != SBV2_OK;
    if (fails) { rc = SBV2_ERR_NO_MEMORY; goto out; }
    if (op_conv1d(&a->o, o, T, 1, 0, y, T, r->nt)) rc = SBV2_ERR_NO_MEMORY;
out:
    if (!r->ws) free(q), free(hb);
    return rc;
}

/* FFN with "same" padding: conv_1(x*mask) -> relu -> conv_2(.*mask) -> *mask */
static int ffn_forward(run_ctx *r, const ffn_t *f, const float *x, int T, const float *mask, float *y) {
    const int F = f->c1.cout, H = f->c1.cin, K = f->c1.k;
    float *xm = malloc(sizeof(float) * ((size_t)H * T + (size_t)F * T));
    if (!xm) return SBV2_ERR_NO_MEMORY;
    float *h = xm + (size_t)H * T;
    memcpy(xm, x, sizeof(float) * (size_t)H * T);
    op_mul_mask(xm, H, T, mask);
    op_conv1d(&f->c1, xm, T, 1, (K - 1) / 2, h, T, r->nt);
    op_relu(h, (size_t)F * T);
    op_mul_mask(h, F, T, mask);
    op_conv1d(&f->c2, h, T, 1, (K - 1) / 2, y, T, r->nt);
    op_mul_mask(y, H, T, mask);
    free(xm);
    return SBV2_OK;
}

int encoder_forward(run_ctx *r, const encoder_t *e, float *x, int T, const float *mask, const float *g,
                    const char *dump_prefix) {
    const int H = e->hidden;
    float *y = malloc(sizeof(float) * ((size_t)H * T + (size_t)H));
    if (!y) return SBV2_ERR_NO_MEMORY;
    float *gl = y + (size_t)H * T;
    int rc = SBV2_OK;
    op_mul_mask(x, H, T, mask);
    for (int i = 0; i < e->n_layers; i++) {
        if (i == e->cond_idx && g) {
            /* spk_emb_linear(g) broadcast over time */
            op_conv1d(&e->spk, g, 1, 1, 0, gl, 1, 1);
            for (int c = 0; c < H; c++)
                for (int t = 0; t < T; t++) x[(size_t)c * T + t] += gl[c];
            op_mul_mask(x, H, T, mask);
        }
        if ((rc = mha_forward(r, &e->attn[i], x, T, mask, y)) != SBV2_OK) break;
        op_add(x, y, (size_t)H * T);
        op_layernorm(&e->ln1[i], x, T);
        if ((rc = ffn_forward(r, &e->ffn[i], x, T, mask, y)) != SBV2_OK) break;
        op_add(x, y, (size_t)H * T);
        op_layernorm(&e->ln2[i], x, T);
        if (dump_prefix) {
            char name[64];
            snprintf(name, sizeof name, "%s%d", dump_prefix, i);
            run_dump(r, name, x, 2, H, T, 0);
        }
    }
    op_mul_mask(x, H, T, mask);
    free(y);
    return rc;
}
