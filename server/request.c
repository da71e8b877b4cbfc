/* /voice's query and /v1/audio/speech's body: parsing and validation with
 * the responses server_fastapi.py (pydantic) and OpenAI's API give. */
#include "request.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void synth_free(synth *y) {
    free(y->text);
    cJSON_Delete(y->json);
    memset(y, 0, sizeof *y);
}

/* ---- UTF-8 and percent escapes ---------------------------------------------- */

int valid_utf8_n(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        const int k = *p < 0x80 ? 0 : (*p >> 5) == 6 ? 1 : (*p >> 4) == 14 ? 2 : (*p >> 3) == 30 ? 3 : -1;
        if (k < 0 || end - p <= k) return 0;
        uint32_t cp = k == 0 ? *p : *p & (0x3Fu >> k);
        for (int i = 1; i <= k; i++) {
            if ((p[i] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += k + 1;
    }
    return 1;
}

int valid_utf8(const char *s) { return valid_utf8_n(s, strlen(s)); }

size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* an incomplete character at the end of s (what truncation leaves) cut off */
static void trim_partial_utf8(char *s) {
    const size_t n = strlen(s);
    size_t i = n;
    while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--;
    if (i == 0) return;
    const unsigned char lead = (unsigned char)s[i - 1];
    const size_t len = (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3 : (lead >> 3) == 30 ? 4 : 1;
    if (n - (i - 1) < len) s[i - 1] = '\0';
}

void vsnprintf_utf8(char *buf, size_t size, const char *fmt, va_list ap) {
    const int n = vsnprintf(buf, size, fmt, ap);
    if (n >= 0 && (size_t)n >= size && size) trim_partial_utf8(buf);
}

static void snprintf_utf8(char *buf, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf_utf8(buf, size, fmt, ap);
    va_end(ap);
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

char *percent_decode(const char *s) { /* urllib.parse.unquote for encoding=utf-8: a bad escape stays as it is */
    char *o = malloc(strlen(s) + 1), *w = o;
    if (!o) return NULL;
    for (; *s; s++) {
        const int h1 = *s == '%' ? hex_digit(s[1]) : -1, h2 = h1 >= 0 ? hex_digit(s[2]) : -1;
        if (h2 >= 0) {
            *w++ = (char)(h1 << 4 | h2);
            s += 2;
        } else *w++ = *s;
    }
    *w = '\0';
    return o;
}

/* ---- errors ------------------------------------------------------------------ */

static void set_error(http_error *e, int status, const char *type, const char *param, const char *input, const char *fmt, va_list ap) {
    e->status = status, e->type = type, e->param = param, e->input = input;
    vsnprintf_utf8(e->message, sizeof e->message, fmt, ap);
}

/* fail_fastapi and fail_openai fill *e and return 1, the parsers' "send *e" */
static int fail_fastapi(http_error *e, const char *type, const char *param, const char *input, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(e, 422, type, param, input, fmt, ap);
    va_end(ap);
    return 1;
}

static int fail_openai(http_error *e, int status, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(e, status, NULL, param, NULL, fmt, ap);
    va_end(ap);
    return 1;
}

/* ---- /voice ------------------------------------------------------------------ */

typedef struct {
    const query_args *q;
    http_error *e;
    int failed; /* the first error wins, as pydantic reports them */
} qctx;

static const char *arg(const qctx *x, const char *k) { return x->q->get(x->q->ctx, k); }

/* pydantic's parsing of query values */
static int q_float(qctx *x, const char *k, double *out) {
    const char *v = arg(x, k);
    if (!v || x->failed) return 0;
    char *end;
    errno = 0;
    const double d = strtod(v, &end);
    if (!*v || *end || errno == ERANGE) {
        x->failed = fail_fastapi(x->e, "float_parsing", k, v, "Input should be a valid number, unable to parse string as a number");
        return 0;
    }
    if (!isfinite(d)) {
        x->failed = fail_fastapi(x->e, "finite_number", k, v, "Input should be a finite number");
        return 0;
    }
    *out = d;
    return 1;
}

static int q_int(qctx *x, const char *k, long *out) {
    const char *v = arg(x, k);
    if (!v || x->failed) return 0;
    char *end;
    errno = 0;
    const long d = strtol(v, &end, 10);
    if (!*v || *end || errno == ERANGE || d < -2147483647L || d > 2147483647L) {
        x->failed = fail_fastapi(x->e, "int_parsing", k, v, "Input should be a valid integer, unable to parse string as an integer");
        return 0;
    }
    *out = d;
    return 1;
}

static int q_bool(qctx *x, const char *k, int *out) {
    const char *v = arg(x, k);
    if (!v || x->failed) return 0;
    static const char *t[] = {"1", "on", "t", "true", "y", "yes"}, *f[] = {"0", "off", "f", "false", "n", "no"};
    for (int i = 0; i < 6; i++) {
        if (!strcasecmp(v, t[i])) return *out = 1, 1;
        if (!strcasecmp(v, f[i])) return *out = 0, 1;
    }
    x->failed = fail_fastapi(x->e, "bool_parsing", k, v, "Input should be a valid boolean, unable to interpret input");
    return 0;
}

/* every string query value must be UTF-8 */
static int utf8_arg(void *cls, const char *key, const char *value) {
    qctx *x = cls;
    if ((key && !valid_utf8(key)) || (value && !valid_utf8(value)))
        x->failed = fail_fastapi(x->e, "string_unicode", key && valid_utf8(key) ? key : "?", NULL, "Input should be a valid string (UTF-8)");
    return x->failed;
}

int voice_parse(const query_args *q, int limit, size_t n_models, synth *y, http_error *e) {
    qctx x = {q, e, 0};
    memset(y, 0, sizeof *y);
    y->p = sbv2_tts_default_params();
    y->format = "wav";
    q->each(q->ctx, utf8_arg, &x);
    if (x.failed) return 1;
    const char *text = arg(&x, "text"), *enc = arg(&x, "encoding"), *mn = arg(&x, "model_name");
    const char *lang = arg(&x, "language"), *assist = arg(&x, "assist_text"), *style = arg(&x, "style");
    if (!text) return fail_fastapi(e, "missing", "text", NULL, "Field required");
    if (!*text) return fail_fastapi(e, "string_too_short", "text", text, "String should have at least 1 character");
    if (limit > 0 && utf8_chars(text) > (size_t)limit)
        return fail_fastapi(e, "string_too_long", "text", NULL, "String should have at most %d characters", limit);
    long v = 0;
    if (q_int(&x, "model_id", &v)) y->model_id = v;
    if (q_int(&x, "speaker_id", &v)) y->p.speaker_id = (int)v;
    q_float(&x, "sdp_ratio", &y->p.sdp_ratio);
    q_float(&x, "noise", &y->p.noise);
    q_float(&x, "noisew", &y->p.noise_w);
    q_float(&x, "length", &y->p.length);
    q_bool(&x, "auto_split", &y->p.line_split);
    q_float(&x, "split_interval", &y->p.split_interval);
    q_float(&x, "assist_text_weight", &y->p.assist_text_weight);
    q_float(&x, "style_weight", &y->p.style_weight);
    const char *sm = arg(&x, "stream");
    if (sm && !strcmp(sm, "sse")) y->stream = y->page = 1, y->format = "pcm";
    else q_bool(&x, "stream", &y->stream);
    if (x.failed) return 1;
    if (lang && strcmp(lang, "JP") && strcmp(lang, "EN") && strcmp(lang, "ZH"))
        return fail_fastapi(e, "enum", "language", lang, "Input should be 'JP', 'EN' or 'ZH'");
    if (arg(&x, "reference_audio_path"))
        return fail_fastapi(e, "invalid_params", "reference_audio_path", NULL, "reference_audio_path is not supported: it would read a file on the server");
    if (y->model_id < 0 || (size_t)y->model_id >= n_models)
        return fail_fastapi(e, "invalid_params", "model_id", NULL, "model_id=%ld not found", y->model_id);
    if (mn) snprintf_utf8(y->model_name, sizeof y->model_name, "%s", mn);
    if (enc && strcasecmp(enc, "utf-8") && strcasecmp(enc, "utf8"))
        return fail_fastapi(e, "invalid_params", "encoding", enc, "only the utf-8 encoding is supported");
    char *t = enc ? percent_decode(text) : strdup(text);
    if (!t) return -1;
    if (!valid_utf8(t)) {
        free(t);
        return fail_fastapi(e, "string_unicode", "text", NULL, "Input should be a valid string (UTF-8)");
    }
    y->text = t;
    y->speaker = arg(&x, "speaker_name");
    y->p.language = lang ? lang : "JP";
    y->p.style = style ? style : "Neutral";
    y->p.assist_text = assist;
    y->p.use_assist_text = assist && *assist; /* bool(assist_text) */
    y->p.max_chars = 0; /* the route's limit applies instead */
    return 0;
}

/* /voice's 422 names the parameter; OpenAI's 400 names the voice the
 * speaker or style came from */
static int voice_error(http_error *e, const synth *y, const char *param, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_error(e, y->openai ? 400 : 422, y->openai ? NULL : "invalid_params", y->openai ? "voice" : param, NULL, fmt, ap);
    va_end(ap);
    return 1;
}

int check_voice(synth *y, const cJSON *spk2id, const cJSON *style2id, http_error *e) {
    if (y->speaker) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(spk2id, y->speaker);
        if (!cJSON_IsNumber(id)) return voice_error(e, y, "speaker_name", "speaker_name=%s not found", y->speaker);
        y->p.speaker_id = id->valueint;
    } else {
        int found = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, spk2id) found |= it->valueint == y->p.speaker_id;
        if (!found) return voice_error(e, y, "speaker_id", "speaker_id=%d not found", y->p.speaker_id);
    }
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(style2id, y->p.style))) {
        /* AivisSpeech names the neutral style ノーマル: the default finds it (as sbv2_model_style_id does) */
        static const char normal[] = "\xe3\x83\x8e\xe3\x83\xbc\xe3\x83\x9e\xe3\x83\xab";
        if (strcmp(y->p.style, "Neutral") || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(style2id, normal)))
            return voice_error(e, y, "style", "style=%s not found", y->p.style);
    }
    return 0;
}

/* ---- /v1/audio/speech -------------------------------------------------------- */

/* the formats encode.c makes (enc_mime); kept here so that parsing needs no codec */
static int known_format(const char *f) { return !strcmp(f, "wav") || !strcmp(f, "pcm") || !strcmp(f, "mp3") || !strcmp(f, "opus"); }

int speech_parse(const char *body, size_t n, int limit, synth *y, http_error *e) {
    memset(y, 0, sizeof *y);
    y->openai = 1;
    y->p = sbv2_tts_default_params();
    y->p.max_chars = 0;
    if (!n) return fail_openai(e, 400, NULL, "a JSON body is required");
    /* all n bytes: cJSON reads past a NUL (as white space), so the strings it
       makes can hold bytes a check up to the NUL never saw */
    if (!valid_utf8_n(body, n)) return fail_openai(e, 400, NULL, "the body is not valid UTF-8");
    cJSON *j = cJSON_ParseWithLength(body, n);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return fail_openai(e, 400, NULL, "the body is not a JSON object");
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model"), *input = cJSON_GetObjectItemCaseSensitive(j, "input");
    const cJSON *voice = cJSON_GetObjectItemCaseSensitive(j, "voice"), *fmt = cJSON_GetObjectItemCaseSensitive(j, "response_format");
    const cJSON *speed = cJSON_GetObjectItemCaseSensitive(j, "speed"), *sf = cJSON_GetObjectItemCaseSensitive(j, "stream_format");
    int rc = 1;
    if (!cJSON_IsString(input) || !*input->valuestring) fail_openai(e, 400, "input", "input must be a non-empty string");
    else if (limit > 0 && utf8_chars(input->valuestring) > (size_t)limit) fail_openai(e, 400, "input", "input has more than %d characters", limit);
    else if (model && !cJSON_IsString(model)) fail_openai(e, 400, "model", "model must be a string");
    else if (voice && !cJSON_IsString(voice)) fail_openai(e, 400, "voice", "voice must be a string");
    else if (fmt && (!cJSON_IsString(fmt) || !known_format(fmt->valuestring)))
        fail_openai(e, 400, "response_format", "response_format must be one of wav, pcm, mp3, opus");
    else if (speed && (!cJSON_IsNumber(speed) || !isfinite(speed->valuedouble) || speed->valuedouble < 0.25 || speed->valuedouble > 4))
        fail_openai(e, 400, "speed", "speed must be a number from 0.25 to 4");
    else if (sf && (!cJSON_IsString(sf) || (strcmp(sf->valuestring, "audio") && strcmp(sf->valuestring, "sse"))))
        fail_openai(e, 400, "stream_format", "stream_format must be audio or sse");
    else if (!(y->text = strdup(input->valuestring))) rc = -1;
    else rc = 0;
    if (rc) {
        cJSON_Delete(j);
        return rc;
    }
    y->json = j;
    y->format = fmt ? fmt->valuestring : "mp3"; /* OpenAI's default */
    if (speed) y->p.length = 1.0 / speed->valuedouble;
    if (sf) y->stream = 1, y->sse = !strcmp(sf->valuestring, "sse");
    if (model) snprintf_utf8(y->model_name, sizeof y->model_name, "%s", model->valuestring), y->model = model->valuestring;
    y->voice = voice ? voice->valuestring : NULL;
    return 0;
}

/* voice: a style of the model, else a speaker (with the default style) */
int speech_voice(synth *y, const cJSON *spk2id, const cJSON *style2id, http_error *e) {
    if (cJSON_GetObjectItemCaseSensitive(style2id, y->voice)) y->p.style = y->voice;
    else if (cJSON_GetObjectItemCaseSensitive(spk2id, y->voice)) y->speaker = y->voice;
    else return fail_openai(e, 400, "voice", "voice '%s' is neither a style nor a speaker of the model", y->voice);
    return 0;
}
