/* An .aivm header's __metadata__ (sbv2_aivm_read_metadata): the manifest
 * against aivmlib's schema, the hyper-parameters through config.json's
 * checks, base64 and the .npy of the style vectors against the styles. */
#include <stdlib.h>

#include "fuzz_common.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sbv2_model *m = calloc(1, sizeof *m);
    if (!m) return 0;
    sbv2_error err = {0};
    if (sbv2_aivm_read_metadata(m, (const char *)data, size, &err) == 0 &&
        (!m->aivm_manifest || !m->config_json || m->styles.n != m->n_style_rows))
        abort(); /* accepted, but incomplete */
    name_map_free(&m->speakers);
    name_map_free(&m->styles);
    free(m->style_vectors), free(m->config_json), free(m->aivm_manifest);
    free(m);
    return 0;
}
