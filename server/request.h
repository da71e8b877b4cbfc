/* The parsing and validation of /voice's query and /v1/audio/speech's JSON
 * body: pure functions (no libmicrohttpd, no sockets, no globals), so that
 * serve.c and a fuzzer (tests/fuzz/fuzz_http.c) drive the same code. Each
 * either fills a synth request or says which error response to send. */
#ifndef SBV2_SERVER_REQUEST_H
#define SBV2_SERVER_REQUEST_H

#include <stdarg.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "sbv2.h"

/* One synthesis request, as the routes parse it. */
typedef struct synth {
    char model_name[256];
    long model_id;
    sbv2_tts_params p;
    char *text; /* malloc'd (synth_free) */
    const char *speaker; /* speaker_name (/voice) or the voice naming a speaker; NULL = p.speaker_id */
    const char *model, *voice; /* /v1/audio/speech: the body's model and voice (NULL = absent), untruncated */
    const char *format; /* wav, pcm, mp3, opus */
    int stream, sse, openai, page; /* page: /voice?stream=sse, the web page's events */
    cJSON *json; /* /v1/audio/speech: the parsed body the strings point into */
} synth;

void synth_free(synth *y); /* frees what the parsers allocated; y stays zeroed */

/* An error response. type set: FastAPI's 422 shape
 * {"detail": [{"type", "loc": ["query", param], "msg", "input"}]};
 * type NULL: OpenAI's {"error": {"message", "type", "param", "code"}} with
 * this status. param and input point at static strings or at the caller's
 * query keys/values, JSON or synth, valid as long as those are. */
typedef struct http_error {
    int status;
    const char *type;  /* "missing", "int_parsing", "invalid_params", ...; NULL = OpenAI's shape */
    const char *param; /* loc's parameter / OpenAI's param; NULL = null */
    const char *input; /* FastAPI's "input" (the value given); NULL = left out */
    char message[300];
} http_error;

/* A query's arguments as libmicrohttpd hands them over: unescaped, in the
 * order of the URL. */
typedef struct query_args {
    void *ctx;
    /* the value of the first argument named key (ASCII case-insensitive, as
       MHD_lookup_connection_value); NULL when absent or given without '=' */
    const char *(*get)(void *ctx, const char *key);
    /* calls f(cls, key, value) on each argument in order until f returns
       nonzero; value is NULL for an argument without '=' */
    void (*each)(void *ctx, int (*f)(void *cls, const char *key, const char *value), void *cls);
} query_args;

/* /voice (SBV2's server_fastapi.py): pydantic's parsing of the query, the
 * route's own checks, in its order. limit: the longest text in characters
 * (0 = none); n_models: model_id must be below it. 0 = y filled (synth_free
 * it; its strings but text point into q's values), 1 = *e says what to
 * send, -1 = out of memory. The speaker and style are checked later against
 * the model (check_voice). */
int voice_parse(const query_args *q, int limit, size_t n_models, synth *y, http_error *e);

/* /v1/audio/speech: the n bytes of the JSON body (no NUL needed after them)
 * up to the model's lookup, which needs the registry. Returns as voice_parse;
 * y->json owns the strings. When y->voice is set, the caller resolves it
 * with speech_voice against the model named by y->model (NULL = the first). */
int speech_parse(const char *body, size_t n, int limit, synth *y, http_error *e);

/* y->voice against a model's config: a style (with the default speaker),
 * else a speaker (with the default style). 0 or 1 with *e. */
int speech_voice(synth *y, const cJSON *spk2id, const cJSON *style2id, http_error *e);

/* y->speaker / p.speaker_id / p.style against a model's spk2id and style2id
 * (config.json's data), as /voice does; sets p.speaker_id from the name.
 * 0 or 1 with *e in the route's shape. */
int check_voice(synth *y, const cJSON *spk2id, const cJSON *style2id, http_error *e);

int valid_utf8(const char *s); /* 1 when the NUL-terminated s is UTF-8 (no overlongs, no surrogates) */
int valid_utf8_n(const char *s, size_t n); /* the same over n bytes, NULs allowed */
size_t utf8_chars(const char *s); /* code points, counting lead bytes */
char *percent_decode(const char *s); /* urllib.parse.unquote's %XX (malloc'd; NULL = out of memory) */
/* vsnprintf that, when it truncates, drops the character it would cut in two:
 * messages echo what the client sent, and JSON responses must stay UTF-8 */
void vsnprintf_utf8(char *buf, size_t size, const char *fmt, va_list ap);

#endif
