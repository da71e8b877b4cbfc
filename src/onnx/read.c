/* Reading the ONNX graphs torch.onnx.export makes of SBV2's net_g
 * (convert_onnx.py's .onnx, AivisSpeech's .aivmx, onnxsim'd or not) into a
 * tensor table the weight binder reads like a safetensors file.
 *
 * Initializers keep their parameter names ("enc_p.emb.weight") unless
 * constant folding replaced them ("onnx::Conv_123"); those are named by the
 * module path of the node that consumes them ("/dec/ups.0/ConvTranspose" ->
 * "dec.ups.0"):
 *   Conv, ConvTranspose  input 1 -> <path>.weight (weight norm already folded), 2 -> <path>.bias
 *   MatMul               input 1 -> <path>.weight, the Linear weight transposed
 *   Gemm                 input 1 -> <path>.weight (transposed unless transB), 2 -> <path>.bias
 *   Exp                  input 0 -> <path>.logs, negated (ElementwiseAffine's exp(-logs) in reverse)
 * Initializers that map to nothing are left out; the binder then names the
 * first weight it cannot find. Node counts and positions are never used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "formats/safetensors.h"
#include "onnx.pb-c.h"
#include "onnx/read.h"

typedef struct {
    /* the model and graph shells, their messages unpacked one by one */
    Onnx__ModelProto *model;
    Onnx__GraphProto *graph;
    void **bufs; /* converted copies (transposed, negated, fp16 widened) */
    size_t n_bufs;
} owner_t;

static void free_messages(owner_t *o) {
    Onnx__GraphProto *g = o->graph;
    for (size_t i = 0; g && i < g->n_node; i++) onnx__node_proto__free_unpacked(g->node[i], NULL);
    for (size_t i = 0; g && i < g->n_initializer; i++) onnx__tensor_proto__free_unpacked(g->initializer[i], NULL);
    for (size_t i = 0; g && i < g->n_input; i++) onnx__value_info_proto__free_unpacked(g->input[i], NULL);
    if (g) free(g->node), free(g->initializer), free(g->input), g->node = NULL, g->n_node = 0, g->initializer = NULL, g->n_initializer = 0, g->input = NULL, g->n_input = 0;
    Onnx__ModelProto *m = o->model;
    for (size_t i = 0; m && i < m->n_metadata_props; i++) onnx__string_string_entry_proto__free_unpacked(m->metadata_props[i], NULL);
    if (m) free(m->metadata_props), m->metadata_props = NULL, m->n_metadata_props = 0;
}

static void release(void *p) {
    owner_t *o = p;
    if (!o) return;
    for (size_t i = 0; i < o->n_bufs; i++) free(o->bufs[i]);
    free(o->bufs);
    free_messages(o);
    free(o->graph), free(o->model), free(o);
}

/* ---- ModelProto and GraphProto walked field by field: each node, initializer
 * and input is unpacked on its own (protobuf-c), so an initializer's bytes in
 * the file can be dropped once copied (peak memory ~ one copy of the weights) */

static int pb_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v) {
    *v = 0;
    for (int sh = 0; sh < 64 && *i < n; sh += 7) {
        const uint8_t c = p[(*i)++];
        *v |= (uint64_t)(c & 0x7f) << sh;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

/* the next field: its number, and for length-delimited ones the bytes; -1 at a malformed field */
static int pb_next(const uint8_t *p, size_t n, size_t *i, uint64_t *field, const uint8_t **sub, size_t *len) {
    uint64_t tag, v;
    if (pb_varint(p, n, i, &tag)) return -1;
    *field = tag >> 3, *sub = NULL, *len = 0;
    switch (tag & 7) {
    case 0: return pb_varint(p, n, i, &v);
    case 1: if (n - *i < 8) return -1; *i += 8; return 0;
    case 5: if (n - *i < 4) return -1; *i += 4; return 0;
    case 2:
        if (pb_varint(p, n, i, &v) || v > n - *i) return -1;
        *sub = p + *i, *len = (size_t)v, *i += (size_t)v;
        return 0;
    default: return -1; /* groups: not in onnx.proto */
    }
}

static int grow(void ***arr, size_t *n, size_t *cap, void *item) {
    if (*n == *cap) {
        const size_t c = *cap ? 2 * *cap : 64;
        void **a = realloc(*arr, sizeof *a * c);
        if (!a) return -1;
        *arr = a, *cap = c;
    }
    (*arr)[(*n)++] = item;
    return 0;
}

/* drop: the image is a file mapping whose pages may be released once read */
static int unpack_model(owner_t *o, const uint8_t *data, size_t size, int drop) {
    if (!(o->model = calloc(1, sizeof *o->model)) || !(o->graph = calloc(1, sizeof *o->graph))) return SBV2_ERR_NO_MEMORY;
    onnx__model_proto__init(o->model), onnx__graph_proto__init(o->graph);
    Onnx__ModelProto *m = o->model;
    Onnx__GraphProto *g = o->graph;
    size_t cap_meta = 0, cap_node = 0, cap_init = 0, cap_in = 0, graphs = 0;
    const uint8_t *gp = NULL, *sub;
    size_t gl = 0, len, i = 0;
    uint64_t f;
    while (i < size) {
        if (pb_next(data, size, &i, &f, &sub, &len)) return SBV2_ERR_FORMAT;
        if (f == 7 && sub) gp = sub, gl = len, graphs++;
        else if (f == 14 && sub) {
            Onnx__StringStringEntryProto *e = onnx__string_string_entry_proto__unpack(NULL, len, sub);
            if (!e || grow((void ***)&m->metadata_props, &m->n_metadata_props, &cap_meta, e)) {
                if (e) onnx__string_string_entry_proto__free_unpacked(e, NULL);
                return e ? SBV2_ERR_NO_MEMORY : SBV2_ERR_FORMAT;
            }
        }
    }
    if (graphs != 1) return graphs ? SBV2_ERR_UNSUPPORTED : SBV2_ERR_NOT_FOUND;
    m->graph = g;
    for (i = 0; i < gl;) {
        if (pb_next(gp, gl, &i, &f, &sub, &len)) return SBV2_ERR_FORMAT;
        if (!sub) continue;
        void *item = NULL;
        int bad = 0;
        if (f == 1) bad = !(item = onnx__node_proto__unpack(NULL, len, sub)) || grow((void ***)&g->node, &g->n_node, &cap_node, item);
        else if (f == 5) {
            bad = !(item = onnx__tensor_proto__unpack(NULL, len, sub)) || grow((void ***)&g->initializer, &g->n_initializer, &cap_init, item);
            const uintptr_t pg = 4096, lo = ((uintptr_t)sub + pg - 1) & ~(pg - 1), hi = ((uintptr_t)sub + len) & ~(pg - 1);
            if (!bad && drop && hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED); /* copied: the file's pages can go */
        } else if (f == 11)
            bad = !(item = onnx__value_info_proto__unpack(NULL, len, sub)) || grow((void ***)&g->input, &g->n_input, &cap_in, item);
        if (bad) {
            if (item) { /* unpacked but not stored: out of memory */
                if (f == 1) onnx__node_proto__free_unpacked(item, NULL);
                else if (f == 5) onnx__tensor_proto__free_unpacked(item, NULL);
                else onnx__value_info_proto__free_unpacked(item, NULL);
                return SBV2_ERR_NO_MEMORY;
            }
            return SBV2_ERR_FORMAT;
        }
    }
    return SBV2_OK;
}

static void *own(owner_t *o, size_t bytes) {
    void **nb = realloc(o->bufs, sizeof *nb * (o->n_bufs + 1));
    if (!nb) return NULL;
    o->bufs = nb;
    void *p = malloc(bytes ? bytes : 1);
    if (p) o->bufs[o->n_bufs++] = p;
    return p;
}

/* "/a/b.0/c/Conv" -> "a.b.0.c" (the module path); 0 when there is none */
static int module_path(const char *node, char *out, size_t n) {
    if (!node || node[0] != '/') return 0;
    const char *last = strrchr(node, '/');
    size_t l = (size_t)(last - node - 1);
    if (last == node || l == 0 || l >= n) return 0;
    memcpy(out, node + 1, l);
    out[l] = '\0';
    for (char *p = out; *p; p++)
        if (*p == '/') *p = '.';
    return 1;
}

typedef struct {
    const char *name;
    const Onnx__NodeProto *node;
    size_t input;
} use_t;

static int by_name(const void *a, const void *b) { return strcmp(((const use_t *)a)->name, ((const use_t *)b)->name); }

static int64_t attr_int(const Onnx__NodeProto *nd, const char *name, int64_t dflt) {
    for (size_t i = 0; i < nd->n_attribute; i++)
        if (nd->attribute[i]->name && !strcmp(nd->attribute[i]->name, name)) return nd->attribute[i]->i;
    return dflt;
}

static const char *const k_inputs[] = {"x_tst", "x_tst_lengths", "sid", "tones", "language", "bert", "style_vec",
                                       "length_scale", "sdp_ratio", "noise_scale", "noise_scale_w"};

int sbv2_onnx_read(st_file *f, const uint8_t *data, size_t size, int drop, const char *path, int *older_arch, char **meta_json,
                   sbv2_error *err) {
    memset(f, 0, sizeof *f);
    *meta_json = NULL;
    owner_t *o = calloc(1, sizeof *o);
    if (!o) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    const int urc = unpack_model(o, data, size, drop);
    Onnx__ModelProto *m = urc == SBV2_OK ? o->model : NULL;
    int rc = SBV2_OK;
    use_t *uses = NULL;
    if (urc == SBV2_ERR_NO_MEMORY) rc = sbv2_fail(err, urc, "out of memory reading %s", path);
    else if (urc == SBV2_ERR_NOT_FOUND) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: the ONNX model has no graph", path);
    else if (urc == SBV2_ERR_UNSUPPORTED) rc = sbv2_fail(err, urc, "%s: the ONNX model has more than one graph field", path);
    else if (urc != SBV2_OK) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: not a valid ONNX protobuf (truncated or damaged)", path);
    const Onnx__GraphProto *g = rc == SBV2_OK ? m->graph : NULL;
    /* the signature of convert_onnx.py: every input, ja_bert/en_bert for the older architecture */
    int have_ja = 0, have_en = 0;
    for (size_t k = 0; g && rc == SBV2_OK && k < sizeof k_inputs / sizeof k_inputs[0]; k++) {
        int found = 0;
        for (size_t i = 0; i < g->n_input; i++) found |= g->input[i]->name && !strcmp(g->input[i]->name, k_inputs[k]);
        if (!found)
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: the graph has no input '%s': not SBV2's net_g signature (convert_onnx.py)", path,
                           k_inputs[k]);
    }
    for (size_t i = 0; g && i < g->n_input; i++) {
        have_ja |= g->input[i]->name && !strcmp(g->input[i]->name, "ja_bert");
        have_en |= g->input[i]->name && !strcmp(g->input[i]->name, "en_bert");
    }
    if (rc == SBV2_OK && have_ja != have_en)
        rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: the graph has %s but not %s", path, have_ja ? "ja_bert" : "en_bert",
                       have_ja ? "en_bert" : "ja_bert");
    *older_arch = have_ja;
    /* who consumes each folded initializer */
    size_t n_uses = 0;
    for (size_t i = 0; g && i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++) n_uses += g->node[i]->input[k] && !strncmp(g->node[i]->input[k], "onnx::", 6);
    if (rc == SBV2_OK && !(uses = malloc(sizeof *uses * (n_uses ? n_uses : 1)))) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    n_uses = 0;
    for (size_t i = 0; uses && i < g->n_node; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++)
            if (g->node[i]->input[k] && !strncmp(g->node[i]->input[k], "onnx::", 6))
                uses[n_uses++] = (use_t){g->node[i]->input[k], g->node[i], k};
    if (uses) qsort(uses, n_uses, sizeof *uses, by_name);
    if (rc == SBV2_OK && !(f->tensors = calloc(g->n_initializer ? g->n_initializer : 1, sizeof *f->tensors)))
        rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; rc == SBV2_OK && i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        const int dt = t->data_type;
        if ((dt != 1 && dt != 10 && dt != 16) || !t->name) continue; /* float, float16, bfloat16 weights only */
        if (t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
            rc = sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "%s: initializer '%s' keeps its data in an external file", path, t->name);
            break;
        }
        if (t->n_dims > ST_MAX_DIMS) continue;
        size_t numel = 1;
        int ok = 1;
        for (size_t d = 0; d < t->n_dims; d++) {
            ok &= t->dims[d] >= 0 && t->dims[d] < ((int64_t)1 << 32);
            if (ok) numel *= (size_t)t->dims[d];
            ok &= numel < ((size_t)1 << 34);
        }
        if (!ok) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: initializer '%s' has a bad shape", path, t->name); break; }
        const size_t es = dt == 1 ? 4 : 2;
        const uint8_t *p = NULL;
        if (t->raw_data.len || (!t->n_float_data && !t->n_int32_data)) {
            if (t->raw_data.len != numel * es) {
                rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: initializer '%s' holds %zu bytes for %zu values", path, t->name, t->raw_data.len, numel);
                break;
            }
            p = t->raw_data.data;
        } else if (dt == 1 && t->n_float_data == numel) p = (const uint8_t *)t->float_data;
        else if (dt != 1 && t->n_int32_data == numel) { /* 16-bit values, one per int32 */
            uint16_t *h = own(o, 2 * numel);
            if (!h) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); break; }
            for (size_t k = 0; k < numel; k++) h[k] = (uint16_t)t->int32_data[k];
            p = (const uint8_t *)h;
        } else {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: initializer '%s' has %zu values for its %zu", path, t->name,
                           dt == 1 ? t->n_float_data : t->n_int32_data, numel);
            break;
        }
        char name[512];
        int transpose = 0, negate = 0;
        if (strncmp(t->name, "onnx::", 6)) snprintf(name, sizeof name, "%s", t->name);
        else {
            const use_t key = {t->name, NULL, 0}, *u = bsearch(&key, uses, n_uses, sizeof *uses, by_name);
            char mp[400];
            if (!u || !module_path(u->node->name, mp, sizeof mp) || !u->node->op_type) continue;
            const char *op = u->node->op_type;
            if ((!strcmp(op, "Conv") || !strcmp(op, "ConvTranspose")) && (u->input == 1 || u->input == 2))
                snprintf(name, sizeof name, "%s.%s", mp, u->input == 1 ? "weight" : "bias");
            else if (!strcmp(op, "MatMul") && u->input == 1 && t->n_dims == 2) snprintf(name, sizeof name, "%s.weight", mp), transpose = 1;
            else if (!strcmp(op, "Gemm") && (u->input == 1 || u->input == 2)) {
                snprintf(name, sizeof name, "%s.%s", mp, u->input == 1 ? "weight" : "bias");
                transpose = u->input == 1 && t->n_dims == 2 && !attr_int(u->node, "transB", 0);
            } else if (!strcmp(op, "Exp") && u->input == 0) snprintf(name, sizeof name, "%s.logs", mp), negate = 1;
            else continue;
        }
        st_tensor *st = &f->tensors[f->n_tensors];
        st->dtype = dt == 1 ? ST_F32 : dt == 10 ? ST_F16 : ST_BF16;
        st->ndim = (int)t->n_dims;
        for (size_t d = 0; d < t->n_dims; d++) st->shape[d] = t->dims[d];
        st->numel = numel, st->nbytes = numel * es;
        if (transpose || negate) { /* a float32 copy in the parameter's own layout */
            float *w = own(o, sizeof(float) * numel), *tmp = malloc(sizeof(float) * numel);
            if (!w || !tmp) { free(tmp); rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); break; }
            st_tensor src = *st;
            src.data = p;
            st_read_f32(&src, tmp);
            if (transpose) {
                const size_t r = (size_t)t->dims[0], c = (size_t)t->dims[1];
                for (size_t a = 0; a < r; a++)
                    for (size_t b = 0; b < c; b++) w[b * r + a] = tmp[a * c + b];
                st->shape[0] = (int64_t)c, st->shape[1] = (int64_t)r;
            } else
                for (size_t k = 0; k < numel; k++) w[k] = -tmp[k];
            free(tmp);
            st->dtype = ST_F32, st->nbytes = 4 * numel;
            p = (const uint8_t *)w;
        }
        st->data = p;
        if (!(st->name = strdup(name))) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); break; }
        f->n_tensors++;
    }
    free(uses);
    /* sorted and unique, as st_find expects */
    if (rc == SBV2_OK) {
        qsort(f->tensors, f->n_tensors, sizeof *f->tensors, st_tensor_cmp);
        for (size_t k = 1; k < f->n_tensors; k++)
            if (!strcmp(f->tensors[k - 1].name, f->tensors[k].name)) {
                rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: two initializers are the weight '%s'", path, f->tensors[k].name);
                break;
            }
    }
    /* metadata_props as one JSON object (for the AIVMX keys) */
    if (rc == SBV2_OK && m->n_metadata_props) {
        size_t n = 3;
        for (size_t i = 0; i < m->n_metadata_props; i++)
            n += 6 * (strlen(m->metadata_props[i]->key ? m->metadata_props[i]->key : "") +
                      strlen(m->metadata_props[i]->value ? m->metadata_props[i]->value : "")) + 8;
        char *j = malloc(n), *w = j;
        if (!j) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        for (size_t i = 0; j && i < m->n_metadata_props; i++) {
            *w++ = i ? ',' : '{';
            const char *kv[2] = {m->metadata_props[i]->key ? m->metadata_props[i]->key : "",
                                 m->metadata_props[i]->value ? m->metadata_props[i]->value : ""};
            for (int q = 0; q < 2; q++) {
                *w++ = '"';
                for (const unsigned char *s = (const unsigned char *)kv[q]; *s; s++) {
                    if (*s == '"' || *s == '\\') *w++ = '\\', *w++ = (char)*s;
                    else if (*s < 0x20) w += sprintf(w, "\\u%04x", *s);
                    else *w++ = (char)*s;
                }
                *w++ = '"';
                if (!q) *w++ = ':';
            }
        }
        if (j) *w++ = '}', *w = '\0', *meta_json = j;
    }
    if (rc != SBV2_OK) {
        for (size_t k = 0; f->tensors && k < f->n_tensors; k++) free(f->tensors[k].name);
        free(f->tensors);
        memset(f, 0, sizeof *f);
        release(o);
        free(*meta_json), *meta_json = NULL;
        return rc;
    }
    f->owner = o, f->release = release;
    return SBV2_OK;
}
