/* Robustness of everything that reads files: the safetensors and .npy parsers
 * on hand-built images, whole-model loading on damaged copies of the golden
 * tiny model, and sbv2_infer()'s argument checks. Each bad input must give an
 * error status with a message and must not crash.
 *
 * Every case runs in a forked child so one crash cannot hide the others, and
 * parser inputs sit at the very end of a page followed by an inaccessible
 * page, so reading one byte past the buffer faults even without ASan.
 * Prints "ok <case>" / "FAIL <case>: <why>" and "N passed, M failed".
 * Run with -v to also see each error message. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats/file.h"
#include "formats/npy.h"
#include "formats/safetensors.h"
#include "sbv2.h"
#include "test_common.h"

#define GOLDEN_MODEL SBV2_GOLDEN_DIR "/netg/tiny-jp-extra"

static int g_verbose;
static int n_pass, n_fail;
static char g_tmp[64]; /* mkdtemp() directory for derived files */

/* ---- small helpers ---------------------------------------------------------- */

static char g_why[1024];
/* Formats a failure reason (returned by a case function). */
static const char *why(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_why, sizeof g_why, fmt, ap);
    va_end(ap);
    return g_why;
}

/* An expected failure: an error status that matches err->code, a non-empty
 * message and, when `word` is given, that word inside the message. */
static const char *expect_error(int rc, const sbv2_error *err, const char *word) {
    if (rc == SBV2_OK) return why("accepted (returned SBV2_OK)");
    if (rc > 0) return why("returned %d, not a negative sbv2_status", rc);
    if (err->code != rc) return why("returned %d but err.code is %d", rc, err->code);
    if (!err->message[0]) return why("empty error message");
    if (word && !strstr(err->message, word)) return why("message lacks \"%s\": %s", word, err->message);
    if (g_verbose) fprintf(stderr, "    -> %s\n", err->message);
    return NULL;
}

/* Same for calls that return NULL on error. */
static const char *expect_null(const void *p, const sbv2_error *err, const char *word) {
    if (p) return why("accepted (returned non-NULL)");
    if (err->code >= 0) return why("returned NULL but err.code is %d", err->code);
    return expect_error(err->code, err, word);
}

static char *tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", g_tmp, name);
    return buf;
}

static int write_file(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    int ok = fwrite(data, 1, n, fp) == n;
    return (fclose(fp) == 0) && ok;
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    uint8_t *b = NULL;
    long len = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
    if (len >= 0 && fseek(fp, 0, SEEK_SET) == 0 && (b = malloc((size_t)len + 1)) != NULL) {
        if (fread(b, 1, (size_t)len, fp) != (size_t)len) { free(b); b = NULL; }
        else { b[len] = 0; *n = (size_t)len; }
    }
    fclose(fp);
    return b;
}

/* `text` with the single occurrence of `from` replaced by `to` (malloc()ed),
 * or NULL when `from` is absent: the fixture would then test nothing. */
static char *replace_once(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    if (!at) return NULL;
    size_t a = (size_t)(at - text), fl = strlen(from), tl = strlen(to), rest = strlen(at + fl);
    char *out = malloc(a + tl + rest + 1);
    if (!out) return NULL;
    memcpy(out, text, a);
    memcpy(out + a, to, tl);
    memcpy(out + a + tl, at + fl, rest + 1);
    return out;
}

/* A copy of `src` that ends exactly where an inaccessible page begins. */
typedef struct { void *map; size_t len; uint8_t *p; } guarded_t;

static int guarded_copy(guarded_t *g, const void *src, size_t n) {
    size_t ps = (size_t)sysconf(_SC_PAGESIZE), pages = (n + ps - 1) / ps + 1;
    g->len = pages * ps;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) return 0;
    uint8_t *guard = (uint8_t *)g->map + g->len - ps;
    if (mprotect(guard, ps, PROT_NONE) != 0) return 0;
    g->p = guard - n;
    if (n) memcpy(g->p, src, n);
    return 1;
}

static void guarded_free(guarded_t *g) { munmap(g->map, g->len); }

static void put_le(uint8_t *p, uint64_t v, int nbytes) {
    for (int i = 0; i < nbytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- running cases ------------------------------------------------------------ */

/* A case returns NULL when it passes, else why it failed. */
typedef const char *(*case_fn)(const void *arg);

static void report(const char *name, const char *fail_why) {
    if (fail_why) {
        printf("FAIL %s: %s\n", name, fail_why);
        n_fail++;
    } else {
        printf("ok %s\n", name);
        n_pass++;
    }
    fflush(stdout);
}

/* Runs fn(arg) in a child; a crash or a sanitizer abort is a failure. */
static void run_case(const char *name, case_fn fn, const void *arg) {
    int fd[2];
    if (pipe(fd) != 0) { report(name, "pipe() failed"); return; }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { close(fd[0]); close(fd[1]); report(name, "fork() failed"); return; }
    if (pid == 0) {
        close(fd[0]);
        const char *w = fn(arg);
        if (w && write(fd[1], w, strlen(w)) < 0) {}
        close(fd[1]);
        exit(w ? 1 : 0); /* exit(), not _exit(): LeakSanitizer checks the child */
    }
    close(fd[1]);
    char msg[1100];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof msg - 1 && (r = read(fd[0], msg + got, sizeof msg - 1 - got)) > 0) got += (size_t)r;
    msg[got] = 0;
    close(fd[0]);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) { report(name, "waitpid() failed"); return; }
    char buf[1200];
    if (WIFSIGNALED(st)) {
        snprintf(buf, sizeof buf, "crashed with signal %d", WTERMSIG(st));
        report(name, buf);
    } else if (WEXITSTATUS(st) == 0) {
        report(name, NULL);
    } else if (got) {
        report(name, msg);
    } else {
        snprintf(buf, sizeof buf, "exited with status %d (sanitizer report above?)", WEXITSTATUS(st));
        report(name, buf);
    }
}

/* ---- 1. safetensors ------------------------------------------------------------ */

/* A safetensors image: 8-byte length, the JSON padded with spaces to keep the
 * data 8-byte aligned, then data_len bytes (zero unless `data` is given). */
static uint8_t *st_image(const char *json, const void *data, size_t data_len, size_t *size) {
    size_t jl = strlen(json), n = (jl + 7) / 8 * 8;
    uint8_t *b = calloc(1, 8 + n + data_len + 1);
    if (!b) return NULL;
    put_le(b, n, 8);
    memset(b + 8, ' ', n);
    memcpy(b + 8, json, jl);
    if (data && data_len) memcpy(b + 8 + n, data, data_len);
    *size = 8 + n + data_len;
    return b;
}

/* One tensor entry of a header. */
#define T1(name, dt, shape, b, e) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"
#define AS_IS UINT64_MAX

typedef struct {
    const char *name;
    const char *json;
    size_t data_len;
    uint64_t len_field; /* AS_IS, or a value written over the header length */
    size_t keep;        /* 0, or keep only this many bytes of the image */
} st_case;

static const st_case k_st_bad[] = {
    {"st_shorter_than_8_bytes", "{}", 0, AS_IS, 5},
    {"st_header_length_past_end", "{}", 16, 8 + 16 + 1, 0},
    {"st_header_length_0", "{}", 16, 0, 0},
    {"st_header_length_huge", "{}", 16, UINT64_C(1) << 62, 0},
    {"st_header_not_json", "{this is not json}", 16, AS_IS, 0},
    {"st_header_json_not_object", "[1]", 16, AS_IS, 0},
    /* safetensors writers pad with spaces only; anything else is not JSON */
    {"st_header_trailing_garbage", "{}garbage", 16, AS_IS, 0},
    {"st_entry_not_object", "{\"a\":5}", 0, AS_IS, 0},
    {"st_metadata_not_object", "{\"__metadata__\":[1]}", 0, AS_IS, 0},
    {"st_unknown_dtype", "{" T1("a", "F99", "[1]", 0, 4) "}", 4, AS_IS, 0},
    {"st_missing_dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, AS_IS, 0},
    {"st_negative_dim", "{" T1("a", "F32", "[-1]", 0, 4) "}", 4, AS_IS, 0},
    {"st_fractional_dim", "{" T1("a", "F32", "[1.5]", 0, 4) "}", 4, AS_IS, 0},
    {"st_dim_not_number", "{" T1("a", "F32", "[\"1\"]", 0, 4) "}", 4, AS_IS, 0},
    {"st_too_many_dims", "{" T1("a", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, AS_IS, 0},
    {"st_shape_overflow", "{" T1("a", "U8", "[4294967296,4294967296,4294967296]", 0, 4) "}", 4, AS_IS, 0},
    {"st_offsets_out_of_range", "{" T1("a", "F32", "[4]", 0, 64) "}", 16, AS_IS, 0},
    {"st_offsets_negative", "{" T1("a", "F32", "[1]", -4, 0) "}", 16, AS_IS, 0},
    {"st_offsets_begin_after_end", "{" T1("a", "F32", "[1]", 8, 4) "}", 16, AS_IS, 0},
    {"st_offsets_not_pair", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 16, AS_IS, 0},
    {"st_size_mismatch", "{" T1("a", "F32", "[3]", 0, 16) "}", 16, AS_IS, 0},
    {"st_overlapping_ranges", "{" T1("a", "F32", "[2]", 0, 8) "," T1("b", "F32", "[2]", 4, 12) "}", 16, AS_IS, 0},
    {"st_duplicate_key", "{" T1("a", "F32", "[2]", 0, 8) "," T1("a", "F32", "[2]", 8, 16) "}", 16, AS_IS, 0},
    {"st_truncated_data", "{" T1("a", "F32", "[4]", 0, 16) "," T1("b", "F32", "[4]", 16, 32) "}", 20, AS_IS, 0},
};

static const char *st_bad_case(const void *arg) {
    const st_case *c = arg;
    size_t size;
    uint8_t *img = st_image(c->json, NULL, c->data_len, &size);
    if (!img) return why("out of memory");
    if (c->len_field != AS_IS) put_le(img, c->len_field, 8);
    if (c->keep) size = c->keep;
    guarded_t g;
    if (!guarded_copy(&g, img, size)) return why("mmap failed");
    free(img);
    st_file f;
    sbv2_error err = {0, ""};
    int rc = st_parse(&f, g.p, size, &err);
    const char *w = expect_error(rc, &err, NULL);
    if (!w && (f.tensors || f.n_tensors)) w = why("tensors left behind after an error");
    st_close(&f);
    guarded_free(&g);
    return w;
}

/* Two F32 tensors, one F16, and __metadata__; values are read back. */
static const char *st_valid_case(const void *arg) {
    (void)arg;
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"}," T1("w", "F32", "[2,2]", 0, 16) ","
                       T1("b", "F32", "[3]", 16, 28) "," T1("h", "F16", "[2]", 28, 32) "}";
    const float wv[4] = {1.0f, -2.5f, 3.25f, 1e-3f}, bv[3] = {-1.5f, 0.25f, 1000.0f};
    const uint16_t hv[2] = {0x3C00, 0xC000}; /* 1.0, -2.0 */
    uint8_t data[32];
    memcpy(data, wv, 16);
    memcpy(data + 16, bv, 12);
    memcpy(data + 28, hv, 4);
    size_t size;
    uint8_t *img = st_image(json, data, sizeof data, &size);
    guarded_t g;
    if (!img || !guarded_copy(&g, img, size)) return why("setup failed");
    free(img);
    st_file f;
    sbv2_error err = {0, ""};
    if (st_parse(&f, g.p, size, &err) != SBV2_OK) return why("rejected: %s", err.message);
    const char *w = NULL;
    const st_tensor *tw = st_find(&f, "w"), *tb = st_find(&f, "b"), *th = st_find(&f, "h");
    float got[4];
    uint16_t gh[2];
    if (f.n_tensors != 3) w = why("%zu tensors, expected 3", f.n_tensors);
    else if (!tw || !tb || !th) w = why("st_find misses a tensor");
    else if (st_find(&f, "__metadata__") || st_find(&f, "x")) w = why("st_find found a tensor that does not exist");
    else if (tw->dtype != ST_F32 || tw->ndim != 2 || tw->shape[0] != 2 || tw->shape[1] != 2 || tw->numel != 4 ||
             tw->nbytes != 16)
        w = why("'w' has the wrong dtype/shape/size");
    else if (tb->dtype != ST_F32 || tb->ndim != 1 || tb->shape[0] != 3 || tb->nbytes != 12)
        w = why("'b' has the wrong dtype/shape/size");
    else if (th->dtype != ST_F16 || th->ndim != 1 || th->shape[0] != 2 || th->nbytes != 4)
        w = why("'h' has the wrong dtype/shape/size");
    else if (memcpy(got, tw->data, 16), memcmp(got, wv, 16) != 0) w = why("'w' values differ");
    else if (memcpy(got, tb->data, 12), memcmp(got, bv, 12) != 0) w = why("'b' values differ");
    else if (memcpy(gh, th->data, 4), gh[0] != hv[0] || gh[1] != hv[1]) w = why("'h' values differ");
    st_close(&f);
    guarded_free(&g);
    return w;
}

/* ---- 2. npy ------------------------------------------------------------------ */

/* An .npy image: magic, version, header length (2 bytes for v1, 4 for v2+),
 * the dict padded with spaces and '\n' to 64 bytes (unless `raw`), data. */
static uint8_t *npy_image(int major, const char *dict, int raw, const void *data, size_t data_len, size_t *size) {
    size_t pre = major == 1 || major > 3 ? 10 : 12, dl = strlen(dict);
    size_t hl = raw ? dl : (pre + dl + 1 + 63) / 64 * 64 - pre;
    uint8_t *b = calloc(1, pre + hl + data_len + 1);
    if (!b) return NULL;
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    put_le(b + 8, hl, (int)pre - 8);
    memset(b + pre, ' ', hl);
    memcpy(b + pre, dict, dl);
    if (!raw) b[pre + hl - 1] = '\n';
    if (data && data_len) memcpy(b + pre + hl, data, data_len);
    *size = pre + hl + data_len;
    return b;
}

enum { NPY_AS_IS, NPY_BAD_MAGIC, NPY_HL_PAST_END };

typedef struct {
    const char *name;
    int major;
    const char *dict;
    size_t data_len;
    int damage; /* NPY_AS_IS or how the image is spoiled after building it */
    int raw;    /* no padding: the header text ends exactly where the file does */
} npy_case;

#define F4(shape) "{'descr': '<f4', 'fortran_order': False, 'shape': " shape ", }"

static const npy_case k_npy_bad[] = {
    {"npy_bad_magic", 1, F4("(2,)"), 8, NPY_BAD_MAGIC, 0},
    {"npy_version_9", 9, F4("(2,)"), 8, NPY_AS_IS, 0},
    {"npy_header_length_past_end", 1, F4("(2,)"), 8, NPY_HL_PAST_END, 0},
    {"npy_v2_header_length_past_end", 2, F4("(2,)"), 8, NPY_HL_PAST_END, 0},
    {"npy_missing_descr", 1, "{'fortran_order': False, 'shape': (2,), }", 8, NPY_AS_IS, 0},
    {"npy_missing_shape", 1, "{'descr': '<f4', 'fortran_order': False, }", 8, NPY_AS_IS, 0},
    {"npy_missing_fortran_order", 1, "{'descr': '<f4', 'shape': (2,), }", 8, NPY_AS_IS, 0},
    {"npy_dtype_c8", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, NPY_AS_IS, 0},
    {"npy_dtype_big_endian", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, NPY_AS_IS, 0},
    {"npy_fortran_order_true", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, NPY_AS_IS, 0},
    {"npy_data_smaller_than_shape", 1, F4("(3,)"), 8, NPY_AS_IS, 0},
    {"npy_data_larger_than_shape", 1, F4("(1,)"), 8, NPY_AS_IS, 0},
    {"npy_negative_dim", 1, F4("(-2,)"), 8, NPY_AS_IS, 0},
    {"npy_too_many_dims", 1, F4("(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4, NPY_AS_IS, 0},
    {"npy_shape_overflow", 1, F4("(99999999999999999999,)"), 4, NPY_AS_IS, 0},
    {"npy_unterminated_shape", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,", 0, NPY_AS_IS, 1},
    /* the header text stops right after a key: nothing may be read past it */
    {"npy_header_ends_after_fortran_key", 1, "{'descr': '<f4', 'fortran_order':", 0, NPY_AS_IS, 1},
    {"npy_header_ends_after_shape_key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape':", 0, NPY_AS_IS, 1},
    {"npy_header_ends_after_descr_key", 1, "{'descr':", 0, NPY_AS_IS, 1},
    {"npy_shorter_than_prefix", 1, "", 0, NPY_AS_IS, 1},
};

static const char *npy_bad_case(const void *arg) {
    const npy_case *c = arg;
    size_t size;
    uint8_t *img = npy_image(c->major, c->dict, c->raw, NULL, c->data_len, &size);
    if (!img) return why("out of memory");
    if (c->damage == NPY_BAD_MAGIC) img[1] = 'X';
    if (c->damage == NPY_HL_PAST_END) put_le(img + 8, size, c->major == 1 ? 2 : 4);
    if (!c->dict[0]) size = 8; /* only part of the 10-byte prefix */
    guarded_t g;
    if (!guarded_copy(&g, img, size)) return why("mmap failed");
    free(img);
    npy_array a;
    sbv2_error err = {0, ""};
    int rc = npy_parse(&a, g.p, size, &err);
    const char *w = expect_error(rc, &err, NULL);
    if (!w && a.data) w = why("data left allocated after an error");
    npy_free(&a);
    guarded_free(&g);
    return w;
}

static const char *npy_valid_v1_f32(const void *arg) {
    (void)arg;
    const float v[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1e30f};
    size_t size;
    uint8_t *img = npy_image(1, F4("(2, 3)"), 0, v, sizeof v, &size);
    guarded_t g;
    if (!img || !guarded_copy(&g, img, size)) return why("setup failed");
    free(img);
    npy_array a;
    sbv2_error err = {0, ""};
    const char *w = NULL;
    if (npy_parse(&a, g.p, size, &err) != SBV2_OK) w = why("rejected: %s", err.message);
    else if (a.dtype != NPY_F32 || a.ndim != 2 || a.shape[0] != 2 || a.shape[1] != 3 || a.numel != 6)
        w = why("wrong dtype/shape");
    else if (memcmp(a.data, v, sizeof v) != 0) w = why("values differ");
    npy_free(&a);
    guarded_free(&g);
    return w;
}

static const char *npy_valid_v2_i64(const void *arg) {
    (void)arg;
    const int64_t v[4] = {-5, 0, 7, INT64_C(1) << 40};
    size_t size;
    uint8_t *img = npy_image(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }", 0, v, sizeof v, &size);
    guarded_t g;
    if (!img || !guarded_copy(&g, img, size)) return why("setup failed");
    free(img);
    npy_array a;
    sbv2_error err = {0, ""};
    const char *w = NULL;
    if (npy_parse(&a, g.p, size, &err) != SBV2_OK) w = why("rejected: %s", err.message);
    else if (a.dtype != NPY_I64 || a.ndim != 1 || a.shape[0] != 4 || a.numel != 4) w = why("wrong dtype/shape");
    else if (memcmp(a.data, v, sizeof v) != 0) w = why("values differ");
    npy_free(&a);
    guarded_free(&g);
    return w;
}

/* npy_save then npy_load: float32 [2, 3] and int64 [5] (the "(5,)" form). */
static const char *npy_roundtrip(const void *arg) {
    (void)arg;
    const float f[6] = {1.5f, -2.0f, 0.0f, 3.0e-8f, 42.0f, -7.25f};
    const int64_t i[5] = {1, -2, 3, INT64_MIN, INT64_MAX};
    const int64_t sf[2] = {2, 3}, si[1] = {5};
    char pf[128], pi[128];
    tmp_path(pf, sizeof pf, "rt_f32.npy");
    tmp_path(pi, sizeof pi, "rt_i64.npy");
    sbv2_error err = {0, ""};
    if (npy_save(pf, NPY_F32, 2, sf, f, &err) != SBV2_OK || npy_save(pi, NPY_I64, 1, si, i, &err) != SBV2_OK)
        return why("npy_save failed: %s", err.message);
    npy_array a, b;
    const char *w = NULL;
    if (npy_load(&a, pf, &err) != SBV2_OK) return why("npy_load f32 failed: %s", err.message);
    if (npy_load(&b, pi, &err) != SBV2_OK) { npy_free(&a); return why("npy_load i64 failed: %s", err.message); }
    if (a.dtype != NPY_F32 || a.ndim != 2 || a.shape[0] != 2 || a.shape[1] != 3 || memcmp(a.data, f, sizeof f))
        w = why("float32 array differs after the round trip");
    else if (b.dtype != NPY_I64 || b.ndim != 1 || b.shape[0] != 5 || memcmp(b.data, i, sizeof i))
        w = why("int64 array differs after the round trip");
    npy_free(&a);
    npy_free(&b);
    return w;
}

/* ---- 3. whole-model loading ------------------------------------------------------ */

static char g_st[512], g_st16[512], g_cfg[512], g_sv[512]; /* the golden files */

typedef struct {
    const char *name;
    const char *st, *cfg, *sv; /* file names: "@..." = golden dir, else under g_tmp */
    const char *word;          /* must appear in the message (NULL: any message) */
} load_case;

static const char *resolve(char *buf, size_t n, const char *name) {
    if (name[0] == '@') snprintf(buf, n, "%s/%s", GOLDEN_MODEL, name + 1);
    else tmp_path(buf, n, name);
    return buf;
}

static const load_case k_load_bad[] = {
    {"model_truncated_safetensors", "trunc.safetensors", "@config.json", "@style_vectors.npy", "safetensors"},
    {"model_missing_tensor", "renamed.safetensors", "@config.json", "@style_vectors.npy", "enc_p.proj.weight"},
    {"model_config_invalid_json", "@model.safetensors", "cfg_badjson.json", "@style_vectors.npy", "JSON"},
    /* Python json.load() (SBV2 itself) refuses text after the object */
    {"model_config_trailing_garbage", "@model.safetensors", "cfg_trailing.json", "@style_vectors.npy", "JSON"},
    {"model_config_hidden_32", "@model.safetensors", "cfg_hidden32.json", "@style_vectors.npy", "tensor '"},
    {"model_config_n_heads_negative", "@model.safetensors", "cfg_heads.json", "@style_vectors.npy", "n_heads"},
    {"model_config_inter_channels_1e400", "@model.safetensors", "cfg_inter_inf.json", "@style_vectors.npy", "inter_channels"},
    {"model_config_inter_channels_string", "@model.safetensors", "cfg_inter_str.json", "@style_vectors.npy", "inter_channels"},
    {"model_config_upsample_lengths_differ", "@model.safetensors", "cfg_ups.json", "@style_vectors.npy", "upsample"},
    /* SBV2 builds ResBlock2 for any resblock but "1": then the file's ResBlock1 weights do not fit */
    {"model_config_resblock_3_is_type_2", "@model.safetensors", "cfg_resblock.json", "@style_vectors.npy", "dec.resblocks.0.convs.0"},
    {"model_config_resblock_number", "@model.safetensors", "cfg_resblock_num.json", "@style_vectors.npy", "model.resblock must be a string"},
    {"model_config_n_speakers_3", "@model.safetensors", "cfg_spk.json", "@style_vectors.npy", "emb_g.weight"},
    {"model_config_older_version", "@model.safetensors", "cfg_version.json", "@style_vectors.npy", "ja_bert_proj"},
    {"model_config_missing", "@model.safetensors", "nothing/config.json", "@style_vectors.npy", "config.json"},
    {"model_sv_shape_3x255", "@model.safetensors", "@config.json", "sv_255.npy", "256"},
    {"model_sv_corrupt_header", "@model.safetensors", "@config.json", "sv_corrupt.npy", "descr"},
    {"model_sv_nan", "@model.safetensors", "@config.json", "sv_nan.npy", "non-finite"},
    {"model_sv_too_few_rows", "@model.safetensors", "@config.json", "sv_2rows.npy", "Sad"},
    {"model_sv_missing", "@model.safetensors", "@config.json", "nothing/style_vectors.npy", "style_vectors.npy"},
    {"model_safetensors_missing", "nothing/model.safetensors", "@config.json", "@style_vectors.npy", "model.safetensors"},
    {"model_residual_coupling_flow", "residual.safetensors", "@config.json", "@style_vectors.npy", "residual coupling"},
};

static const char *load_bad_case(const void *arg) {
    const load_case *c = arg;
    char st[512], cfg[512], sv[512];
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load_files(resolve(st, sizeof st, c->st), resolve(cfg, sizeof cfg, c->cfg),
                                          resolve(sv, sizeof sv, c->sv), &err);
    const char *w = expect_null(m, &err, c->word);
    sbv2_model_free(m);
    return w;
}

/* Writes the damaged copies load_bad_case reads; returns why it could not. */
static const char *make_fixtures(void) {
    size_t st_n, cfg_n, sv_n;
    uint8_t *st = read_file(g_st, &st_n), *sv = read_file(g_sv, &sv_n);
    char *cfg = (char *)read_file(g_cfg, &cfg_n);
    char p[512];
    const char *w = NULL;
    if (!st || !sv || !cfg || st_n < 8) { w = why("cannot read the golden model files"); goto out; }

    /* safetensors cut in the middle of its data block */
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = (hn << 8) | st[i];
    if (hn > st_n - 8) { w = why("golden safetensors header looks wrong"); goto out; }
    size_t data_n = st_n - 8 - (size_t)hn;
    if (!write_file(tmp_path(p, sizeof p, "trunc.safetensors"), st, 8 + (size_t)hn + data_n / 2)) {
        w = why("cannot write %s", p);
        goto out;
    }
    /* safetensors with a key renamed (header rewritten): "enc_p.proj.weight" goes
       missing; the flow's first layer named as a residual coupling block's WN */
    static const struct { const char *file, *from, *to; } renames[] = {
        {"renamed.safetensors", "\"enc_p.proj.weight\"", "\"enc_p.proj.weight_renamed\""},
        {"residual.safetensors", "\"flow.flows.0.enc.attn_layers.0.conv_q.weight\"", "\"flow.flows.0.enc.in_layers.0.weight_v\""},
    };
    for (size_t i = 0; i < sizeof renames / sizeof renames[0]; i++) {
        char *json = malloc((size_t)hn + 1);
        if (!json) { w = why("out of memory"); goto out; }
        memcpy(json, st + 8, (size_t)hn);
        json[hn] = 0;
        char *renamed = replace_once(json, renames[i].from, renames[i].to);
        free(json);
        size_t n;
        uint8_t *img = renamed ? st_image(renamed, st + 8 + hn, data_n, &n) : NULL;
        free(renamed);
        int ok = img && write_file(tmp_path(p, sizeof p, renames[i].file), img, n);
        free(img);
        if (!ok) { w = why("cannot build %s", renames[i].file); goto out; }
    }
    /* config.json edits: each pattern must exist in the golden config */
    static const struct { const char *file, *from, *to; } edits[] = {
        {"cfg_badjson.json", "\"data\": {", "\"data\": {,"},
        {"cfg_trailing.json", "\"version\": \"2.7.0-JP-Extra\"\n}", "\"version\": \"2.7.0-JP-Extra\"\n} garbage"},
        {"cfg_hidden32.json", "\"hidden_channels\": 24,", "\"hidden_channels\": 32,"},
        {"cfg_heads.json", "\"n_heads\": 2,", "\"n_heads\": -2,"},
        {"cfg_inter_inf.json", "\"inter_channels\": 24,", "\"inter_channels\": 1e400,"},
        {"cfg_inter_str.json", "\"inter_channels\": 24,", "\"inter_channels\": \"abc\","},
        {"cfg_ups.json", "\"upsample_rates\": [", "\"upsample_rates\": [2, "},
        {"cfg_resblock.json", "\"resblock\": \"1\",", "\"resblock\": \"3\","},
        {"cfg_resblock_num.json", "\"resblock\": \"1\",", "\"resblock\": 1,"},
        {"cfg_spk.json", "\"n_speakers\": 2,", "\"n_speakers\": 3,"},
        {"cfg_version.json", "\"version\": \"2.7.0-JP-Extra\"", "\"version\": \"2.7.0\""},
        /* keys SBV2's get_net_g() never passes on: its inference ignores them */
        {"cfg_flow_keys.json", "\"gin_channels\": 16",
         "\"use_transformer_flow\": false, \"n_layers_trans_flow\": 3, \"n_flow_layer\": 2, \"flow_share_parameter\": true, "
         "\"gin_channels\": 16"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char *t = replace_once(cfg, edits[i].from, edits[i].to);
        int ok = t && write_file(tmp_path(p, sizeof p, edits[i].file), t, strlen(t));
        free(t);
        if (!ok) { w = why("cannot build %s (pattern '%s' absent?)", edits[i].file, edits[i].from); goto out; }
    }
    /* style vectors: [3, 255], only 2 rows, a NaN, a spoiled header ('descr' key) */
    {
        npy_array a;
        sbv2_error err = {0, ""};
        if (npy_load(&a, g_sv, &err) != SBV2_OK || a.dtype != NPY_F32 || a.ndim != 2 || a.shape[0] != 3 ||
            a.shape[1] != SBV2_STYLE_DIM) {
            if (a.data) npy_free(&a);
            w = why("golden style_vectors.npy is not float32 [3, 256]");
            goto out;
        }
        const int64_t s255[2] = {3, 255}, s2[2] = {2, SBV2_STYLE_DIM};
        int ok = npy_save(tmp_path(p, sizeof p, "sv_255.npy"), NPY_F32, 2, s255, a.data, &err) == SBV2_OK &&
                 npy_save(tmp_path(p, sizeof p, "sv_2rows.npy"), NPY_F32, 2, s2, a.data, &err) == SBV2_OK;
        ((float *)a.data)[SBV2_STYLE_DIM + 7] = NAN;
        ok = ok && npy_save(tmp_path(p, sizeof p, "sv_nan.npy"), NPY_F32, 2, a.shape, a.data, &err) == SBV2_OK;
        npy_free(&a);
        if (!ok) { w = why("npy_save failed: %s", err.message); goto out; }
        char *d = memchr(sv, 'd', sv_n < 32 ? sv_n : 32); /* the 'descr' key */
        if (!d || strncmp(d, "descr", 5) != 0) { w = why("golden style_vectors.npy header unexpected"); goto out; }
        memcpy(d, "XXXXX", 5);
        if (!write_file(tmp_path(p, sizeof p, "sv_corrupt.npy"), sv, sv_n)) { w = why("cannot write %s", p); goto out; }
    }
    /* directories for sbv2_model_load(): a complete one, one with two
     * .safetensors files, one without style_vectors.npy (symlinks to golden) */
    {
        static const struct { const char *link, *target; } links[] = {
            {"one/model.safetensors", "model.safetensors"}, {"one/config.json", "config.json"},
            {"one/style_vectors.npy", "style_vectors.npy"},
            {"two/a.safetensors", "model.safetensors"},     {"two/b.safetensors", "model_fp16.safetensors"},
            {"two/config.json", "config.json"},             {"two/style_vectors.npy", "style_vectors.npy"},
            {"nosv/model.safetensors", "model.safetensors"}, {"nosv/config.json", "config.json"},
        };
        const char *dirs[3] = {"one", "two", "nosv"};
        for (int i = 0; i < 3; i++)
            if (mkdir(tmp_path(p, sizeof p, dirs[i]), 0700) != 0) { w = why("cannot mkdir %s", p); goto out; }
        for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
            char target[512];
            snprintf(target, sizeof target, "%s/%s", GOLDEN_MODEL, links[i].target);
            if (symlink(target, tmp_path(p, sizeof p, links[i].link)) != 0) { w = why("cannot symlink %s", p); goto out; }
        }
    }
out:
    free(st);
    free(sv);
    free(cfg);
    return w;
}

static const char *check_info(const sbv2_model *m, int want_f16) {
    sbv2_model_info info;
    sbv2_model_get_info(m, &info);
    if (info.arch != SBV2_ARCH_JP_EXTRA) return why("arch %d, expected JP-Extra", (int)info.arch);
    if (info.hidden_channels != 24) return why("hidden_channels %d, expected 24", info.hidden_channels);
    if (info.n_speakers != 2 || sbv2_model_n_speakers(m) != 2) return why("expected 2 speakers");
    if (info.n_styles != 3 || sbv2_model_n_styles(m) != 3) return why("expected 3 styles");
    if (info.weights_dtype_f16 != want_f16) return why("weights_dtype_f16 %d, expected %d", info.weights_dtype_f16, want_f16);
    if (info.n_params <= 0) return why("n_params %lld", (long long)info.n_params);
    return NULL;
}

/* The golden model loads and answers the accessors as config.json says. */
static const char *model_valid_case(const void *arg) {
    (void)arg;
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load_files(g_st, g_cfg, g_sv, &err);
    if (!m) return why("rejected: %s", err.message);
    const char *w = check_info(m, 0);
    npy_array rows = {0};
    float v[SBV2_STYLE_DIM];
    if (!w && sbv2_model_speaker_id(m, "spk_b") != 1) w = why("speaker_id(spk_b) = %d", sbv2_model_speaker_id(m, "spk_b"));
    if (!w && sbv2_model_speaker_id(m, "nobody") != -1) w = why("speaker_id of an unknown name is not -1");
    if (!w && sbv2_model_style_id(m, "Sad") != 2) w = why("style_id(Sad) = %d", sbv2_model_style_id(m, "Sad"));
    if (!w && (!sbv2_model_style_name(m, 1) || strcmp(sbv2_model_style_name(m, 1), "Happy") != 0))
        w = why("style_name(1) is not Happy");
    if (!w && npy_load(&rows, g_sv, &err) != SBV2_OK) w = why("npy_load: %s", err.message);
    if (!w && sbv2_model_style_vector(m, 0, 1.0f, v, &err) != SBV2_OK) w = why("style_vector: %s", err.message);
    if (!w && memcmp(v, rows.data, sizeof v) != 0) w = why("style vector of style 0 (weight 1) is not row 0");
    if (!w) {
        sbv2_error e2 = {0, ""};
        if (expect_error(sbv2_model_style_vector(m, 3, 1.0f, v, &e2), &e2, NULL)) w = why("style id 3 accepted");
    }
    npy_free(&rows);
    sbv2_model_free(m);
    return w;
}

static const char *model_fp16_case(const void *arg) {
    (void)arg;
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load_files(g_st16, g_cfg, g_sv, &err);
    if (!m) return why("rejected: %s", err.message);
    const char *w = check_info(m, 1);
    sbv2_model_free(m);
    return w;
}

/* The flow keys SBV2's inference ignores (use_transformer_flow=false,
 * n_layers_trans_flow, n_flow_layer, flow_share_parameter) change nothing:
 * the same audio, bit for bit, as with the golden config. */
static const char *audio_of(const char *cfg, float **audio, size_t *n) {
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load_files(g_st, cfg, g_sv, &err);
    if (!m) return why("%s rejected: %s", cfg, err.message);
    enum { L = 7 };
    static float bert[SBV2_BERT_DIM * L];
    float style[SBV2_STYLE_DIM];
    int64_t phones[L] = {0, 5, 0, 23, 0, 41, 0}, tones[L] = {0, 1, 0, 0, 0, 1, 0}, langs[L] = {1, 1, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < sizeof bert / sizeof bert[0]; i++) bert[i] = 0.01f * (float)(i % 7);
    sbv2_infer_input in = {L, phones, tones, langs, bert, NULL, NULL, style, 1, 0};
    sbv2_infer_params p = sbv2_infer_default_params();
    p.seed = 7;
    sbv2_state *s = sbv2_state_new(m, &err);
    const char *w = NULL;
    if (!s || sbv2_model_style_vector(m, 1, 1.0f, style, &err) != SBV2_OK || sbv2_infer(s, &in, &p, audio, n, &err) != SBV2_OK)
        w = why("%s: %s", cfg, err.message);
    sbv2_state_free(s);
    sbv2_model_free(m);
    return w;
}

static const char *flow_keys_ignored_case(const void *arg) {
    (void)arg;
    char cfg[512];
    float *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    const char *w = audio_of(g_cfg, &a, &na);
    if (!w) w = audio_of(tmp_path(cfg, sizeof cfg, "cfg_flow_keys.json"), &b, &nb);
    if (!w && (na != nb || na == 0 || memcmp(a, b, na * sizeof *a) != 0)) w = why("different audio (%zu vs %zu samples)", na, nb);
    sbv2_free(a), sbv2_free(b);
    return w;
}

/* sbv2_model_load() on a directory or a .safetensors path. */
typedef struct { const char *name, *path; int ok; const char *word; } dir_case;

static const dir_case k_dir_cases[] = {
    {"model_load_dir", "one", 1, NULL},
    {"model_load_safetensors_path", "one/model.safetensors", 1, NULL},
    {"model_load_dir_two_safetensors", "two", 0, "path"},
    {"model_load_dir_without_style_vectors", "nosv", 0, "style_vectors.npy"},
    {"model_load_nonexistent", "does/not/exist", 0, "not found"},
    {"model_load_null_path", NULL, 0, NULL},
};

static const char *dir_case_fn(const void *arg) {
    const dir_case *c = arg;
    char p[512];
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load(c->path ? tmp_path(p, sizeof p, c->path) : NULL, &err);
    const char *w = c->ok ? (m ? check_info(m, 0) : why("rejected: %s", err.message)) : expect_null(m, &err, c->word);
    sbv2_model_free(m);
    return w;
}

/* ---- 4. sbv2_infer() argument checks ------------------------------------------ */

enum { INF_VALID, INF_NULL_INPUT, INF_NULL_PARAMS, INF_ZERO_TOKENS, INF_PHONE_1000, INF_NEG_TONE, INF_SPEAKER_5,
       INF_NAN_LENGTH, INF_STRUCT_SIZE, INF_NULL_BERT, INF_VALID_LENGTH };

typedef struct { const char *name; int what; const char *word; } infer_case;

static const infer_case k_infer[] = {
    {"infer_valid_baseline", INF_VALID, NULL}, /* the base input is good: each error below is the one meant */
    {"infer_null_input", INF_NULL_INPUT, "NULL"},
    {"infer_null_params", INF_NULL_PARAMS, "NULL"},
    {"infer_zero_tokens", INF_ZERO_TOKENS, "n_tokens"},
    {"infer_phone_id_1000", INF_PHONE_1000, "phone id"},
    {"infer_negative_tone", INF_NEG_TONE, "tone id"},
    {"infer_speaker_5", INF_SPEAKER_5, "speaker id"},
    {"infer_nan_length_scale", INF_NAN_LENGTH, "length_scale"},
    {"infer_wrong_struct_size", INF_STRUCT_SIZE, "struct_size"},
    {"infer_null_bert", INF_NULL_BERT, "bert"},
    {"infer_valid_length_too_big", INF_VALID_LENGTH, "valid_length"},
};

static const char *infer_case_fn(const void *arg) {
    const infer_case *c = arg;
    enum { L = 3 };
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load_files(g_st, g_cfg, g_sv, &err);
    if (!m) return why("model rejected: %s", err.message);
    sbv2_state *s = sbv2_state_new(m, &err);
    static float bert[SBV2_BERT_DIM * L];
    float style[SBV2_STYLE_DIM];
    int64_t phones[L] = {0, 5, 0}, tones[L] = {0, 1, 0}, langs[L] = {1, 1, 1};
    const char *w = NULL;
    if (!s) w = why("state_new: %s", err.message);
    else if (sbv2_model_style_vector(m, 1, 1.0f, style, &err) != SBV2_OK) w = why("style_vector: %s", err.message);
    if (w) { sbv2_state_free(s); sbv2_model_free(m); return w; }
    for (size_t i = 0; i < sizeof bert / sizeof bert[0]; i++) bert[i] = 0.01f * (float)(i % 7);
    sbv2_infer_input in = {L, phones, tones, langs, bert, NULL, NULL, style, 1, 0};
    sbv2_infer_params p = sbv2_infer_default_params();
    const sbv2_infer_input *inp = &in;
    const sbv2_infer_params *pp = &p;
    switch (c->what) {
    case INF_NULL_INPUT: inp = NULL; break;
    case INF_NULL_PARAMS: pp = NULL; break;
    case INF_ZERO_TOKENS: in.n_tokens = 0; break;
    case INF_PHONE_1000: phones[1] = 1000; break;
    case INF_NEG_TONE: tones[2] = -1; break;
    case INF_SPEAKER_5: in.speaker_id = 5; break;
    case INF_NAN_LENGTH: p.length_scale = NAN; break;
    case INF_STRUCT_SIZE: p.struct_size = sizeof p - 8; break;
    case INF_NULL_BERT: in.bert = NULL; break;
    case INF_VALID_LENGTH: in.valid_length = L + 1; break;
    default: break;
    }
    float *audio = (float *)&in; /* must be reset to NULL on error */
    size_t n = 12345;
    int rc = sbv2_infer(s, inp, pp, &audio, &n, &err);
    if (c->what == INF_VALID) {
        if (rc != SBV2_OK) w = why("rejected: %s", err.message);
        else if (!audio || n == 0) w = why("no audio");
        for (size_t i = 0; !w && i < n; i++)
            if (!isfinite(audio[i]) || fabsf(audio[i]) > 1.0f) w = why("sample %zu is %g", i, (double)audio[i]);
        sbv2_free(audio);
    } else {
        w = expect_error(rc, &err, c->word);
        if (!w && (audio || n)) w = why("audio/n_samples not reset on error");
    }
    sbv2_state_free(s);
    sbv2_model_free(m);
    return w;
}

static const char *free_null_case(const void *arg) {
    (void)arg;
    sbv2_free(NULL);
    sbv2_model_free(NULL);
    sbv2_state_free(NULL);
    sbv2_error err = {0, ""};
    return expect_null(sbv2_state_new(NULL, &err), &err, NULL);
}

/* ---- main ------------------------------------------------------------------- */

/* Removes g_tmp with its files and one level of subdirectories. */
static void remove_tree(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && depth < 2) remove_tree(p, depth + 1);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- AIVM files: an .aivm written by sbv2_export_aivm from the golden model,
 * then damaged copies, each a precise error ---------------------------------- */

typedef struct {
    const char *name;
    const char *from, *to; /* an edit of the header text (metadata strings are JSON-escaped there) */
    const char *word;      /* must appear in the error */
} aivm_case;

static const aivm_case k_aivm_bad[] = {
    {"aivm_manifest_version_2", "\\\"manifest_version\\\":\\\"1.0\\\"", "\\\"manifest_version\\\":\\\"2.0\\\"", "only 1.0"},
    {"aivm_manifest_not_json", "\"aivm_manifest\":\"{", "\"aivm_manifest\":\"{,", "not valid JSON"},
    {"aivm_manifest_name_empty", "\\\"name\\\":\\\"tiny-jp-extra\\\"", "\\\"name\\\":\\\"\\\"", "name is empty"},
    {"aivm_manifest_uuid_bad", "\\\"uuid\\\":\\\"", "\\\"uuid\\\":\\\"zz", "uuid"},
    {"aivm_manifest_version_not_semver", "\\\"version\\\":\\\"1.0.0\\\"", "\\\"version\\\":\\\"1.0\\\"", "SemVer"},
    {"aivm_manifest_architecture_unknown", "\\\"model_architecture\\\":\\\"Style-Bert-VITS2 (JP-Extra)\\\"",
     "\\\"model_architecture\\\":\\\"VITS\\\"", "model_architecture"},
    {"aivm_manifest_architecture_contradicts", "\\\"model_architecture\\\":\\\"Style-Bert-VITS2 (JP-Extra)\\\"",
     "\\\"model_architecture\\\":\\\"Style-Bert-VITS2\\\"", "architecture"},
    {"aivm_manifest_format_unknown", "\\\"model_format\\\":\\\"Safetensors\\\"", "\\\"model_format\\\":\\\"GGUF\\\"", "model_format"},
    {"aivm_manifest_epochs_negative", "\\\"training_epochs\\\":null", "\\\"training_epochs\\\":-3", "training_epochs"},
    {"aivm_manifest_style_id_40", "\\\"local_id\\\":2,", "\\\"local_id\\\":40,", "0 to 31"},
    {"aivm_manifest_icon_not_data_url", "\\\"icon\\\":\\\"data:image/png;base64,", "\\\"icon\\\":\\\"http://x/", "icon"},
    {"aivm_manifest_speakers_not_list", "\\\"speakers\\\":[", "\\\"speakers\\\":\\\"x\\\",\\\"y\\\":[", "speakers is missing or not a list"},
    {"aivm_hyper_parameters_missing", "\"aivm_hyper_parameters\"", "\"aivm_hyper_parameterz\"", "aivm_hyper_parameters"},
    {"aivm_hyper_parameters_contradict_weights", "\\\"hidden_channels\\\":24", "\\\"hidden_channels\\\":32", "tensor '"},
    {"aivm_style_vectors_missing", "\"aivm_style_vectors\"", "\"aivm_style_vectorz\"", "aivm_style_vectors"},
    {"aivm_style_vectors_bad_base64", "\"aivm_style_vectors\":\"", "\"aivm_style_vectors\":\"QUJD=Q\",\"x\":\"", "not valid base64"},
    {"aivm_style_vectors_not_npy", "\"aivm_style_vectors\":\"", "\"aivm_style_vectors\":\"QUJDRA==\",\"x\":\"", "style vectors"},
};

static char g_aivm[512];

static uint8_t *aivm_header(size_t *total, uint64_t *hn, char **json) {
    uint8_t *img = read_file(g_aivm, total);
    if (!img || *total < 8) return free(img), NULL;
    *hn = 0;
    for (int i = 7; i >= 0; i--) *hn = (*hn << 8) | img[i];
    if (*hn > *total - 8 || !(*json = malloc((size_t)*hn + 1))) return free(img), NULL;
    memcpy(*json, img + 8, (size_t)*hn);
    (*json)[*hn] = 0;
    return img;
}

static const char *aivm_bad_case(const void *arg) {
    const aivm_case *c = arg;
    size_t total;
    uint64_t hn;
    char *json = NULL, p[512];
    uint8_t *img = aivm_header(&total, &hn, &json);
    if (!img) return why("cannot read %s", g_aivm);
    char *edited = replace_once(json, c->from, c->to);
    free(json);
    if (!edited) return free(img), why("the header has no '%s'", c->from);
    size_t n;
    uint8_t *out = st_image(edited, img + 8 + hn, total - 8 - (size_t)hn, &n);
    free(edited), free(img);
    snprintf(p, sizeof p, "%s/%s.aivm", g_tmp, c->name);
    const int ok = out && write_file(p, out, n);
    free(out);
    if (!ok) return why("cannot write %s", p);
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load(p, &err);
    const char *w = expect_null(m, &err, c->word);
    sbv2_model_free(m);
    return w;
}

/* the .aivm loads, keeps the golden model's speakers, styles and vectors, and
 * a truncated copy is refused */
static const char *aivm_valid_case(const void *arg) {
    (void)arg;
    sbv2_error err = {0, ""};
    sbv2_model *a = sbv2_model_load(g_st, &err);
    if (!a) return why("golden model: %s", err.message);
    if (sbv2_export_aivm(a, g_aivm, NULL, &err) != SBV2_OK) return sbv2_model_free(a), why("export: %s", err.message);
    sbv2_model *b = sbv2_model_load(g_aivm, &err);
    const char *w = NULL;
    float va[256], vb[256];
    if (!b) w = why("the .aivm does not load: %s", err.message);
    else if (!sbv2_model_aivm_manifest(b) || sbv2_model_aivm_manifest(a)) w = why("the manifest is not where it belongs");
    else if (sbv2_model_n_speakers(a) != sbv2_model_n_speakers(b) || sbv2_model_n_styles(a) != sbv2_model_n_styles(b))
        w = why("speakers/styles differ");
    else if (sbv2_model_speaker_id(b, "spk_b") != 1 || sbv2_model_style_id(b, "Sad") != 2) w = why("names differ");
    else
        for (int s = 0; !w && s < sbv2_model_n_styles(a); s++)
            if (sbv2_model_style_vector(a, s, 1.0f, va, &err) || sbv2_model_style_vector(b, s, 1.0f, vb, &err) ||
                memcmp(va, vb, sizeof va))
                w = why("style vector %d differs", s);
    sbv2_model_free(a), sbv2_model_free(b);
    if (w) return w;
    size_t total;
    uint8_t *img = read_file(g_aivm, &total);
    char p[512];
    if (!img || !write_file(tmp_path(p, sizeof p, "cut.aivm"), img, total / 2)) return free(img), why("cannot write cut.aivm");
    free(img);
    sbv2_model *c = sbv2_model_load(p, &err);
    w = expect_null(c, &err, "outside the data block");
    sbv2_model_free(c);
    return w;
}

/* sbv2_read_file at its limit: a file of exactly max bytes is read whole
 * (NUL-terminated); one byte over, or far over, is a format error with no
 * buffer; a missing file is NOT_FOUND. (How far the buffer grows before the
 * refusal is not observed here.) */
static const char *read_file_limit_case(const void *arg) {
    (void)arg;
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    char p[512];
    if (!write_file(tmp_path(p, sizeof p, "limit.txt"), big, sizeof big)) return why("cannot write %s", p);
    const size_t maxes[4] = {sizeof big, sizeof big - 1, 70000, 10};
    for (int i = 0; i < 4; i++) {
        sbv2_error err = {0};
        char *buf = NULL;
        size_t n = 7;
        const int rc = sbv2_read_file(p, maxes[i], "test file", &buf, &n, &err);
        const int want_ok = maxes[i] >= sizeof big;
        if (want_ok && (rc != SBV2_OK || n != sizeof big || !buf || buf[n] != '\0' || memcmp(buf, big, n)))
            return free(buf), why("max %zu: rc %d, %zu bytes: %s", maxes[i], rc, n, err.message);
        if (!want_ok && (rc != SBV2_ERR_FORMAT || buf || n != 0 || !strstr(err.message, "is over")))
            return free(buf), why("max %zu: rc %d, want a format error (%s)", maxes[i], rc, err.message);
        free(buf);
    }
    sbv2_error err = {0};
    char *buf = NULL;
    size_t n = 0;
    if (sbv2_read_file(tmp_path(p, sizeof p, "absent.txt"), 100, NULL, &buf, &n, &err) != SBV2_ERR_NOT_FOUND || buf)
        return why("a missing file is not SBV2_ERR_NOT_FOUND");
    return NULL;
}

#define RUN_TABLE(tab, fn) \
    for (size_t i_ = 0; i_ < sizeof tab / sizeof tab[0]; i_++) run_case(tab[i_].name, fn, &tab[i_])

int main(int argc, char **argv) {
    g_verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/sbv2_test_loader_XXXXXX");
    if (!mkdtemp(g_tmp)) {
        fprintf(stderr, "FAIL: mkdtemp\n");
        return 1;
    }

    RUN_TABLE(k_st_bad, st_bad_case);
    run_case("st_valid", st_valid_case, NULL);

    RUN_TABLE(k_npy_bad, npy_bad_case);
    run_case("npy_valid_v1_f32", npy_valid_v1_f32, NULL);
    run_case("npy_valid_v2_i64", npy_valid_v2_i64, NULL);
    run_case("npy_roundtrip", npy_roundtrip, NULL);
    run_case("read_file_limit", read_file_limit_case, NULL);

    /* sections 3-4 need the golden model: without it, skip (77) unless
     * something above already failed */
    struct stat sb;
    if (stat(GOLDEN_MODEL, &sb) != 0) {
        remove_tree(g_tmp, 0);
        if (n_fail) {
            printf("%d passed, %d failed\n", n_pass, n_fail);
            return 1;
        }
    }
    golden_dir_or_skip(GOLDEN_MODEL);
    snprintf(g_st, sizeof g_st, "%s/model.safetensors", GOLDEN_MODEL);
    snprintf(g_st16, sizeof g_st16, "%s/model_fp16.safetensors", GOLDEN_MODEL);
    snprintf(g_cfg, sizeof g_cfg, "%s/config.json", GOLDEN_MODEL);
    snprintf(g_sv, sizeof g_sv, "%s/style_vectors.npy", GOLDEN_MODEL);

    const char *setup = make_fixtures();
    report("model_fixtures", setup);
    run_case("model_valid", model_valid_case, NULL);
    run_case("model_fp16", model_fp16_case, NULL);
    run_case("model_config_flow_keys_ignored", flow_keys_ignored_case, NULL);
    if (!setup) RUN_TABLE(k_load_bad, load_bad_case);
    if (!setup) RUN_TABLE(k_dir_cases, dir_case_fn);
    tmp_path(g_aivm, sizeof g_aivm, "model.aivm"); /* (the cases run in child processes) */
    run_case("aivm_valid", aivm_valid_case, NULL);
    RUN_TABLE(k_aivm_bad, aivm_bad_case);

    RUN_TABLE(k_infer, infer_case_fn);
    run_case("free_null", free_null_case, NULL);

    remove_tree(g_tmp, 0);
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
