/* safetensors reader: memory-mapped, header strictly validated. */
#ifndef SBV2_SAFETENSORS_H
#define SBV2_SAFETENSORS_H

#include "common.h"

typedef enum st_dtype {
    ST_F64, ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL
} st_dtype;

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    const uint8_t *data; /* inside the mapping */
    size_t nbytes;
} st_tensor;

typedef struct st_file {
    void *map;          /* mmap()ed file, or NULL when parsed from a caller's buffer */
    size_t map_size;
    st_tensor *tensors; /* sorted by name */
    size_t n_tensors;
    char *metadata;     /* the header's __metadata__ object as JSON text, or NULL */
    /* tensors read from another container (ONNX): who owns their data */
    void *owner;
    void (*release)(void *owner);
} st_file;

const char *st_dtype_name(st_dtype t);
size_t st_dtype_size(st_dtype t);

/* Maps and parses a file. On error *f is left empty (st_close is still safe). */
int st_open(st_file *f, const char *path, sbv2_error *err);
/* Parses a file image held by the caller (must outlive *f). */
int st_parse(st_file *f, const uint8_t *data, size_t size, sbv2_error *err);
const st_tensor *st_find(const st_file *f, const char *name);
/* the tensor table's order (by name), for tables built elsewhere */
int st_tensor_cmp(const void *a, const void *b);
void st_close(st_file *f);
/* F32/F16/BF16 tensor -> numel float32 values in out (always 0). */
int st_read_f32(const st_tensor *t, float *out);
float st_half_to_float(uint16_t h);
/* Drops this process's resident pages of [p, p + bytes) when they lie in f's
 * mapping (a no-op otherwise): once a converted or packed copy exists, they
 * come back from the file only if read again, so peak memory stays near one
 * copy of the weights. */
void st_release(const st_file *f, const void *p, size_t bytes);

#endif
