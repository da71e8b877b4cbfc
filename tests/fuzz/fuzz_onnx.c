/* ONNX files (sbv2_onnx_read): the protobuf, the input signature, every
 * initializer's type, shape and data, the mapping of folded initializers by
 * their consumers' module paths, the metadata as JSON; then, when it parses,
 * the metadata through the AIVM reader as an .aivmx would go. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "model/model.h"
#include "onnx/read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    char *meta = NULL;
    int older = 0;
    sbv2_error err = {0};
    if (sbv2_onnx_read(&f, data, size, 0, "fuzz", &older, &meta, &err) == 0) {
        for (size_t i = 0; i < f.n_tensors; i++)
            if (st_find(&f, f.tensors[i].name) != &f.tensors[i]) abort(); /* sorted and unique */
        if (meta) {
            sbv2_model *m = calloc(1, sizeof *m);
            if (m && sbv2_aivm_read_metadata(m, meta, strlen(meta), &err) == 0 && !m->aivm_manifest) abort();
            if (m) {
                name_map_free(&m->speakers), name_map_free(&m->styles);
                free(m->style_vectors), free(m->config_json), free(m->aivm_manifest), free(m);
            }
        }
        st_close(&f);
    }
    free(meta);
    return 0;
}
