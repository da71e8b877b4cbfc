/* .npy: "\x93NUMPY", major, minor, header length (u16 for v1, u32 for v2/v3),
 * a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (..)},
 * then the raw data. Only little-endian C-order arrays are accepted. */
#include "formats/npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *descr; npy_dtype t; size_t size; const char *name; } k_types[] = {
    {"<f4", NPY_F32, 4, "float32"}, {"<f8", NPY_F64, 8, "float64"}, {"<i8", NPY_I64, 8, "int64"},
    {"<i4", NPY_I32, 4, "int32"},   {"<f2", NPY_F16, 2, "float16"}, {"|u1", NPY_U8, 1, "uint8"},
    {"|b1", NPY_BOOL, 1, "bool"},
};

static size_t dtype_size(npy_dtype t) {
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if (k_types[i].t == t) return k_types[i].size;
    return 0;
}

const char *npy_dtype_name(npy_dtype t) {
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if (k_types[i].t == t) return k_types[i].name;
    return "?";
}

/* Finds the value after 'key': in the dict text; returns pointer or NULL. */
static const char *dict_value(const char *h, const char *end, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = h; p + kl + 2 <= end; p++) {
        if ((*p == '\'' || *p == '"') && strncmp(p + 1, key, kl) == 0 && p[kl + 1] == *p) {
            p += kl + 2;
            while (p < end && isspace((unsigned char)*p)) p++;
            if (p >= end || *p != ':') return NULL;
            p++;
            while (p < end && isspace((unsigned char)*p)) p++;
            return p < end ? p : NULL; /* the value must start inside the header */
        }
    }
    return NULL;
}

int npy_parse(npy_array *a, const uint8_t *buf, size_t size, sbv2_error *err) {
    memset(a, 0, sizeof *a);
    if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return sbv2_fail(err, SBV2_ERR_FORMAT, "not an .npy file (bad magic)");
    int major = buf[6];
    size_t hl, off;
    if (major == 1) {
        hl = (size_t)buf[8] | ((size_t)buf[9] << 8);
        off = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return sbv2_fail(err, SBV2_ERR_FORMAT, "truncated .npy header");
        hl = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24);
        off = 12;
    } else {
        return sbv2_fail(err, SBV2_ERR_FORMAT, "unsupported .npy format version %d", major);
    }
    if (hl > size - off) return sbv2_fail(err, SBV2_ERR_FORMAT, "truncated .npy header");
    const char *h = (const char *)buf + off, *he = h + hl;
    const char *d = dict_value(h, he, "descr");
    if (!d || (*d != '\'' && *d != '"')) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header has no 'descr'");
    char q = *d++;
    if (d >= he) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header: bad 'descr'");
    const char *dq = memchr(d, q, (size_t)(he - d));
    if (!dq || dq - d > 8) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header: bad 'descr'");
    char descr[9] = {0};
    memcpy(descr, d, (size_t)(dq - d));
    if (descr[0] == '=') descr[0] = '<'; /* native order on little-endian hosts */
    int found = 0;
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if (strcmp(descr, k_types[i].descr) == 0) { a->dtype = k_types[i].t; found = 1; }
    if (!found) return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, ".npy dtype '%s' is not supported", descr);
    const char *fo = dict_value(h, he, "fortran_order");
    if (!fo || he - fo < 5) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header has no 'fortran_order'");
    if (strncmp(fo, "False", 5) != 0) return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "Fortran-order .npy arrays are not supported");
    const char *s = dict_value(h, he, "shape");
    if (!s || *s != '(') return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header has no 'shape' tuple");
    s++;
    size_t numel = 1;
    for (;;) {
        while (s < he && (isspace((unsigned char)*s) || *s == ',')) s++;
        if (s >= he) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header: unterminated shape");
        if (*s == ')') break;
        if (!isdigit((unsigned char)*s)) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header: bad shape");
        uint64_t v = 0;
        while (s < he && isdigit((unsigned char)*s)) {
            if (v > (UINT64_C(1) << 50)) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header: shape too large");
            v = v * 10 + (uint64_t)(*s++ - '0');
        }
        if (a->ndim >= NPY_MAX_DIMS) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header: too many dims");
        if (!sbv2_mul_size(numel, (size_t)v, &numel)) return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy header: shape too large");
        a->shape[a->ndim++] = (int64_t)v;
    }
    size_t nbytes;
    if (!sbv2_mul_size(numel, dtype_size(a->dtype), &nbytes))
        return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy: shape too large");
    size_t data_off = off + hl;
    if (size - data_off != nbytes)
        return sbv2_fail(err, SBV2_ERR_FORMAT, ".npy: %zu data bytes, but shape and dtype need %zu",
                         size - data_off, nbytes);
    a->data = malloc(nbytes ? nbytes : 1);
    if (!a->data) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory reading .npy");
    memcpy(a->data, buf + data_off, nbytes);
    a->numel = numel;
    return SBV2_OK;
}

int npy_load(npy_array *a, const char *path, sbv2_error *err) {
    memset(a, 0, sizeof *a);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return sbv2_fail(err, errno == ENOENT ? SBV2_ERR_NOT_FOUND : SBV2_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0) { fclose(fp); return sbv2_fail(err, SBV2_ERR_IO, "cannot read %s", path); }
    long len = ftell(fp);
    rewind(fp);
    if (len < 0 || (unsigned long)len > (1ul << 36)) { fclose(fp); return sbv2_fail(err, SBV2_ERR_IO, "cannot read %s", path); }
    uint8_t *buf = malloc((size_t)len + 1);
    if (!buf) { fclose(fp); return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory reading %s", path); }
    size_t got = fread(buf, 1, (size_t)len, fp);
    fclose(fp);
    if (got != (size_t)len) { free(buf); return sbv2_fail(err, SBV2_ERR_IO, "short read on %s", path); }
    buf[len] = 0;
    int rc = npy_parse(a, buf, (size_t)len, err);
    free(buf);
    if (rc != SBV2_OK && err) {
        char pre[300];
        snprintf(pre, sizeof pre, "%s: ", path);
        sbv2_error_prefix(err, pre);
    }
    return rc;
}

void npy_free(npy_array *a) {
    if (!a) return;
    free(a->data);
    a->data = NULL;
}

uint8_t *npy_encode(npy_dtype dtype, int ndim, const int64_t *shape, const void *data, size_t *out_len) {
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
        if (k_types[i].t == dtype) descr = k_types[i].descr;
    if (!descr || ndim < 0 || ndim > NPY_MAX_DIMS) return NULL;
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld%s", (long long)shape[i], i + 1 < ndim ? ", " : "");
        numel *= (size_t)shape[i];
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    /* header padded with spaces and ended by '\n' so the data start is 64-aligned */
    size_t hl = (size_t)n + 1;
    hl += (64 - (10 + hl) % 64) % 64;
    size_t nb = numel * dtype_size(dtype), total = 10 + hl + nb;
    uint8_t *buf = malloc(total);
    if (!buf) return NULL;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hl & 0xff), buf[9] = (uint8_t)(hl >> 8);
    memset(buf + 10, ' ', hl);
    memcpy(buf + 10, dict, (size_t)n);
    buf[10 + hl - 1] = '\n';
    if (nb) memcpy(buf + 10 + hl, data, nb);
    *out_len = total;
    return buf;
}

int npy_save(const char *path, npy_dtype dtype, int ndim, const int64_t *shape, const void *data,
             sbv2_error *err) {
    size_t len;
    uint8_t *buf = npy_encode(dtype, ndim, shape, data, &len);
    if (!buf) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "npy_save: bad arguments or out of memory");
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(buf);
        return sbv2_fail(err, SBV2_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    int ok = fwrite(buf, 1, len, fp) == len;
    ok = (fclose(fp) == 0) && ok;
    free(buf);
    if (!ok) return sbv2_fail(err, SBV2_ERR_IO, "cannot write %s", path);
    return SBV2_OK;
}
