/* SBV2's convert_bert_onnx.py export of the DeBERTa-v2: inputs input_ids and
 * attention_mask (int64 [batch_size, sequence_length]), output "output" =
 * hidden_states[-3][0] ([sequence_length, hidden]). The graph mirrors
 * src/bert/deberta.c: the position tables are the load-time projections
 * (constants), the relative row of every (query, key) pair comes from a
 * constant table of log buckets indexed by query - key. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bert/deberta.h"
#include "onnx/builder.h"

#define T_FLOAT ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define T_INT64 ONNX__TENSOR_PROTO__DATA_TYPE__INT64
#define T_BOOL ONNX__TENSOR_PROTO__DATA_TYPE__BOOL
#define MAXREL 8192 /* relative offsets the bucket table covers (sequences up to this long) */

typedef struct {
    ob_graph *g;
    const sbv2_bert *b;
    int bad;
} bx;

#define node(x, type, ...) ob_addv((x)->g, type, __VA_ARGS__)
#define OP(x, type, ...) OB_OP((x)->g, type, __VA_ARGS__)

static const char *ivec(bx *x, int n, const int64_t *v) {
    int64_t d = n;
    return ob_const_i64(x->g, 1, &d, v);
}
static const char *perm(bx *x, const char *a, int n, const int64_t *p) {
    ob_node *nd = node(x, "Transpose", 1, a);
    ob_attr_ints(x->g, nd, "perm", n, p);
    return ob_out(nd, 0);
}

/* A weight of the file as fp32 owned by the graph (transposed 2-D when asked). */
static const char *weight(bx *x, const char *name, int transpose2d, int64_t *dims_out) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", bert_prefix(x->b), name);
    const st_tensor *t = st_find(&x->b->st, full);
    float *buf = t ? ob_alloc_f32(x->g, t->numel) : NULL;
    if (!buf) { x->bad = 1; return ""; }
    st_read_f32(t, buf);
    int64_t d[ST_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) d[i] = t->shape[i];
    if (transpose2d && t->ndim == 2) {
        float *tr = ob_alloc_f32(x->g, t->numel);
        if (!tr) { x->bad = 1; return ""; }
        for (int64_t r = 0; r < d[0]; r++)
            for (int64_t c = 0; c < d[1]; c++) tr[c * d[0] + r] = buf[r * d[1] + c];
        buf = tr;
        const int64_t s = d[0];
        d[0] = d[1], d[1] = s;
    }
    if (dims_out) memcpy(dims_out, d, sizeof(int64_t) * (size_t)t->ndim);
    return ob_weight(x->g, buf, t->ndim, d);
}

static const char *linear(bx *x, const char *in, const char *fmt, int layer) {
    char w[200], bb[200];
    snprintf(w, sizeof w, fmt, layer);
    snprintf(bb, sizeof bb, fmt, layer);
    strcat(w, ".weight"), strcat(bb, ".bias");
    return OP(x, "Add", OP(x, "MatMul", in, weight(x, w, 1, NULL)), weight(x, bb, 0, NULL));
}

static const char *layernorm(bx *x, const char *in, const char *fmt, int layer) {
    char w[200], bb[200];
    snprintf(w, sizeof w, fmt, layer);
    snprintf(bb, sizeof bb, fmt, layer);
    strcat(w, ".weight"), strcat(bb, ".bias");
    ob_node *nd = node(x, "LayerNormalization", 3, in, weight(x, w, 0, NULL), weight(x, bb, 0, NULL));
    ob_attr_int(x->g, nd, "axis", -1);
    ob_attr_float(x->g, nd, "epsilon", x->b->eps);
    return ob_out(nd, 0);
}

static const char *gelu(bx *x, const char *in) {
    const char *e = OP(x, "Erf", OP(x, "Div", in, ob_scalar_f32(x->g, 1.4142135623730951f)));
    return OP(x, "Mul", OP(x, "Mul", in, ob_scalar_f32(x->g, 0.5f)), OP(x, "Add", e, ob_scalar_f32(x->g, 1.0f)));
}

/* [heads, D, P2] constant of a layer's position projection, kept as [HD][P2]
 * rows, or (the AVX2 path's layout) as 16-wide strips, which are read out
 * entry by entry (bert_pos_at) */
static const char *pos_table(bx *x, const float *t) {
    const sbv2_bert *b = x->b;
    int64_t d[3] = {b->heads, b->D, b->P2};
    if (!b->strips) return ob_weight(x->g, t, 3, d); /* [HD][P2] is already [heads][D][P2] */
    float *rows = ob_alloc_f32(x->g, (size_t)b->heads * b->D * b->P2);
    if (!rows) { x->bad = 1; return ""; }
    for (int h = 0; h < b->heads; h++)
        for (int k = 0; k < b->D; k++)
            for (int r = 0; r < b->P2; r++) rows[((size_t)h * b->D + k) * b->P2 + r] = t[bert_pos_at(b, h, k, r)];
    return ob_weight(x->g, rows, 3, d);
}

static const char *cast(bx *x, const char *a, int to) {
    ob_node *nd = node(x, "Cast", 1, a);
    ob_attr_int(x->g, nd, "to", to);
    return ob_out(nd, 0);
}

static const char *unsq(bx *x, const char *a, int64_t axis) { return OP(x, "Unsqueeze", a, ivec(x, 1, &axis)); }

/* One layer on h [B,T,H]; idx [B,heads,T,T] rows for c2p, idxT for p2c; rmask
 * [B,1,T,T] true where attention is masked. */
static const char *layer(bx *x, int l, const char *h, const char *idx, const char *idxT, const char *rmask) {
    const sbv2_bert *b = x->b;
    const int64_t shp4[4] = {0, 0, b->heads, b->D}, to_bhtd[4] = {0, 2, 1, 3}, to_bhdt[4] = {0, 2, 3, 1};
    const char *s4 = ivec(x, 4, shp4);
    const char *q = perm(x, OP(x, "Reshape", linear(x, h, "encoder.layer.%d.attention.self.query_proj", l), s4), 4, to_bhtd);
    const char *k = OP(x, "Reshape", linear(x, h, "encoder.layer.%d.attention.self.key_proj", l), s4);
    const char *kt = perm(x, k, 4, to_bhdt), *kk = perm(x, k, 4, to_bhtd);
    const char *v = perm(x, OP(x, "Reshape", linear(x, h, "encoder.layer.%d.attention.self.value_proj", l), s4), 4, to_bhtd);
    const char *score = OP(x, "MatMul", q, kt);
    if (b->c2p) {
        ob_node *ge = node(x, "GatherElements", 2, OP(x, "MatMul", q, pos_table(x, b->layers[l].kr)), idx);
        ob_attr_int(x->g, ge, "axis", -1);
        score = OP(x, "Add", score, ob_out(ge, 0));
    }
    if (b->p2c) {
        ob_node *ge = node(x, "GatherElements", 2, OP(x, "MatMul", kk, pos_table(x, b->layers[l].qr)), idxT);
        ob_attr_int(x->g, ge, "axis", -1);
        const int64_t sw[4] = {0, 1, 3, 2};
        score = OP(x, "Add", score, perm(x, ob_out(ge, 0), 4, sw));
    }
    score = OP(x, "Mul", score, ob_scalar_f32(x->g, 1.0f / sqrtf((float)b->D * (float)(1 + b->c2p + b->p2c))));
    /* XSoftmax: masked scores out, softmax, masked probabilities zero */
    score = OP(x, "Where", rmask, ob_scalar_f32(x->g, -3.4028234663852886e38f), score);
    ob_node *sm = node(x, "Softmax", 1, score);
    ob_attr_int(x->g, sm, "axis", -1);
    const char *probs = OP(x, "Where", rmask, ob_scalar_f32(x->g, 0.0f), ob_out(sm, 0));
    const int64_t back[3] = {0, 0, (int64_t)b->heads * b->D};
    const char *ctx = OP(x, "Reshape", perm(x, OP(x, "MatMul", probs, v), 4, to_bhtd), ivec(x, 3, back));
    const char *a = layernorm(x, OP(x, "Add", linear(x, ctx, "encoder.layer.%d.attention.output.dense", l), h),
                              "encoder.layer.%d.attention.output.LayerNorm", l);
    const char *f = linear(x, gelu(x, linear(x, a, "encoder.layer.%d.intermediate.dense", l)), "encoder.layer.%d.output.dense", l);
    return layernorm(x, OP(x, "Add", f, a), "encoder.layer.%d.output.LayerNorm", l);
}

int sbv2_bert_export_onnx(const sbv2_bert *b, const char *path, sbv2_error *err) {
    if (!b || !path) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "bert and path are required");
    ob_graph *g = ob_new();
    if (!g) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    bx X = {g, b, 0}, *x = &X;
    const int64_t dyn2[2] = {-1, -1};
    const char *const names2[2] = {"batch_size", "sequence_length"};
    ob_input(g, "input_ids", T_INT64, 2, dyn2, names2);
    ob_input(g, "attention_mask", T_INT64, 2, dyn2, names2);
    const char *maskf = cast(x, "attention_mask", T_FLOAT);
    /* embeddings: Gather, LayerNorm, times the mask */
    const char *e = OP(x, "Gather", weight(x, "embeddings.word_embeddings.weight", 0, NULL), "input_ids");
    e = OP(x, "Mul", layernorm(x, e, "embeddings.LayerNorm", 0), unsq(x, maskf, -1));
    /* relative rows: table[(i - j) + MAXREL] for the sequence's i, j */
    int64_t *tab = malloc(sizeof(int64_t) * (2 * MAXREL + 1));
    if (!tab) { ob_free(g); return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); }
    for (int r = -MAXREL; r <= MAXREL; r++) tab[r + MAXREL] = bert_rel_index(b, r);
    const int64_t tn = 2 * MAXREL + 1;
    const char *table = ob_const_i64(g, 1, &tn, tab);
    free(tab);
    const int64_t one = 1, zero = 0, two = 2;
    const char *T = OP(x, "Slice", OP(x, "Shape", "input_ids"), ivec(x, 1, &one), ivec(x, 1, &two), ivec(x, 1, &zero));
    const char *pos = OP(x, "Range", ob_scalar_i64(g, 0), OP(x, "Squeeze", T, ivec(x, 1, &zero)), ob_scalar_i64(g, 1));
    const char *rel = OP(x, "Sub", unsq(x, pos, 1), unsq(x, pos, 0)); /* [T,T]: i - j */
    const char *ridx = OP(x, "Gather", table, OP(x, "Add", rel, ob_scalar_i64(g, MAXREL)));
    const int64_t sw2[2] = {1, 0};
    /* [B, heads, T, T] */
    const char *B = OP(x, "Slice", OP(x, "Shape", "input_ids"), ivec(x, 1, &zero), ivec(x, 1, &one), ivec(x, 1, &zero));
    const int64_t hd = b->heads;
    ob_node *cc = node(x, "Concat", 4, B, ivec(x, 1, &hd), T, T);
    ob_attr_int(g, cc, "axis", 0);
    const char *shape4 = ob_out(cc, 0);
    const char *idx = OP(x, "Expand", ridx, shape4);
    const char *idxT = OP(x, "Expand", perm(x, ridx, 2, sw2), shape4);
    /* masked pairs: not (mask_i * mask_j) */
    const char *mm = OP(x, "Mul", unsq(x, maskf, 2), unsq(x, maskf, 1)); /* [B,T,T] */
    const char *rmask = unsq(x, OP(x, "Not", cast(x, mm, T_BOOL)), 1);  /* [B,1,T,T] */
    const char *h = e;
    for (int l = 0; l < b->n_run && !x->bad; l++) {
        h = layer(x, l, h, idx, idxT, rmask);
        if (l == 0) { /* ConvLayer on the embedding output */
            const int64_t ct[3] = {0, 2, 1};
            int64_t kd[3];
            const char *w = weight(x, "encoder.conv.conv.weight", 0, kd);
            ob_node *cv = node(x, "Conv", 3, perm(x, e, 3, ct), w, weight(x, "encoder.conv.conv.bias", 0, NULL));
            const int64_t ks = b->conv_k, pads[2] = {(b->conv_k - 1) / 2, (b->conv_k - 1) / 2};
            ob_attr_ints(g, cv, "kernel_shape", 1, &ks);
            ob_attr_ints(g, cv, "pads", 2, pads);
            const char *c = gelu(x, perm(x, ob_out(cv, 0), 3, ct));
            h = OP(x, "Mul", layernorm(x, OP(x, "Add", h, c), "encoder.conv.LayerNorm", 0), unsq(x, maskf, -1));
        }
    }
    ob_node *g0 = node(x, "Gather", 2, h, ob_scalar_i64(g, 0)); /* batch 0: [T, H] */
    ob_attr_int(g, g0, "axis", 0);
    const char *const out_names[2] = {"sequence_length", NULL};
    ob_output(g, ob_out(g0, 0), "output", T_FLOAT, 2, out_names);
    int rc = x->bad || ob_failed(g) ? sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory building the ONNX graph")
                                    : ob_write(g, path, SBV2_VERSION_STRING, err);
    ob_free(g);
    return rc;
}

