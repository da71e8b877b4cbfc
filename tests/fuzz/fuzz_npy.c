/* .npy images (npy_parse); what parses must survive npy_encode and parse to
 * the same array again. */
#include <stdlib.h>
#include <string.h>

#include "formats/npy.h"
#include "fuzz_common.h"

static size_t elem_size(npy_dtype t) {
    switch (t) {
    case NPY_F64: case NPY_I64: return 8;
    case NPY_F32: case NPY_I32: return 4;
    case NPY_F16: return 2;
    default: return 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    npy_array a, b;
    sbv2_error err = {0};
    if (npy_parse(&a, data, size, &err) == 0) {
        size_t n = 0;
        uint8_t *enc = npy_encode(a.dtype, a.ndim, a.shape, a.data, &n);
        if (enc) {
            if (npy_parse(&b, enc, n, &err) != 0 || b.dtype != a.dtype || b.ndim != a.ndim || b.numel != a.numel ||
                memcmp(b.shape, a.shape, sizeof(int64_t) * (size_t)a.ndim) ||
                (a.numel && memcmp(a.data, b.data, a.numel * elem_size(a.dtype))))
                abort(); /* the round trip lost something */
            npy_free(&b);
            free(enc);
        }
    }
    npy_free(&a);
    return 0;
}
