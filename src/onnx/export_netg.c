/* The generator's inference path as an ONNX graph, with exactly the interface
 * of SBV2's convert_onnx.py (inputs x_tst ... noise_scale_w, output "output",
 * dynamic batch_size / x_tst_max_length). One function per model part,
 * mirroring src/model/: text encoder, encoder (rel-pos attention), duration
 * predictors (+ spline), alignment, flow, decoder. Weights are the loaded
 * model's (weight norm already folded), borrowed without copies. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "onnx/builder.h"
#include "onnx/export.h"

#define T_FLOAT ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define T_INT64 ONNX__TENSOR_PROTO__DATA_TYPE__INT64
#define T_BOOL ONNX__TENSOR_PROTO__DATA_TYPE__BOOL

/* Per-length helpers shared by every attention layer over that length. */
typedef struct len_ctx {
    const char *mask;      /* [B,1,L] float 1/0 */
    const char *attn_zero; /* [B,1,L,L] bool: where attention is masked */
    int window;
    const char *band_idx;  /* [L,L] int64: clip(j - i + W, 0, 2W) */
    const char *band_mask; /* [L,L] float: |j - i| <= W */
    const char *rel_idx;   /* [L,2W+1] int64: i + r (into p padded by W) */
} len_ctx;

typedef struct ex {
    ob_graph *g;
    const sbv2_model *m;
    const char *g_vec;  /* speaker embedding [B,G] */
    const char *g_col;  /* [B,G,1] */
    int failed;         /* a dropped weight could not be folded again */
} ex;

/* ---- small node helpers ---------------------------------------------------- */

#define node(x, type, ...) ob_addv((x)->g, type, __VA_ARGS__)
#define OP(x, type, ...) OB_OP((x)->g, type, __VA_ARGS__)

static const char *ivec(ex *x, int n, ...) {
    int64_t v[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) v[i] = va_arg(ap, int64_t);
    va_end(ap);
    int64_t d = n;
    return ob_const_i64(x->g, 1, &d, v);
}
#define I(v) ((int64_t)(v))

static const char *fconst(ex *x, float v) { return ob_scalar_f32(x->g, v); }

static const char *unsqueeze(ex *x, const char *a, int64_t axis) { return OP(x, "Unsqueeze", a, ivec(x, 1, axis)); }
static const char *squeeze(ex *x, const char *a, int64_t axis) { return OP(x, "Squeeze", a, ivec(x, 1, axis)); }

static const char *slice(ex *x, const char *a, int64_t axis, int64_t start, int64_t end) {
    return OP(x, "Slice", a, ivec(x, 1, start), ivec(x, 1, end), ivec(x, 1, axis));
}

static const char *transpose(ex *x, const char *a, int n, const int64_t *perm) {
    ob_node *nd = node(x, "Transpose", 1, a);
    ob_attr_ints(x->g, nd, "perm", n, perm);
    return ob_out(nd, 0);
}

static const char *cast(ex *x, const char *a, int to) {
    ob_node *nd = node(x, "Cast", 1, a);
    ob_attr_int(x->g, nd, "to", to);
    return ob_out(nd, 0);
}

/* Shape(a)[axis] as a 1-element int64 vector. */
static const char *dim(ex *x, const char *a, int64_t axis) { return slice(x, OP(x, "Shape", a), 0, axis, axis + 1); }

/* Concat of 1-D int64 shape pieces along axis 0. */
static const char *concat0(ex *x, const char *a, const char *b, const char *c) {
    ob_node *nd = c ? node(x, "Concat", 3, a, b, c) : node(x, "Concat", 2, a, b);
    ob_attr_int(x->g, nd, "axis", 0);
    return ob_out(nd, 0);
}

/* A weight the load folded and dropped (weight norm) is folded again here. */
static const float *weight_data(ex *x, const float *w, const char *wn_key, const int64_t d[3]) {
    if (w || !wn_key) return w;
    float *buf = ob_alloc_f32(x->g, (size_t)(d[0] * d[1] * d[2]));
    if (buf && sbv2_refold_wn(x->m, wn_key, d, buf) != SBV2_OK) x->failed = 1;
    return buf;
}

/* A weight under the parameter name it was loaded from, so sbv2c reads the
 * file back by name (a folded weight-norm pair: <prefix>.weight). */
static const char *xw(ex *x, const float *data, int ndim, const int64_t *dims) {
    return ob_weight_named(x->g, sbv2_weight_name(x->m, data), data, ndim, dims);
}

static const char *wn_w(ex *x, const float *w, const char *wn_key, int64_t d[3]) {
    char name[256];
    if (w) return xw(x, w, 3, d);
    snprintf(name, sizeof name, "%s.weight", wn_key ? wn_key : "");
    return ob_weight_named(x->g, wn_key ? name : NULL, weight_data(x, w, wn_key, d), 3, d);
}

static const char *conv_w(ex *x, const conv1d_t *c) {
    int64_t d[3] = {c->cout, c->cin, c->k};
    return wn_w(x, c->w, c->wn_key, d);
}

static const char *bias_w(ex *x, const float *b, int n) {
    int64_t d = n;
    return xw(x, b, 1, &d);
}

/* Conv1d, stride 1, zero padding pad_l/pad_r, optional groups. */
static const char *conv(ex *x, const char *in, const conv1d_t *c, int dil, int pad_l, int pad_r, int groups) {
    ob_node *nd = c->b ? node(x, "Conv", 3, in, conv_w(x, c), bias_w(x, c->b, c->cout)) : node(x, "Conv", 2, in, conv_w(x, c));
    int64_t k = c->k, d = dil, pads[2] = {pad_l, pad_r};
    ob_attr_ints(x->g, nd, "kernel_shape", 1, &k);
    ob_attr_ints(x->g, nd, "dilations", 1, &d);
    ob_attr_ints(x->g, nd, "pads", 2, pads);
    if (groups > 1) ob_attr_int(x->g, nd, "group", groups);
    return ob_out(nd, 0);
}

static const char *conv1x1(ex *x, const char *in, const conv1d_t *c) { return conv(x, in, c, 1, 0, 0, 1); }

/* Linear(in -> out) on [B, in]: Gemm with the PyTorch [out, in] weight. */
static const char *linear(ex *x, const char *in, const conv1d_t *c) {
    int64_t d[2] = {c->cout, c->cin};
    ob_node *nd = node(x, "Gemm", 3, in, xw(x, c->w, 2, d), bias_w(x, c->b, c->cout));
    ob_attr_int(x->g, nd, "transB", 1);
    return ob_out(nd, 0);
}

/* LayerNorm over channels of [B,C,T]. */
static const char *layernorm(ex *x, const char *in, const layernorm_t *ln) {
    static const int64_t p[3] = {0, 2, 1};
    const char *t = transpose(x, in, 3, p);
    ob_node *nd = node(x, "LayerNormalization", 3, t, bias_w(x, ln->gamma, ln->c), bias_w(x, ln->beta, ln->c));
    ob_attr_int(x->g, nd, "axis", -1);
    ob_attr_float(x->g, nd, "epsilon", 1e-5f);
    return transpose(x, ob_out(nd, 0), 3, p);
}

static const char *gelu(ex *x, const char *in) {
    const char *e = OP(x, "Erf", OP(x, "Div", in, fconst(x, 1.4142135623730951f)));
    return OP(x, "Mul", OP(x, "Mul", in, fconst(x, 0.5f)), OP(x, "Add", e, fconst(x, 1.0f)));
}

static const char *leaky(ex *x, const char *in, float slope) {
    ob_node *nd = node(x, "LeakyRelu", 1, in);
    ob_attr_float(x->g, nd, "alpha", slope);
    return ob_out(nd, 0);
}

/* [B,1,L] float mask from lengths [B] and the length scalar L (int64). */
static const char *sequence_mask(ex *x, const char *lengths, const char *L) {
    const char *r = OP(x, "Range", ob_scalar_i64(x->g, 0), L, ob_scalar_i64(x->g, 1));
    const char *lt = OP(x, "Less", unsqueeze(x, r, 0), unsqueeze(x, lengths, 1));
    return unsqueeze(x, cast(x, lt, T_FLOAT), 1);
}

static void len_ctx_init(ex *x, len_ctx *c, const char *mask) {
    memset(c, 0, sizeof *c);
    c->mask = mask;
    const char *am = OP(x, "Mul", unsqueeze(x, mask, 2), unsqueeze(x, mask, 3));
    c->attn_zero = OP(x, "Equal", am, fconst(x, 0.0f));
}

/* Index tensors of the relative-position band for window W, built from L. */
static void len_ctx_window(ex *x, len_ctx *c, int W) {
    if (c->band_idx && c->window == W) return;
    c->window = W;
    const char *L = squeeze(x, dim(x, c->mask, 2), 0);
    const char *r = OP(x, "Range", ob_scalar_i64(x->g, 0), L, ob_scalar_i64(x->g, 1));
    const char *d = OP(x, "Sub", unsqueeze(x, r, 0), unsqueeze(x, r, 1)); /* [i][j] = j - i */
    c->band_idx = OP(x, "Clip", OP(x, "Add", d, ob_scalar_i64(x->g, W)), ob_scalar_i64(x->g, 0), ob_scalar_i64(x->g, 2 * W));
    c->band_mask = cast(x, OP(x, "LessOrEqual", OP(x, "Abs", d), ob_scalar_i64(x->g, W)), T_FLOAT);
    int64_t n = 2 * W + 1, v[64];
    for (int i = 0; i < n && i < 64; i++) v[i] = i;
    int64_t dims[2] = {1, n};
    c->rel_idx = OP(x, "Add", unsqueeze(x, r, 1), ob_const_i64(x->g, 2, dims, v));
}

/* ---- attentions.Encoder ------------------------------------------------------ */

static const char *mha(ex *x, const mha_t *a, const char *in, len_ctx *lc) {
    const int H = a->q.cout, nh = a->n_heads, kc = H / nh, W = a->window;
    len_ctx_window(x, lc, W);
    static const int64_t p0132[4] = {0, 1, 3, 2};
    const char *shape4 = ivec(x, 4, I(0), I(nh), I(kc), I(-1));
    const char *q = transpose(x, OP(x, "Reshape", conv1x1(x, in, &a->q), shape4), 4, p0132); /* [B,h,L,kc] */
    const char *k = OP(x, "Reshape", conv1x1(x, in, &a->k), shape4);                         /* [B,h,kc,L] */
    const char *v = transpose(x, OP(x, "Reshape", conv1x1(x, in, &a->v), shape4), 4, p0132); /* [B,h,L,kc] */
    const char *qs = OP(x, "Div", q, fconst(x, sqrtf((float)kc)));
    const char *scores = OP(x, "MatMul", qs, k);
    /* relative keys: rel[b,h,i,r] = qs_i . Ek[r], placed on the band j = i + r - W */
    int64_t ed[2] = {2 * W + 1, kc};
    const char *ek = xw(x, a->rel_k, 2, ed);
    static const int64_t p10[2] = {1, 0};
    const char *rel = OP(x, "MatMul", qs, transpose(x, ek, 2, p10));
    ob_node *ge = node(x, "GatherElements", 2, rel, OP(x, "Expand", lc->band_idx, OP(x, "Shape", scores)));
    ob_attr_int(x->g, ge, "axis", 3);
    scores = OP(x, "Add", scores, OP(x, "Mul", ob_out(ge, 0), lc->band_mask));
    scores = OP(x, "Where", lc->attn_zero, fconst(x, -1e4f), scores);
    ob_node *sm = node(x, "Softmax", 1, scores);
    ob_attr_int(x->g, sm, "axis", -1);
    const char *p = ob_out(sm, 0);
    const char *out = OP(x, "MatMul", p, v);
    /* relative values: weights p[i, i + r - W] (zero outside), times Ev */
    const char *pp = OP(x, "Pad", p, ivec(x, 8, I(0), I(0), I(0), I(W), I(0), I(0), I(0), I(W)));
    const char *rshape = concat0(x, slice(x, OP(x, "Shape", scores), 0, 0, 3), ivec(x, 1, I(2 * W + 1)), NULL);
    ob_node *cc = node(x, "GatherElements", 2, pp, OP(x, "Expand", lc->rel_idx, rshape));
    ob_attr_int(x->g, cc, "axis", 3);
    const char *ev = xw(x, a->rel_v, 2, ed);
    out = OP(x, "Add", out, OP(x, "MatMul", ob_out(cc, 0), ev));
    out = OP(x, "Reshape", transpose(x, out, 4, p0132), ivec(x, 3, I(0), I(H), I(-1)));
    return conv1x1(x, out, &a->o);
}

static const char *ffn(ex *x, const ffn_t *f, const char *in, const char *mask) {
    const int k = f->c1.k;
    const char *h = conv(x, OP(x, "Mul", in, mask), &f->c1, 1, (k - 1) / 2, k / 2, 1);
    h = OP(x, "Relu", h);
    h = conv(x, OP(x, "Mul", h, mask), &f->c2, 1, (k - 1) / 2, k / 2, 1);
    return OP(x, "Mul", h, mask);
}

static const char *encoder(ex *x, const encoder_t *e, const char *in, len_ctx *lc) {
    const char *h = OP(x, "Mul", in, lc->mask);
    for (int i = 0; i < e->n_layers; i++) {
        if (i == e->cond_idx) {
            const char *gl = unsqueeze(x, linear(x, x->g_vec, &e->spk), 2);
            h = OP(x, "Mul", OP(x, "Add", h, gl), lc->mask);
        }
        h = layernorm(x, OP(x, "Add", h, mha(x, &e->attn[i], h, lc)), &e->ln1[i]);
        h = layernorm(x, OP(x, "Add", h, ffn(x, &e->ffn[i], h, lc->mask)), &e->ln2[i]);
    }
    return OP(x, "Mul", h, lc->mask);
}

/* ---- TextEncoder ------------------------------------------------------------- */

static const char *embedding(ex *x, const float *w, int n, int H, const char *ids) {
    int64_t d[2] = {n, H};
    ob_node *nd = node(x, "Gather", 2, xw(x, w, 2, d), ids);
    ob_attr_int(x->g, nd, "axis", 0);
    return ob_out(nd, 0); /* [B,L,H] */
}

static void text_encoder(ex *x, const char *const *in, len_ctx *lc, const char **enc_x, const char **m_p,
                         const char **logs_p) {
    const text_encoder_t *te = &x->m->enc_p;
    const int H = x->m->hp.hidden_channels, I = x->m->hp.inter_channels;
    static const int64_t p021[3] = {0, 2, 1};
    const char *h = OP(x, "Add", embedding(x, te->emb, te->n_vocab, H, in[0]), embedding(x, te->tone_emb, te->n_tones, H, in[3]));
    h = OP(x, "Add", h, embedding(x, te->lang_emb, te->n_langs, H, in[4]));
    h = OP(x, "Add", h, transpose(x, conv1x1(x, in[5], &te->bert_proj), 3, p021));
    int style_idx = 6;
    if (x->m->hp.arch == SBV2_ARCH_MULTILINGUAL) {
        h = OP(x, "Add", h, transpose(x, conv1x1(x, in[6], &te->ja_bert_proj), 3, p021));
        h = OP(x, "Add", h, transpose(x, conv1x1(x, in[7], &te->en_bert_proj), 3, p021));
        style_idx = 8;
    }
    h = OP(x, "Add", h, unsqueeze(x, linear(x, in[style_idx], &te->style_proj), 1));
    h = transpose(x, OP(x, "Mul", h, fconst(x, sqrtf((float)H))), 3, p021);
    h = encoder(x, &te->enc, h, lc);
    const char *stats = OP(x, "Mul", conv1x1(x, h, &te->proj), lc->mask);
    *enc_x = h;
    *m_p = slice(x, stats, 1, 0, I);
    *logs_p = slice(x, stats, 1, I, 2 * I);
}

/* ---- duration predictors ----------------------------------------------------- */

static const char *cond_add(ex *x, const char *h, const conv1d_t *cond) {
    return OP(x, "Add", h, conv1x1(x, x->g_col, cond)); /* [B,C,1] broadcast over time */
}

static const char *duration_predictor(ex *x, const char *enc_x, const char *mask) {
    const dp_t *dp = &x->m->dp;
    const int k = dp->conv1.k;
    const char *h = cond_add(x, enc_x, &dp->cond);
    h = conv(x, OP(x, "Mul", h, mask), &dp->conv1, 1, k / 2, k / 2, 1);
    h = layernorm(x, OP(x, "Relu", h), &dp->ln1);
    h = conv(x, OP(x, "Mul", h, mask), &dp->conv2, 1, k / 2, k / 2, 1);
    h = layernorm(x, OP(x, "Relu", h), &dp->ln2);
    h = conv1x1(x, OP(x, "Mul", h, mask), &dp->proj);
    return OP(x, "Mul", h, mask);
}

static const char *dds(ex *x, const dds_t *d, const char *in, const char *mask, const char *gin) {
    const char *h = gin ? OP(x, "Add", in, gin) : in;
    int dil = 1;
    for (int i = 0; i < d->n_layers; i++) {
        int pad = (d->kernel * dil - dil) / 2;
        const char *y = conv(x, OP(x, "Mul", h, mask), &d->sep[i], dil, pad, pad, d->sep[i].cout);
        y = gelu(x, layernorm(x, y, &d->ln1[i]));
        y = gelu(x, layernorm(x, conv1x1(x, y, &d->c1x1[i]), &d->ln2[i]));
        h = OP(x, "Add", h, y);
        dil *= d->kernel;
    }
    return OP(x, "Mul", h, mask);
}

/* Bin edges on [-B, B] from unnormalised sizes u [..., nb] (softmax, minimum). */
static const char *spline_edges(ex *x, const char *u, int nb, float tail, float min_size, const char *edge_shape,
                                float last_eps) {
    ob_node *sm = node(x, "Softmax", 1, u);
    ob_attr_int(x->g, sm, "axis", -1);
    const char *s = OP(x, "Add", OP(x, "Mul", ob_out(sm, 0), fconst(x, 1.0f - min_size * (float)nb)), fconst(x, min_size));
    const char *cs = OP(x, "CumSum", s, ob_scalar_i64(x->g, -1));
    cs = OP(x, "Sub", OP(x, "Mul", cs, fconst(x, 2.0f * tail)), fconst(x, tail));
    ob_node *lo = node(x, "ConstantOfShape", 1, edge_shape);
    ob_attr_tensor_f32(x->g, lo, "value", -tail);
    ob_node *hi = node(x, "ConstantOfShape", 1, edge_shape);
    ob_attr_tensor_f32(x->g, hi, "value", tail + last_eps);
    ob_node *cat = node(x, "Concat", 3, ob_out(lo, 0), slice(x, cs, 3, 0, nb - 1), ob_out(hi, 0));
    ob_attr_int(x->g, cat, "axis", 3);
    return ob_out(cat, 0);
}

static const char *gather_bin(ex *x, const char *t, const char *bin) {
    ob_node *nd = node(x, "GatherElements", 2, t, bin);
    ob_attr_int(x->g, nd, "axis", 3);
    return ob_out(nd, 0);
}

/* Inverse rational-quadratic spline, linear tails (transforms.py), on
 * x1 [B,1,L] with parameters h [B,1,L,3nb-1]. */
static const char *spline_inverse(ex *x, const char *x1, const char *h, int nb, float tail, float inv_sqrt_f) {
    const float minw = 1e-3f, minh = 1e-3f, mind = 1e-3f;
    const char *uw = OP(x, "Mul", slice(x, h, 3, 0, nb), fconst(x, inv_sqrt_f));
    const char *uh = OP(x, "Mul", slice(x, h, 3, nb, 2 * nb), fconst(x, inv_sqrt_f));
    const char *ud = slice(x, h, 3, 2 * nb, 3 * nb - 1);
    const char *edge_shape = concat0(x, slice(x, OP(x, "Shape", h), 0, 0, 3), ivec(x, 1, I(1)), NULL);
    const char *cw = spline_edges(x, uw, nb, tail, minw, edge_shape, 0.0f);
    const char *ch = spline_edges(x, uh, nb, tail, minh, edge_shape, 0.0f);
    const char *ch_search = spline_edges(x, uh, nb, tail, minh, edge_shape, 1e-6f);
    const char *widths = OP(x, "Sub", slice(x, cw, 3, 1, nb + 1), slice(x, cw, 3, 0, nb));
    const char *heights = OP(x, "Sub", slice(x, ch, 3, 1, nb + 1), slice(x, ch, 3, 0, nb));
    const float end = (float)log(exp(1.0 - (double)mind) - 1.0);
    const char *udp = OP(x, "Pad", ud, ivec(x, 8, I(0), I(0), I(0), I(1), I(0), I(0), I(0), I(1)), fconst(x, end));
    const char *der = OP(x, "Add", OP(x, "Softplus", udp), fconst(x, mind));
    const char *xu = unsqueeze(x, x1, 3);
    const char *cnt = cast(x, OP(x, "GreaterOrEqual", xu, ch_search), T_INT64);
    ob_node *rs = node(x, "ReduceSum", 2, cnt, ivec(x, 1, I(-1)));
    ob_attr_int(x->g, rs, "keepdims", 1);
    const char *bin = OP(x, "Sub", ob_out(rs, 0), ob_scalar_i64(x->g, 1));
    bin = OP(x, "Clip", bin, ob_scalar_i64(x->g, 0), ob_scalar_i64(x->g, nb - 1));
    const char *in_cw = gather_bin(x, cw, bin), *in_w = gather_bin(x, widths, bin);
    const char *in_ch = gather_bin(x, ch, bin), *in_h = gather_bin(x, heights, bin);
    const char *delta = gather_bin(x, OP(x, "Div", heights, widths), bin);
    const char *d0 = gather_bin(x, der, bin), *d1 = gather_bin(x, slice(x, der, 3, 1, nb + 1), bin);
    const char *dy = OP(x, "Sub", xu, in_ch);
    const char *s = OP(x, "Sub", OP(x, "Add", d0, d1), OP(x, "Mul", delta, fconst(x, 2.0f)));
    const char *a = OP(x, "Add", OP(x, "Mul", dy, s), OP(x, "Mul", in_h, OP(x, "Sub", delta, d0)));
    const char *b = OP(x, "Sub", OP(x, "Mul", in_h, d0), OP(x, "Mul", dy, s));
    const char *c = OP(x, "Neg", OP(x, "Mul", delta, dy));
    const char *disc = OP(x, "Sub", OP(x, "Mul", b, b), OP(x, "Mul", OP(x, "Mul", a, c), fconst(x, 4.0f)));
    disc = OP(x, "Max", disc, fconst(x, 0.0f));
    const char *root = OP(x, "Div", OP(x, "Mul", c, fconst(x, 2.0f)), OP(x, "Sub", OP(x, "Neg", b), OP(x, "Sqrt", disc)));
    const char *out = squeeze(x, OP(x, "Add", OP(x, "Mul", root, in_w), in_cw), 3);
    const char *inside = OP(x, "And", OP(x, "GreaterOrEqual", x1, fconst(x, -tail)), OP(x, "LessOrEqual", x1, fconst(x, tail)));
    return OP(x, "Where", inside, out, x1);
}

static const char *flip2(ex *x, const char *z) {
    ob_node *nd = node(x, "Gather", 2, z, ivec(x, 2, I(1), I(0)));
    ob_attr_int(x->g, nd, "axis", 1);
    return ob_out(nd, 0);
}

static const char *convflow_reverse(ex *x, const convflow_t *cf, const char *z, const char *mask, const char *gin) {
    const int nb = x->m->hp.sdp_bins, P = cf->proj.cout;
    const char *x0 = slice(x, z, 1, 0, 1), *x1 = slice(x, z, 1, 1, 2);
    const char *h = dds(x, &cf->dds, conv1x1(x, x0, &cf->pre), mask, gin);
    h = OP(x, "Mul", conv1x1(x, h, &cf->proj), mask);
    static const int64_t p0132[4] = {0, 1, 3, 2};
    h = transpose(x, OP(x, "Reshape", h, ivec(x, 4, I(0), I(1), I(P), I(-1))), 4, p0132); /* [B,1,L,P] */
    x1 = spline_inverse(x, x1, h, nb, x->m->hp.sdp_tail, 1.0f / sqrtf((float)cf->filter));
    ob_node *cat = node(x, "Concat", 2, x0, x1);
    ob_attr_int(x->g, cat, "axis", 1);
    return OP(x, "Mul", ob_out(cat, 0), mask);
}

static const char *sdp_reverse(ex *x, const char *enc_x, const char *mask, const char *noise_scale_w) {
    const sdp_t *s = &x->m->sdp;
    const char *h = cond_add(x, conv1x1(x, enc_x, &s->pre), &s->cond);
    h = dds(x, &s->dds, h, mask, NULL);
    h = OP(x, "Mul", conv1x1(x, h, &s->proj), mask);
    /* z = randn(B, 2, L) * noise_scale_w */
    const char *shape = concat0(x, dim(x, enc_x, 0), ivec(x, 1, I(2)), dim(x, enc_x, 2));
    ob_node *zeros = node(x, "ConstantOfShape", 1, shape);
    ob_attr_tensor_f32(x->g, zeros, "value", 0.0f);
    ob_node *rn = node(x, "RandomNormalLike", 1, ob_out(zeros, 0));
    ob_attr_int(x->g, rn, "dtype", T_FLOAT);
    const char *z = OP(x, "Mul", ob_out(rn, 0), noise_scale_w);
    for (int i = s->n_cf - 1; i >= 1; i--) z = convflow_reverse(x, &s->cf[i], flip2(x, z), mask, h);
    z = flip2(x, z);
    int64_t d[2] = {2, 1};
    z = OP(x, "Mul", OP(x, "Sub", z, xw(x, s->ea_m, 2, d)), OP(x, "Exp", OP(x, "Neg", xw(x, s->ea_logs, 2, d))));
    z = OP(x, "Mul", z, mask);
    return slice(x, z, 1, 0, 1);
}

/* ---- flow and decoder -------------------------------------------------------- */

static const char *flow_reverse(ex *x, const char *z, len_ctx *lc) {
    const sbv2_hparams *hp = &x->m->hp;
    const int I = hp->inter_channels, half = I / 2;
    int64_t rev[1024];
    for (int c = 0; c < I && c < 1024; c++) rev[c] = I - 1 - c;
    int64_t d = I;
    const char *rev_idx = ob_const_i64(x->g, 1, &d, rev);
    for (int k = hp->n_flows - 1; k >= 0; k--) {
        const coupling_t *f = &x->m->flow[k];
        ob_node *fl = node(x, "Gather", 2, z, rev_idx);
        ob_attr_int(x->g, fl, "axis", 1);
        z = ob_out(fl, 0);
        const char *x0 = slice(x, z, 1, 0, half), *x1 = slice(x, z, 1, half, I);
        const char *h = OP(x, "Mul", conv1x1(x, x0, &f->pre), lc->mask);
        h = encoder(x, &f->enc, h, lc);
        const char *stats = OP(x, "Mul", conv1x1(x, h, &f->post), lc->mask);
        x1 = OP(x, "Mul", OP(x, "Sub", x1, stats), lc->mask);
        ob_node *cat = node(x, "Concat", 2, x0, x1);
        ob_attr_int(x->g, cat, "axis", 1);
        z = ob_out(cat, 0);
    }
    return z;
}

static const char *resblock(ex *x, const resblock_t *rb, const char *in) {
    const char *h = in;
    for (int k = 0; k < rb->n; k++) {
        const int ks = rb->c1[k].k, d = rb->dil[k];
        const char *t = conv(x, leaky(x, h, 0.1f), &rb->c1[k], d, (ks * d - d) / 2, (ks * d - d) / 2, 1);
        if (rb->has_c2) t = conv(x, leaky(x, t, 0.1f), &rb->c2[k], 1, (ks - 1) / 2, (ks - 1) / 2, 1);
        h = OP(x, "Add", t, h);
    }
    return h;
}

static const char *decoder(ex *x, const char *z) {
    const sbv2_hparams *hp = &x->m->hp;
    const decoder_t *d = &x->m->dec;
    const char *h = cond_add(x, conv(x, z, &d->conv_pre, 1, 3, 3, 1), &d->cond);
    for (int i = 0; i < hp->n_ups; i++) {
        const ups_t *u = &d->ups[i];
        int64_t wd[3] = {u->cin, u->cout, u->k};
        ob_node *ct = node(x, "ConvTranspose", 3, leaky(x, h, 0.1f), wn_w(x, u->w, u->wn_key, wd),
                           bias_w(x, u->b, u->cout));
        int64_t k = u->k, s = u->stride, pads[2] = {u->pad, u->pad};
        ob_attr_ints(x->g, ct, "kernel_shape", 1, &k);
        ob_attr_ints(x->g, ct, "strides", 1, &s);
        ob_attr_ints(x->g, ct, "pads", 2, pads);
        h = ob_out(ct, 0);
        const char *xs = NULL;
        for (int j = 0; j < hp->n_res_kernels; j++) {
            const char *r = resblock(x, &d->res[i * hp->n_res_kernels + j], h);
            xs = xs ? OP(x, "Add", xs, r) : r;
        }
        h = OP(x, "Div", xs, fconst(x, (float)hp->n_res_kernels));
    }
    h = conv(x, leaky(x, h, 0.01f), &d->conv_post, 1, 3, 3, 1);
    return OP(x, "Tanh", h);
}

/* ---- infer() ----------------------------------------------------------------- */

int sbv2_build_netg_graph(ob_graph *g, const sbv2_model *m) {
    ex X = {g, m, NULL, NULL, 0}, *x = &X;
    const int multi = m->hp.arch == SBV2_ARCH_MULTILINGUAL;
    const char *names[13];
    int n = 0;
    static const char *const bl[2] = {"batch_size", "x_tst_max_length"};
    static const char *const b[1] = {"batch_size"};
    static const char *const bert_p[3] = {"batch_size", NULL, "x_tst_max_length"};
    static const char *const style_p[2] = {"batch_size", NULL};
    const int64_t bert_d[3] = {0, SBV2_BERT_DIM, 0}, style_d[2] = {0, SBV2_STYLE_DIM};
    ob_input(g, names[n++] = "x_tst", T_INT64, 2, NULL, bl);
    ob_input(g, names[n++] = "x_tst_lengths", T_INT64, 1, NULL, b);
    ob_input(g, names[n++] = "sid", T_INT64, 1, NULL, b);
    ob_input(g, names[n++] = "tones", T_INT64, 2, NULL, bl);
    ob_input(g, names[n++] = "language", T_INT64, 2, NULL, bl);
    ob_input(g, names[n++] = "bert", T_FLOAT, 3, bert_d, bert_p);
    if (multi) {
        ob_input(g, names[n++] = "ja_bert", T_FLOAT, 3, bert_d, bert_p);
        ob_input(g, names[n++] = "en_bert", T_FLOAT, 3, bert_d, bert_p);
    }
    ob_input(g, names[n++] = "style_vec", T_FLOAT, 2, style_d, style_p);
    const char *ls = names[n++] = "length_scale";
    const char *ratio = names[n++] = "sdp_ratio";
    const char *ns = names[n++] = "noise_scale";
    const char *nsw = names[n++] = "noise_scale_w";
    ob_input(g, ls, T_FLOAT, 0, NULL, NULL);
    ob_input(g, ratio, T_FLOAT, 0, NULL, NULL);
    ob_input(g, ns, T_FLOAT, 0, NULL, NULL);
    ob_input(g, nsw, T_FLOAT, 0, NULL, NULL);

    /* speaker embedding g = emb_g(sid) */
    int64_t ed[2] = {m->hp.n_speakers, m->hp.gin_channels};
    ob_node *ge = node(x, "Gather", 2, ob_weight_named(g, sbv2_weight_name(m, m->emb_g), m->emb_g, 2, ed), "sid");
    ob_attr_int(g, ge, "axis", 0);
    x->g_vec = ob_out(ge, 0);
    x->g_col = unsqueeze(x, x->g_vec, 2);

    len_ctx lx;
    const char *L = squeeze(x, dim(x, "x_tst", 1), 0);
    len_ctx_init(x, &lx, sequence_mask(x, "x_tst_lengths", L));
    const char *enc_x, *m_p, *logs_p;
    text_encoder(x, names, &lx, &enc_x, &m_p, &logs_p);

    /* durations: logw = sdp * ratio + dp * (1 - ratio) */
    const char *lw_sdp = sdp_reverse(x, enc_x, lx.mask, nsw);
    const char *lw_dp = duration_predictor(x, enc_x, lx.mask);
    const char *logw = OP(x, "Add", OP(x, "Mul", lw_sdp, ratio), OP(x, "Mul", lw_dp, OP(x, "Sub", fconst(x, 1.0f), ratio)));
    const char *w = OP(x, "Mul", OP(x, "Mul", OP(x, "Exp", logw), lx.mask), ls);
    const char *w_ceil = OP(x, "Ceil", w);
    ob_node *rs = node(x, "ReduceSum", 2, w_ceil, ivec(x, 2, I(1), I(2)));
    ob_attr_int(g, rs, "keepdims", 0);
    const char *y_lengths = cast(x, OP(x, "Max", ob_out(rs, 0), fconst(x, 1.0f)), T_INT64);
    ob_node *mx = node(x, "ReduceMax", 1, y_lengths);
    ob_attr_int(g, mx, "keepdims", 0);
    const char *T = ob_out(mx, 0);
    len_ctx ly;
    len_ctx_init(x, &ly, sequence_mask(x, y_lengths, T));

    /* hard alignment: frame t belongs to token l when cum[l] - w[l] <= t < cum[l] */
    const char *cum = unsqueeze(x, OP(x, "CumSum", w_ceil, ob_scalar_i64(g, 2)), 2); /* [B,1,1,L] */
    const char *prev = OP(x, "Sub", cum, unsqueeze(x, w_ceil, 2));
    const char *tt = OP(x, "Reshape", cast(x, OP(x, "Range", ob_scalar_i64(g, 0), T, ob_scalar_i64(g, 1)), T_FLOAT),
                        ivec(x, 4, I(1), I(1), I(-1), I(1)));
    const char *path = cast(x, OP(x, "And", OP(x, "Less", tt, cum), OP(x, "GreaterOrEqual", tt, prev)), T_FLOAT);
    const char *attn_mask = OP(x, "Mul", unsqueeze(x, lx.mask, 2), unsqueeze(x, ly.mask, 3));
    const char *attn = squeeze(x, OP(x, "Mul", path, attn_mask), 1); /* [B,T,L] */
    static const int64_t p021[3] = {0, 2, 1};
    const char *m_exp = transpose(x, OP(x, "MatMul", attn, transpose(x, m_p, 3, p021)), 3, p021);
    const char *logs_exp = transpose(x, OP(x, "MatMul", attn, transpose(x, logs_p, 3, p021)), 3, p021);
    ob_node *rn = node(x, "RandomNormalLike", 1, m_exp);
    ob_attr_int(g, rn, "dtype", T_FLOAT);
    const char *z_p = OP(x, "Add", m_exp, OP(x, "Mul", OP(x, "Mul", ob_out(rn, 0), OP(x, "Exp", logs_exp)), ns));

    const char *z = flow_reverse(x, z_p, &ly);
    const char *wav = decoder(x, OP(x, "Mul", z, ly.mask));
    static const char *const out_p[3] = {"batch_size", NULL, "output_length"};
    ob_output(g, wav, "output", T_FLOAT, 3, out_p);
    if (x->failed) return SBV2_ERR_FORMAT;
    return ob_failed(g) ? SBV2_ERR_NO_MEMORY : SBV2_OK;
}
