/* safetensors: 8-byte little-endian header length N, N bytes of JSON
 * {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {...}},
 * then the data block. Offsets are relative to the data block. Everything the
 * header says is checked before a byte of data is trusted. */
#include "formats/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u * 1024u * 1024u)

static const struct { const char *name; st_dtype t; size_t size; } k_dtypes[] = {
    {"F64", ST_F64, 8}, {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2},
    {"I64", ST_I64, 8}, {"I32", ST_I32, 4}, {"I16", ST_I16, 2}, {"I8", ST_I8, 1},
    {"U8", ST_U8, 1},   {"BOOL", ST_BOOL, 1},
};

const char *st_dtype_name(st_dtype t) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (k_dtypes[i].t == t) return k_dtypes[i].name;
    return "?";
}

size_t st_dtype_size(st_dtype t) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (k_dtypes[i].t == t) return k_dtypes[i].size;
    return 0;
}

static int parse_dtype(const char *s, st_dtype *t) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (strcmp(k_dtypes[i].name, s) == 0) { *t = k_dtypes[i].t; return 1; }
    return 0;
}

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_uint(const cJSON *n, uint64_t *out) {
    if (!cJSON_IsNumber(n)) return 0;
    double v = n->valuedouble;
    if (!(v >= 0) || v > 9007199254740992.0 || floor(v) != v) return 0;
    *out = (uint64_t)v;
    return 1;
}

int st_tensor_cmp(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

typedef struct { size_t begin, end; size_t idx; } range_t;
static int cmp_range(const void *a, const void *b) {
    const range_t *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : (x->end > y->end);
}

static void free_tensors(st_file *f) {
    for (size_t i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    f->tensors = NULL;
    f->n_tensors = 0;
    free(f->metadata);
    f->metadata = NULL;
}

int st_parse(st_file *f, const uint8_t *data, size_t size, sbv2_error *err) {
    f->tensors = NULL;
    f->n_tensors = 0;
    f->metadata = NULL;
    f->owner = NULL, f->release = NULL;
    f->map = NULL, f->map_size = 0; /* (st_open sets them after) */
    if (size < 8) return sbv2_fail(err, SBV2_ERR_FORMAT, "file too short (%zu bytes) for a safetensors header", size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | data[i];
    if (n < 2 || n > ST_MAX_HEADER || n > size - 8)
        return sbv2_fail(err, SBV2_ERR_FORMAT,
                         "header length %llu is invalid (file has %zu bytes after the length field)",
                         (unsigned long long)n, size - 8);
    const char *hdr = (const char *)data + 8;
    if (hdr[0] != '{') return sbv2_fail(err, SBV2_ERR_FORMAT, "header does not start with '{'");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)n, &end, 0);
    if (!root) return sbv2_fail(err, SBV2_ERR_FORMAT, "header is not valid JSON");
    /* only padding spaces may follow the object */
    for (const char *p = end; p && p < hdr + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != 0) {
            cJSON_Delete(root);
            return sbv2_fail(err, SBV2_ERR_FORMAT, "header has trailing bytes after the JSON object");
        }
    int rc = SBV2_OK;
    range_t *ranges = NULL;
    if (!cJSON_IsObject(root)) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "header is not a JSON object"); goto out; }
    const uint8_t *base = data + 8 + n;
    size_t data_size = size - 8 - (size_t)n;
    size_t count = 0;
    for (cJSON *it = root->child; it; it = it->next) count++;
    f->tensors = calloc(count ? count : 1, sizeof *f->tensors);
    ranges = calloc(count ? count : 1, sizeof *ranges);
    if (!f->tensors || !ranges) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory reading header"); goto out; }
    for (cJSON *it = root->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        if (strcmp(key, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "__metadata__ is not an object"); goto out; }
            free(f->metadata); /* (a repeated key: the last wins, as in Python's json) */
            if (!(f->metadata = cJSON_PrintUnformatted(it))) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory reading header"); goto out; }
            continue;
        }
        if (!cJSON_IsObject(it)) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': entry is not an object", key); goto out; }
        st_tensor *t = &f->tensors[f->n_tensors];
        const cJSON *jd = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *jo = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsString(jd) || !parse_dtype(jd->valuestring, &t->dtype)) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': missing or unknown dtype%s%s", key,
                           cJSON_IsString(jd) ? " " : "", cJSON_IsString(jd) ? jd->valuestring : "");
            goto out;
        }
        if (!cJSON_IsArray(js) || cJSON_GetArraySize(js) > ST_MAX_DIMS) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': shape is not an array of at most %d dims", key, ST_MAX_DIMS);
            goto out;
        }
        size_t numel = 1;
        t->ndim = 0;
        for (cJSON *d = js->child; d; d = d->next) {
            uint64_t v;
            if (!json_uint(d, &v) || v > (uint64_t)INT64_MAX || !sbv2_mul_size(numel, (size_t)v, &numel)) {
                rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': invalid shape", key);
                goto out;
            }
            t->shape[t->ndim++] = (int64_t)v;
        }
        uint64_t b, e;
        if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, &b) ||
            !json_uint(jo->child->next, &e)) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': data_offsets is not [begin, end]", key);
            goto out;
        }
        if (b > e || e > data_size) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': data_offsets [%llu, %llu] outside the data block of %zu bytes",
                           key, (unsigned long long)b, (unsigned long long)e, data_size);
            goto out;
        }
        size_t nbytes;
        if (!sbv2_mul_size(numel, st_dtype_size(t->dtype), &nbytes) || nbytes != (size_t)(e - b)) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': %zu elements of %s do not fill its byte range of %llu",
                           key, numel, st_dtype_name(t->dtype), (unsigned long long)(e - b));
            goto out;
        }
        t->numel = numel;
        t->nbytes = nbytes;
        t->data = base + b;
        t->name = strdup(key);
        if (!t->name) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto out; }
        ranges[f->n_tensors] = (range_t){(size_t)b, (size_t)e, f->n_tensors};
        f->n_tensors++;
    }
    qsort(ranges, f->n_tensors, sizeof *ranges, cmp_range);
    size_t last_end = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        if (ranges[i].begin == ranges[i].end) continue;
        if (ranges[i].begin < last_end) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': its bytes overlap another tensor's",
                           f->tensors[ranges[i].idx].name);
            goto out;
        }
        last_end = ranges[i].end;
    }
    qsort(f->tensors, f->n_tensors, sizeof *f->tensors, st_tensor_cmp);
    for (size_t i = 1; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s' appears twice", f->tensors[i].name);
            goto out;
        }
out:
    free(ranges);
    cJSON_Delete(root);
    if (rc != SBV2_OK) free_tensors(f);
    return rc;
}

int st_open(st_file *f, const char *path, sbv2_error *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sbv2_fail(err, errno == ENOENT ? SBV2_ERR_NOT_FOUND : SBV2_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return sbv2_fail(err, SBV2_ERR_IO, "%s is not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return sbv2_fail(err, SBV2_ERR_FORMAT, "%s: file too short (%zu bytes) for a safetensors header", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return sbv2_fail(err, SBV2_ERR_IO, "cannot map %s: %s", path, strerror(errno));
    int rc = st_parse(f, map, size, err);
    if (rc != SBV2_OK) {
        munmap(map, size);
        char pre[300];
        snprintf(pre, sizeof pre, "%s: ", path);
        sbv2_error_prefix(err, pre);
        return rc;
    }
    f->map = map;
    f->map_size = size;
    return SBV2_OK;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    st_tensor key;
    key.name = (char *)name;
    return bsearch(&key, f->tensors, f->n_tensors, sizeof key, st_tensor_cmp);
}

void st_release(const st_file *f, const void *p, size_t bytes) {
    const uint8_t *b = p, *mb = f->map;
    if (!f->map || !b || b < mb || bytes > f->map_size || (size_t)(b - mb) > f->map_size - bytes) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t lo = ((uintptr_t)b + page - 1) & ~(page - 1), hi = ((uintptr_t)b + bytes) & ~(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED); /* file-backed, never written: a hint, re-read on demand */
}

void st_close(st_file *f) {
    if (!f) return;
    free_tensors(f);
    if (f->map) munmap(f->map, f->map_size);
    f->map = NULL;
    if (f->release) f->release(f->owner);
    f->release = NULL, f->owner = NULL;
}

float st_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: renormalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int st_read_f32(const st_tensor *t, float *out) {
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) return -1; /* not a float tensor */
    for (size_t i = 0; i < t->numel; i++) {
        if (t->dtype == ST_F32) memcpy(&out[i], t->data + 4 * i, 4);
        else {
            uint16_t h;
            memcpy(&h, t->data + 2 * i, 2);
            if (t->dtype == ST_F16) out[i] = st_half_to_float(h);
            else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&out[i], &bits, 4);
            }
        }
    }
    return 0;
}
