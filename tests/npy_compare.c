/* npy_compare A.npy B.npy TOL: exit 0 when both have the same shape and
 * max |A - B| <= TOL (float32/int64 arrays). Used by the CLI tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/npy.h"

static double at(const npy_array *a, size_t i) {
    return a->dtype == NPY_I64 ? (double)((int64_t *)a->data)[i] : (double)((float *)a->data)[i];
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: npy_compare A.npy B.npy TOL\n");
        return 2;
    }
    npy_array a, b;
    sbv2_error err;
    if (npy_load(&a, argv[1], &err) != SBV2_OK || npy_load(&b, argv[2], &err) != SBV2_OK) {
        fprintf(stderr, "npy_compare: %s\n", err.message);
        return 1;
    }
    int same = a.ndim == b.ndim;
    for (int i = 0; same && i < a.ndim; i++) same = a.shape[i] == b.shape[i];
    if (!same || (a.dtype != NPY_F32 && a.dtype != NPY_I64) || (b.dtype != NPY_F32 && b.dtype != NPY_I64)) {
        fprintf(stderr, "npy_compare: shapes or dtypes differ\n");
        return 1;
    }
    double d = 0;
    for (size_t i = 0; i < a.numel; i++) {
        double e = fabs(at(&a, i) - at(&b, i));
        d = e == e ? fmax(d, e) : INFINITY;
    }
    double tol = atof(argv[3]);
    printf("max|d| = %.3g (%zu values, tolerance %.3g)\n", d, a.numel, tol);
    npy_free(&a);
    npy_free(&b);
    return d <= tol ? 0 : 1;
}
