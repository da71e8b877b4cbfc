/* The safetensors header and tensor table (st_parse), then every small
 * tensor converted to float32 as the loaders read them. */
#include <stdlib.h>

#include "formats/safetensors.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    sbv2_error err = {0};
    if (st_parse(&f, data, size, &err) == 0) {
        for (size_t i = 0; i < f.n_tensors; i++) {
            const st_tensor *t = &f.tensors[i];
            if (st_find(&f, t->name) != t) abort(); /* the table is sorted and unique */
            if (t->numel > ((size_t)1 << 16)) continue;
            const int is_float = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16;
            float *out = malloc(sizeof(float) * (t->numel ? t->numel : 1));
            if (out && (st_read_f32(t, out) == 0) != is_float) abort(); /* a float tensor parsed = readable */
            free(out);
        }
    }
    st_close(&f);
    return 0;
}
