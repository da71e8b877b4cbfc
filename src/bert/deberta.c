/* DeBERTa-v2 as transformers' modeling_deberta_v2.py computes it (eval mode),
 * only as far as SBV2 reads it: hidden_states[-3], so the last two layers are
 * neither loaded nor run. Activations are token-major [T][C]; every product
 * (linear layers, attention, the ConvLayer taps) runs on conv_gemm, the
 * generator's register-tiled kernel. Work that does not depend on the input
 * is done at load: the relative-position table goes through the encoder
 * LayerNorm and every layer's query and key projections once. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/deberta.h"
#include "bert/tokenizer.h"
#include "common.h"
#include "core/conv.h"
#include "core/isa.h"
#include "core/ops.h"
#include "formats/safetensors.h"
#include "formats/file.h"
#include "formats/torch_zip.h"

#ifdef SBV2_X86
#include <immintrin.h>
#endif

/* ---- loading ---------------------------------------------------------------- */

typedef struct {
    sbv2_bert *b;
    sbv2_error *err;
    int rc;
    const char *prefix; /* "deberta." or "" */
} lctx;

static void *own(lctx *c, size_t bytes) {
    if (c->rc) return NULL;
    void *p = conv_alloc((bytes + sizeof(float) - 1) / sizeof(float)); /* aligned: weights are the kernel's wide operand */
    if (p && c->b->n_owned == c->b->cap_owned) {
        size_t n = c->b->cap_owned ? 2 * c->b->cap_owned : 64;
        void **q = realloc(c->b->owned, n * sizeof *q);
        if (!q) free(p), p = NULL;
        else c->b->owned = q, c->b->cap_owned = n;
    }
    if (!p) { c->rc = sbv2_fail(c->err, SBV2_ERR_NO_MEMORY, "out of memory loading the BERT model"); return NULL; }
    c->b->owned[c->b->n_owned++] = p;
    return p;
}

static const st_tensor *find(lctx *c, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2) {
    if (c->rc) return NULL;
    char full[256];
    snprintf(full, sizeof full, "%s%s", c->prefix, name);
    const st_tensor *t = st_find(&c->b->st, full);
    if (!t) { c->rc = sbv2_fail(c->err, SBV2_ERR_FORMAT, "BERT weights lack '%s'", full); return NULL; }
    const int64_t want[3] = {d0, d1, d2};
    int ok = t->ndim == ndim && (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16);
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == want[i];
    if (!ok) { c->rc = sbv2_fail(c->err, SBV2_ERR_FORMAT, "BERT weight '%s' has an unexpected shape or dtype", full); return NULL; }
    return t;
}

/* t as fp32 into out; its pages of the mapped file are then dropped (the
 * copy is what runs), so the process holds one copy of the weights */
static void take(lctx *c, const st_tensor *t, float *out) {
    st_read_f32(t, out);
    st_release(&c->b->st, t->data, t->nbytes);
}

static float *get(lctx *c, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2) {
    const st_tensor *t = find(c, name, ndim, d0, d1, d2);
    float *p = t ? own(c, sizeof(float) * t->numel) : NULL;
    if (p) take(c, t, p);
    return p;
}

/* Linear layers keep W^T in 64-column panels: sequences are short, so the
 * product runs with the tokens as the kernel's rows (blocks of 6) and the
 * output features as its wide columns, which keeps the 64-wide register tiles
 * full whatever the length (see lin()); each tile's piece of W^T is then one
 * contiguous run, streamed from memory without a TLB miss or a cache-set
 * conflict per row. */
#define R64(n) (((n) + 63) & ~63)

/* Loads n linear layers of the same input size side by side into one W^T
 * (one product computes them all), each starting on a panel (its columns
 * padded to a multiple of 64, zero weights and bias); views[i] get each. */
static void linear_n(lctx *c, bert_lin *all, bert_lin *views, int n, const int *outs, int in, const char *const *fmts,
                     int layer) {
    int total = 0;
    for (int i = 0; i < n; i++) total += R64(outs[i]);
    const size_t ps = (size_t)in * 64, nw = (size_t)total / 64 * ps;
    float *wt = own(c, sizeof(float) * nw), *bias = own(c, sizeof(float) * (size_t)total);
    if (c->rc) return;
    memset(wt, 0, sizeof(float) * nw);
    memset(bias, 0, sizeof(float) * (size_t)total);
    int col = 0;
    for (int i = 0; i < n && !c->rc; i++) {
        char nm[200], nw2[220], nb[220];
        snprintf(nm, sizeof nm, fmts[i], layer);
        snprintf(nw2, sizeof nw2, "%s.weight", nm);
        snprintf(nb, sizeof nb, "%s.bias", nm);
        const st_tensor *t = find(c, nw2, 2, outs[i], in, 0), *tb = find(c, nb, 1, outs[i], 0, 0);
        float *tmp = t ? malloc(sizeof(float) * t->numel) : NULL;
        if (t && !tmp) c->rc = sbv2_fail(c->err, SBV2_ERR_NO_MEMORY, "out of memory loading the BERT model");
        if (tmp && tb) {
            take(c, t, tmp);
            for (int o = 0; o < outs[i]; o++)
                for (int k = 0; k < in; k++) wt[gemm_panel_at(ps, c->b->strips, (size_t)k, (size_t)(col + o))] = tmp[(size_t)o * in + k];
            take(c, tb, bias + col);
        }
        free(tmp);
        if (views) views[i] = (bert_lin){wt + (size_t)col / 64 * ps, bias + col, in, outs[i], ps, c->b->strips};
        col += R64(outs[i]);
    }
    *all = (bert_lin){wt, bias, in, n == 1 ? outs[0] : total, ps, c->b->strips};
}

static void linear(lctx *c, bert_lin *l, int out, int in, const char *fmt, int layer) {
    linear_n(c, l, NULL, 1, &out, in, &fmt, layer);
}


/* e^x for x <= 0 in a form the compiler vectorises: 2^k times a degree-6
 * polynomial (relative error ~1e-7); x below -87 gives e^-87 (~1.6e-38). */
SBV2_BODY float exp_neg(float x) {
    /* e = max(x, -87) as an integer select on the bits (a float compare would
       keep the loop from vectorising on AVX2): below zero, a larger magnitude
       has larger bits */
    uint32_t xb;
    memcpy(&xb, &x, 4);
    const uint32_t lim = 0xc2ae0000u; /* -87.0f */
    xb = xb > lim ? lim : xb;
    float e;
    memcpy(&e, &xb, 4);
    const float kf = nearbyintf(e * 1.44269504088896341f);
    const float r = (e - kf * 0.693145751953125f) - kf * 1.42860682030941723212e-6f;
    const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666679e-2f + r * (8.33333377e-3f + r * 1.38888892e-3f)))));
    const uint32_t sbits = (uint32_t)((int32_t)kf + 127) << 23; /* 2^k, k >= -126 here */
    float scale;
    memcpy(&scale, &sbits, 4);
    return p * scale;
}

/* LayerNorm of one row (two passes, sums in 16 lanes so the loops vectorise) */
SBV2_BODY void ln_row_body(const layernorm_t *ln, float *restrict r) {
    const int C = ln->c;
    float p[16] = {0}, q[16] = {0};
    int c = 0;
    for (; c + 16 <= C; c += 16)
        for (int u = 0; u < 16; u++) p[u] += r[c + u];
    for (; c < C; c++) p[0] += r[c];
    float mean = 0.0f;
    for (int u = 0; u < 16; u++) mean += p[u];
    mean /= (float)C;
    for (c = 0; c + 16 <= C; c += 16)
        for (int u = 0; u < 16; u++) q[u] += (r[c + u] - mean) * (r[c + u] - mean);
    for (; c < C; c++) q[0] += (r[c] - mean) * (r[c] - mean);
    float var = 0.0f;
    for (int u = 0; u < 16; u++) var += q[u];
    const float inv = 1.0f / sqrtf(var / (float)C + ln->eps);
    const float *restrict gm = ln->gamma, *restrict bt = ln->beta;
    for (c = 0; c < C; c++) r[c] = (r[c] - mean) * inv * gm[c] + bt[c];
}
SBV2_MULTIVERSION(ln_row, (const layernorm_t *ln, float *restrict r), (ln, r))

/* LayerNorm of every row of x [T][C] (token-major), in place */
static void ln_rows(const layernorm_t *ln, float *x, int T, int nt) {
    const isa_t isa = isa_active();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && T > 8)
    for (int t = 0; t < T; t++) ln_row(isa, ln, x + (size_t)t * ln->c);
}

/* Exact-form GELU, 0.5 x (1 + erf(x / sqrt 2)), in a form the compiler
 * vectorises: erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) over an
 * exp of 2^k times a degree-6 polynomial (relative error ~1e-7), so the
 * result stays within ~1e-6 of erff's over the range activations take. */
SBV2_BODY void gelu_rows_body(float *restrict x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const float v = x[i], z = fabsf(v) * 0.70710678118654752f;
        const float t = 1.0f / (1.0f + 0.3275911f * z);
        const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
        const float erfz = 1.0f - poly * exp_neg(-z * z);
        /* erfz with v's sign, as bits (no float compare: the loop vectorises) */
        uint32_t vb, eb;
        memcpy(&vb, &v, 4), memcpy(&eb, &erfz, 4);
        eb ^= vb & 0x80000000u; /* -erfz when v < 0 */
        float se;
        memcpy(&se, &eb, 4);
        x[i] = 0.5f * v * (1.0f + se);
    }
}
SBV2_MULTIVERSION(gelu_rows, (float *restrict x, size_t n), (x, n))


/* y [T][out] = x [T][in] W^T + b (token-major), or y += that when acc.
 * Long inputs (the FFN's 4096) go in K slices of KC so a 64-column panel
 * piece of W^T (KC x 64 floats) stays in L2 while every block of tokens
 * reads it. */
#define KC 1024
/* Short inputs (a few blocks of tokens) stream W^T from memory once per call:
 * there slices of KC_SHORT keep the panel piece (64 KB) near L1 for every
 * block (faster at 40 characters than no slices, measured; slower from ~100
 * tokens on, where the piece is reused from L2 by many blocks anyway). 256
 * since the AVX2 products turned round: 2-4 % faster than 128 at 40
 * characters on both paths (alternating runs). */
#define KC_SHORT 256
#define T_SHORT 96
static int lin_kc(int M, int K) { return M <= T_SHORT ? (K > KC_SHORT ? KC_SHORT : 0) : K > 2 * KC ? KC : 0; }

/* Strassen's algorithm, one level, for the linear layers of long inputs on
 * the AVX2 path: tokens, inputs and outputs each cut in halves (A = x,
 * B = W^T, C = y),
 *   M1 = (A11 + A22)(B11 + B22)   M2 = (A21 + A22) B11   M3 = A11 (B12 - B22)
 *   M4 = A22 (B21 - B11)   M5 = (A11 + A12) B22   M6 = (A21 - A11)(B11 + B12)
 *   M7 = (A12 - A22)(B21 + B22)
 *   C11 = M1 + M4 - M5 + M7   C12 = M3 + M5   C21 = M2 + M4   C22 = M1 - M2 + M3 + M6
 * so 7 half-size products do the work of 8: 12.5 % fewer multiplications,
 * which kernels at ~95 % of the FMA peak cannot otherwise give. B's quadrants
 * are offsets into the panel store and a product's sum of two is formed a
 * piece at a time inside the kernel (gemm_job.b2): no copy of the weights.
 * A's sums are formed as the AVX2 form packs A (gemm_job.a2; elsewhere here).
 * An odd token count reads the inputs' zero row T as A's missing last row.
 * Exact in exact arithmetic; in fp32 it rounds differently from the plain
 * product (README, BERT). Every step has a fixed order, so the result does
 * not depend on the thread count. */
#define STRASSEN_T 128 /* tokens from which it pays on AVX2 (README, BERT) */
/* sbv2_bert.strassen_min: SBV2_STRASSEN=N (tokens, any path; 0 = never) or
   the default: from STRASSEN_T tokens on the AVX2 path (with strips), never
   on AVX-512, where the products run twice as fast and its extra passes
   over memory cost more than it saves (measured, README) */
static int strassen_min_tokens(int strips) {
    const char *e = getenv("SBV2_STRASSEN");
    char *end = NULL;
    const long v = e && *e ? strtol(e, &end, 10) : -1;
    if (end && !*end && v >= 0) return v > 1000000 ? 1000000 : (int)v;
    return strips ? STRASSEN_T : 0;
}
static int strassen_fits(const sbv2_bert *b, const bert_lin *l, int T) {
    return b->strassen_min > 0 && T >= b->strassen_min && T >= 2 && l->in % 2 == 0 && l->out % 128 == 0;
}
/* floats of room lin_strassen needs for T tokens, inputs up to in, outputs up to out */
static size_t strassen_floats(int T, int in, int out) {
    const size_t h = (size_t)(T + 1) / 2;
    return h * (size_t)(in / 2) + 7 * h * (size_t)(out / 2);
}
/* One row of C from the products' rows p[0..6] (n = N/2 columns each): the
 * top half's C11 | C12 or the bottom half's C21 | C22, + bias, + y (acc). */
SBV2_BODY void strassen_row_body(const float *const *p, int top, int n, const float *restrict bias, int acc, float *restrict y) {
    const float *restrict m1 = p[0], *restrict m2 = p[1], *restrict m3 = p[2], *restrict m4 = p[3];
    const float *restrict m5 = p[4], *restrict m6 = p[5], *restrict m7 = p[6], *restrict b2 = bias + n;
    float *restrict y2 = y + n;
    if (top) {
        for (int j = 0; j < n; j++) y[j] = m1[j] + m4[j] - m5[j] + m7[j] + bias[j] + (acc ? y[j] : 0.0f);
        for (int j = 0; j < n; j++) y2[j] = m3[j] + m5[j] + b2[j] + (acc ? y2[j] : 0.0f);
    } else {
        for (int j = 0; j < n; j++) y[j] = m2[j] + m4[j] + bias[j] + (acc ? y[j] : 0.0f);
        for (int j = 0; j < n; j++) y2[j] = m1[j] - m2[j] + m3[j] + m6[j] + b2[j] + (acc ? y2[j] : 0.0f);
    }
}
SBV2_MULTIVERSION(strassen_row, (const float *const *p, int top, int n, const float *restrict bias, int acc, float *restrict y),
                  (p, top, n, bias, acc, y))
/* per product: A's quadrant, a second one or -1, its sign; B's the same
   (quadrants 0 = 11, 1 = 12, 2 = 21, 3 = 22) */
static const signed char strassen_ops[7][6] = {{0, 3, 1, 0, 3, 1},  {2, 3, 1, 0, -1, 1}, {0, -1, 1, 1, 3, -1}, {3, -1, 1, 2, 0, -1},
                                               {0, 1, 1, 3, -1, 1}, {2, 0, -1, 0, 1, 1}, {1, 3, -1, 2, 3, 1}};
/* lin() by Strassen: x [T][in] with a zero row T; room: strassen_floats();
   work: gemm_batch_work_floats((T + 1) / 2, in / 2, 7, nt), as the seven
   products run as one batch (one region for their panels) */
static void lin_strassen(const bert_lin *l, const float *x, int T, float *y, int acc, int nt, void (*post)(float *, size_t),
                         float *work, float *room) {
    const int h = (T + 1) / 2, K = l->in, K2 = K / 2, N = l->out, N2 = N / 2;
    const size_t step = l->strips ? 16 : 64; /* floats from one row of a panel (strip) to the next */
    const size_t qb[4] = {0, (size_t)N2 / 64 * l->ps, (size_t)K2 * step, (size_t)N2 / 64 * l->ps + (size_t)K2 * step};
    const size_t qa[4] = {0, (size_t)K2, (size_t)h * K, (size_t)h * K + K2};
    float *as = room, *pm = room + (size_t)h * K2;
    gemm_job g[7];
    for (int m = 0; m < 7; m++) {
        const signed char *op = strassen_ops[m];
        g[m] = (gemm_job){x + qa[op[0]], (size_t)K, h, K2, l->wt + qb[op[3]], 64, N2, pm + (size_t)m * h * N2, (size_t)N2, NULL, 0,
                          lin_kc(h, K2), 1, nt, NULL, l->ps, l->strips, work, op[4] >= 0 ? l->wt + qb[op[4]] : NULL, op[5],
                          op[1] >= 0 ? x + qa[op[1]] : NULL, op[2]};
    }
    if (gemm_packs_a(&g[0])) conv_gemm_batch(g, 7, work); /* A's sums formed as it packs A */
    else
        for (int m = 0; m < 7; m++) {
            if (g[m].a2) { /* A's sum formed here */
                const gemm_job *j = &g[m];
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && h > 8)
                for (int r = 0; r < h; r++) conv_signed_sum(as + (size_t)r * K2, j->a + (size_t)r * K, j->a2 + (size_t)r * K, (size_t)K2, j->a2_sign);
                g[m].a = as, g[m].a2 = NULL, g[m].lda = (size_t)K2;
            }
            conv_gemm(&g[m]);
        }
    /* C from the 7 products, + bias, + the residual (acc), then post, per row */
    const isa_t isa = isa_active();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && T > 8)
    for (int r = 0; r < T; r++) {
        const int top = r < h, i = top ? r : r - h;
        const float *p[7];
        for (int m = 0; m < 7; m++) p[m] = pm + ((size_t)m * h + (size_t)i) * N2;
        strassen_row(isa, p, top, N2, l->b, acc, y + (size_t)r * N);
        if (post) post(y + (size_t)r * N, (size_t)N);
    }
}

/* y [T][out] = x W^T + b (+ y when acc), then post per row. With room (and
 * work) a long input goes through lin_strassen: x needs a zero row T then. */
static void lin(const bert_lin *l, const float *x, int T, float *y, int acc, int nt, void (*post)(float *, size_t), float *work,
                const sbv2_bert *b, float *room) {
    if (room && work && strassen_fits(b, l, T)) {
        lin_strassen(l, x, T, y, acc, nt, post, work, room);
        return;
    }
    gemm_job g = {x, (size_t)l->in, T, l->in, l->wt, 64, l->out, y, (size_t)l->out, l->b, acc, lin_kc(T, l->in), 1, nt, post,
                  l->ps, l->strips, work, NULL, 0, NULL, 0};
    conv_gemm(&g);
}

/* The position tables: per head, D rows of P2 table entries, or (with
 * strips) the entries in 16-wide strips of D rows (P2 rounded up to 16,
 * zeros past P2), so each band product reads its B as contiguous strips. */
static size_t pos_ld(const sbv2_bert *b) { return b->strips ? (size_t)(b->P2 + 15) / 16 * 16 : (size_t)b->P2; }
static size_t pos_at(const sbv2_bert *b, int h, int d, int r) {
    const size_t base = (size_t)h * b->D * pos_ld(b);
    return b->strips ? base + (size_t)(r / 16) * b->D * 16 + (size_t)d * 16 + r % 16 : base + (size_t)d * b->P2 + r;
}

size_t bert_pos_at(const sbv2_bert *b, int h, int k, int r) { return pos_at(b, h, k, r); }

static void lnorm(lctx *c, layernorm_t *ln, int ch, const char *fmt, int layer) {
    char n[200], a[220], b2[220];
    snprintf(n, sizeof n, fmt, layer);
    snprintf(a, sizeof a, "%s.weight", n);
    snprintf(b2, sizeof b2, "%s.bias", n);
    ln->gamma = get(c, a, 1, ch, 0, 0), ln->beta = get(c, b2, 1, ch, 0, 0), ln->c = ch, ln->eps = c->b->eps;
}

static int cfg_int(const cJSON *j, const char *k, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valueint : def;
}
static const char *cfg_str(const cJSON *j, const char *k, const char *def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static int read_config(sbv2_bert *b, const char *path, sbv2_error *err) {
    char *buf;
    size_t n;
    const int frc = sbv2_read_file(path, 16u << 20, NULL, &buf, &n, err);
    if (frc != SBV2_OK) return frc;
    cJSON *j = cJSON_ParseWithLength(buf, n);
    free(buf);
    if (!j) return sbv2_fail(err, SBV2_ERR_FORMAT, "%s is not valid JSON", path);
    int rc = SBV2_OK;
    b->H = cfg_int(j, "hidden_size", 0), b->heads = cfg_int(j, "num_attention_heads", 0);
    b->n_layers = cfg_int(j, "num_hidden_layers", 0), b->I = cfg_int(j, "intermediate_size", 0);
    b->vocab = cfg_int(j, "vocab_size", 0), b->conv_k = cfg_int(j, "conv_kernel_size", 0);
    b->D = cfg_int(j, "attention_head_size", b->heads > 0 ? b->H / b->heads : 0);
    b->buckets = cfg_int(j, "position_buckets", -1);
    b->max_pos = cfg_int(j, "max_relative_positions", -1);
    if (b->max_pos < 1) b->max_pos = cfg_int(j, "max_position_embeddings", 512);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(j, "layer_norm_eps");
    b->eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-7f;
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(j, "pos_att_type"), *e;
    cJSON_ArrayForEach(e, pat) if (cJSON_IsString(e)) {
        if (!strcmp(e->valuestring, "c2p")) b->c2p = 1;
        if (!strcmp(e->valuestring, "p2c")) b->p2c = 1;
    }
    if (cJSON_IsString(pat)) b->c2p = strstr(pat->valuestring, "c2p") != NULL, b->p2c = strstr(pat->valuestring, "p2c") != NULL;
    const int share = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "share_att_key"));
    const int relative = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "relative_attention"));
    const int pos_in = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "position_biased_input"));
    const int emb_size = cfg_int(j, "embedding_size", b->H);
    if (b->H <= 0 || b->heads <= 0 || b->D <= 0 || b->n_layers < 3 || b->I <= 0 || b->vocab <= 0 || b->H > 16384 ||
        b->I > 65536 || b->n_layers > 256 || b->eps <= 0 || b->heads * b->D > 65536)
        rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: sizes missing or out of range (hidden_size, num_attention_heads, "
                                             "num_hidden_layers >= 3, intermediate_size, vocab_size)", path);
    else if (b->conv_k < 1 || b->conv_k > 63 || b->conv_k % 2 == 0)
        rc = sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "%s: conv_kernel_size must be odd (1..63)", path);
    else if (!relative || !share || pos_in || cfg_int(j, "type_vocab_size", 0) != 0 || emb_size != b->H ||
             strcmp(cfg_str(j, "hidden_act", "gelu"), "gelu") || strcmp(cfg_str(j, "conv_act", "gelu"), "gelu") ||
             cfg_int(j, "conv_groups", 1) != 1 || strcmp(cfg_str(j, "norm_rel_ebd", "none"), "layer_norm"))
        rc = sbv2_fail(err, SBV2_ERR_UNSUPPORTED,
                       "%s: only the DeBERTa-v2 variant SBV2 uses is supported (relative attention with shared keys, "
                       "layer-normed relative embeddings, no absolute positions or token types, gelu)", path);
    cJSON_Delete(j);
    b->span = b->buckets > 0 ? b->buckets : b->max_pos;
    b->P2 = 2 * b->span;
    b->n_run = b->n_layers - 2; /* hidden_states[-3] */
    return rc;
}

void sbv2_bert_free(sbv2_bert *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n_owned; i++) free(b->owned[i]);
    free(b->owned);
    free(b->layers);
    st_close(&b->st);
    bert_tokenizer_free(b->tok);
    free(b);
}

static int exists(const char *p) {
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

sbv2_bert *sbv2_bert_load(const char *dir, const char *weights, sbv2_error *err) {
    if (!dir) { sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "dir is NULL"); return NULL; }
    sbv2_bert *b = calloc(1, sizeof *b);
    if (!b) { sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); return NULL; }
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    /* the AVX2 tile reads a 16-column strip per pass: strips make it one stream */
    b->strips = isa_active() == ISA_AVX2;
    b->strassen_min = strassen_min_tokens(b->strips);
    lctx c = {b, err, read_config(b, path, err), "deberta."};
    if (!c.rc) {
        snprintf(path, sizeof path, "%s/vocab.txt", dir);
        c.rc = bert_tokenizer_load(&b->tok, path, err);
    }
    if (!c.rc) {
        const size_t wl = weights ? strlen(weights) : 0;
        if (weights && wl >= 4 && !strcmp(weights + wl - 4, ".bin")) c.rc = pt_open(&b->st, weights, err);
        else if (weights) c.rc = st_open(&b->st, weights, err);
        else if (snprintf(path, sizeof path, "%s/model.safetensors", dir), exists(path)) c.rc = st_open(&b->st, path, err);
        else {
            snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
            if (exists(path)) c.rc = pt_open(&b->st, path, err);
            else c.rc = sbv2_fail(err, SBV2_ERR_IO, "%s has neither model.safetensors nor pytorch_model.bin", dir);
        }
    }
    if (!c.rc && !st_find(&b->st, "deberta.embeddings.word_embeddings.weight")) c.prefix = "";
    b->prefix = c.prefix;
    const int H = b->H, I = b->I, HD = b->heads * b->D;
    if (!c.rc) {
        b->emb = find(&c, "embeddings.word_embeddings.weight", 2, b->vocab, H, 0);
        lnorm(&c, &b->ln_emb, H, "embeddings.LayerNorm", 0);
        /* convolution after the first layer, [H][H][k]: over token-major rows it is
           the sum over taps of shifted rows times that tap's W^T */
        const int K = b->conv_k;
        const size_t ps = (size_t)K * H * 64, nw = (size_t)R64(H) / 64 * ps;
        const st_tensor *cw = find(&c, "encoder.conv.conv.weight", 3, H, H, K);
        const float *cb = get(&c, "encoder.conv.conv.bias", 1, H, 0, 0);
        float *tmp = cw && !c.rc ? malloc(sizeof(float) * cw->numel) : NULL;
        float *wt = tmp ? own(&c, sizeof(float) * nw) : NULL;
        if (wt) {
            take(&c, cw, tmp);
            memset(wt, 0, sizeof(float) * nw);
            for (int o = 0; o < H; o++)
                for (int i = 0; i < H; i++)
                    for (int kk = 0; kk < K; kk++) wt[gemm_panel_at(ps, b->strips, (size_t)kk * H + i, (size_t)o)] = tmp[((size_t)o * H + i) * K + kk];
            b->conv = (bert_lin){wt, cb, H, H, ps, b->strips};
        } else if (!c.rc) c.rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        free(tmp);
        lnorm(&c, &b->ln_conv, H, "encoder.conv.LayerNorm", 0);
    }
    float *R = !c.rc ? get(&c, "encoder.rel_embeddings.weight", 2, b->P2, H, 0) : NULL;
    layernorm_t ln_rel = {0};
    if (!c.rc) lnorm(&c, &ln_rel, H, "encoder.LayerNorm", 0);
    float *Rt = R ? malloc(sizeof(float) * (size_t)H * b->P2) : NULL;
    if (R && !Rt) c.rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    if (Rt) { /* layer-normed as [H][P2], then back into R's rows [P2][H] for the products */
        for (int r = 0; r < b->P2; r++)
            for (int h = 0; h < H; h++) Rt[(size_t)h * b->P2 + r] = R[(size_t)r * H + h];
        op_layernorm(&ln_rel, Rt, b->P2);
        for (int r = 0; r < b->P2; r++)
            for (int h = 0; h < H; h++) R[(size_t)r * H + h] = Rt[(size_t)h * b->P2 + r];
    }
    free(Rt);
    /* load-time scratch for the position products: [P2][HD] results */
    float *tmp = !c.rc ? malloc(sizeof(float) * (size_t)b->P2 * HD) : NULL;
    /* with strips: room for the turned-round products (a third of the AVX2 load time) */
    float *lw = !c.rc && b->strips ? conv_alloc(gemm_work_floats(b->P2, H, 1)) : NULL;
    if (!c.rc && (!tmp || (b->strips && !lw))) c.rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    b->layers = !c.rc ? calloc((size_t)b->n_run, sizeof(bert_layer)) : NULL;
    if (!c.rc && !b->layers) c.rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (int l = 0; !c.rc && l < b->n_run; l++) {
        bert_layer *L = &b->layers[l];
        {
            static const char *const qkv_names[3] = {"encoder.layer.%d.attention.self.query_proj",
                                                     "encoder.layer.%d.attention.self.key_proj",
                                                     "encoder.layer.%d.attention.self.value_proj"};
            const int outs[3] = {HD, HD, HD};
            bert_lin views[3];
            linear_n(&c, &L->qkv, views, 3, outs, H, qkv_names, l);
            L->q = views[0], L->k = views[1];
        }
        linear(&c, &L->o, H, HD, "encoder.layer.%d.attention.output.dense", l);
        lnorm(&c, &L->ln_att, H, "encoder.layer.%d.attention.output.LayerNorm", l);
        linear(&c, &L->up, I, H, "encoder.layer.%d.intermediate.dense", l);
        linear(&c, &L->down, H, I, "encoder.layer.%d.output.dense", l);
        lnorm(&c, &L->ln_out, H, "encoder.layer.%d.output.LayerNorm", l);
        /* input-independent: position rows through this layer's q and k (biases included) */
        const size_t tab = (size_t)HD * pos_ld(b) + 64;
        L->qr = own(&c, sizeof(float) * tab);
        L->kr = own(&c, sizeof(float) * tab);
        if (!c.rc) {
            memset(L->qr, 0, sizeof(float) * tab);
            memset(L->kr, 0, sizeof(float) * tab);
            /* [P2][HD] products of the layer-normed rows, stored per head as [D][P2]
               rows, or with strips as 16-row strips [P2/16][D][16] (pos_at) */
            for (int pass = 0; pass < 2; pass++) {
                lin(pass ? &L->k : &L->q, R, b->P2, tmp, 0, 1, NULL, lw, b, NULL);
                float *dst = pass ? L->kr : L->qr;
                for (int r = 0; r < b->P2; r++)
                    for (int o = 0; o < HD; o++) dst[pos_at(b, o / b->D, o % b->D, r)] = tmp[(size_t)r * HD + o];
            }
        }
    }
    free(tmp), free(lw);
    if (c.rc) {
        sbv2_bert_free(b);
        return NULL;
    }
    return b;
}

const char *bert_prefix(const sbv2_bert *b) { return b->prefix; }

size_t sbv2_bert_hidden_size(const sbv2_bert *b) { return b ? (size_t)b->H : 0; }

int sbv2_bert_tokenize(const sbv2_bert *b, const char *text, size_t len, int64_t **ids, size_t *n_ids, sbv2_error *err) {
    if (!b || !ids || !n_ids || (!text && len)) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "bad arguments");
    return bert_tokenize(b->tok, text ? text : "", len, ids, n_ids, err);
}

/* ---- forward ------------------------------------------------------------------ */

/* transformers' make_log_bucket_position, then the table row clamp(r' + span) */
int bert_rel_index(const sbv2_bert *b, int r) {
    int rp = r;
    if (b->buckets > 0) {
        const int mid = b->buckets / 2;
        const int a = (r < mid && r > -mid) ? mid - 1 : abs(r);
        if (a > mid) {
            const float lp = ceilf(logf((float)a / (float)mid) / logf((float)(b->max_pos - 1) / (float)mid) * (float)(mid - 1)) + (float)mid;
            rp = (int)lp * (r < 0 ? -1 : 1);
        }
    }
    rp += b->span;
    return rp < 0 ? 0 : rp >= b->P2 ? b->P2 - 1 : rp;
}

/* A float's bits as an integer that orders as the (finite) floats do:
 * negatives' magnitude bits flipped. Its own inverse. */
SBV2_BODY int32_t order_key(int32_t bits) { return bits ^ ((bits >> 31) & 0x7fffffff); }
SBV2_BODY int32_t order_key_of(const float *p) {
    int32_t bits;
    memcpy(&bits, p, 4);
    return order_key(bits);
}

/* Row softmax; max and sum kept in 16 lanes so the loops vectorise. */
SBV2_BODY void softmax_rows_body(float *restrict s, int T) {
    for (int i = 0; i < T; i++) {
        float *restrict r = s + (size_t)i * T, sm[16];
        /* the row's maximum through order_key: an integer max vectorises, a
           float one (NaN and -0 rules) stayed scalar. The scores are finite. */
        int32_t mk[16];
        for (int u = 0; u < 16; u++) mk[u] = INT32_MIN, sm[u] = 0.0f;
        int j = 0;
        for (; j + 16 <= T; j += 16)
            for (int u = 0; u < 16; u++) {
                const int32_t kb = order_key_of(r + j + u);
                mk[u] = kb > mk[u] ? kb : mk[u];
            }
        for (; j < T; j++) {
            const int32_t kb = order_key_of(r + j);
            mk[0] = kb > mk[0] ? kb : mk[0];
        }
        int32_t mkb = mk[0];
        for (int u = 1; u < 16; u++) mkb = mk[u] > mkb ? mk[u] : mkb;
        mkb = order_key(mkb);
        float m;
        memcpy(&m, &mkb, 4);
        for (j = 0; j + 16 <= T; j += 16) /* exp and sum in one pass, the sum in the same 16 lanes */
            for (int u = 0; u < 16; u++) sm[u] += r[j + u] = exp_neg(r[j + u] - m);
        for (; j < T; j++) sm[0] += r[j] = exp_neg(r[j] - m);
        float sum = 0.0f;
        for (int u = 0; u < 16; u++) sum += sm[u];
        const float inv = 1.0f / sum;
        for (j = 0; j < T; j++) r[j] *= inv;
    }
}
SBV2_MULTIVERSION(softmax_rows, (float *restrict s, int T), (s, T))

/* The score terms from the position tables are banded: query i needs rows
 * idx(i - j) of the key table for j in [0, T), a run of at most T rows. So
 * c2p (and p2c, with the key as the row) is computed per block of 6 rows
 * over that block's run only, not over every row the sequence touches;
 * each pair's entry is then read back through the table row of i - j. */
typedef struct {
    int T, wb;           /* band width (floats per row) */
    int *lo_c, *lo_p;    /* first table row of each 6-row block: c2p (query blocks), p2c (key blocks) */
    int *wc, *wp;        /* their run lengths */
    int *ri;             /* [2T-1]: table row of relative position d at ri[d + T - 1] */
    int *pbase;          /* [T]: key j's p2c band row, minus its block's first table row */
} bert_band;

#define BAND_ROWS 6
#define R16(n) (((n) + 15) & ~15)

static void band_free(bert_band *bd) { free(bd->lo_c), free(bd->lo_p), free(bd->wc), free(bd->wp), free(bd->ri), free(bd->pbase); }

static int band_init(const sbv2_bert *b, int T, bert_band *bd) {
    const int nb = (T + BAND_ROWS - 1) / BAND_ROWS;
    memset(bd, 0, sizeof *bd);
    bd->T = T;
    bd->lo_c = malloc(sizeof(int) * nb), bd->lo_p = malloc(sizeof(int) * nb);
    bd->wc = malloc(sizeof(int) * nb), bd->wp = malloc(sizeof(int) * nb);
    bd->ri = malloc(sizeof(int) * (size_t)(2 * T - 1)), bd->pbase = malloc(sizeof(int) * (size_t)T);
    if (!bd->lo_c || !bd->lo_p || !bd->wc || !bd->wp || !bd->ri || !bd->pbase) return -1;
    for (int k = 0; k < nb; k++) {
        const int r0 = k * BAND_ROWS, r1 = (r0 + BAND_ROWS < T ? r0 + BAND_ROWS : T) - 1;
        /* idx is non-decreasing in i - j: query rows r0..r1 meet i - j in [r0 - (T-1), r1];
           key rows j meet i - j in [-r1, T - 1 - r0] */
        /* runs start on a 16-float boundary of the (aligned) tables */
        bd->lo_c[k] = bert_rel_index(b, r0 - (T - 1)) & ~15, bd->wc[k] = bert_rel_index(b, r1) - bd->lo_c[k] + 1;
        bd->lo_p[k] = bert_rel_index(b, -r1) & ~15, bd->wp[k] = bert_rel_index(b, T - 1 - r0) - bd->lo_p[k] + 1;
        if (bd->wc[k] > bd->wb) bd->wb = bd->wc[k];
        if (bd->wp[k] > bd->wb) bd->wb = bd->wp[k];
    }
    bd->wb = R16(bd->wb);
    for (int d = -(T - 1); d < T; d++) bd->ri[d + T - 1] = bert_rel_index(b, d);
    for (int j = 0; j < T; j++) bd->pbase[j] = j * bd->wb - bd->lo_p[j / BAND_ROWS];
    return 0;
}

/* per-head scratch, each part on a 16-float boundary: K^T, scores, bands,
 * and with strips V as strips and room for the turned-round products */
static size_t head_floats(const sbv2_bert *b, int T, int wb) {
    const int D = b->D;
    size_t n = (size_t)D * (R16(T) + 64) + R16((size_t)T * T) + 2 * (size_t)T * wb;
    if (b->strips) n += R16((size_t)R16(D) * T) + R16(gemm_work_floats(T, T > D ? T : D, 1));
    return n;
}

/* s[i][j] = (s[i][j] + c2p band[i][row(i-j)] + p2c band[j][row(i-j)]) * scale */
SBV2_BODY void add_positions_body(float *restrict s, const float *restrict cb, const float *restrict pb, const bert_band *bd,
                                      float scale) {
    const int T = bd->T;
    for (int i = 0; i < T; i++) {
        const int *restrict rr = bd->ri + (T - 1) + i; /* rr[-j]: table row of i - j */
        const float *restrict ci = cb ? cb + (size_t)i * bd->wb - bd->lo_c[i / BAND_ROWS] : NULL;
        float *restrict si = s + (size_t)i * T;
        if (ci && pb)
            for (int j = 0; j < T; j++) si[j] = (si[j] + ci[rr[-j]] + pb[bd->pbase[j] + rr[-j]]) * scale;
        else
            for (int j = 0; j < T; j++) si[j] = (si[j] + (ci ? ci[rr[-j]] : 0.0f) + (pb ? pb[bd->pbase[j] + rr[-j]] : 0.0f)) * scale;
    }
}
SBV2_MULTIVERSION(add_positions, (float *restrict s, const float *restrict cb, const float *restrict pb, const bert_band *bd, float scale), (s, cb, pb, bd, scale))

#ifdef SBV2_X86
/* add_positions with both bands, 16 keys at a time through AVX-512 gathers
 * (the same additions in the same order as the loop above). */
__attribute__((target("avx512f"))) static void add_positions_gather(float *s, const float *cb, const float *pb,
                                                                    const bert_band *bd, float scale) {
    const int T = bd->T;
    const __m512 sc = _mm512_set1_ps(scale);
    const __m512i rev = _mm512_set_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int i = 0; i < T; i++) {
        const int *rr = bd->ri + (T - 1) + i;
        const float *ci = cb + (size_t)i * bd->wb - bd->lo_c[i / BAND_ROWS];
        float *si = s + (size_t)i * T;
        int j = 0;
        for (; j + 16 <= T; j += 16) {
            const __m512i r = _mm512_permutexvar_epi32(rev, _mm512_loadu_si512((const void *)(rr - j - 15)));
            /* where the 16 rows run down one by one (|i - j| within the exact
               buckets) c2p's entries are one run: a load, reversed, not a gather */
            const int r0 = rr[-j];
            const __m512 c = _mm512_cmpeq_epi32_mask(r, _mm512_sub_epi32(_mm512_set1_epi32(r0), iota)) == 0xffff
                                 ? _mm512_permutexvar_ps(rev, _mm512_loadu_ps(ci + r0 - 15))
                                 : _mm512_i32gather_ps(r, ci, 4);
            const __m512 p = _mm512_i32gather_ps(_mm512_add_epi32(_mm512_loadu_si512((const void *)(bd->pbase + j)), r), pb, 4);
            _mm512_storeu_ps(si + j, _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(si + j), c), p), sc));
        }
        for (; j < T; j++) si[j] = (si[j] + ci[rr[-j]] + pb[bd->pbase[j] + rr[-j]]) * scale;
    }
}
#endif

#ifdef SBV2_X86
/* The same on AVX2, 8 keys at a time (same additions, same order). */
__attribute__((target("avx2,fma"))) static void add_positions_gather_avx2(float *s, const float *cb, const float *pb,
                                                                         const bert_band *bd, float scale) {
    const int T = bd->T;
    const __m256 sc = _mm256_set1_ps(scale);
    const __m256i rev = _mm256_set_epi32(0, 1, 2, 3, 4, 5, 6, 7), iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    for (int i = 0; i < T; i++) {
        const int *rr = bd->ri + (T - 1) + i;
        const float *ci = cb + (size_t)i * bd->wb - bd->lo_c[i / BAND_ROWS];
        float *si = s + (size_t)i * T;
        int j = 0;
        for (; j + 8 <= T; j += 8) {
            const __m256i r = _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)(rr - j - 7)), rev);
            const int r0 = rr[-j]; /* a run: a load, reversed (as above) */
            const __m256i run = _mm256_cmpeq_epi32(r, _mm256_sub_epi32(_mm256_set1_epi32(r0), iota));
            const __m256 c = _mm256_movemask_epi8(run) == -1 ? _mm256_permutevar8x32_ps(_mm256_loadu_ps(ci + r0 - 7), rev)
                                                             : _mm256_i32gather_ps(ci, r, 4);
            const __m256 p = _mm256_i32gather_ps(pb, _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(bd->pbase + j)), r), 4);
            _mm256_storeu_ps(si + j, _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(si + j), c), p), sc));
        }
        for (; j < T; j++) si[j] = (si[j] + ci[rr[-j]] + pb[bd->pbase[j] + rr[-j]]) * scale;
    }
}
#endif

#ifdef SBV2_X86
/* K^T as one 16-key strip: keys k[t * ld] (t < tn, zeros past) to dst[d * 16 + t],
 * 8 x 8 blocks transposed in registers (D a multiple of 8; the scalar loop's
 * stores, 16 floats apart, cost more than the heads' softmax) */
__attribute__((target("avx2"))) static void kt_strip_avx2(const float *k, size_t ld, int tn, int D, float *dst) {
    for (int d0 = 0; d0 < D; d0 += 8)
        for (int th = 0; th < 16; th += 8) {
            __m256 r[8];
            for (int i = 0; i < 8; i++) r[i] = th + i < tn ? _mm256_loadu_ps(k + (size_t)(th + i) * ld + d0) : _mm256_setzero_ps();
            const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
            const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
            const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
            const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
            const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
            const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
            const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
            const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
            float *o = dst + (size_t)d0 * 16 + th;
            _mm256_storeu_ps(o, _mm256_permute2f128_ps(s0, s4, 0x20));
            _mm256_storeu_ps(o + 16, _mm256_permute2f128_ps(s1, s5, 0x20));
            _mm256_storeu_ps(o + 32, _mm256_permute2f128_ps(s2, s6, 0x20));
            _mm256_storeu_ps(o + 48, _mm256_permute2f128_ps(s3, s7, 0x20));
            _mm256_storeu_ps(o + 64, _mm256_permute2f128_ps(s0, s4, 0x31));
            _mm256_storeu_ps(o + 80, _mm256_permute2f128_ps(s1, s5, 0x31));
            _mm256_storeu_ps(o + 96, _mm256_permute2f128_ps(s2, s6, 0x31));
            _mm256_storeu_ps(o + 112, _mm256_permute2f128_ps(s3, s7, 0x31));
        }
}
#endif

/* Offset of table entry lo (a multiple of 16) from a head's first: a band's
 * B starts there, as rows or as strips. */
static size_t band_col(const sbv2_bert *b, int lo) { return b->strips ? (size_t)(lo / 16) * b->D * 16 : (size_t)lo; }

/* One head h: qkv [T][3HD] rows (q, k, v side by side); ctx [T][HD] gets
 * this head's D columns. */
static void head(const sbv2_bert *b, const bert_layer *L, int h, const float *qkv, const bert_band *bd, float *ctx, float *buf,
                 isa_t isa) {
    const int D = b->D, P2 = b->P2, HD = b->heads * b->D, T = bd->T, wb = bd->wb;
    /* qkv rows: q, k and v groups, each on a 64-column boundary (linear_n) */
    const size_t ld3 = (size_t)L->qkv.out, ldt = (size_t)R16(T) + 64;
    const float *q = qkv + (size_t)h * D, *k = q + R64(HD), *v = k + R64(HD);
    float *kp = buf, *s = kp + (size_t)D * ldt, *cb = s + R16((size_t)T * T), *pb = cb + (size_t)T * wb;
    const int st = b->strips;
    float *vs = pb + (size_t)T * wb, *wk = st ? vs + R16((size_t)R16(D) * T) : NULL;
    if (st) { /* K^T and V as 16-column strips (the AVX2 strips layout), zeros past T and D */
        for (int t0 = 0; t0 < T; t0 += 16) {
            float *dst = kp + (size_t)t0 * D;
            const int tn = T - t0 < 16 ? T - t0 : 16;
#ifdef SBV2_X86
            if (isa >= ISA_AVX2 && D % 8 == 0) {
                kt_strip_avx2(k + (size_t)t0 * ld3, ld3, tn, D, dst);
                continue;
            }
#endif
            for (int t = 0; t < 16; t++) {
                const float *kr = k + (size_t)(t0 + t) * ld3;
                for (int d = 0; d < D; d++) dst[d * 16 + t] = t < tn ? kr[d] : 0.0f;
            }
        }
        for (int d0 = 0; d0 < D; d0 += 16) {
            float *dst = vs + (size_t)d0 * T;
            const int dn = D - d0 < 16 ? D - d0 : 16;
            if (dn == 16) /* a fixed size: inlined, not a call per row */
                for (int t = 0; t < T; t++) memcpy(dst + (size_t)t * 16, v + (size_t)t * ld3 + d0, sizeof(float) * 16);
            else
                for (int t = 0; t < T; t++) {
                    memcpy(dst + (size_t)t * 16, v + (size_t)t * ld3 + d0, sizeof(float) * (size_t)dn);
                    memset(dst + (size_t)t * 16 + dn, 0, sizeof(float) * (size_t)(16 - dn));
                }
        }
    } else {
        for (int t0 = 0; t0 < T; t0 += 16) /* K^T in blocks of 16 keys, rows padded so full tiles can read */
            for (int d = 0; d < D; d++)
                for (int t = t0; t < t0 + 16 && t < T; t++) kp[d * ldt + t] = k[t * ld3 + d];
        for (int d = 0; d < D; d++) memset(kp + d * ldt + T, 0, (ldt - T) * sizeof(float));
    }
    gemm_job g = {q, ld3, T, D, kp, ldt, T, s, (size_t)T, NULL, 0, 0, 0, 1, NULL, st ? (size_t)D * 64 : 0, st, wk, NULL, 0, NULL, 0};
    conv_gemm(&g);
    const size_t hoff = pos_at(b, h, 0, 0); /* this head's rows of the position tables */
    const size_t pld = st ? 64 : (size_t)P2, pps = st ? (size_t)D * 64 : 0;
    for (int blk = 0; blk * BAND_ROWS < T; blk++) {
        const int r0 = blk * BAND_ROWS, rows = T - r0 < BAND_ROWS ? T - r0 : BAND_ROWS;
        if (b->c2p) {
            gemm_job c = {q + r0 * ld3, ld3, rows, D, L->kr + hoff + band_col(b, bd->lo_c[blk]), pld, bd->wc[blk], cb + (size_t)r0 * wb,
                          (size_t)wb, NULL, 0, 0, 0, 1, NULL, pps, st, NULL, NULL, 0, NULL, 0};
            conv_gemm(&c);
        }
        if (b->p2c) {
            gemm_job c = {k + r0 * ld3, ld3, rows, D, L->qr + hoff + band_col(b, bd->lo_p[blk]), pld, bd->wp[blk], pb + (size_t)r0 * wb,
                          (size_t)wb, NULL, 0, 0, 0, 1, NULL, pps, st, NULL, NULL, 0, NULL, 0};
            conv_gemm(&c);
        }
    }
    const float scale = 1.0f / sqrtf((float)D * (float)(1 + b->c2p + b->p2c));
#ifdef SBV2_X86
    if (b->c2p && b->p2c && isa == ISA_AVX512) add_positions_gather(s, cb, pb, bd, scale);
    else if (b->c2p && b->p2c && isa == ISA_AVX2) add_positions_gather_avx2(s, cb, pb, bd, scale);
    else
#endif
        add_positions(isa, s, b->c2p ? cb : NULL, b->p2c ? pb : NULL, bd, scale);
    softmax_rows(isa, s, T);
    gemm_job o = {s, (size_t)T, T, T, st ? vs : v, st ? 64 : ld3, D, ctx + (size_t)h * D, (size_t)HD, NULL, 0, 0, 0, 1, NULL,
                  st ? (size_t)T * 64 : 0, st, wk, NULL, 0, NULL, 0};
    conv_gemm(&o);
}

/* Hidden state SBV2 reads ([T][H], token-major) for ids. */
static int forward(const sbv2_bert *b, const int64_t *ids, int T, int nt, float *out, sbv2_error *err) {
    const int H = b->H, HD = b->heads * b->D, I = b->I;
    bert_band bd;
    const int band_rc = band_init(b, T, &bd);
    const size_t per_head = head_floats(b, T, bd.wb);
    const isa_t isa = isa_active();
    void (*const gelu)(float *, size_t) = gelu_rows_for(isa); /* the FFN's post-op on this path */
    /* x: the running state [T][H]; qkv [T][3 R64(HD)] (+64 readable floats); ctx [T][HD]; a: FFN [T][I];
       the linear layers' inputs x, ctx and a with a zero row T (Strassen's halves of an odd T) */
    float *e0 = conv_alloc((size_t)H * (T + b->conv_k - 1)), *qkv = conv_alloc((size_t)3 * R64(HD) * T + 64);
    float *ctx = conv_alloc((size_t)HD * (T + 1)), *a = conv_alloc((size_t)(I > H ? I : H) * (T + 1));
    float *x = conv_alloc((size_t)H * (T + 1));
    float *hb = conv_alloc(per_head * (size_t)nt);
    /* room for the AVX2 strips' turned-round products (A packed, accumulators)
       and Strassen's B pieces; Strassen's products and A sums (long inputs) */
    const int kmax = I > H ? (I > HD ? I : HD) : (H > HD ? H : HD), kconv = b->conv_k * H, nmax = b->layers[0].qkv.out > kmax ? b->layers[0].qkv.out : kmax;
    const int big = b->strassen_min > 0 && T >= b->strassen_min; /* some layer may run Strassen */
    const size_t nplain = gemm_work_floats(T, kmax > kconv ? kmax : kconv, nt), nbatch = big ? gemm_batch_work_floats((T + 1) / 2, kmax / 2, 7, nt) : 0;
    float *work = b->strips || big ? conv_alloc(nplain > nbatch ? nplain : nbatch) : NULL;
    float *room = big ? conv_alloc(strassen_floats(T, kmax, nmax)) : NULL; /* without it: the plain products */
    int rc = SBV2_OK;
    if (band_rc || !e0 || !qkv || !ctx || !a || !x || !hb || ((b->strips || big) && !work)) {
        rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        goto done;
    }
    memset(x + (size_t)H * T, 0, sizeof(float) * (size_t)H);
    memset(ctx + (size_t)HD * T, 0, sizeof(float) * (size_t)HD);
    memset(a + (size_t)I * T, 0, sizeof(float) * (size_t)I);
    memset(qkv + (size_t)3 * R64(HD) * T, 0, 64 * sizeof(float));
    /* embeddings: rows of the (mapped) table, LayerNorm */
    for (int t = 0; t < T; t++) {
        st_tensor one = *b->emb;
        one.data = b->emb->data + (size_t)ids[t] * H * st_dtype_size(b->emb->dtype), one.numel = (size_t)H;
        st_read_f32(&one, x + (size_t)t * H);
    }
    ln_rows(&b->ln_emb, x, T, nt);
    const size_t cpad = (size_t)(b->conv_k - 1) / 2 * H; /* e0: the embedding output between zero rows */
    memset(e0, 0, sizeof(float) * cpad);
    memcpy(e0 + cpad, x, sizeof(float) * (size_t)H * T);
    memset(e0 + cpad + (size_t)H * T, 0, sizeof(float) * cpad);
    for (int l = 0; l < b->n_run; l++) {
        const bert_layer *L = &b->layers[l];
        lin(&L->qkv, x, T, qkv, 0, nt, NULL, work, b, room);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
        for (int h = 0; h < b->heads; h++) head(b, L, h, qkv, &bd, ctx, conv_thread_slice(hb, per_head), isa);
        /* attention output: LayerNorm(x + dense(ctx)) */
        lin(&L->o, ctx, T, x, 1, nt, NULL, work, b, room);
        ln_rows(&L->ln_att, x, T, nt);
        /* FFN: LayerNorm(x + down(gelu(up(x)))) */
        lin(&L->up, x, T, a, 0, nt, gelu, work, b, room);
        lin(&L->down, a, T, x, 1, nt, NULL, work, b, room);
        ln_rows(&L->ln_out, x, T, nt);
        if (l == 0) { /* ConvLayer: LayerNorm(x + gelu(conv(embedding output))), conv over time:
                         e0 rows with (k-1)/2 zero rows each side. Row t of e0 and the k-1
                         after it are one run of k H floats, so the taps are one product of
                         k H steps over rows H apart, in slices of H (a tap each: the same
                         sums, in the same order, as a product per tap) */
            float *ct = a;
            gemm_job g = {e0, (size_t)H, T, b->conv_k * H, b->conv.wt, 64, H, ct, (size_t)H, b->conv.b, 0, H, 1, nt, gelu,
                          b->conv.ps, b->strips, work, NULL, 0, NULL, 0};
            conv_gemm(&g);
            op_add_par(x, ct, (size_t)H * T, nt);
            ln_rows(&b->ln_conv, x, T, nt);
            memset(a + (size_t)I * T, 0, sizeof(float) * (size_t)I); /* its zero row again (ct was [T][H]) */
        }
    }
    memcpy(out, x, sizeof(float) * (size_t)H * T);
done:
    band_free(&bd);
    free(e0), free(qkv), free(ctx), free(a), free(x), free(hb), free(work), free(room);
    return rc;
}

static int check_ids(const sbv2_bert *b, const int64_t *ids, size_t n, sbv2_error *err) {
    if (!b || !ids || n == 0) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "no token ids");
    if (n > 100000) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "too many tokens (%zu)", n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= b->vocab)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "token id %lld outside the vocabulary", (long long)ids[i]);
    return SBV2_OK;
}

int sbv2_bert_hidden(const sbv2_bert *b, const int64_t *ids, size_t n, int n_threads, float **state, sbv2_error *err) {
    if (state) *state = NULL;
    int rc = check_ids(b, ids, n, err);
    if (rc != SBV2_OK) return rc;
    if (!state) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "state is NULL");
    const int T = (int)n;
    float *o = conv_alloc((size_t)b->H * T); /* [T][H], as transformers returns it */
    if (!o) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    rc = forward(b, ids, T, n_threads > 0 ? n_threads : 1, o, err);
    if (rc != SBV2_OK) { free(o); return rc; }
    *state = o;
    return SBV2_OK;
}

int sbv2_bert_feature(const sbv2_bert *b, const char *text, size_t len, const int *word2ph, size_t n_word2ph,
                      const char *assist_text, float assist_weight, int n_threads, float **feature, size_t *n_phones,
                      sbv2_error *err) {
    return bert_feature(b, text, len, word2ph, n_word2ph, assist_text, assist_weight, n_threads, feature, n_phones, err);
}

int bert_feature(const sbv2_bert *b, const char *text, size_t len, const int *word2ph, size_t n_word2ph,
                 const char *assist_text, double assist_weight, int n_threads, float **feature, size_t *n_phones,
                 sbv2_error *err) {
    if (feature) *feature = NULL;
    if (n_phones) *n_phones = 0;
    if (!b || !feature || !n_phones || !word2ph) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "bad arguments");
    int64_t *ids = NULL;
    size_t n = 0;
    float *st = NULL, *as = NULL;
    int rc = sbv2_bert_tokenize(b, text, len, &ids, &n, err);
    if (rc == SBV2_OK && n != n_word2ph)
        rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "word2ph has %zu entries but the text gives %zu tokens", n_word2ph, n);
    if (rc == SBV2_OK) rc = sbv2_bert_hidden(b, ids, n, n_threads, &st, err);
    free(ids);
    const int H = b->H;
    float *mean = NULL;
    if (rc == SBV2_OK && assist_text && *assist_text) {
        size_t na = 0;
        ids = NULL;
        rc = sbv2_bert_tokenize(b, assist_text, strlen(assist_text), &ids, &na, err);
        if (rc == SBV2_OK) rc = sbv2_bert_hidden(b, ids, na, n_threads, &as, err);
        free(ids);
        mean = rc == SBV2_OK ? calloc((size_t)H, sizeof(float)) : NULL;
        if (rc == SBV2_OK && !mean) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        if (mean) {
            for (int h = 0; h < H; h++) {
                double acc = 0; /* torch's mean over rows */
                for (size_t t = 0; t < na; t++) acc += as[t * H + h];
                mean[h] = (float)(acc / (double)na);
            }
        }
    }
    size_t P = 0;
    for (size_t i = 0; rc == SBV2_OK && i < n_word2ph; i++) {
        if (word2ph[i] < 0 || word2ph[i] > 1000000) rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "word2ph entry %zu is out of range", i);
        else P += (size_t)word2ph[i];
    }
    float *f = rc == SBV2_OK ? malloc(sizeof(float) * (size_t)H * (P ? P : 1)) : NULL;
    if (rc == SBV2_OK && !f) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    /* res * (1 - w) + mean * w: torch rounds each Python-float factor to float32 */
    const float keep = (float)(1.0 - assist_weight), mix = (float)assist_weight;
    if (f) { /* [H][P]: row i of the state repeated word2ph[i] times */
        size_t col = 0;
        for (size_t i = 0; i < n_word2ph; i++)
            for (int r = 0; r < word2ph[i]; r++, col++)
                for (int h = 0; h < H; h++) {
                    const float v = st[i * H + h];
                    f[(size_t)h * P + col] = mean ? v * keep + mean[h] * mix : v;
                }
        *feature = f, *n_phones = P;
    }
    free(st), free(as), free(mean);
    return rc;
}

