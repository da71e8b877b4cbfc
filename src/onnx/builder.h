/* A small ONNX graph builder over protobuf-c's generated onnx.proto structs:
 * nodes with auto-named single outputs, attributes, initializers that borrow
 * the model's weight memory (no copies), and streaming serialisation. */
#ifndef SBV2_ONNX_BUILDER_H
#define SBV2_ONNX_BUILDER_H

#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "onnx.pb-c.h"

typedef struct ob_graph ob_graph;
typedef Onnx__NodeProto ob_node;

ob_graph *ob_new(void);
void ob_free(ob_graph *g);
/* First allocation failure, sticky: every builder call after it is a no-op. */
int ob_failed(const ob_graph *g);

/* Adds a node; inputs may be "" for an omitted optional input. Returns its
 * first output's name (auto-generated). */
ob_node *ob_add(ob_graph *g, const char *op_type, int n_in, const char *const *inputs, int n_out);
const char *ob_out(const ob_node *n, int i);
/* ob_add with n (<= 8) inputs given as arguments and one output. */
ob_node *ob_addv(ob_graph *g, const char *op_type, int n, ...);
/* The output of op_type over the listed inputs: OB_OP(g, "Add", a, b). */
#define OB_OP(g, type, ...) \
    ob_out(ob_addv(g, type, (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), __VA_ARGS__), 0)
void ob_attr_int(ob_graph *g, ob_node *n, const char *name, int64_t v);
void ob_attr_float(ob_graph *g, ob_node *n, const char *name, float v);
void ob_attr_ints(ob_graph *g, ob_node *n, const char *name, int count, const int64_t *v);
/* A one-element tensor attribute (ConstantOfShape's value). */
void ob_attr_tensor_f32(ob_graph *g, ob_node *n, const char *name, float v);

/* n floats owned by the graph (freed with it). */
float *ob_alloc_f32(ob_graph *g, size_t n);
/* Initializers. f32 borrows `data` (it must outlive ob_write). */
const char *ob_weight(ob_graph *g, const float *data, int ndim, const int64_t *dims);
/* The same under the parameter's own name (when unused; else a fresh one), so
 * the file can be read back by name. */
const char *ob_weight_named(ob_graph *g, const char *name, const float *data, int ndim, const int64_t *dims);
const char *ob_const_i64(ob_graph *g, int ndim, const int64_t *dims, const int64_t *vals);
const char *ob_const_f32(ob_graph *g, int ndim, const int64_t *dims, const float *vals); /* copied */
const char *ob_scalar_i64(ob_graph *g, int64_t v);
const char *ob_scalar_f32(ob_graph *g, float v);

/* Graph inputs/outputs; dims < 0 are symbolic, named by the dim_params. */
void ob_input(ob_graph *g, const char *name, int elem_type, int ndim, const int64_t *dims, const char *const *params);
void ob_output(ob_graph *g, const char *value, const char *name, int elem_type, int ndim, const char *const *params);
void ob_metadata(ob_graph *g, const char *key, const char *value);

/* Serialises the model (ir_version 8, opset 17) to a file, streaming. */
int ob_write(ob_graph *g, const char *path, const char *producer_version, sbv2_error *err);

#endif
