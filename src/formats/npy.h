/* .npy reader/writer (format versions 1-3, little-endian, C order). */
#ifndef SBV2_NPY_H
#define SBV2_NPY_H

#include "common.h"

typedef enum npy_dtype { NPY_F32, NPY_F64, NPY_I64, NPY_I32, NPY_F16, NPY_U8, NPY_BOOL } npy_dtype;

#define NPY_MAX_DIMS 8

typedef struct npy_array {
    npy_dtype dtype;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    size_t numel;
    void *data; /* malloc()ed, numel elements of dtype */
} npy_array;

const char *npy_dtype_name(npy_dtype t);
/* Parses an in-memory .npy image. */
int npy_parse(npy_array *a, const uint8_t *buf, size_t size, sbv2_error *err);
int npy_load(npy_array *a, const char *path, sbv2_error *err);
void npy_free(npy_array *a);
/* The bytes of a version 1.0 .npy file (malloc()ed), or NULL. */
uint8_t *npy_encode(npy_dtype dtype, int ndim, const int64_t *shape, const void *data, size_t *out_len);
/* Writes an array as a version 1.0 .npy file. */
int npy_save(const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data,
             sbv2_error *err);

#endif
