/* BertJapaneseTokenizer(word_tokenizer_type="basic",
 * subword_tokenizer_type="character", do_lower_case=False), as transformers
 * runs it: literal special tokens, NFC, control characters dropped and
 * whitespace unified, split on whitespace and around every punctuation
 * character, then each piece NFKC-normalised and read one code point per
 * token ([UNK] when the vocabulary lacks it). Unicode data from utf8proc. */
#include "bert/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "formats/file.h"
#include "text/utf8.h"

struct bert_tokenizer {
    char *text;        /* vocab.txt contents, lines NUL-terminated in place */
    const char **tok;  /* id -> token */
    size_t n;
    uint32_t *slot;    /* open-addressing table of id+1 (0 = empty) */
    size_t cap;
    int64_t cls, sep, unk, special[5];
};

static const char *const k_special[5] = {"[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"};

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int64_t lookup(const bert_tokenizer *t, const char *s, size_t n) {
    for (size_t i = hash(s, n) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        uint32_t v = t->slot[i];
        if (!v) return -1;
        const char *k = t->tok[v - 1];
        if (strlen(k) == n && !memcmp(k, s, n)) return v - 1;
    }
}

/* Takes buf (len bytes, one spare byte after them) whatever happens. */
static int tokenizer_from_buf(bert_tokenizer **out, char *buf, size_t len, const char *path, sbv2_error *err) {
    bert_tokenizer *t = calloc(1, sizeof *t);
    if (!t || !buf) { free(t), free(buf); return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); }
    buf[len] = '\0';
    t->text = buf;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    if (len && buf[len - 1] != '\n') lines++;
    t->tok = malloc(sizeof(char *) * (lines ? lines : 1));
    for (t->cap = 16; t->cap < 2 * lines + 16;) t->cap *= 2;
    t->slot = calloc(t->cap, sizeof(uint32_t));
    if (!t->tok || !t->slot || lines == 0 || lines > 10000000) {
        bert_tokenizer_free(t);
        return lines ? sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory") : sbv2_fail(err, SBV2_ERR_FORMAT, "%s is empty", path);
    }
    for (char *p = buf; t->n < lines;) {
        char *e = strchr(p, '\n');
        if (e) *e = '\0';
        t->tok[t->n] = p;
        const size_t n = strlen(p);
        if (lookup(t, p, n) < 0) /* the first line wins for duplicates */
            for (size_t i = hash(p, n) & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
                if (!t->slot[i]) { t->slot[i] = (uint32_t)t->n + 1; break; }
        t->n++;
        if (!e) break;
        p = e + 1;
    }
    for (int i = 0; i < 5; i++) {
        t->special[i] = lookup(t, k_special[i], strlen(k_special[i]));
        if (i >= 1 && i <= 3 && t->special[i] < 0) {
            bert_tokenizer_free(t);
            return sbv2_fail(err, SBV2_ERR_FORMAT, "%s has no %s token", path, k_special[i]);
        }
    }
    t->cls = t->special[1], t->sep = t->special[2], t->unk = t->special[3];
    *out = t;
    return SBV2_OK;
}

int bert_tokenizer_load(bert_tokenizer **out, const char *path, sbv2_error *err) {
    *out = NULL;
    char *buf;
    size_t len;
    const int rc = sbv2_read_file(path, 256u << 20, NULL, &buf, &len, err);
    return rc != SBV2_OK ? rc : tokenizer_from_buf(out, buf, len, path, err);
}

int bert_tokenizer_parse(bert_tokenizer **out, const char *data, size_t len, const char *name, sbv2_error *err) {
    *out = NULL;
    char *buf = len < SIZE_MAX ? malloc(len + 1) : NULL;
    if (buf) memcpy(buf, data, len);
    return tokenizer_from_buf(out, buf, len, name, err);
}

void bert_tokenizer_free(bert_tokenizer *t) {
    if (!t) return;
    free(t->text), free(t->tok), free(t->slot), free(t);
}

size_t bert_tokenizer_vocab_size(const bert_tokenizer *t) { return t->n; }

typedef struct { int64_t *p; size_t n, cap; int oom; } ids_t;
static void push(ids_t *v, int64_t id) {
    if (v->oom) return;
    if (v->n == v->cap) {
        size_t c = v->cap ? 2 * v->cap : 64;
        int64_t *q = realloc(v->p, c * sizeof *q);
        if (!q) { v->oom = 1; return; }
        v->p = q, v->cap = c;
    }
    v->p[v->n++] = id;
}

static int is_punct(uint32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO: return 1;
    default: return 0;
    }
}

/* s[0..n) normalised by utf8proc's NFC or NFKC (a new NUL-terminated
 * string, or NULL when out of memory). */
static char *normalized(const char *s, size_t n, utf8proc_uint8_t *(*form)(const utf8proc_uint8_t *)) {
    char *z = malloc(n + 1);
    if (!z) return NULL;
    memcpy(z, s, n);
    z[n] = '\0';
    char *r = (char *)form((const utf8proc_uint8_t *)z);
    free(z);
    return r;
}

/* A piece: NFKC, then one token per code point. */
static void piece(const bert_tokenizer *t, const char *s, size_t n, ids_t *out) {
    if (!n) return;
    char *nf = normalized(s, n, utf8proc_NFKC);
    if (!nf) { out->oom = 1; return; }
    for (size_t i = 0, m = strlen(nf); i < m;) {
        uint32_t c;
        size_t l = utf8_decode(nf + i, m - i, &c);
        if (!l) break;
        int64_t id = lookup(t, nf + i, l);
        push(out, id >= 0 ? id : t->unk);
        i += l;
    }
    free(nf);
}

/* The basic tokenizer on a text without special tokens. */
static void basic(const bert_tokenizer *t, const char *s, size_t n, ids_t *out) {
    char *nfc = normalized(s, n, utf8proc_NFC);
    if (!nfc) { out->oom = 1; return; }
    /* cleaned text: control/format/unassigned/private dropped, whitespace -> ' ' */
    sbuf c = {0};
    sb_add(&c, "", 0);
    for (size_t i = 0, m = strlen(nfc); i < m;) {
        uint32_t cp;
        size_t l = utf8_decode(nfc + i, m - i, &cp);
        if (!l) { i++; continue; }
        i += l;
        utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)cp);
        if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ' || k == UTF8PROC_CATEGORY_ZS) { sb_adds(&c, " "); continue; }
        if (cp == 0 || cp == 0xfffd || k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF ||
            k == UTF8PROC_CATEGORY_CO || k == UTF8PROC_CATEGORY_CN || k == UTF8PROC_CATEGORY_CS)
            continue;
        sb_addcp(&c, cp);
    }
    free(nfc);
    if (c.oom) { free(c.p); out->oom = 1; return; }
    /* words split at spaces and U+2028/2029; punctuation stands alone */
    size_t start = 0;
    for (size_t i = 0; i <= c.n;) {
        uint32_t cp = 0;
        size_t l = i < c.n ? utf8_decode(c.p + i, c.n - i, &cp) : 1;
        if (!l) l = 1;
        const int sep = i == c.n || cp == ' ' || cp == 0x2028 || cp == 0x2029;
        if (sep || is_punct(cp)) {
            piece(t, c.p + start, i - start, out);
            if (!sep) piece(t, c.p + i, l, out);
            start = i + l;
        }
        i += l;
    }
    free(c.p);
}

int bert_tokenize(const bert_tokenizer *t, const char *text, size_t len, int64_t **ids, size_t *n_ids, sbv2_error *err) {
    *ids = NULL, *n_ids = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t l = utf8_decode(text + i, len - i, &c);
        if (!l) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "text is not valid UTF-8");
        i += l;
    }
    ids_t v = {0};
    push(&v, t->cls);
    size_t start = 0;
    for (size_t i = 0; i < len;) {
        int sp = -1;
        for (int k = 0; k < 5 && sp < 0; k++)
            if (t->special[k] >= 0 && strlen(k_special[k]) <= len - i && !memcmp(text + i, k_special[k], strlen(k_special[k])))
                sp = k; /* (text need not be NUL-terminated: length first) */
        if (sp >= 0) {
            basic(t, text + start, i - start, &v);
            push(&v, t->special[sp]);
            i += strlen(k_special[sp]);
            start = i;
        } else {
            i++;
        }
    }
    basic(t, text + start, len - start, &v);
    push(&v, t->sep);
    if (v.oom) { free(v.p); return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); }
    *ids = v.p, *n_ids = v.n;
    return SBV2_OK;
}
