/* torch.save's zip: <name>/data.pkl is a pickle (protocol 2) of an
 * OrderedDict of torch._utils._rebuild_tensor_v2(storage, offset, size,
 * stride, ...) calls whose storages are persistent ids ('storage', type,
 * key, location, numel) naming the stored entries <name>/data/<key>. The VM
 * below understands the opcodes such a file uses and nothing else. */
#include "formats/torch_zip.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t u64(const uint8_t *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

typedef struct { const char *name; size_t nlen; const uint8_t *data; uint64_t size; } zentry;

typedef struct {
    const uint8_t *m;
    size_t n;
    zentry *e;
    size_t ne;
} zipf;

static int zip_read(zipf *z, sbv2_error *err) {
    const uint8_t *m = z->m;
    const size_t n = z->n;
    if (n < 22) return sbv2_fail(err, SBV2_ERR_FORMAT, "not a zip file (too short)");
    size_t eo = (size_t)-1;
    for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
        if (u32(m + i) == 0x06054b50) { eo = i; break; }
    if (eo == (size_t)-1) return sbv2_fail(err, SBV2_ERR_FORMAT, "not a zip file (no end of central directory)");
    uint64_t count = u16(m + eo + 10), cdsize = u32(m + eo + 12), cdoff = u32(m + eo + 16);
    if (count == 0xffff || cdsize == 0xffffffffu || cdoff == 0xffffffffu) {
        if (eo < 20 || u32(m + eo - 20) != 0x07064b50) return sbv2_fail(err, SBV2_ERR_FORMAT, "zip64 locator missing");
        uint64_t z64 = u64(m + eo - 20 + 8);
        if (n < 56 || z64 > n - 56 || u32(m + z64) != 0x06064b50) return sbv2_fail(err, SBV2_ERR_FORMAT, "bad zip64 directory record");
        count = u64(m + z64 + 32), cdsize = u64(m + z64 + 40), cdoff = u64(m + z64 + 48);
    }
    if (cdoff > n || cdsize > n - cdoff || count > cdsize / 46 + 1) return sbv2_fail(err, SBV2_ERR_FORMAT, "bad zip central directory");
    z->e = calloc(count ? count : 1, sizeof *z->e);
    if (!z->e) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    size_t p = cdoff;
    for (uint64_t i = 0; i < count; i++) {
        if (n < 46 || p > n - 46 || u32(m + p) != 0x02014b50) return sbv2_fail(err, SBV2_ERR_FORMAT, "bad zip directory entry %llu", (unsigned long long)i);
        const unsigned method = u16(m + p + 10), nlen = u16(m + p + 28), xlen = u16(m + p + 30), clen = u16(m + p + 32);
        uint64_t csize = u32(m + p + 20), usize = u32(m + p + 24), loff = u32(m + p + 42);
        if ((size_t)46 + nlen + xlen + clen > n - p) return sbv2_fail(err, SBV2_ERR_FORMAT, "zip directory entry past the end");
        /* zip64 extra: the 0xffffffff fields, in the order usize, csize, offset */
        for (size_t x = p + 46 + nlen; x + 4 <= p + 46 + nlen + xlen;) {
            const unsigned id = u16(m + x), sz = u16(m + x + 2);
            if (x + 4 + sz > p + 46 + nlen + xlen) break;
            if (id == 1) {
                size_t q = x + 4, end = x + 4 + sz;
                if (usize == 0xffffffffu && q + 8 <= end) usize = u64(m + q), q += 8;
                if (csize == 0xffffffffu && q + 8 <= end) csize = u64(m + q), q += 8;
                if (loff == 0xffffffffu && q + 8 <= end) loff = u64(m + q), q += 8;
            }
            x += 4 + sz;
        }
        if (n < 30 || loff > n - 30 || u32(m + loff) != 0x04034b50) return sbv2_fail(err, SBV2_ERR_FORMAT, "bad zip local header");
        const uint64_t dat = loff + 30 + u16(m + loff + 26) + u16(m + loff + 28);
        if (method != 0 && usize) return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "compressed zip entries are not supported (torch.save stores them)");
        if (dat > n || usize > n - dat || csize != usize) return sbv2_fail(err, SBV2_ERR_FORMAT, "zip entry data past the end");
        z->e[z->ne++] = (zentry){(const char *)m + p + 46, nlen, m + dat, usize};
        p += 46 + nlen + xlen + clen;
    }
    return SBV2_OK;
}

static const zentry *zfind(const zipf *z, const char *name, size_t len) {
    for (size_t i = 0; i < z->ne; i++)
        if (z->e[i].nlen == len && !memcmp(z->e[i].name, name, len)) return &z->e[i];
    return NULL;
}

/* ---- pickle ------------------------------------------------------------------ */

enum { V_NONE, V_INT, V_BOOL, V_STR, V_TUPLE, V_LIST, V_DICT, V_GLOBAL, V_STORAGE, V_TENSOR, V_OTHER, V_MARK };

typedef struct val {
    int t;
    int64_t i;
    const char *s; /* V_STR, V_GLOBAL ("module.name"), V_STORAGE key: owned */
    size_t slen;
    struct val **a; /* items (tuple/list) or key,value pairs (dict) */
    size_t n, cap;
    int dtype;      /* V_STORAGE / V_TENSOR */
    struct val *storage;
    int64_t offset, shape[ST_MAX_DIMS], stride[ST_MAX_DIMS];
    int ndim;
    struct val *next_alloc;
} val;

typedef struct {
    val *all;
    val **stack;
    size_t sp, scap;
    val **memo;
    size_t nmemo;
    size_t plen; /* pickle bytes: bounds the memo indices */
    sbv2_error *err;
    int rc;
} vm;

static val *mk(vm *v, int t) {
    val *x = calloc(1, sizeof *x);
    if (!x) { v->rc = sbv2_fail(v->err, SBV2_ERR_NO_MEMORY, "out of memory"); return NULL; }
    x->t = t, x->next_alloc = v->all, v->all = x;
    return x;
}
static int push(vm *v, val *x) {
    if (!x) return -1;
    if (v->sp == v->scap) {
        size_t c = v->scap ? 2 * v->scap : 64;
        val **q = realloc(v->stack, c * sizeof *q);
        if (!q) { v->rc = sbv2_fail(v->err, SBV2_ERR_NO_MEMORY, "out of memory"); return -1; }
        v->stack = q, v->scap = c;
    }
    v->stack[v->sp++] = x;
    return 0;
}
static val *pop(vm *v) {
    if (!v->sp) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle stack underflow"); return NULL; }
    return v->stack[--v->sp];
}
static int add_item(vm *v, val *c, val *x) {
    if (c->n == c->cap) {
        size_t n = c->cap ? 2 * c->cap : 8;
        val **q = realloc(c->a, n * sizeof *q);
        if (!q) { v->rc = sbv2_fail(v->err, SBV2_ERR_NO_MEMORY, "out of memory"); return -1; }
        c->a = q, c->cap = n;
    }
    c->a[c->n++] = x;
    return 0;
}
/* index of the topmost mark, or -1 */
static long mark_at(vm *v) {
    for (size_t i = v->sp; i-- > 0;)
        if (v->stack[i]->t == V_MARK) return (long)i;
    v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: no mark");
    return -1;
}
static int memo_put(vm *v, uint32_t k) {
    if (!v->sp) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: put on empty stack"); return -1; }
    /* torch.save numbers its memo entries 0, 1, 2...: each takes two bytes or
       more, so an index past the pickle's length only costs memory */
    if (k > v->plen) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: memo index %u past the pickle's %zu bytes", k, v->plen); return -1; }
    if (k >= v->nmemo) {
        size_t n = (size_t)k + 1 + 64;
        val **q = realloc(v->memo, n * sizeof *q);
        if (!q) { v->rc = sbv2_fail(v->err, SBV2_ERR_NO_MEMORY, "out of memory"); return -1; }
        memset(q + v->nmemo, 0, (n - v->nmemo) * sizeof *q);
        v->memo = q, v->nmemo = n;
    }
    v->memo[k] = v->stack[v->sp - 1];
    return 0;
}
static int is_global(const val *x, const char *name) { return x && x->t == V_GLOBAL && !strcmp(x->s, name); }

static int storage_dtype(const char *g) {
    if (!strcmp(g, "torch.HalfStorage")) return ST_F16;
    if (!strcmp(g, "torch.FloatStorage")) return ST_F32;
    if (!strcmp(g, "torch.BFloat16Storage")) return ST_BF16;
    return -1;
}

static val *reduce(vm *v, val *fn, val *args) {
    if (!args || args->t != V_TUPLE) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: REDUCE without a tuple"); return NULL; }
    if (is_global(fn, "collections.OrderedDict")) return mk(v, V_DICT);
    if (is_global(fn, "torch._utils._rebuild_tensor_v2") || is_global(fn, "torch._utils._rebuild_tensor")) {
        if (args->n < 4 || args->a[0]->t != V_STORAGE || args->a[1]->t != V_INT || args->a[2]->t != V_TUPLE ||
            args->a[3]->t != V_TUPLE || args->a[2]->n != args->a[3]->n || args->a[2]->n > ST_MAX_DIMS) {
            v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: malformed _rebuild_tensor_v2 call");
            return NULL;
        }
        val *t = mk(v, V_TENSOR);
        if (!t) return NULL;
        t->storage = args->a[0], t->dtype = args->a[0]->dtype, t->offset = args->a[1]->i, t->ndim = (int)args->a[2]->n;
        for (int d = 0; d < t->ndim; d++) {
            if (args->a[2]->a[d]->t != V_INT || args->a[3]->a[d]->t != V_INT) {
                v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: tensor size/stride not integers");
                return NULL;
            }
            t->shape[d] = args->a[2]->a[d]->i, t->stride[d] = args->a[3]->a[d]->i;
        }
        return t;
    }
    return mk(v, V_OTHER); /* anything else is carried along, unread */
}

static val *run_pickle(vm *v, const uint8_t *p, size_t n) {
    size_t i = 0;
    v->plen = n;
#define NEED(k) do { if (n - i < (size_t)(k)) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle truncated"); return NULL; } } while (0)
    while (v->rc == SBV2_OK) {
        NEED(1);
        const uint8_t op = p[i++];
        switch (op) {
        case 0x80: NEED(1); i++; break; /* PROTO */
        case '.': return pop(v);        /* STOP */
        case '}': push(v, mk(v, V_DICT)); break;
        case ']': push(v, mk(v, V_LIST)); break;
        case ')': push(v, mk(v, V_TUPLE)); break;
        case '(': push(v, mk(v, V_MARK)); break;
        case 'N': push(v, mk(v, V_NONE)); break;
        case 0x88: case 0x89: { val *x = mk(v, V_BOOL); if (x) x->i = op == 0x88; push(v, x); break; }
        case 'K': { NEED(1); val *x = mk(v, V_INT); if (x) x->i = p[i]; i += 1; push(v, x); break; }
        case 'M': { NEED(2); val *x = mk(v, V_INT); if (x) x->i = u16(p + i); i += 2; push(v, x); break; }
        case 'J': { NEED(4); val *x = mk(v, V_INT); if (x) x->i = (int32_t)u32(p + i); i += 4; push(v, x); break; }
        case 0x8a: { /* LONG1 */
            NEED(1);
            const unsigned k = p[i++];
            NEED(k);
            if (k > 8) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: integer too large"); return NULL; }
            uint64_t u = 0;
            for (unsigned b = 0; b < k; b++) u |= (uint64_t)p[i + b] << (8 * b);
            if (k && k < 8 && (p[i + k - 1] & 0x80)) u |= ~0ull << (8 * k); /* sign */
            val *x = mk(v, V_INT);
            if (x) x->i = (int64_t)u;
            i += k;
            push(v, x);
            break;
        }
        case 'X': case 0x8c: { /* BINUNICODE, SHORT_BINUNICODE */
            size_t k;
            if (op == 'X') { NEED(4); k = u32(p + i); i += 4; }
            else { NEED(1); k = p[i++]; }
            NEED(k);
            val *x = mk(v, V_STR);
            char *s = x ? malloc(k + 1) : NULL;
            if (x && !s) { v->rc = sbv2_fail(v->err, SBV2_ERR_NO_MEMORY, "out of memory"); return NULL; }
            if (s) memcpy(s, p + i, k), s[k] = '\0', x->s = s, x->slen = k;
            i += k;
            push(v, x);
            break;
        }
        case 'c': { /* GLOBAL module\nname\n */
            const uint8_t *a = memchr(p + i, '\n', n - i);
            const uint8_t *b = a ? memchr(a + 1, '\n', n - (size_t)(a + 1 - p)) : NULL;
            if (!a || !b) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: bad GLOBAL"); return NULL; }
            val *x = mk(v, V_GLOBAL);
            size_t l1 = (size_t)(a - (p + i)), l2 = (size_t)(b - (a + 1));
            char *s = x ? malloc(l1 + l2 + 2) : NULL;
            if (x && !s) { v->rc = sbv2_fail(v->err, SBV2_ERR_NO_MEMORY, "out of memory"); return NULL; }
            if (s) memcpy(s, p + i, l1), s[l1] = '.', memcpy(s + l1 + 1, a + 1, l2), s[l1 + 1 + l2] = '\0', x->s = s;
            i = (size_t)(b + 1 - p);
            push(v, x);
            break;
        }
        case 'q': NEED(1); memo_put(v, p[i]); i += 1; break;
        case 'r': NEED(4); memo_put(v, u32(p + i)); i += 4; break;
        case 'h': case 'j': {
            uint32_t k;
            if (op == 'h') { NEED(1); k = p[i]; i += 1; }
            else { NEED(4); k = u32(p + i); i += 4; }
            if (k >= v->nmemo || !v->memo[k]) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: memo %u unset", k); return NULL; }
            push(v, v->memo[k]);
            break;
        }
        case 't': case 0x85: case 0x86: case 0x87: { /* TUPLE, TUPLE1..3 */
            val *x = mk(v, V_TUPLE);
            if (!x) return NULL;
            size_t from;
            if (op == 't') {
                long m = mark_at(v);
                if (m < 0) return NULL;
                from = (size_t)m + 1;
            } else {
                const size_t k = op - 0x84u;
                if (v->sp < k) { v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle stack underflow"); return NULL; }
                from = v->sp - k;
            }
            for (size_t s = from; s < v->sp; s++)
                if (add_item(v, x, v->stack[s])) return NULL;
            v->sp = op == 't' ? from - 1 : from;
            push(v, x);
            break;
        }
        case 'Q': { /* BINPERSID: ('storage', type, key, location, numel) */
            val *pid = pop(v);
            if (!pid || pid->t != V_TUPLE || pid->n < 5 || pid->a[0]->t != V_STR || strcmp(pid->a[0]->s, "storage") ||
                pid->a[1]->t != V_GLOBAL || pid->a[2]->t != V_STR) {
                v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: unexpected persistent id");
                return NULL;
            }
            val *x = mk(v, V_STORAGE);
            if (!x) return NULL;
            x->dtype = storage_dtype(pid->a[1]->s), x->s = pid->a[2]->s, x->slen = pid->a[2]->slen;
            if (x->dtype < 0) {
                v->rc = sbv2_fail(v->err, SBV2_ERR_UNSUPPORTED, "storage type %s is not a float type sbv2 reads", pid->a[1]->s);
                return NULL;
            }
            push(v, x);
            break;
        }
        case 'R': { val *args = pop(v), *fn = pop(v); if (!fn) return NULL; push(v, reduce(v, fn, args)); break; }
        case 'b': pop(v); break; /* BUILD: the state (OrderedDict's _metadata) is not needed */
        case 's': case 'u': case 'a': case 'e': { /* SETITEM(S), APPEND(S) */
            size_t from;
            if (op == 's') from = v->sp >= 2 ? v->sp - 2 : 0;
            else if (op == 'a') from = v->sp >= 1 ? v->sp - 1 : 0;
            else {
                long m = mark_at(v);
                if (m < 0) return NULL;
                from = (size_t)m + 1;
            }
            const size_t obj = (op == 'u' || op == 'e') ? from - 2 : from - 1;
            if (from == 0 || obj >= v->sp || ((op == 's' || op == 'u') && (v->sp - from) % 2)) {
                v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle: bad SETITEM/APPEND");
                return NULL;
            }
            val *c = v->stack[obj];
            if (c->t == V_DICT || c->t == V_LIST)
                for (size_t s = from; s < v->sp; s++)
                    if (add_item(v, c, v->stack[s])) return NULL;
            v->sp = obj + 1;
            break;
        }
        default:
            v->rc = sbv2_fail(v->err, SBV2_ERR_FORMAT, "pickle opcode 0x%02x is not one torch.save writes", op);
            return NULL;
        }
    }
    return NULL;
#undef NEED
}

static int cmp_name(const void *a, const void *b) { return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name); }

int pt_open(st_file *f, const char *path, sbv2_error *err) {
    memset(f, 0, sizeof *f);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return sbv2_fail(err, SBV2_ERR_IO, "cannot open %s", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size <= 0) { close(fd); return sbv2_fail(err, SBV2_ERR_FORMAT, "%s is empty", path); }
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return sbv2_fail(err, SBV2_ERR_IO, "cannot map %s", path);
    const int rc = pt_parse(f, m, (size_t)sb.st_size, path, err);
    if (rc != SBV2_OK) munmap(m, (size_t)sb.st_size);
    else f->map = m, f->map_size = (size_t)sb.st_size;
    return rc;
}

int pt_parse(st_file *f, const uint8_t *m, size_t size, const char *path, sbv2_error *err) {
    memset(f, 0, sizeof *f);
    zipf z = {m, size, NULL, 0};
    vm v = {0};
    v.err = err;
    int rc = zip_read(&z, err);
    const zentry *pkl = NULL;
    for (size_t i = 0; rc == SBV2_OK && i < z.ne; i++)
        if (z.e[i].nlen >= 9 && !memcmp(z.e[i].name + z.e[i].nlen - 9, "/data.pkl", 9)) { pkl = &z.e[i]; break; }
    if (rc == SBV2_OK && !pkl) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: no data.pkl (not a torch.save zip)", path);
    val *root = NULL;
    if (rc == SBV2_OK) {
        root = run_pickle(&v, pkl->data, pkl->size);
        rc = v.rc;
        if (rc == SBV2_OK && (!root || root->t != V_DICT)) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: the pickle is not a state dict", path);
    }
    if (rc == SBV2_OK) {
        const size_t np = pkl->nlen - 8; /* "<archive>/" */
        f->tensors = calloc(root->n / 2 + 1, sizeof *f->tensors);
        if (!f->tensors) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        for (size_t k = 0; rc == SBV2_OK && k + 1 < root->n; k += 2) {
            const val *key = root->a[k], *t = root->a[k + 1];
            if (key->t != V_STR || t->t != V_TENSOR) continue; /* not a tensor entry */
            char ename[512];
            if (np + 5 + t->storage->slen >= sizeof ename) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "storage key too long"); break; }
            memcpy(ename, pkl->name, np), memcpy(ename + np, "data/", 5), memcpy(ename + np + 5, t->storage->s, t->storage->slen);
            const zentry *se = zfind(&z, ename, np + 5 + t->storage->slen);
            if (!se) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s': storage %s missing", key->s, t->storage->s); break; }
            const size_t es = st_dtype_size((st_dtype)t->dtype);
            uint64_t numel = 1, expect = 1;
            int ok = t->offset >= 0;
            for (int d = t->ndim - 1; ok && d >= 0; d--) {
                ok = t->shape[d] >= 0 && t->shape[d] < ((int64_t)1 << 40) && (t->shape[d] <= 1 || t->stride[d] == (int64_t)expect);
                expect *= (uint64_t)(t->shape[d] ? t->shape[d] : 1);
                numel *= (uint64_t)t->shape[d];
                if (numel > ((uint64_t)1 << 40)) ok = 0;
            }
            if (!ok) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s' is not contiguous or has a bad size", key->s); break; }
            if ((uint64_t)t->offset > se->size / es || numel > se->size / es - (uint64_t)t->offset) {
                rc = sbv2_fail(err, SBV2_ERR_FORMAT, "tensor '%s' lies outside its storage", key->s);
                break;
            }
            st_tensor *o = &f->tensors[f->n_tensors];
            o->name = strdup(key->s);
            if (!o->name) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); break; }
            o->dtype = (st_dtype)t->dtype, o->ndim = t->ndim, o->numel = (size_t)numel, o->nbytes = (size_t)numel * es;
            for (int d = 0; d < t->ndim; d++) o->shape[d] = t->shape[d];
            o->data = se->data + (size_t)t->offset * es;
            f->n_tensors++;
        }
        if (rc == SBV2_OK) {
            qsort(f->tensors, f->n_tensors, sizeof *f->tensors, cmp_name);
            for (size_t k = 1; k < f->n_tensors; k++)
                if (!strcmp(f->tensors[k - 1].name, f->tensors[k].name)) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "duplicate tensor '%s'", f->tensors[k].name); break; }
        }
    }
    for (val *x = v.all; x;) {
        val *nx = x->next_alloc;
        if (x->t == V_STR || x->t == V_GLOBAL) free((char *)x->s);
        free(x->a);
        free(x);
        x = nx;
    }
    free(v.stack), free(v.memo), free(z.e);
    if (rc != SBV2_OK) st_close(f), memset(f, 0, sizeof *f);
    return rc;
}
