#include "onnx/builder.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Every small allocation goes to a chunk list freed at once. */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

typedef struct ptr_vec {
    void **v;
    size_t n, cap;
} ptr_vec;

struct ob_graph {
    chunk *chunks;
    ptr_vec nodes, inits, inputs, outputs, meta;
    long counter;
    int failed;
};

static void *arena(ob_graph *g, size_t n) {
    if (g->failed) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (!g->chunks || g->chunks->cap - g->chunks->used < n) {
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        chunk *c = malloc(sizeof *c + cap);
        if (!c) { g->failed = 1; return NULL; }
        c->next = g->chunks, c->used = 0, c->cap = cap;
        g->chunks = c;
    }
    void *p = g->chunks->data + g->chunks->used;
    g->chunks->used += n;
    memset(p, 0, n);
    return p;
}

static char *astrdup(ob_graph *g, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = arena(g, n);
    if (p) memcpy(p, s, n);
    return p;
}

static void push(ob_graph *g, ptr_vec *v, void *p) {
    if (g->failed || !p) { g->failed = 1; return; }
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 256;
        void **nv = realloc(v->v, nc * sizeof *nv);
        if (!nv) { g->failed = 1; return; }
        v->v = nv, v->cap = nc;
    }
    v->v[v->n++] = p;
}

float *ob_alloc_f32(ob_graph *g, size_t n) { return arena(g, n * sizeof(float)); }

ob_graph *ob_new(void) { return calloc(1, sizeof(ob_graph)); }

void ob_free(ob_graph *g) {
    if (!g) return;
    for (chunk *c = g->chunks, *n; c; c = n) n = c->next, free(c);
    free(g->nodes.v), free(g->inits.v), free(g->inputs.v), free(g->outputs.v), free(g->meta.v);
    free(g);
}

int ob_failed(const ob_graph *g) { return g->failed; }

static char *fresh_name(ob_graph *g, const char *prefix) {
    char buf[48];
    snprintf(buf, sizeof buf, "%s%ld", prefix, ++g->counter);
    return astrdup(g, buf);
}

ob_node *ob_add(ob_graph *g, const char *op_type, int n_in, const char *const *inputs, int n_out) {
    ob_node *n = arena(g, sizeof *n);
    if (!n) return NULL;
    onnx__node_proto__init(n);
    n->op_type = astrdup(g, op_type);
    n->n_input = (size_t)n_in;
    n->input = arena(g, sizeof(char *) * (size_t)(n_in ? n_in : 1));
    for (int i = 0; n->input && i < n_in; i++) n->input[i] = astrdup(g, inputs[i] ? inputs[i] : "");
    n->n_output = (size_t)n_out;
    n->output = arena(g, sizeof(char *) * (size_t)n_out);
    for (int i = 0; n->output && i < n_out; i++) n->output[i] = fresh_name(g, "v");
    n->name = fresh_name(g, op_type);
    push(g, &g->nodes, n);
    return g->failed ? NULL : n;
}

ob_node *ob_addv(ob_graph *g, const char *op_type, int n, ...) {
    const char *in[8];
    if (n > 8) n = 8;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) in[i] = va_arg(ap, const char *);
    va_end(ap);
    return ob_add(g, op_type, n, in, 1);
}

const char *ob_out(const ob_node *n, int i) { return n && n->output ? n->output[i] : ""; }

static Onnx__AttributeProto *new_attr(ob_graph *g, ob_node *n, const char *name, Onnx__AttributeProto__AttributeType t) {
    if (!n || g->failed) return NULL;
    Onnx__AttributeProto *a = arena(g, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = astrdup(g, name);
    a->has_type = 1, a->type = t;
    Onnx__AttributeProto **na = arena(g, sizeof(*na) * (n->n_attribute + 1));
    if (!na) return NULL;
    if (n->n_attribute) memcpy(na, n->attribute, sizeof(*na) * n->n_attribute);
    na[n->n_attribute++] = a;
    n->attribute = na;
    return a;
}

void ob_attr_int(ob_graph *g, ob_node *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = new_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}

void ob_attr_float(ob_graph *g, ob_node *n, const char *name, float v) {
    Onnx__AttributeProto *a = new_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = v;
}

void ob_attr_ints(ob_graph *g, ob_node *n, const char *name, int count, const int64_t *v) {
    Onnx__AttributeProto *a = new_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    if (!a) return;
    a->ints = arena(g, sizeof(int64_t) * (size_t)count);
    if (!a->ints) return;
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
    a->n_ints = (size_t)count;
}

static Onnx__TensorProto *new_tensor(ob_graph *g, int dtype, int ndim, const int64_t *dims) {
    Onnx__TensorProto *t = arena(g, sizeof *t);
    if (!t) return NULL;
    onnx__tensor_proto__init(t);
    t->has_data_type = 1, t->data_type = dtype;
    t->n_dims = (size_t)ndim;
    t->dims = arena(g, sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
    if (!t->dims) return NULL;
    if (ndim) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndim);
    return t;
}

void ob_attr_tensor_f32(ob_graph *g, ob_node *n, const char *name, float v) {
    Onnx__AttributeProto *a = new_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    if (!a) return;
    int64_t one = 1;
    Onnx__TensorProto *t = new_tensor(g, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, &one);
    float *p = arena(g, sizeof(float));
    if (!t || !p) return;
    *p = v;
    t->has_raw_data = 1, t->raw_data.len = sizeof(float), t->raw_data.data = (uint8_t *)p;
    a->t = t;
}

static size_t numel(int ndim, const int64_t *dims) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    return n;
}

static const char *add_init(ob_graph *g, int dtype, int ndim, const int64_t *dims, const void *data, size_t bytes,
                            const char *prefix) {
    Onnx__TensorProto *t = new_tensor(g, dtype, ndim, dims);
    if (!t) return "";
    t->name = fresh_name(g, prefix);
    t->has_raw_data = 1, t->raw_data.len = bytes, t->raw_data.data = (uint8_t *)data;
    push(g, &g->inits, t);
    return t->name ? t->name : "";
}

const char *ob_weight(ob_graph *g, const float *data, int ndim, const int64_t *dims) {
    return add_init(g, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim, dims, data, numel(ndim, dims) * 4, "w");
}

const char *ob_weight_named(ob_graph *g, const char *name, const float *data, int ndim, const int64_t *dims) {
    if (!name || !*name) return ob_weight(g, data, ndim, dims);
    for (size_t i = 0; i < g->inits.n; i++) /* a weight used twice: the first use keeps the name */
        if (!strcmp(((Onnx__TensorProto *)g->inits.v[i])->name, name)) return ob_weight(g, data, ndim, dims);
    Onnx__TensorProto *t = new_tensor(g, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim, dims);
    const size_t l = strlen(name) + 1;
    char *nm = t ? arena(g, l) : NULL;
    if (!nm) return "";
    memcpy(nm, name, l);
    t->name = nm;
    t->has_raw_data = 1, t->raw_data.len = numel(ndim, dims) * 4, t->raw_data.data = (uint8_t *)data;
    push(g, &g->inits, t);
    return t->name;
}

/* Small constants are copied into the graph's arena. */
static const char *copy_const(ob_graph *g, int dtype, size_t elsize, int ndim, const int64_t *dims, const void *vals) {
    size_t bytes = numel(ndim, dims) * elsize;
    void *p = arena(g, bytes + elsize);
    if (!p) return "";
    memcpy(p, vals, bytes);
    return add_init(g, dtype, ndim, dims, p, bytes, "c");
}

const char *ob_const_i64(ob_graph *g, int ndim, const int64_t *dims, const int64_t *vals) {
    return copy_const(g, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, sizeof(int64_t), ndim, dims, vals);
}

const char *ob_const_f32(ob_graph *g, int ndim, const int64_t *dims, const float *vals) {
    return copy_const(g, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, sizeof(float), ndim, dims, vals);
}

const char *ob_scalar_i64(ob_graph *g, int64_t v) { return ob_const_i64(g, 0, NULL, &v); }
const char *ob_scalar_f32(ob_graph *g, float v) { return ob_const_f32(g, 0, NULL, &v); }

static Onnx__ValueInfoProto *value_info(ob_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims,
                                        const char *const *params) {
    Onnx__ValueInfoProto *vi = arena(g, sizeof *vi);
    Onnx__TypeProto *tp = arena(g, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = arena(g, sizeof *tt);
    Onnx__TensorShapeProto *sh = arena(g, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dv = arena(g, sizeof(*dv) * (size_t)(ndim ? ndim : 1));
    if (!vi || !tp || !tt || !sh || !dv) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = arena(g, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (params && params[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = astrdup(g, params[i]);
        } else if (dims) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        dv[i] = d;
    }
    sh->n_dim = (size_t)ndim, sh->dim = dv;
    tt->has_elem_type = 1, tt->elem_type = elem_type, tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, tp->tensor_type = tt;
    vi->name = astrdup(g, name);
    vi->type = tp;
    return vi;
}

void ob_input(ob_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims, const char *const *params) {
    push(g, &g->inputs, value_info(g, name, elem_type, ndim, dims, params));
}

void ob_output(ob_graph *g, const char *value, const char *name, int elem_type, int ndim, const char *const *params) {
    /* rename through Identity so the graph output carries the public name */
    ob_node *n = ob_add(g, "Identity", 1, &value, 1);
    if (n) n->output[0] = astrdup(g, name);
    push(g, &g->outputs, value_info(g, name, elem_type, ndim, NULL, params));
}

void ob_metadata(ob_graph *g, const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = arena(g, sizeof *e);
    if (!e) return;
    onnx__string_string_entry_proto__init(e);
    e->key = astrdup(g, key);
    e->value = astrdup(g, value);
    push(g, &g->meta, e);
}

/* protobuf-c writes through this sink straight into the file. */
typedef struct file_sink {
    ProtobufCBuffer base;
    FILE *fp;
    int failed;
} file_sink;

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
    file_sink *s = (file_sink *)b;
    if (!s->failed && fwrite(data, 1, len, s->fp) != len) s->failed = 1;
}

int ob_write(ob_graph *g, const char *path, const char *producer_version, sbv2_error *err) {
    if (g->failed) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory while building the ONNX graph");
    Onnx__GraphProto graph;
    onnx__graph_proto__init(&graph);
    graph.name = "sbv2_net_g_infer";
    graph.n_node = g->nodes.n, graph.node = (Onnx__NodeProto **)g->nodes.v;
    graph.n_initializer = g->inits.n, graph.initializer = (Onnx__TensorProto **)g->inits.v;
    graph.n_input = g->inputs.n, graph.input = (Onnx__ValueInfoProto **)g->inputs.v;
    graph.n_output = g->outputs.n, graph.output = (Onnx__ValueInfoProto **)g->outputs.v;
    Onnx__OperatorSetIdProto opset;
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "", opset.has_version = 1, opset.version = 17;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ModelProto model;
    onnx__model_proto__init(&model);
    model.has_ir_version = 1, model.ir_version = 8;
    model.producer_name = "sbv2c";
    model.producer_version = (char *)producer_version;
    model.n_opset_import = 1, model.opset_import = opsets;
    model.graph = &graph;
    model.n_metadata_props = g->meta.n, model.metadata_props = (Onnx__StringStringEntryProto **)g->meta.v;
    FILE *fp = fopen(path, "wb");
    if (!fp) return sbv2_fail(err, SBV2_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    file_sink sink = {{sink_append}, fp, 0};
    protobuf_c_message_pack_to_buffer(&model.base, &sink.base);
    int ok = !sink.failed;
    ok = (fclose(fp) == 0) && ok;
    if (!ok) {
        remove(path);
        return sbv2_fail(err, SBV2_ERR_IO, "cannot write %s", path);
    }
    return SBV2_OK;
}
