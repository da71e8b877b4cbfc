/* sbv2_export_onnx(): builds the graph over the loaded model's weights and
 * streams it to disk (memory stays bounded by the model itself). */
#include <string.h>

#include "onnx/export.h"

sbv2_export_options sbv2_export_default_options(void) {
    sbv2_export_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    return o;
}

int sbv2_export_onnx(const sbv2_model *model, const char *path, const sbv2_export_options *options, sbv2_error *err) {
    if (!model || !path) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "model and path must not be NULL");
    sbv2_export_options def = sbv2_export_default_options();
    if (!options) options = &def;
    if (options->struct_size != sizeof *options)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "options.struct_size is %zu, expected %zu",
                         options->struct_size, sizeof *options);
    ob_graph *g = ob_new();
    if (!g) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    int rc = sbv2_build_netg_graph(g, model);
    if (rc != SBV2_OK) sbv2_fail(err, rc, "cannot build the ONNX graph (%s)", sbv2_status_string(rc));
    if (rc == SBV2_OK) rc = sbv2_add_metadata(g, model, options, err);
    if (rc == SBV2_OK) rc = ob_write(g, path, SBV2_VERSION_STRING, err);
    ob_free(g);
    return rc;
}
