/* libFuzzer target: the HTTP layer of `sbv2 serve` (server/request.c), in
 * process, no sockets. The first byte picks what the rest is:
 *   bits 0-1  0: a /voice query string (what follows '?' in the URL)
 *             1: a /v1/audio/speech JSON body
 *             2, 3: the same, after a config.json-like object and a NUL
 *                   byte that give the model's spk2id / style2id
 *   bits 2-3  --limit: 100 (the default), 0 (none), 1, 5
 * A request that parses is checked against the model (check_voice, as
 * run_synth does) and by sbv2_tts_check_params. Besides the sanitizers, it
 * aborts when a response would carry a string that is not UTF-8, or when the
 * parsers break their contract (request.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "request.h"
#include "sbv2.h"

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "fuzz_http: %s:%d: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                              \
        }                                                                         \
    } while (0)

/* ---- the query arguments as libmicrohttpd 0.9.75 makes them ------------------------ */

typedef struct {
    char *key, *value; /* value NULL: "key" without '=' */
    size_t key_len;    /* unescaped, so it may hold NULs the C string hides */
} kv;

typedef struct {
    kv *a;
    size_t n;
} kv_list;

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* MHD_unescape_plus, then MHD_http_unescape: %XX with two hex digits is
 * decoded, anything else kept as it is; the length after unescaping. */
static size_t mhd_unescape(char *s) {
    for (char *p = s; *p; p++)
        if (*p == '+') *p = ' ';
    char *r = s, *w = s;
    while (*r) {
        const int h1 = *r == '%' ? hexval(r[1]) : -1, h2 = h1 >= 0 ? hexval(r[2]) : -1;
        if (h2 >= 0) *w++ = (char)(h1 << 4 | h2), r += 3;
        else *w++ = *r++;
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* MHD_parse_arguments_: split on '&', then on the first '='; "a" alone has
 * no value, an empty piece ends the list only at the end ("a&&b" has an
 * empty key in between). args is clobbered, and the entries point into it. */
static int parse_query(char *args, kv_list *l) {
    size_t cap = 1;
    for (const char *p = args; *p; p++) cap += *p == '&';
    l->a = calloc(cap, sizeof *l->a), l->n = 0;
    if (!l->a) return -1;
    while (args && *args) {
        char *amper = strchr(args, '&'), *equals = strchr(args, '=');
        if (amper) *amper++ = '\0';
        if (equals && (!amper || equals < amper)) *equals++ = '\0';
        else equals = NULL;
        kv *e = &l->a[l->n++];
        e->key = args, e->key_len = mhd_unescape(args);
        if (equals) e->value = equals, mhd_unescape(equals);
        args = amper;
    }
    return 0;
}

static int caseless_eq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
        if (x != y) return 0;
    }
    return 1;
}

/* MHD_lookup_connection_value: the first argument of that name, even when
 * it has no value */
static const char *kv_get(void *ctx, const char *key) {
    const kv_list *l = ctx;
    const size_t n = strlen(key);
    for (size_t i = 0; i < l->n; i++)
        if (l->a[i].key_len == n && caseless_eq(l->a[i].key, key, n)) return l->a[i].value;
    return NULL;
}

static void kv_each(void *ctx, int (*f)(void *cls, const char *key, const char *value), void *cls) {
    const kv_list *l = ctx;
    for (size_t i = 0; i < l->n; i++)
        if (f(cls, l->a[i].key, l->a[i].value)) return;
}

/* ---- the model ---------------------------------------------------------------------- */

/* config.json's data of a two-speaker model; the registry keeps only models
 * whose spk2id and style2id are objects */
static const char k_model[] = "{\"spk2id\": {\"spk_a\": 0, \"spk_b\": 1, \"\xe3\x81\x82\": 7},"
                              " \"style2id\": {\"Neutral\": 0, \"Happy\": 1, \"\xe6\x80\x92\": 2}}";

static int utf8_or_null(const char *s) { return !s || valid_utf8(s); }

static void check_error(const http_error *e, int openai) {
    if (openai) CHECK(!e->type && (e->status == 400 || e->status == 404) && !e->input);
    else CHECK(e->type && e->status == 422 && e->param);
    CHECK(utf8_or_null(e->type) && utf8_or_null(e->param) && utf8_or_null(e->input));
    CHECK(memchr(e->message, '\0', sizeof e->message) && e->message[0] && valid_utf8(e->message));
}

static int known_format(const char *f) { return !strcmp(f, "wav") || !strcmp(f, "pcm") || !strcmp(f, "mp3") || !strcmp(f, "opus"); }

/* what run_synth does with a parsed request before any model work */
static void check_request(synth *y, const cJSON *spk2id, const cJSON *style2id) {
    CHECK(y->text && valid_utf8(y->text) && (!y->openai || *y->text)); /* /voice's "%2500" decodes to "" */
    CHECK(y->format && known_format(y->format) && valid_utf8(y->model_name));
    CHECK(utf8_or_null(y->p.language) && utf8_or_null(y->p.style) && utf8_or_null(y->p.assist_text));
    CHECK(utf8_or_null(y->speaker) && utf8_or_null(y->model) && utf8_or_null(y->voice));
    http_error e;
    memset(&e, 0xA5, sizeof e); /* the parsers must set every field they report */
    if (y->openai && y->voice) {
        if (speech_voice(y, spk2id, style2id, &e)) {
            check_error(&e, 1);
            return;
        }
    }
    sbv2_error err = {0};
    if (sbv2_tts_check_params(&y->p, &err) != SBV2_OK) CHECK(valid_utf8(err.message));
    memset(&e, 0xA5, sizeof e);
    const int rc = check_voice(y, spk2id, style2id, &e);
    CHECK(rc == 0 || rc == 1);
    if (rc) check_error(&e, y->openai);
    else {
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(style2id, y->p.style)));
        if (y->speaker) CHECK(cJSON_GetObjectItemCaseSensitive(spk2id, y->speaker)->valueint == y->p.speaker_id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const int limits[4] = {100, 0, 1, 5};
    const int mode = data[0] & 3, limit = limits[data[0] >> 2 & 3];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    cJSON *model = NULL;
    if (mode >= 2) { /* the model's config first, up to a NUL */
        const char *nul = memchr(rest, '\0', n);
        if (!nul) return 0;
        model = cJSON_ParseWithLength(rest, (size_t)(nul - rest));
        n -= (size_t)(nul + 1 - rest), rest = nul + 1;
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(model, "spk2id")) ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(model, "style2id"))) {
            cJSON_Delete(model);
            return 0;
        }
    } else model = cJSON_Parse(k_model);
    CHECK(model);
    const cJSON *spk2id = cJSON_GetObjectItemCaseSensitive(model, "spk2id"), *style2id = cJSON_GetObjectItemCaseSensitive(model, "style2id");
    synth y;
    http_error e;
    memset(&e, 0xA5, sizeof e);
    if ((mode & 1) == 0) { /* the URL stops at a NUL: libmicrohttpd gets it as a C string */
        const char *nul = memchr(rest, '\0', n);
        const size_t len = nul ? (size_t)(nul - rest) : n;
        char *args = malloc(len + 1);
        kv_list l = {0};
        CHECK(args);
        memcpy(args, rest, len), args[len] = '\0';
        if (parse_query(args, &l) == 0) {
            const query_args q = {&l, kv_get, kv_each};
            const int rc = voice_parse(&q, limit, 2, &y, &e);
            CHECK(rc >= -1 && rc <= 1);
            if (rc == 1) check_error(&e, 0);
            if (rc == 0) check_request(&y, spk2id, style2id);
            synth_free(&y); /* also after an error: y is left freeable */
        }
        free(l.a);
        free(args);
    } else { /* exactly n bytes, no NUL after them: ASan sees any read past the body */
        char *body = malloc(n ? n : 1);
        CHECK(body);
        memcpy(body, rest, n);
        const int rc = speech_parse(body, n, limit, &y, &e);
        CHECK(rc >= -1 && rc <= 1);
        if (rc == 1) check_error(&e, 1);
        if (rc == 0) check_request(&y, spk2id, style2id);
        synth_free(&y);
        free(body);
    }
    cJSON_Delete(model);
    return 0;
}
