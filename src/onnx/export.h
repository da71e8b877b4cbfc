/* ONNX export internals. */
#ifndef SBV2_ONNX_EXPORT_H
#define SBV2_ONNX_EXPORT_H

#include "model/model.h"
#include "onnx/builder.h"

/* Adds the whole net_g.infer() graph (inputs, nodes, output) to g. */
int sbv2_build_netg_graph(ob_graph *g, const sbv2_model *m);
/* Adds the metadata_props (sbv2_* keys, and AIVMX keys when asked). */
int sbv2_add_metadata(ob_graph *g, const sbv2_model *m, const sbv2_export_options *opt, sbv2_error *err);

#endif
