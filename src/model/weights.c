/* Binding safetensors tensors to the layer structs: every key is looked up by
 * name, its dtype and shape checked against what config.json implies, and
 * converted to float32 (F32 tensors stay in the mapping when aligned). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/weights.h"
#include "core/conv.h"

static int own(wctx *c, void *p) {
    struct sbv2_model *m = c->m;
    if (m->n_owned == m->cap_owned) {
        size_t nc = m->cap_owned ? m->cap_owned * 2 : 256;
        void **n = realloc(m->owned, nc * sizeof *n);
        if (!n) return 0;
        m->owned = n;
        m->cap_owned = nc;
    }
    m->owned[m->n_owned++] = p;
    return 1;
}

float *w_alloc(wctx *c, size_t n) {
    if (c->rc != SBV2_OK) return NULL;
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p || !own(c, p)) {
        free(p);
        c->rc = sbv2_fail(c->err, SBV2_ERR_NO_MEMORY, "out of memory while loading weights");
        return NULL;
    }
    return p;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

const st_tensor *w_find(wctx *c, const char *name) { return st_find(&c->m->st, name); }

/* Returns float32 data for `name` with exactly the given shape, or NULL (and
 * records the first error) when it is missing, not a float, or mis-shaped. */
static const float *get_exact(wctx *c, const char *name, int ndim, const int64_t *shape) {
    if (c->rc != SBV2_OK) return NULL;
    const st_tensor *t = st_find(&c->m->st, name);
    if (!t) {
        c->rc = sbv2_fail(c->err, SBV2_ERR_FORMAT, "missing tensor '%s'", name);
        return NULL;
    }
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) {
        c->rc = sbv2_fail(c->err, SBV2_ERR_FORMAT, "tensor '%s' has dtype %s, expected F32, F16 or BF16", name,
                          st_dtype_name(t->dtype));
        return NULL;
    }
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) { /* the same layout with other size-1 dims (ONNX graphs squeeze them, an .aivm made from one keeps that) */
        int64_t a[ST_MAX_DIMS], b[3];
        int na = 0, nb = 0;
        for (int i = 0; i < t->ndim; i++)
            if (t->shape[i] != 1) a[na++] = t->shape[i];
        for (int i = 0; i < ndim; i++)
            if (shape[i] != 1) b[nb++] = shape[i];
        same = na == nb && !memcmp(a, b, sizeof(int64_t) * (size_t)na);
    }
    if (!same) {
        char a[128], b[128];
        shape_str(a, sizeof a, t->ndim, t->shape);
        shape_str(b, sizeof b, ndim, shape);
        c->rc = sbv2_fail(c->err, SBV2_ERR_FORMAT, "tensor '%s' has shape %s, but config.json implies %s", name, a, b);
        return NULL;
    }
    c->m->n_params += (int64_t)t->numel;
    if (t->dtype == ST_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) return (const float *)t->data;
    float *out = w_alloc(c, t->numel);
    if (!out) return NULL;
    if (t->dtype != ST_F32) c->m->weights_f16 = 1;
    st_read_f32(t, out);
    for (size_t i = 0; i < t->numel; i++)
        if (!isfinite(out[i])) {
            c->rc = sbv2_fail(c->err, SBV2_ERR_FORMAT, "tensor '%s' holds a non-finite value", name);
            return NULL;
        }
    if (sbv2_weight_name_add(c->m, out, name)) {
        c->rc = sbv2_fail(c->err, SBV2_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    return out;
}

int sbv2_weight_name_add(struct sbv2_model *m, const void *p, const char *name) {
    if (m->n_wname == m->cap_wname) {
        const size_t cap = m->cap_wname ? 2 * m->cap_wname : 64;
        const void **np = realloc(m->wname_ptr, sizeof *np * cap);
        if (np) m->wname_ptr = np;
        char **nn = np ? realloc(m->wname, sizeof *nn * cap) : NULL;
        if (!nn) return -1;
        m->wname = nn, m->cap_wname = cap;
    }
    if (!(m->wname[m->n_wname] = strdup(name))) return -1;
    m->wname_ptr[m->n_wname++] = p;
    return 0;
}

const char *sbv2_weight_name(const struct sbv2_model *m, const void *p) {
    if (!p) return NULL;
    for (size_t i = 0; i < m->n_wname; i++)
        if (m->wname_ptr[i] == p) return m->wname[i];
    for (size_t i = 0; i < m->st.n_tensors; i++) /* read in place from the file */
        if ((const void *)m->st.tensors[i].data == p && m->st.tensors[i].dtype == ST_F32) return m->st.tensors[i].name;
    return NULL;
}

const float *w_get(wctx *c, int ndim, int64_t d0, int64_t d1, int64_t d2, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[3] = {d0, d1, d2};
    return get_exact(c, name, ndim, shape);
}

/* W = g * v / ||v|| row by row (norm over every dim but 0). Returns the first
 * row whose norm is zero (weight norm undefined), or -1 when all are fine. */
static int64_t fold_rows(const float *g, const float *v, int64_t rows, size_t inner, float *w) {
    for (int64_t o = 0; o < rows; o++) {
        const float *vo = v + (size_t)o * inner;
        double ss = 0;
        for (size_t i = 0; i < inner; i++) ss += (double)vo[i] * vo[i];
        float scale = (float)(g[o] / sqrt(ss));
        if (!(ss > 0) || !isfinite(scale)) return o;
        for (size_t i = 0; i < inner; i++) w[(size_t)o * inner + i] = vo[i] * scale;
    }
    return -1;
}

/* Conv weight under `prefix`: either `prefix.weight`, or a weight-norm pair
 * (`weight_g`/`weight_v`, or torch's parametrizations.weight.original0/1)
 * folded as W = g * v / ||v|| with the norm over every dim but dim 0.
 * shape is the weight's own shape (ConvTranspose1d: [cin, cout, k]). */
const float *w_get_wn(wctx *c, const int64_t shape[3], const char *fmt, ...) {
    if (c->rc != SBV2_OK) return NULL;
    char prefix[200], gname[256], vname[256], wname[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(wname, sizeof wname, "%s.weight", prefix);
    snprintf(gname, sizeof gname, "%s.weight_g", prefix);
    snprintf(vname, sizeof vname, "%s.weight_v", prefix);
    if (!st_find(&c->m->st, gname) && !st_find(&c->m->st, vname)) {
        char g2[256], v2[256];
        snprintf(g2, sizeof g2, "%s.parametrizations.weight.original0", prefix);
        snprintf(v2, sizeof v2, "%s.parametrizations.weight.original1", prefix);
        if (st_find(&c->m->st, g2) || st_find(&c->m->st, v2)) {
            memcpy(gname, g2, sizeof g2);
            memcpy(vname, v2, sizeof v2);
        } else if (st_find(&c->m->st, wname)) {
            c->folded = 0;
            return get_exact(c, wname, 3, shape);
        }
    }
    c->folded = 1;
    int64_t gshape[3] = {shape[0], 1, 1};
    const float *g = get_exact(c, gname, 3, gshape);
    const float *v = get_exact(c, vname, 3, shape);
    if (!g || !v) return NULL;
    size_t inner = (size_t)(shape[1] * shape[2]);
    float *w = w_alloc(c, (size_t)shape[0] * inner);
    if (!w) return NULL;
    int64_t bad = fold_rows(g, v, shape[0], inner, w);
    if (bad >= 0) {
        c->rc = sbv2_fail(c->err, SBV2_ERR_FORMAT, "'%s' has a zero row %lld: weight norm is undefined", vname,
                          (long long)bad);
        return NULL;
    }
    /* v's mapped pages are not read again (export re-reads them from the file) */
    w_release(c, v, (size_t)shape[0] * inner);
    if (sbv2_weight_name_add(c->m, w, wname)) {
        c->rc = sbv2_fail(c->err, SBV2_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    return w;
}

void w_drop_folded(wctx *c, const float **w, const char **key, const char *prefix) {
    if (c->rc != SBV2_OK || !*w) return;
    struct sbv2_model *m = c->m;
    for (size_t i = 0; i < m->n_owned; i++)
        if (m->owned[i] == *w) {
            size_t n = strlen(prefix) + 1;
            char *k = (char *)w_alloc(c, (n + 3) / 4);
            if (!k) return;
            memcpy(k, prefix, n);
            for (size_t k = 0; k < m->n_wname; k++) /* its address may come back for another weight */
                if (m->wname_ptr[k] == *w) m->wname_ptr[k] = NULL;
            free(m->owned[i]);
            m->owned[i] = NULL;
            *w = NULL;
            *key = k;
            return;
        }
}

int sbv2_refold_wn(const struct sbv2_model *m, const char *prefix, const int64_t shape[3], float *out) {
    const char *gs[2] = {"weight_g", "parametrizations.weight.original0"}, *vs[2] = {"weight_v", "parametrizations.weight.original1"};
    for (int k = 0; k < 2; k++) {
        char gn[256], vn[256];
        snprintf(gn, sizeof gn, "%s.%s", prefix, gs[k]);
        snprintf(vn, sizeof vn, "%s.%s", prefix, vs[k]);
        const st_tensor *g = st_find(&m->st, gn), *v = st_find(&m->st, vn);
        size_t inner = (size_t)(shape[1] * shape[2]);
        if (!g || !v || g->numel != (size_t)shape[0] || v->numel != (size_t)shape[0] * inner) continue;
        float *gb = malloc(sizeof(float) * g->numel), *vb = malloc(sizeof(float) * v->numel);
        if (!gb || !vb) { free(gb); free(vb); return SBV2_ERR_NO_MEMORY; }
        st_read_f32(g, gb);
        st_read_f32(v, vb);
        int64_t bad = fold_rows(gb, vb, shape[0], inner, out);
        free(gb);
        free(vb);
        return bad < 0 ? SBV2_OK : SBV2_ERR_FORMAT;
    }
    return SBV2_ERR_FORMAT;
}

/* Packs a bound conv for the fast kernel (skipped when binding failed). */
static void pack(wctx *c, conv1d_t *conv) {
    if (c->rc != SBV2_OK || !conv->w || c->no_pack) return;
    float *p = w_alloc(c, conv_packed_size(conv->cout, conv->cin, conv->k));
    if (!p) return;
    conv_pack(conv->w, conv->cout, conv->cin, conv->k, p);
    conv->packed = p;
    w_release(c, conv->w, (size_t)conv->cout * conv->cin * conv->k);
}

/* Drops the resident pages of a mapped tensor once a packed copy exists
 * (st_release); the ONNX export reads them back from the file. */
void w_release(wctx *c, const float *data, size_t n) { st_release(&c->m->st, data, n * sizeof(float)); }

void w_conv(wctx *c, conv1d_t *conv, int cout, int cin, int k, int bias, const char *fmt, ...) {
    char prefix[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    conv->cout = cout, conv->cin = cin, conv->k = k;
    conv->w = w_get(c, 3, cout, cin, k, "%s.weight", prefix);
    conv->b = bias ? w_get(c, 1, cout, 0, 0, "%s.bias", prefix) : NULL;
    pack(c, conv);
}

void w_linear(wctx *c, conv1d_t *lin, int cout, int cin, const char *fmt, ...) {
    char prefix[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    lin->cout = cout, lin->cin = cin, lin->k = 1;
    lin->w = w_get(c, 2, cout, cin, 0, "%s.weight", prefix);
    lin->b = w_get(c, 1, cout, 0, 0, "%s.bias", prefix);
}

void w_wn_conv(wctx *c, conv1d_t *conv, int cout, int cin, int k, const char *fmt, ...) {
    char prefix[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    int64_t shape[3] = {cout, cin, k};
    conv->cout = cout, conv->cin = cin, conv->k = k;
    conv->w = w_get_wn(c, shape, "%s", prefix);
    int folded = c->folded;
    conv->b = w_get(c, 1, cout, 0, 0, "%s.bias", prefix);
    pack(c, conv);
    if (folded && conv->packed && !c->keep_folded) w_drop_folded(c, &conv->w, &conv->wn_key, prefix);
}

void w_layernorm(wctx *c, layernorm_t *ln, int ch, const char *fmt, ...) {
    char prefix[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    ln->c = ch;
    ln->gamma = w_get(c, 1, ch, 0, 0, "%s.gamma", prefix);
    ln->beta = w_get(c, 1, ch, 0, 0, "%s.beta", prefix);
}
