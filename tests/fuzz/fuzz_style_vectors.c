/* style_vectors.npy against a config.json: the input is a 2-byte big-endian
 * length, that many bytes of config.json, then the .npy image. */
#include <stdlib.h>

#include "formats/npy.h"
#include "fuzz_common.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t jl = (size_t)data[0] << 8 | data[1];
    if (jl > size - 2) jl = size - 2;
    const uint8_t *json = data + 2, *npy = json + jl;
    const size_t nl = size - 2 - jl;
    sbv2_model *m = calloc(1, sizeof *m);
    if (!m) return 0;
    sbv2_error err = {0};
    if (sbv2_config_parse((const char *)json, jl, &m->hp, &m->speakers, &m->styles, &err) == 0) {
        npy_array a;
        if (npy_parse(&a, npy, nl, &err) == 0) {
            if (sbv2_model_set_style_vectors(m, &a, "fuzz", &err) == 0 && m->styles.n != m->n_style_rows) abort();
            npy_free(&a);
        }
    }
    name_map_free(&m->speakers);
    name_map_free(&m->styles);
    free(m->style_vectors);
    free(m);
    return 0;
}
