/* sbv2 serve: SBV2's HTTP API (server_fastapi.py) and OpenAI's speech API
 * over libmicrohttpd, on models and a BERT loaded once and shared.
 *
 * Concurrency: libmicrohttpd runs a thread per connection; a synthesis
 * first takes one of --workers worker slots (a bounded queue waits for one:
 * full = 503), so at most workers x threads-per-request threads compute. A
 * streamed response keeps its slot until the last chunk or the client leaves
 * (libmicrohttpd then frees the response, which cancels the stream). */
#include <errno.h>
#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "encode.h"
#include "registry.h"
#include "request.h"
#include "sbv2.h"
#include "serve.h"

extern const unsigned char sbv2_page_html[]; /* server/web/index.html, embedded at build time */
extern const size_t sbv2_page_html_len;

/* ---- server state -------------------------------------------------------- */

enum { R_VOICE, R_SPEECH, R_MODELS_INFO, R_REFRESH, R_STATUS, R_HEALTH, R_METRICS, R_V1_MODELS, R_OTHER, R_N };
static const char *const ROUTE_NAMES[R_N] = {"/voice", "/v1/audio/speech", "/models/info", "/models/refresh", "/status",
                                             "/health", "/metrics", "/v1/models", "other"};
static const double LAT_BOUNDS[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define N_LAT (sizeof LAT_BOUNDS / sizeof LAT_BOUNDS[0])

typedef struct server {
    registry reg;
    sbv2_frontend *fe;
    sbv2_bert *bert;
    volatile int ready; /* the BERT is loaded */
    char bert_dir[4096];
    int threads, workers, queue_max, limit, quiet;
    double timeout_s;
    size_t max_body;
    const char *api_key, *cors;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int active, waiting, inflight, draining;
    /* metrics (under mu) */
    unsigned long count[R_N][6]; /* by status class 1xx..5xx, index 0 unused */
    unsigned long status_count[R_N][600];
    unsigned long lat[N_LAT + 1];
    double lat_sum;
    unsigned long lat_n, rejected_full;
    double audio_s, synth_s;
} server;

typedef struct req {
    server *s;
    bytes body;
    int too_big;
    double t0;
    int route, status;
    char method[8], path[256];
} req;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- responses --------------------------------------------------------------- */

static enum MHD_Result send_bytes(struct MHD_Connection *c, req *q, int status, const char *type, void *data, size_t n,
                                  int must_free) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, data, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (must_free) free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    if (q->s->cors) MHD_add_response_header(r, "Access-Control-Allow-Origin", q->s->cors);
    if (status == 503) MHD_add_response_header(r, "Retry-After", "1");
    q->status = status;
    const enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, req *q, int status, cJSON *j) {
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!t) return MHD_NO;
    return send_bytes(c, q, status, "application/json", t, strlen(t), 1);
}

/* FastAPI's shape: {"detail": [{"type", "loc": ["query", param], "msg", "input"}]} */
static enum MHD_Result send_422(struct MHD_Connection *c, req *q, const char *type, const char *param, const char *input,
                                const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf_utf8(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject(), *d = cJSON_AddArrayToObject(o, "detail"), *e = cJSON_CreateObject(), *loc = cJSON_CreateArray();
    cJSON_AddItemToArray(loc, cJSON_CreateString("query"));
    cJSON_AddItemToArray(loc, cJSON_CreateString(param));
    /* key order as FastAPI writes them: pydantic's (type, loc, msg, input), SBV2's own (type, msg, loc) */
    const int own = !strcmp(type, "invalid_params");
    cJSON_AddStringToObject(e, "type", type);
    if (!own) cJSON_AddItemToObject(e, "loc", loc);
    cJSON_AddStringToObject(e, "msg", msg);
    if (own) cJSON_AddItemToObject(e, "loc", loc);
    if (input) cJSON_AddStringToObject(e, "input", input);
    cJSON_AddItemToArray(d, e);
    return send_json(c, q, 422, o);
}

/* OpenAI's shape: {"error": {"message", "type", "param", "code"}} */
static enum MHD_Result send_oai(struct MHD_Connection *c, req *q, int status, const char *param, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf_utf8(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", status == 401 ? "authentication_error" : status >= 500 ? "server_error" : "invalid_request_error");
    if (param) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    cJSON_AddNullToObject(e, "code");
    return send_json(c, q, status, o);
}

static enum MHD_Result send_detail(struct MHD_Connection *c, req *q, int status, const char *msg) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "detail", msg);
    return send_json(c, q, status, o);
}

/* what request.c's parsers found wrong, in the route's shape */
static enum MHD_Result send_error(struct MHD_Connection *c, req *q, const http_error *e) {
    if (e->type) return send_422(c, q, e->type, e->param, e->input, "%s", e->message);
    return send_oai(c, q, e->status, e->param, "%s", e->message);
}

/* ---- worker slots ------------------------------------------------------------ */

/* 0: a slot is ours; -1: the queue is full; -2: waited past the deadline; -3: draining */
static int slot_acquire(server *s, double deadline) {
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->draining) rc = -3;
    else if (s->active >= s->workers) {
        if (s->waiting >= s->queue_max) {
            s->rejected_full++;
            rc = -1;
        } else {
            s->waiting++;
            while (s->active >= s->workers && rc == 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                const double left = deadline - now_s();
                if (left <= 0) {
                    rc = -2;
                    break;
                }
                const double until = (double)ts.tv_sec + 1e-9 * ts.tv_nsec + (left < 0.5 ? left : 0.5);
                ts.tv_sec = (time_t)until, ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
                pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            }
            s->waiting--;
        }
    }
    if (rc == 0) s->active++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void slot_release(server *s) {
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void add_audio(server *s, double audio_s, double synth_s) {
    pthread_mutex_lock(&s->mu);
    s->audio_s += audio_s, s->synth_s += synth_s;
    pthread_mutex_unlock(&s->mu);
}

/* ---- one synthesis --------------------------------------------------------------- */

/* A streamed response's life: slot, model, state, stream, encoder. */
typedef struct stream_ctx {
    server *s;
    model_entry *m;
    sbv2_state *st;
    sbv2_tts_stream *ts;
    audio_enc *enc;
    bytes out;
    size_t off;
    int sse, page, done, rate, line;
    double deadline, t0, audio;
} stream_ctx;

static void stream_ctx_free(void *cls) {
    stream_ctx *x = cls;
    server *s = x->s;
    if (x->audio > 0) add_audio(s, x->audio, now_s() - x->t0);
    sbv2_tts_stream_free(x->ts); /* a client that left cancels here */
    enc_free(x->enc);
    sbv2_state_free(x->st);
    registry_release(&s->reg, x->m);
    bytes_free(&x->out);
    free(x);
    slot_release(s);
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int add_sse(bytes *b, const char *type, const unsigned char *p, size_t n) {
    char head[96];
    snprintf(head, sizeof head, "data: {\"type\":\"%s\"%s", type, p ? ",\"audio\":\"" : "");
    if (bytes_add(b, head, strlen(head))) return -1;
    for (size_t i = 0; p && i < n; i += 3) {
        const unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        const char q[4] = {B64[v >> 18 & 63], B64[v >> 12 & 63], i + 1 < n ? B64[v >> 6 & 63] : '=', i + 2 < n ? B64[v & 63] : '='};
        if (bytes_add(b, q, 4)) return -1;
    }
    const char *tail = p ? "\"}\n\n" : "}\n\n";
    return bytes_add(b, tail, strlen(tail));
}

/* The web page's events: start, line (its texts), spans (the alignment),
 * audio (base64 s16le), done; an error as an event, since the status is sent. */
static int page_events(stream_ctx *x, const sbv2_tts_chunk *ch) {
    cJSON *ev = NULL;
    char *t;
    int rc = 0;
#define SEND(j) (t = cJSON_PrintUnformatted(j), cJSON_Delete(j), rc |= !t || bytes_add(&x->out, "data: ", 6) || bytes_add(&x->out, t, strlen(t)) || bytes_add(&x->out, "\n\n", 2), free(t))
    if (x->line < 0) {
        ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "type", "start");
        cJSON_AddNumberToObject(ev, "sampling_rate", x->rate);
        SEND(ev);
    }
    while (x->line < ch->line) {
        const sbv2_tts_line *l = sbv2_tts_stream_line(x->ts, (size_t)++x->line);
        ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "type", "line");
        cJSON_AddNumberToObject(ev, "index", x->line);
        cJSON_AddStringToObject(ev, "text", l ? l->text : "");
        cJSON_AddStringToObject(ev, "bert_text", l ? l->bert_text : "");
        SEND(ev);
    }
    if (ch->n_spans) {
        ev = cJSON_CreateObject();
        cJSON_AddStringToObject(ev, "type", "spans");
        cJSON *a = cJSON_AddArrayToObject(ev, "spans");
        for (size_t i = 0; i < ch->n_spans; i++) {
            const sbv2_span *sp = &ch->spans[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "phone", sp->phone);
            cJSON_AddNumberToObject(o, "line", sp->line);
            cJSON_AddNumberToObject(o, "char", sp->char_index);
            cJSON_AddNumberToObject(o, "first", (double)sp->first_sample);
            cJSON_AddNumberToObject(o, "n", (double)sp->n_samples);
            cJSON_AddItemToArray(a, o);
        }
        SEND(ev);
    }
#undef SEND
    bytes pcm = {0};
    for (size_t i = 0; i < ch->n_samples && !rc; i++) {
        const unsigned char le[2] = {(unsigned char)((uint16_t)ch->pcm16[i] & 0xFF), (unsigned char)((uint16_t)ch->pcm16[i] >> 8)};
        rc |= bytes_add(&pcm, le, 2);
    }
    if (!rc && ch->n_samples) rc = add_sse(&x->out, "audio", pcm.p, pcm.n);
    bytes_free(&pcm);
    if (!rc && ch->is_last) {
        char done[96];
        snprintf(done, sizeof done, "data: {\"type\":\"done\",\"samples\":%lld}\n\n", (long long)(ch->first_sample + (int64_t)ch->n_samples));
        rc = bytes_add(&x->out, done, strlen(done));
    }
    return rc;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    stream_ctx *x = cls;
    while (x->off == x->out.n) {
        if (x->done) return MHD_CONTENT_READER_END_OF_STREAM;
        if (now_s() > x->deadline) return MHD_CONTENT_READER_END_WITH_ERROR;
        x->out.n = x->off = 0;
        sbv2_tts_chunk ch;
        sbv2_error err = {0};
        if (sbv2_tts_stream_next(x->ts, &ch, &err) != SBV2_OK) {
            if (!x->page) return MHD_CONTENT_READER_END_WITH_ERROR;
            cJSON *ev = cJSON_CreateObject();
            cJSON_AddStringToObject(ev, "type", "error");
            cJSON_AddStringToObject(ev, "message", err.message);
            char *t = cJSON_PrintUnformatted(ev);
            cJSON_Delete(ev);
            x->done = 1;
            if (!t || bytes_add(&x->out, "data: ", 6) || bytes_add(&x->out, t, strlen(t)) || bytes_add(&x->out, "\n\n", 2)) {
                free(t);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            free(t);
            continue;
        }
        x->audio += (double)ch.n_samples / x->rate;
        if (x->page) {
            if (page_events(x, &ch)) return MHD_CONTENT_READER_END_WITH_ERROR;
            x->done = ch.is_last;
            continue;
        }
        bytes enc = {0};
        int rc = enc_push(x->enc, ch.pcm16, ch.n_samples, x->sse ? &enc : &x->out);
        if (rc == 0 && ch.is_last) rc = enc_finish(x->enc, x->sse ? &enc : &x->out), x->done = 1;
        if (rc == 0 && x->sse && enc.n) rc = add_sse(&x->out, "speech.audio.delta", enc.p, enc.n);
        if (rc == 0 && x->sse && x->done) rc = add_sse(&x->out, "speech.audio.done", NULL, 0);
        bytes_free(&enc);
        if (rc) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    const size_t n = x->out.n - x->off < max ? x->out.n - x->off : max;
    memcpy(buf, x->out.p + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

static int status_of(int code) {
    return code == SBV2_ERR_NO_MEMORY || code == SBV2_ERR_INTERNAL || code == SBV2_ERR_IO || code == SBV2_ERR_FORMAT ? 500 : 422;
}

static enum MHD_Result fail(struct MHD_Connection *c, req *q, const synth *y, int status, const char *param, const char *msg) {
    if (y->openai) return send_oai(c, q, status == 422 ? 400 : status, param, "%s", msg);
    if (status == 422) return send_422(c, q, "invalid_params", param, NULL, "%s", msg);
    return send_detail(c, q, status, msg);
}

static enum MHD_Result run_synth(struct MHD_Connection *c, req *q, synth *y) {
    server *s = q->s;
    sbv2_error err = {0};
    if (sbv2_tts_check_params(&y->p, &err) != SBV2_OK) return fail(c, q, y, status_of(err.code), NULL, err.message);
    if (!s->ready) return fail(c, q, y, 503, NULL, "the BERT is still loading");
    const double deadline = now_s() + s->timeout_s;
    const int sr = slot_acquire(s, deadline);
    if (sr) return fail(c, q, y, 503, NULL, sr == -1 ? "server busy: the queue is full" : sr == -2 ? "timed out in the queue" : "shutting down");
    model_entry *m = registry_acquire(&s->reg, y->model_name[0] ? y->model_name : NULL, y->model_id, &err);
    if (!m) {
        slot_release(s);
        if (err.code == SBV2_ERR_NOT_FOUND) {
            char msg[400];
            if (y->model_name[0]) snprintf(msg, sizeof msg, "model_name=%s not found", y->model_name);
            else snprintf(msg, sizeof msg, "model_id=%ld not found", y->model_id);
            return fail(c, q, y, y->openai ? 404 : 422, y->model_name[0] ? (y->openai ? "model" : "model_name") : "model_id", msg);
        }
        return fail(c, q, y, 500, NULL, err.message);
    }
    http_error e;
    if (check_voice(y, m->spk2id, m->style2id, &e)) {
        registry_release(&s->reg, m);
        slot_release(s);
        return send_error(c, q, &e);
    }
    sbv2_state *st = sbv2_state_new(m->model, &err);
    sbv2_model_info info;
    sbv2_model_get_info(m->model, &info);
    y->p.n_threads = s->threads / s->workers > 0 ? s->threads / s->workers : 1;
    if (st && y->stream) {
        stream_ctx *x = calloc(1, sizeof *x);
        sbv2_tts_stream *ts = NULL;
        audio_enc *enc = x ? enc_new(y->format, info.sampling_rate) : NULL;
        if (enc && sbv2_tts_stream_start(st, s->fe, s->bert, y->text, &y->p, &ts, &err) == SBV2_OK) {
            *x = (stream_ctx){s, m, st, ts, enc, {0}, 0, y->sse, y->page, 0, info.sampling_rate, -1, deadline, now_s(), 0};
            struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, x, stream_ctx_free);
            if (!r) {
                stream_ctx_free(x);
                return MHD_NO;
            }
            MHD_add_response_header(r, "Content-Type", y->sse || y->page ? "text/event-stream" : enc_mime(y->format));
            if (y->page || y->sse) MHD_add_response_header(r, "Cache-Control", "no-cache");
            MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* nginx: pass chunks on as they come */
            if (s->cors) MHD_add_response_header(r, "Access-Control-Allow-Origin", s->cors);
            q->status = 200;
            const enum MHD_Result rc = MHD_queue_response(c, 200, r);
            MHD_destroy_response(r);
            return rc;
        }
        if (!err.message[0]) snprintf(err.message, sizeof err.message, "out of memory");
        enc_free(enc), free(x);
        sbv2_state_free(st);
        registry_release(&s->reg, m);
        slot_release(s);
        return fail(c, q, y, status_of(err.code), NULL, err.message);
    }
    sbv2_tts_result *res = NULL;
    const double t0 = now_s();
    int rc = st ? sbv2_tts(st, s->fe, s->bert, y->text, &y->p, &res, &err) : err.code;
    sbv2_state_free(st);
    registry_release(&s->reg, m);
    slot_release(s);
    if (rc != SBV2_OK) return fail(c, q, y, status_of(rc), NULL, err.message);
    add_audio(s, (double)res->n_samples / res->sampling_rate, now_s() - t0);
    void *wav = NULL;
    size_t n = 0;
    enum MHD_Result out;
    if (!strcmp(y->format, "wav")) { /* the same bytes as sbv2 say and scipy's wavfile.write */
        if (sbv2_wav_encode(res->pcm16, res->n_samples, res->sampling_rate, &wav, &n, &err) != SBV2_OK) {
            sbv2_tts_result_free(res);
            return fail(c, q, y, 500, NULL, err.message);
        }
        out = send_bytes(c, q, 200, "audio/wav", wav, n, 1);
    } else {
        bytes b = {0};
        audio_enc *e = enc_new(y->format, res->sampling_rate);
        const int ok = e && enc_push(e, res->pcm16, res->n_samples, &b) == 0 && enc_finish(e, &b) == 0;
        enc_free(e);
        if (!ok) {
            bytes_free(&b);
            sbv2_tts_result_free(res);
            return fail(c, q, y, 500, NULL, "encoding failed");
        }
        if (y->sse) {
            bytes sse = {0};
            const int ok2 = add_sse(&sse, "speech.audio.delta", b.p, b.n) == 0 && add_sse(&sse, "speech.audio.done", NULL, 0) == 0;
            bytes_free(&b);
            if (!ok2) {
                bytes_free(&sse);
                sbv2_tts_result_free(res);
                return MHD_NO;
            }
            b = sse;
        }
        out = send_bytes(c, q, 200, y->sse ? "text/event-stream" : enc_mime(y->format), b.p ? b.p : malloc(1), b.n, 1);
    }
    sbv2_tts_result_free(res);
    return out;
}

/* ---- request parsing -------------------------------------------------------------- */

/* query_args over libmicrohttpd's GET arguments (ctx: the connection) */
static const char *mhd_get(void *ctx, const char *key) { return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key); }

typedef struct {
    int (*f)(void *cls, const char *key, const char *value);
    void *cls;
} mhd_each_ctx;

static enum MHD_Result mhd_each_one(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    const mhd_each_ctx *x = cls;
    return x->f(x->cls, key, value) ? MHD_NO : MHD_YES;
}

static void mhd_each(void *ctx, int (*f)(void *cls, const char *key, const char *value), void *cls) {
    mhd_each_ctx x = {f, cls};
    MHD_get_connection_values(ctx, MHD_GET_ARGUMENT_KIND, mhd_each_one, &x);
}

static enum MHD_Result route_voice(struct MHD_Connection *c, req *q) {
    const query_args args = {c, mhd_get, mhd_each};
    synth y;
    http_error e;
    const int rc = voice_parse(&args, q->s->limit, registry_count(&q->s->reg), &y, &e);
    if (rc) return rc < 0 ? MHD_NO : send_error(c, q, &e);
    const enum MHD_Result r = run_synth(c, q, &y);
    synth_free(&y);
    return r;
}

static enum MHD_Result route_speech(struct MHD_Connection *c, req *q) {
    server *s = q->s;
    synth y;
    http_error e;
    const int rc = speech_parse((const char *)q->body.p, q->body.n, s->limit, &y, &e);
    if (rc) return rc < 0 ? MHD_NO : send_error(c, q, &e);
    enum MHD_Result r;
    if (y.voice) { /* a style or a speaker: the model's config says which */
        sbv2_error err = {0};
        model_entry *m = registry_acquire(&s->reg, y.model, 0, &err);
        if (!m) r = err.code == SBV2_ERR_NOT_FOUND ? send_oai(c, q, 404, "model", "model '%s' not found", y.model ? y.model : "")
                                                   : send_oai(c, q, 500, NULL, "%s", err.message);
        else {
            const int bad = speech_voice(&y, m->spk2id, m->style2id, &e);
            registry_release(&s->reg, m);
            r = bad ? send_error(c, q, &e) : run_synth(c, q, &y);
        }
    } else r = run_synth(c, q, &y);
    synth_free(&y);
    return r;
}

/* psutil's cpu_percent and virtual_memory, from /proc */
static void cpu_times(unsigned long long *busy, unsigned long long *total) {
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[10] = {0};
    if (f) {
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", v, v + 1, v + 2, v + 3, v + 4, v + 5, v + 6, v + 7, v + 8,
                   v + 9) < 4) {}
        fclose(f);
    }
    *total = 0;
    for (int i = 0; i < 8; i++) *total += v[i];
    *busy = *total - v[3] - v[4];
}

static unsigned long long meminfo(const char *key) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    const size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            kb = strtoull(line + kl + 1, NULL, 10);
            break;
        }
    if (f) fclose(f);
    return kb * 1024;
}

static enum MHD_Result route_status(struct MHD_Connection *c, req *q) {
    unsigned long long b0, t0, b1, t1;
    cpu_times(&b0, &t0);
    usleep(200000); /* psutil samples over 1 s; 0.2 s is enough to see the load */
    cpu_times(&b1, &t1);
    const unsigned long long total = meminfo("MemTotal"), avail = meminfo("MemAvailable"), free_ = meminfo("MemFree");
    const unsigned long long used = total - free_ - meminfo("Buffers") - meminfo("Cached") - meminfo("SReclaimable");
    cJSON *o = cJSON_CreateObject(), *dev = cJSON_AddArrayToObject(o, "devices");
    cJSON_AddItemToArray(dev, cJSON_CreateString("cpu"));
    cJSON_AddNumberToObject(o, "cpu_percent", t1 > t0 ? round(1000.0 * (double)(b1 - b0) / (double)(t1 - t0)) / 10 : 0);
    cJSON_AddNumberToObject(o, "memory_total", (double)total);
    cJSON_AddNumberToObject(o, "memory_available", (double)avail);
    cJSON_AddNumberToObject(o, "memory_used", (double)used);
    cJSON_AddNumberToObject(o, "memory_percent", total ? round(1000.0 * (double)(total - avail) / (double)total) / 10 : 0);
    cJSON_AddArrayToObject(o, "gpu");
    return send_json(c, q, 200, o);
}

static double rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return (double)res * (double)sysconf(_SC_PAGESIZE);
}

static enum MHD_Result route_metrics(struct MHD_Connection *c, req *q) {
    server *s = q->s;
    bytes b = {0};
    char line[512];
#define EMIT(...) (snprintf(line, sizeof line, __VA_ARGS__), bytes_add(&b, line, strlen(line)))
    pthread_mutex_lock(&s->mu);
    EMIT("# HELP sbv2_requests_total HTTP requests by route and status.\n# TYPE sbv2_requests_total counter\n");
    for (int r = 0; r < R_N; r++)
        for (int st = 100; st < 600; st++)
            if (s->status_count[r][st]) EMIT("sbv2_requests_total{route=\"%s\",status=\"%d\"} %lu\n", ROUTE_NAMES[r], st, s->status_count[r][st]);
    EMIT("# HELP sbv2_request_seconds Time to the response (streams: to its start).\n# TYPE sbv2_request_seconds histogram\n");
    unsigned long cum = 0;
    for (size_t i = 0; i < N_LAT; i++) cum += s->lat[i], EMIT("sbv2_request_seconds_bucket{le=\"%g\"} %lu\n", LAT_BOUNDS[i], cum);
    cum += s->lat[N_LAT];
    EMIT("sbv2_request_seconds_bucket{le=\"+Inf\"} %lu\nsbv2_request_seconds_sum %.6f\nsbv2_request_seconds_count %lu\n", cum, s->lat_sum, s->lat_n);
    EMIT("# HELP sbv2_audio_seconds_total Seconds of audio made.\n# TYPE sbv2_audio_seconds_total counter\nsbv2_audio_seconds_total %.3f\n", s->audio_s);
    EMIT("# HELP sbv2_synthesis_seconds_total Wall time spent making it.\n# TYPE sbv2_synthesis_seconds_total counter\nsbv2_synthesis_seconds_total %.3f\n", s->synth_s);
    EMIT("# HELP sbv2_real_time_factor Synthesis seconds per audio second so far.\n# TYPE sbv2_real_time_factor gauge\nsbv2_real_time_factor %.4f\n",
         s->audio_s > 0 ? s->synth_s / s->audio_s : 0.0);
    EMIT("# HELP sbv2_queue_depth Requests waiting for a worker.\n# TYPE sbv2_queue_depth gauge\nsbv2_queue_depth %d\n", s->waiting);
    EMIT("# HELP sbv2_workers_busy Workers synthesising.\n# TYPE sbv2_workers_busy gauge\nsbv2_workers_busy %d\n", s->active);
    EMIT("# HELP sbv2_rejected_total Requests refused with 503 because the queue was full.\n# TYPE sbv2_rejected_total counter\nsbv2_rejected_total %lu\n",
         s->rejected_full);
    pthread_mutex_unlock(&s->mu);
    EMIT("# HELP sbv2_models_loaded Models in memory.\n# TYPE sbv2_models_loaded gauge\nsbv2_models_loaded %d\n", registry_loaded(&s->reg));
    EMIT("# HELP sbv2_resident_bytes Resident set size.\n# TYPE sbv2_resident_bytes gauge\nsbv2_resident_bytes %.0f\n", rss_bytes());
    EMIT("# HELP sbv2_ready 1 once the BERT is loaded.\n# TYPE sbv2_ready gauge\nsbv2_ready %d\n", s->ready);
#undef EMIT
    return send_bytes(c, q, 200, "text/plain; version=0.0.4", b.p ? b.p : malloc(1), b.n, 1);
}

/* ---- dispatch ------------------------------------------------------------------ */

static int route_of(const char *url) {
    for (int r = 0; r < R_OTHER; r++)
        if (!strcmp(url, ROUTE_NAMES[r])) return r;
    return R_OTHER;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                               const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    server *s = cls;
    req *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q) return MHD_NO;
        q->s = s, q->t0 = now_s(), q->route = route_of(url);
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->path, sizeof q->path, "%s", url);
        *con_cls = q;
        pthread_mutex_lock(&s->mu);
        s->inflight++;
        pthread_mutex_unlock(&s->mu);
        return MHD_YES;
    }
    if (*upload_size) { /* the body, up to --max-body */
        if (q->body.n + *upload_size > s->max_body) q->too_big = 1;
        else if (bytes_add(&q->body, upload, *upload_size)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->body.n) bytes_add(&q->body, "", 1), q->body.n--; /* NUL-terminated for the parsers */
    const int r = q->route;
    if (q->too_big) return r == R_SPEECH ? send_oai(c, q, 413, NULL, "the body is larger than %zu bytes", s->max_body)
                                         : send_detail(c, q, 413, "Request Entity Too Large");
    if (!strcmp(method, "OPTIONS") && s->cors) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->cors);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        q->status = 204;
        const enum MHD_Result rc = MHD_queue_response(c, 204, resp);
        MHD_destroy_response(resp);
        return rc;
    }
    if (!strcmp(url, "/") && !strcmp(method, "GET")) /* the page itself needs no key: it asks for one */
        return send_bytes(c, q, 200, "text/html; charset=utf-8", (void *)sbv2_page_html, sbv2_page_html_len, 0);
    if (r == R_HEALTH) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        cJSON_AddBoolToObject(o, "ready", s->ready);
        cJSON_AddNumberToObject(o, "models", (double)registry_count(&s->reg));
        return send_json(c, q, 200, o);
    }
    if (s->api_key) {
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!auth || strncmp(auth, "Bearer ", 7) || strcmp(auth + 7, s->api_key))
            return r == R_SPEECH || r == R_V1_MODELS ? send_oai(c, q, 401, NULL, "a valid API key is required (Authorization: Bearer KEY)")
                                                     : send_detail(c, q, 401, "Not authenticated");
    }
    pthread_mutex_lock(&s->mu);
    const int draining = s->draining;
    pthread_mutex_unlock(&s->mu);
    if (draining) return send_detail(c, q, 503, "shutting down");
    const int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    switch (r) {
    case R_VOICE: return get || post ? route_voice(c, q) : send_detail(c, q, 405, "Method Not Allowed");
    case R_SPEECH: return post ? route_speech(c, q) : send_detail(c, q, 405, "Method Not Allowed");
    case R_MODELS_INFO: return get ? send_json(c, q, 200, registry_info(&s->reg)) : send_detail(c, q, 405, "Method Not Allowed");
    case R_REFRESH: {
        if (!post) return send_detail(c, q, 405, "Method Not Allowed");
        sbv2_error err = {0};
        if (registry_refresh(&s->reg, &err) != 0) return send_detail(c, q, 500, err.message);
        return send_json(c, q, 200, registry_info(&s->reg));
    }
    case R_STATUS: return get ? route_status(c, q) : send_detail(c, q, 405, "Method Not Allowed");
    case R_METRICS: return get ? route_metrics(c, q) : send_detail(c, q, 405, "Method Not Allowed");
    case R_V1_MODELS: return get ? send_json(c, q, 200, registry_openai_models(&s->reg)) : send_detail(c, q, 405, "Method Not Allowed");
    default: return send_detail(c, q, 404, "Not Found");
    }
}

/* the access log line and the metrics of a finished request */
static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    server *s = cls;
    req *q = *con_cls;
    if (!q) return;
    const double dt = now_s() - q->t0;
    pthread_mutex_lock(&s->mu);
    s->inflight--;
    if (q->status >= 100 && q->status < 600) s->status_count[q->route][q->status]++;
    size_t b = 0;
    while (b < N_LAT && dt > LAT_BOUNDS[b]) b++;
    s->lat[b]++, s->lat_sum += dt, s->lat_n++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (!s->quiet) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char host[64] = "-";
        if (ci && ci->client_addr) getnameinfo(ci->client_addr, sizeof(struct sockaddr_storage), host, sizeof host, NULL, 0, NI_NUMERICHOST);
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(stderr, "{\"ts\":\"%s\",\"client\":\"%s\",\"method\":\"%s\",\"path\":\"%s\",\"status\":%d,\"ms\":%.1f%s}\n", ts, host, q->method,
                q->path, q->status, 1000 * dt, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ",\"aborted\":true");
    }
    bytes_free(&q->body);
    free(q);
    *con_cls = NULL;
}

/* ---- main -------------------------------------------------------------------- */

static void *load_bert(void *cls) {
    server *s = cls;
    sbv2_error err = {0};
    s->bert = sbv2_bert_load(s->bert_dir, NULL, &err);
    if (!s->bert || sbv2_bert_hidden_size(s->bert) != SBV2_BERT_DIM) {
        fprintf(stderr, "sbv2 serve: BERT %s: %s\n", s->bert_dir, s->bert ? "its hidden size is not 1024" : err.message);
        exit(1);
    }
    __atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
    fprintf(stderr, "sbv2 serve: ready (BERT %s)\n", s->bert_dir);
    return NULL;
}

static const char k_usage[] =
    "usage: sbv2 serve --models DIR [--bert DIR] [--host 127.0.0.1] [--port 5000] [--threads N]\n"
    "                  [--workers N] [--queue N] [--limit 100] [--max-loaded 4] [--timeout 120]\n"
    "                  [--max-body 1048576] [--api-key KEY] [--cors-origin ORIGIN] [--quiet]\n"
    "  SBV2's HTTP API (/voice, /models/info, /models/refresh, /status) and OpenAI's speech API\n"
    "  (/v1/audio/speech, /v1/models), plus /health and /metrics.\n"
    "  --models DIR     SBV2's model_assets layout: one folder per model (config.json,\n"
    "                   style_vectors.npy, .safetensors; the newest .safetensors is used)\n"
    "  --bert DIR       deberta-v2-large-japanese-char-wwm; default: $SBV2_BERT_DIR, else\n"
    "                   bert/deberta-v2-large-japanese-char-wwm beside DIR (SBV2's layout)\n"
    "  --host, --port   where to listen (127.0.0.1:5000; port 0 = any free port, printed)\n"
    "  --threads N      compute threads in all (default: the CPUs); --workers N syntheses at\n"
    "                   once (default: --threads), each with threads/workers threads\n"
    "  --queue N        requests that may wait for a worker (64); more get 503 + Retry-After\n"
    "  --limit N        longest text in characters (100, SBV2's config; 0 = none)\n"
    "  --max-loaded N   models kept in memory (4), the least recently used dropped\n"
    "  --timeout S      a request's deadline in seconds: queue wait and streaming (120)\n"
    "  --api-key KEY    require 'Authorization: Bearer KEY' on every route but /health\n"
    "  --cors-origin O  send Access-Control-Allow-Origin: O (and answer preflights)\n"
    "  --quiet          no access log on stderr\n";

int serve_main(int argc, char **argv) {
    static server S; /* one per process: the signal wait below is process-wide */
    server *s = &S;
    const char *models = NULL, *bert = NULL, *host = "127.0.0.1";
    long port = 5000, threads = sysconf(_SC_NPROCESSORS_ONLN), workers = 0, queue = 64, limit = 100, max_loaded = 4;
    double timeout = 120;
    long max_body = 1 << 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *e = NULL;
        long *ln = !strcmp(a, "--port") ? &port : !strcmp(a, "--threads") ? &threads : !strcmp(a, "--workers") ? &workers
                 : !strcmp(a, "--queue") ? &queue : !strcmp(a, "--limit") ? &limit : !strcmp(a, "--max-loaded") ? &max_loaded
                 : !strcmp(a, "--max-body") ? &max_body : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(a, "--quiet")) { s->quiet = 1; continue; }
        else if (!v) { fprintf(stderr, "sbv2 serve: %s needs a value\n%s", a, k_usage); return 2; }
        else if (ln) {
            *ln = strtol(v, &e, 10);
            if (*e || *ln < 0 || *ln > (1L << 30) || (ln == &port && *ln > 65535)) { fprintf(stderr, "sbv2 serve: bad %s %s\n", a, v); return 2; }
        } else if (!strcmp(a, "--timeout")) {
            timeout = strtod(v, &e);
            if (*e || !(timeout > 0 && timeout < 1e6)) { fprintf(stderr, "sbv2 serve: bad --timeout %s\n", v); return 2; }
        } else if (!strcmp(a, "--models")) models = v;
        else if (!strcmp(a, "--bert")) bert = v;
        else if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--api-key")) s->api_key = v;
        else if (!strcmp(a, "--cors-origin")) s->cors = v;
        else { fprintf(stderr, "sbv2 serve: unknown option %s\n%s", a, k_usage); return 2; }
        i++;
    }
    if (!models) { fprintf(stderr, "sbv2 serve: --models DIR is required\n%s", k_usage); return 2; }
#ifdef __GLIBC__
    /* Each request allocates and frees buffers sized by its text. glibc raises
     * its mmap threshold after every large free, so those buffers move onto the
     * heaps and leave holes there: the server's RSS crept up by 10-30 % over
     * the first thousands of requests. A fixed threshold returns them to the
     * system each time: RSS flat after warm-up, throughput the same within
     * noise. MALLOC_MMAP_THRESHOLD_ in the environment still wins. */
    if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
    if (threads < 1) threads = 1;
    if (workers < 1) workers = threads;
    if (workers > threads) { fprintf(stderr, "sbv2 serve: --workers (%ld) cannot exceed --threads (%ld)\n", workers, threads); return 2; }
    s->threads = (int)threads, s->workers = (int)workers, s->queue_max = (int)queue, s->limit = (int)limit;
    s->timeout_s = timeout, s->max_body = (size_t)max_body;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    sbv2_error err = {0};
    if (registry_init(&s->reg, models, (int)max_loaded, &err) != 0) { fprintf(stderr, "sbv2 serve: %s\n", err.message); return 1; }
    if (registry_count(&s->reg) == 0) { fprintf(stderr, "sbv2 serve: no models found in %s\n", models); return 1; }
    /* the BERT: --bert, $SBV2_BERT_DIR, bert/<name> beside the models folder */
    const char *env = getenv("SBV2_BERT_DIR");
    struct stat st;
    char probe[4200];
    if (bert) snprintf(s->bert_dir, sizeof s->bert_dir, "%s", bert);
    else if (env && *env) snprintf(s->bert_dir, sizeof s->bert_dir, "%s", env);
    else snprintf(s->bert_dir, sizeof s->bert_dir, "%s/../bert/deberta-v2-large-japanese-char-wwm", models);
    snprintf(probe, sizeof probe, "%s/config.json", s->bert_dir);
    if (stat(probe, &st) != 0) {
        fprintf(stderr, "sbv2 serve: no BERT at %s (give --bert DIR or SBV2_BERT_DIR)\n", s->bert_dir);
        return 1;
    }
    s->fe = sbv2_frontend_new(NULL, &err);
    if (!s->fe) { fprintf(stderr, "sbv2 serve: frontend: %s\n", err.message); return 1; }
    /* signals are taken by this thread alone (sigwait below) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC, hints.ai_socktype = SOCK_STREAM, hints.ai_flags = AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%ld", port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai) { fprintf(stderr, "sbv2 serve: cannot resolve --host %s\n", host); return 1; }
    const unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
                           (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                            (size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) { fprintf(stderr, "sbv2 serve: cannot listen on %s:%ld: %s\n", host, port, strerror(errno)); return 1; }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "sbv2 serve: listening on http://%s:%u (%zu models, %d workers x %d threads, queue %d, %s)\n", host,
            di ? di->port : (unsigned)port, registry_count(&s->reg), s->workers, s->threads / s->workers > 0 ? s->threads / s->workers : 1,
            s->queue_max, sbv2_system_info());
    pthread_t bt;
    pthread_create(&bt, NULL, load_bert, s);
    int sig = 0;
    sigwait(&set, &sig);
    /* SIGTERM: refuse new work, let what runs finish, then exit 0 */
    fprintf(stderr, "sbv2 serve: %s: finishing the requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    pthread_mutex_lock(&s->mu);
    s->draining = 1;
    const double until = now_s() + s->timeout_s;
    while (s->inflight > 0 && now_s() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(d);
    pthread_join(bt, NULL);
    registry_free(&s->reg);
    sbv2_bert_free(s->bert);
    sbv2_frontend_free(s->fe);
    fprintf(stderr, "sbv2 serve: stopped\n");
    return 0;
}
