/* pytorch_model.bin: the zip directory (zip64 too), the pickle VM and the
 * storage bounds (pt_parse), then every small tensor read as float32. */
#include <stdlib.h>

#include "formats/torch_zip.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    sbv2_error err = {0};
    if (pt_parse(&f, data, size, "fuzz", &err) == 0) {
        for (size_t i = 0; i < f.n_tensors; i++) {
            const st_tensor *t = &f.tensors[i];
            if (st_find(&f, t->name) != t) abort();
            if (t->numel > ((size_t)1 << 16)) continue;
            float *out = malloc(sizeof(float) * (t->numel ? t->numel : 1));
            if (out && st_read_f32(t, out) != 0) abort(); /* torch storages here are F32/F16/BF16 only */
            free(out);
        }
    }
    st_close(&f);
    return 0;
}
