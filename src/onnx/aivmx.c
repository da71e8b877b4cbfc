/* AIVMX metadata (AivisSpeech): filled in once the manifest schema is in. */
#include "onnx/export.h"

int sbv2_add_aivmx_metadata(ob_graph *g, const sbv2_model *m, const sbv2_export_options *opt, sbv2_error *err);

int sbv2_add_aivmx_metadata(ob_graph *g, const sbv2_model *m, const sbv2_export_options *opt, sbv2_error *err) {
    (void)g, (void)m, (void)opt;
    return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "AIVMX metadata is not implemented yet");
}
