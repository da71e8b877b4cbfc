/* sbv2_tts() against SBV2's own TTSModel.infer() on every case of
 * golden/tts (cases.json): sample count exact, float audio within 1e-4,
 * int16 within 1 LSB, per-token durations (the alignment) equal to
 * line<k>_w_ceil.npy, spans tiling the audio; the same audio at 1 and 3
 * threads; then the errors every bad input must give. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "formats/npy.h"
#include "model/layers.h"
#include "text/jp_adjust.h"
#include "sbv2.h"
#include "test_common.h"

#define TTS_DIR SBV2_GOLDEN_DIR "/tts"

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static double jnum(const cJSON *o, const char *k, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}
static int jbool(const cJSON *o, const char *k) { return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k)); }

/* int16 samples of a PCM16 mono WAV (44-byte header, as the golden files are) */
static int16_t *read_wav16(const char *path, size_t *n) {
    size_t len = 0;
    char *b = read_whole_file(path, &len);
    if (!b || len < 44 || memcmp(b, "RIFF", 4) || memcmp(b + 36, "data", 4)) { free(b); return NULL; }
    *n = (len - 44) / 2;
    int16_t *s = malloc(sizeof(int16_t) * (*n ? *n : 1));
    for (size_t i = 0; s && i < *n; i++) s[i] = (int16_t)((uint8_t)b[44 + 2 * i] | ((uint8_t)b[45 + 2 * i] << 8));
    free(b);
    return s;
}

typedef struct {
    char path[512];
    sbv2_model *m;
    sbv2_state *st;
} model_slot;

static sbv2_state *state_for(model_slot *slots, const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/model.safetensors", TTS_DIR, rel);
    for (int i = 0; i < 4; i++) {
        if (slots[i].m && !strcmp(slots[i].path, path)) return slots[i].st;
        if (!slots[i].m) {
            sbv2_error e = {0};
            slots[i].m = sbv2_model_load(path, &e);
            if (!slots[i].m) { fprintf(stderr, "cannot load %s: %s\n", path, e.message); return NULL; }
            slots[i].st = sbv2_state_new(slots[i].m, &e);
            snprintf(slots[i].path, sizeof slots[i].path, "%s", path);
            return slots[i].st;
        }
    }
    return NULL;
}

/* the case's params as sbv2_tts_params; given arrays live in the cJSON tree */
static sbv2_tts_params case_params(const cJSON *pj, const char ***gp, int **gt) {
    sbv2_tts_params p = sbv2_tts_default_params();
    p.speaker_id = (int)jnum(pj, "speaker_id", 0);
    p.style = jstr(pj, "style");
    p.style_weight = jnum(pj, "style_weight", 1.0);
    p.sdp_ratio = jnum(pj, "sdp_ratio", 0.2);
    p.noise = jnum(pj, "noise", 0.6);
    p.noise_w = jnum(pj, "noise_w", 0.8);
    p.length = jnum(pj, "length", 1.0);
    p.line_split = jbool(pj, "line_split");
    p.split_interval = jnum(pj, "split_interval", 0.5);
    p.assist_text = jstr(pj, "assist_text");
    p.assist_text_weight = jnum(pj, "assist_text_weight", 1.0);
    p.use_assist_text = jbool(pj, "use_assist_text");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(pj, "given_phone"), *t = cJSON_GetObjectItemCaseSensitive(pj, "given_tone");
    *gp = NULL, *gt = NULL;
    if (cJSON_IsArray(g)) {
        const int n = cJSON_GetArraySize(g);
        *gp = malloc(sizeof(char *) * (size_t)(n ? n : 1));
        for (int i = 0; i < n; i++) (*gp)[i] = cJSON_GetArrayItem(g, i)->valuestring;
        p.given_phone = *gp, p.n_given_phone = (size_t)n;
    }
    if (cJSON_IsArray(t)) {
        const int n = cJSON_GetArraySize(t);
        *gt = malloc(sizeof(int) * (size_t)(n ? n : 1));
        for (int i = 0; i < n; i++) (*gt)[i] = cJSON_GetArrayItem(t, i)->valueint;
        p.given_tone = *gt, p.n_given_tone = (size_t)n;
    }
    return p;
}

/* Streams the case at window sizes (first, max) and checks the chunks
 * joined against the one-shot result: samples within 1e-5, the same spans,
 * contiguous offsets, is_last only on the last chunk. */
static double stream_vs_oneshot(const sbv2_tts_result *one, sbv2_state *st, const sbv2_frontend *fe, const sbv2_bert *bert,
                                const char *text, sbv2_tts_params p, int first, int maxw, const char *id) {
    p.stream_first_frames = first, p.stream_max_frames = maxw;
    sbv2_tts_stream *s = NULL;
    sbv2_error e = {0};
    if (sbv2_tts_stream_start(st, fe, bert, text, &p, &s, &e) != SBV2_OK) {
        CHECK(0, "%s: stream start: %s", id, e.message);
        return INFINITY;
    }
    double md = 0;
    size_t pos = 0, spans = 0, chunks = 0;
    int ok = 1, last = 0;
    while (!last) {
        sbv2_tts_chunk c;
        if (sbv2_tts_stream_next(s, &c, &e) != SBV2_OK) {
            CHECK(0, "%s: stream next: %s", id, e.message);
            ok = 0;
            break;
        }
        chunks++;
        last = c.is_last;
        ok &= c.first_sample == (int64_t)pos && pos + c.n_samples <= one->n_samples;
        if (!ok) break;
        for (size_t i = 0; i < c.n_samples; i++) {
            const double d = fabs((double)c.samples[i] - one->audio[pos + i]);
            md = d > md ? d : md;
            const float v = c.samples[i] > 1 ? 1 : c.samples[i] < -1 ? -1 : c.samples[i];
            ok &= c.pcm16[i] == (int16_t)lrintf(v * 32767.0f);
        }
        for (size_t i = 0; i < c.n_spans && spans + i < one->n_spans; i++) {
            const sbv2_span *a = &c.spans[i], *b = &one->spans[spans + i];
            ok &= a->kind == b->kind && a->first_sample == b->first_sample && a->n_samples == b->n_samples && a->line == b->line &&
                  !strcmp(a->phone, b->phone) && a->char_index == b->char_index;
        }
        spans += c.n_spans;
        pos += c.n_samples;
    }
    sbv2_tts_chunk c;
    CHECK(sbv2_tts_stream_next(s, &c, &e) != SBV2_OK, "%s: a stream must refuse to go on after its last chunk", id);
    CHECK(ok && pos == one->n_samples && spans == one->n_spans,
          "%s (windows %d..%d): the stream's %zu samples / %zu spans in %zu chunks do not join into the one-shot %zu / %zu", id, first,
          maxw, pos, spans, chunks, one->n_samples, one->n_spans);
    CHECK(md <= 1e-5, "%s (windows %d..%d): streamed samples differ from the one-shot ones by %.3g > 1e-5", id, first, maxw, md);
    sbv2_tts_stream_free(s);
    return md;
}

static void check_case(const cJSON *c, sbv2_state *st, const sbv2_frontend *fe, const sbv2_bert *bert, double *worst_f, int *worst_i,
                       double *worst_s) {
    const char *id = jstr(c, "id");
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(c, "params"), *stats = cJSON_GetObjectItemCaseSensitive(c, "stats");
    const char **gp;
    int *gt;
    sbv2_tts_params p = case_params(pj, &gp, &gt);
    sbv2_tts_result *r[2] = {NULL, NULL};
    const int threads[2] = {1, 3};
    for (int k = 0; k < 2; k++) {
        sbv2_error e = {0};
        p.n_threads = threads[k];
        int rc = sbv2_tts(st, fe, bert, jstr(pj, "text"), &p, &r[k], &e);
        CHECK(rc == SBV2_OK, "%s: sbv2_tts failed at %d threads: %s", id, threads[k], e.message);
    }
    if (!r[0] || !r[1]) goto out;
    CHECK(r[0]->n_samples == r[1]->n_samples && !memcmp(r[0]->audio, r[1]->audio, sizeof(float) * r[0]->n_samples),
          "%s: 3 threads do not give the 1-thread audio bit for bit", id);
    const sbv2_tts_result *res = r[0];
    const size_t want = (size_t)jnum(stats, "samples", -1);
    CHECK(res->n_samples == want, "%s: %zu samples, SBV2 made %zu", id, res->n_samples, want);
    char path[700];
    snprintf(path, sizeof path, "%s/cases/%s/audio_float.npy", TTS_DIR, id);
    npy_array ref;
    sbv2_error e = {0};
    CHECK(npy_load(&ref, path, &e) == SBV2_OK, "%s: %s", id, e.message);
    size_t n16 = 0;
    snprintf(path, sizeof path, "%s/cases/%s/audio.wav", TTS_DIR, id);
    int16_t *ref16 = read_wav16(path, &n16);
    CHECK(ref16 != NULL, "%s: cannot read %s", id, path);
    if (res->n_samples == want && ref.numel == want && ref16 && n16 == want) {
        double md = 0;
        int mi = 0;
        size_t off = 0;
        for (size_t i = 0; i < want; i++) {
            const double d = fabs((double)res->audio[i] - (double)((float *)ref.data)[i]);
            md = d > md ? d : md;
            const int di = abs(res->pcm16[i] - ref16[i]);
            mi = di > mi ? di : mi;
            off += di != 0;
        }
        CHECK(md <= 1e-4, "%s: float audio max|d| %.3g > 1e-4", id, md);
        CHECK(mi <= 1, "%s: int16 differs by up to %d LSB", id, mi);
        printf("%-26s %7zu samples  %zu line(s)  float max|d| %.2e  int16 max %d LSB on %.2f%% of samples\n", id, want,
               res->n_lines, md, mi, 100.0 * (double)off / (double)want);
        *worst_f = md > *worst_f ? md : *worst_f;
        *worst_i = mi > *worst_i ? mi : *worst_i;
    }
    if (ref16) free(ref16);
    if (ref.data) npy_free(&ref);
    /* lines: texts as SBV2 saw them, durations = w_ceil exactly */
    const cJSON *lines = cJSON_GetObjectItemCaseSensitive(c, "lines");
    CHECK((size_t)cJSON_GetArraySize(lines) == res->n_lines, "%s: %zu lines, SBV2 had %d", id, res->n_lines, cJSON_GetArraySize(lines));
    for (size_t k = 0; k < res->n_lines && k < (size_t)cJSON_GetArraySize(lines); k++) {
        const cJSON *lj = cJSON_GetArrayItem(lines, (int)k);
        const sbv2_tts_line *l = &res->lines[k];
        CHECK(!strcmp(l->norm_text, jstr(lj, "norm_text")), "%s line %zu: norm_text '%s' != '%s'", id, k, l->norm_text, jstr(lj, "norm_text"));
        CHECK(!strcmp(l->bert_text, jstr(lj, "bert_text")), "%s line %zu: bert_text '%s' != '%s'", id, k, l->bert_text, jstr(lj, "bert_text"));
        CHECK(l->first_sample == (int64_t)jnum(lj, "offset", -1), "%s line %zu: starts at %lld", id, k, (long long)l->first_sample);
        snprintf(path, sizeof path, "%s/cases/%s/line%zu_w_ceil.npy", TTS_DIR, id, k);
        npy_array w;
        if (npy_load(&w, path, &e) != SBV2_OK) { CHECK(0, "%s: %s", id, e.message); continue; }
        CHECK(w.numel == l->n_spans, "%s line %zu: %zu tokens, SBV2 %zu", id, k, l->n_spans, w.numel);
        int same = w.numel == l->n_spans;
        for (size_t t = 0; same && t < w.numel; t++) same = res->spans[l->first_span + t].n_samples == (int64_t)((float *)w.data)[t] * 512;
        CHECK(same, "%s line %zu: token durations differ from w_ceil", id, k);
        npy_free(&w);
    }
    /* the spans tile the audio */
    int64_t pos = 0;
    int tiles = 1;
    for (size_t i = 0; i < res->n_spans; i++) {
        tiles &= res->spans[i].first_sample == pos && res->spans[i].n_samples >= 0;
        pos += res->spans[i].n_samples;
    }
    CHECK(tiles && pos == (int64_t)res->n_samples, "%s: spans do not tile the audio (%lld of %zu)", id, (long long)pos, res->n_samples);
    /* streamed: windows of 1 frame, 7, the default 8 doubling to 256, and longer than any line
       (under the sanitizers, ~10x slower, the small windows on the shortest case only) */
    static const int wins[4][2] = {{1, 1}, {7, 7}, {8, 256}, {1 << 20, 1 << 20}};
#if defined(__SANITIZE_ADDRESS__)
    const size_t small_max = 60000;
#else
    const size_t small_max = 300000;
#endif
    double sd = 0;
    p.n_threads = 1;
    for (int w = 0; w < 4; w++) {
        if (w < 2 && res->n_samples > small_max && (w == 0 || small_max < 300000)) continue; /* time */
        p.split_sentences = 0; /* as the one-shot call */
        const double d = stream_vs_oneshot(res, st, fe, bert, jstr(pj, "text"), p, wins[w][0], wins[w][1], id);
        sd = d > sd ? d : sd;
    }
    printf("%-26s streamed at windows %s8..256, whole lines: max|d| vs one-shot %.2e\n", id,
           res->n_samples <= small_max ? "1, 7, " : small_max < 300000 ? "" : "7, ", sd);
    *worst_s = sd > *worst_s ? sd : *worst_s;
out:
    sbv2_tts_result_free(r[0]), sbv2_tts_result_free(r[1]);
    free(gp), free(gt);
}

/* fails with code and a message containing what */
static void expect_error(sbv2_state *st, const sbv2_frontend *fe, const sbv2_bert *b, const char *text, const sbv2_tts_params *p,
                         int code, const char *what) {
    sbv2_tts_result *r = NULL;
    sbv2_error e = {0};
    const int rc = sbv2_tts(st, fe, b, text, p, &r, &e);
    CHECK(rc == code && r == NULL && strstr(e.message, what), "'%s': rc %d (want %d), message '%s' (want '%s')", what, rc, code,
          e.message, what);
    sbv2_tts_result_free(r);
}

static void bad_inputs(sbv2_state *st, const sbv2_frontend *fe, const sbv2_bert *b) {
    sbv2_tts_params p = sbv2_tts_default_params();
    const int IA = SBV2_ERR_INVALID_ARGUMENT;
    expect_error(st, fe, b, "", &p, IA, "empty");
    expect_error(st, fe, b, " \n\t\xe3\x80\x80 ", &p, IA, "white space");
    expect_error(st, fe, b, "abc\xff", &p, IA, "UTF-8");
    expect_error(st, fe, b, "\xe3\x81", &p, IA, "UTF-8");
    expect_error(st, fe, b, "###", &p, IA, "nothing to pronounce");
    expect_error(st, fe, b, NULL, &p, IA, "NULL");
    sbv2_tts_params q = p;
    q.max_chars = 4;
    expect_error(st, fe, b, "こんにちは", &q, IA, "limit");
    q = p, q.speaker_id = 99;
    expect_error(st, fe, b, "こんにちは", &q, SBV2_ERR_NOT_FOUND, "speaker id 99");
    q = p, q.speaker = "nobody";
    expect_error(st, fe, b, "こんにちは", &q, SBV2_ERR_NOT_FOUND, "nobody");
    q = p, q.style = "Furious";
    expect_error(st, fe, b, "こんにちは", &q, SBV2_ERR_NOT_FOUND, "Furious");
    q = p, q.noise = NAN;
    expect_error(st, fe, b, "こんにちは", &q, IA, "noise");
    q = p, q.length = -1;
    expect_error(st, fe, b, "こんにちは", &q, IA, "length");
    q = p, q.length = 0;
    expect_error(st, fe, b, "こんにちは", &q, IA, "length");
    q = p, q.sdp_ratio = 1e9;
    expect_error(st, fe, b, "こんにちは", &q, IA, "sdp_ratio");
    q = p, q.split_interval = -0.5;
    expect_error(st, fe, b, "こんにちは", &q, IA, "split_interval");
    q = p, q.style_weight = INFINITY;
    expect_error(st, fe, b, "こんにちは", &q, IA, "style_weight");
    q = p, q.language = "EN";
    expect_error(st, fe, b, "hello", &q, SBV2_ERR_UNSUPPORTED, "not supported");
    q = p, q.pitch_scale = 1.2;
    expect_error(st, fe, b, "こんにちは", &q, SBV2_ERR_UNSUPPORTED, "pitch_scale");
    q = p, q.struct_size = 8;
    expect_error(st, fe, b, "こんにちは", &q, IA, "struct_size");
    /* given phones/tones: SBV2's own errors */
    const char *ph[] = {"_", "k", "o", "N", "n", "i", "ch", "i", "w", "a", "_"};
    const int tn[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    q = p, q.line_split = 0, q.given_phone = ph, q.n_given_phone = 11, q.given_tone = tn, q.n_given_tone = 10;
    expect_error(st, fe, b, "こんにちは", &q, IA, "length of given_phone (11) != length of given_tone (10)");
    q.n_given_phone = 0;
    expect_error(st, fe, b, "こんにちは", &q, IA, "length of phone (11) != length of given_tone (10)");
    const char *bad[] = {"_", "k", "xx", "_"};
    const int bt[] = {0, 0, 0, 0};
    q.given_phone = bad, q.n_given_phone = 4, q.given_tone = bt, q.n_given_tone = 4;
    expect_error(st, fe, b, "こんにちは", &q, IA, "'xx' is not in SBV2's symbol table");
    /* well-formed given phones are used (one more than g2p makes: adjust_word2ph);
       with line_split on they are ignored (SBV2) */
    const char *ph12[] = {"_", "k", "o", "N", "n", "i", "ch", "i", "w", "a", "a", "_"};
    const int tn12[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    q.given_phone = ph12, q.n_given_phone = 12, q.given_tone = tn12, q.n_given_tone = 12, q.noise = q.noise_w = 0;
    sbv2_tts_result *r1 = NULL, *r2 = NULL;
    sbv2_error e = {0};
    CHECK(sbv2_tts(st, fe, b, "こんにちは", &q, &r1, &e) == SBV2_OK, "given phones: %s", e.message);
    size_t np = 0;
    for (size_t i = 0; r1 && i < r1->n_spans; i++) np += r1->spans[i].kind == SBV2_SPAN_PHONE;
    CHECK(r1 && np == 12, "given phones: %zu phones in the alignment, want 12", np);
    sbv2_tts_result_free(r1), r1 = NULL;
    q.line_split = 1;
    CHECK(sbv2_tts(st, fe, b, "こんにちは", &q, &r1, &e) == SBV2_OK, "given phones with line_split: %s", e.message);
    np = 0;
    for (size_t i = 0; r1 && i < r1->n_spans; i++) np += r1->spans[i].kind == SBV2_SPAN_PHONE;
    CHECK(r1 && np == 11, "given phones with line_split must be ignored (%zu phones)", np);
    sbv2_tts_result_free(r1), r1 = NULL;
    /* the seed makes noisy synthesis reproducible, and another seed changes it */
    q = p, q.seed = 7;
    CHECK(sbv2_tts(st, fe, b, "こんにちは", &q, &r1, &e) == SBV2_OK, "seed: %s", e.message);
    CHECK(sbv2_tts(st, fe, b, "こんにちは", &q, &r2, &e) == SBV2_OK, "seed: %s", e.message);
    CHECK(r1 && r2 && r1->n_samples == r2->n_samples && !memcmp(r1->audio, r2->audio, 4 * r1->n_samples),
          "the same seed gave other audio");
    sbv2_tts_result_free(r2), r2 = NULL;
    q.seed = 8;
    CHECK(sbv2_tts(st, fe, b, "こんにちは", &q, &r2, &e) == SBV2_OK, "seed: %s", e.message);
    CHECK(r1 && r2 && (r1->n_samples != r2->n_samples || memcmp(r1->audio, r2->audio, 4 * r1->n_samples)),
          "another seed gave the same audio");
    sbv2_tts_result_free(r1), sbv2_tts_result_free(r2);
    /* a line without phones among others is synthesised as SBV2 does, a pause between */
    q = p, q.noise = q.noise_w = 0;
    r1 = NULL;
    CHECK(sbv2_tts(st, fe, b, "あ\n###\nい", &q, &r1, &e) == SBV2_OK, "phone-less middle line: %s", e.message);
    CHECK(r1 && r1->n_lines == 3, "phone-less middle line: %zu lines", r1 ? r1->n_lines : 0);
    size_t pauses = 0;
    for (size_t i = 0; r1 && i < r1->n_spans; i++) pauses += r1->spans[i].kind == SBV2_SPAN_PAUSE && r1->spans[i].n_samples == 22050;
    CHECK(pauses == 2, "3 lines need 2 pauses of 22050 samples (%zu)", pauses);
    sbv2_tts_result_free(r1);
}

/* adjust_word2ph(): expectations from SBV2's own function (g2p.py at the
 * golden commit) run on these inputs; NULL = SBV2's assertion fails. */
static void adjust_cases(void) {
    static const struct {
        int w[6], nw;
        const char *g[12], *y[16];
        int ok[6];
    } C[] = {
        {{1, 1, 3, 1}, 4, {"_", "i", "t", "r", "t", "_"}, {"_", "i", "i", "t", "s", "sh", "r", "t", "a", "_"}, {0}},
        {{1, 3, 1}, 3, {"_", "a", "a", "a", "_"}, {"_", "a", "a", "s", "_"}, {1, 3, 1}},
        {{1, 3, 3, 4, 1}, 5, {"_", "m", "N", "s", "q", "m", "a", "t", "e", "sh", "r", "_"},
         {"_", "m", "N", "k", "s", "q", "i", "m", "a", "i", "t", "e", "sh", "r", "r", "_"}, {1, 4, 4, 6, 1}},
        {{1, 3, 1}, 3, {"_", "a", "m", "ch", "_"}, {"_", "m", "ch", "_"}, {1, 2, 1}},
        {{1, 2, 3, 1, 2, 1}, 6, {"_", "k", "o", "i", "u", "u", "o", "N", "u", "_"}, {"_", "k", "o", "i", "u", "u", "o", "t", "N", "u", "_"},
         {1, 2, 3, 1, 3, 1}},
        {{1, 3, 4, 3, 1}, 5, {"_", "a", "r", "a", "m", "o", "m", "q", "e", "i", "sh", "_"}, {"_", "a", "r", "a", "m", "o", "q", "e", "i", "_"}, {0}},
        {{1, 4, 3, 1}, 4, {"_", "r", "sh", "i", "q", "a", "t", "e", "_"}, {"_", "r", "e", "sh", "s", "i", "a", "t", "sh", "e", "_"}, {1, 5, 4, 1}},
    };
    for (size_t c = 0; c < sizeof C / sizeof C[0]; c++) {
        size_t ng = 0, ny = 0;
        while (ng < 12 && C[c].g[ng]) ng++;
        while (ny < 16 && C[c].y[ny]) ny++;
        int out[6] = {0};
        sbv2_error e = {0};
        const int rc = jp_adjust_word2ph(C[c].w, (size_t)C[c].nw, C[c].g, ng, C[c].y, ny, out, &e);
        if (!C[c].ok[0]) {
            CHECK(rc != SBV2_OK, "adjust_word2ph case %zu: SBV2 fails, sbv2c gave a result", c);
            continue;
        }
        CHECK(rc == SBV2_OK && !memcmp(out, C[c].ok, sizeof(int) * (size_t)C[c].nw), "adjust_word2ph case %zu differs from SBV2's", c);
    }
}

/* Many requests at once on one model, one BERT and one frontend, a state
 * each: every thread must get the serial audio bit for bit. */
typedef struct {
    sbv2_state *st;
    const sbv2_frontend *fe;
    const sbv2_bert *bert;
    const char *text;
    const sbv2_tts_params *p;
    sbv2_tts_result *r;
} job_t;

static void *run_job(void *arg) {
    job_t *j = arg;
    sbv2_error e = {0};
    if (sbv2_tts(j->st, j->fe, j->bert, j->text, j->p, &j->r, &e) != SBV2_OK) j->r = NULL;
    return NULL;
}

static void concurrent(const sbv2_model *m, const sbv2_frontend *fe, const sbv2_bert *bert) {
    sbv2_tts_params p = sbv2_tts_default_params();
    p.seed = 3, p.n_threads = 2;
    const char *text = "わーい！！\n魔境に足を踏み入れる。\nローカル路線にはファンも多い。";
    job_t j[4];
    pthread_t t[4];
    sbv2_error e = {0};
    for (int i = 0; i < 4; i++) j[i] = (job_t){sbv2_state_new(m, &e), fe, bert, text, &p, NULL};
    run_job(&j[0]); /* serial reference */
    for (int i = 1; i < 4; i++) pthread_create(&t[i], NULL, run_job, &j[i]);
    for (int i = 1; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 1; i < 4; i++)
        CHECK(j[0].r && j[i].r && j[i].r->n_samples == j[0].r->n_samples &&
                  !memcmp(j[i].r->audio, j[0].r->audio, sizeof(float) * j[0].r->n_samples),
              "concurrent request %d differs from the serial one", i);
    for (int i = 0; i < 4; i++) sbv2_tts_result_free(j[i].r), sbv2_state_free(j[i].st);
}

/* The decoder's other kernel forms (Winograd, FFT: their tiles and blocks
 * fall differently in a window), sentence splitting on both calls, and a
 * stream cancelled half-way (ASan: nothing leaks). */
static void stream_more(sbv2_state *st, const sbv2_frontend *fe, const sbv2_bert *bert) {
    const char *text = "わーい！！\n魔境に足を踏み入れる。\nローカル路線にはファンも多い。";
    sbv2_tts_params p = sbv2_tts_default_params();
    p.noise = p.noise_w = 0, p.split_sentences = 0;
    static const int forms[2] = {SBV2_PATH_WINOGRAD, SBV2_PATH_FFT};
    sbv2_error e = {0};
    for (int f = 0; f < 2; f++) {
        sbv2_state_set_conv_path(st, forms[f]);
        sbv2_tts_result *one = NULL;
        CHECK(sbv2_tts(st, fe, bert, text, &p, &one, &e) == SBV2_OK, "kernel form %d: %s", forms[f], e.message);
        if (one) {
            const double d = stream_vs_oneshot(one, st, fe, bert, text, p, 3, 40, forms[f] == SBV2_PATH_FFT ? "FFT form" : "Winograd form");
            printf("decoder %s form streamed at windows 3..40: max|d| vs one-shot %.2e\n", forms[f] == SBV2_PATH_FFT ? "FFT" : "Winograd", d);
        }
        sbv2_tts_result_free(one);
    }
    sbv2_state_set_conv_path(st, SBV2_PATH_DEFAULT);
    /* sentence split: a 60-character line in 3 sentences at sentence_chars 20, on both calls */
    const char *lng = "今日はとても良い天気なので、近くの公園まで散歩に行きました。桜が満開で綺麗です！明日も晴れるといいですね。";
    p.split_sentences = 1, p.sentence_chars = 20;
    sbv2_tts_result *one = NULL;
    CHECK(sbv2_tts(st, fe, bert, lng, &p, &one, &e) == SBV2_OK, "sentence split: %s", e.message);
    CHECK(one && one->n_lines == 3 && !strcmp(one->lines[1].text, "桜が満開で綺麗です！"), "sentence split: %zu units ('%s')",
          one ? one->n_lines : 0, one && one->n_lines > 1 ? one->lines[1].text : "");
    size_t pauses = 0;
    for (size_t i = 0; one && i < one->n_spans; i++) pauses += one->spans[i].kind == SBV2_SPAN_PAUSE;
    CHECK(pauses == 0, "sentences of one line get no pause (%zu)", pauses);
    if (one) stream_vs_oneshot(one, st, fe, bert, lng, p, 8, 256, "sentence split");
    sbv2_tts_result_free(one);
    /* cancelled after two chunks */
    sbv2_tts_stream *s = NULL;
    p.split_sentences = -1;
    CHECK(sbv2_tts_stream_start(st, fe, bert, text, &p, &s, &e) == SBV2_OK, "stream: %s", e.message);
    sbv2_tts_chunk c;
    CHECK(s && sbv2_tts_stream_next(s, &c, &e) == SBV2_OK && !c.is_last && c.n_samples == 8 * 512 && c.line == 0,
          "first chunk: 8 frames of line 0");
    CHECK(s && sbv2_tts_stream_next(s, &c, &e) == SBV2_OK && c.first_sample == 8 * 512, "second chunk follows the first");
    CHECK(sbv2_tts_stream_n_lines(s) == 3 && !strcmp(sbv2_tts_stream_line(s, 2)->text, "ローカル路線にはファンも多い。") &&
              !sbv2_tts_stream_line(s, 3),
          "stream lines");
    sbv2_tts_stream_free(s);
    /* a bad text fails at the start */
    s = NULL;
    CHECK(sbv2_tts_stream_start(st, fe, bert, "", &p, &s, &e) == SBV2_ERR_INVALID_ARGUMENT && !s, "stream of an empty text");
    p.stream_first_frames = 0;
    CHECK(sbv2_tts_stream_start(st, fe, bert, "あ", &p, &s, &e) == SBV2_ERR_INVALID_ARGUMENT && !s, "stream windows of 0 frames");
}

int main(void) {
    adjust_cases();
    golden_dir_or_skip(TTS_DIR);
    size_t len = 0;
    char *js = read_whole_file(TTS_DIR "/cases.json", &len);
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    free(js);
    if (!root) { fprintf(stderr, "FAIL: cannot read %s/cases.json\n", TTS_DIR); return 1; }
    sbv2_error e = {0};
    sbv2_bert *bert = sbv2_bert_load(TTS_DIR "/bert", NULL, &e);
    if (!bert) { fprintf(stderr, "FAIL: BERT: %s\n", e.message); return 1; }
    sbv2_frontend *fe = sbv2_frontend_new(NULL, &e);
    if (!fe) { fprintf(stderr, "FAIL: frontend: %s\n", e.message); return 1; }
    model_slot slots[4];
    memset(slots, 0, sizeof slots);
    double worst_f = 0, worst_s = 0;
    int worst_i = 0, n_cases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "cases")) {
        sbv2_state *st = state_for(slots, jstr(c, "model"));
        CHECK(st != NULL, "%s: no model", jstr(c, "id"));
        if (st) check_case(c, st, fe, bert, &worst_f, &worst_i, &worst_s), n_cases++;
    }
    CHECK(n_cases >= 11, "only %d cases ran", n_cases);
    printf("%d cases: float max|d| %.2e, int16 max %d LSB; streamed vs one-shot max|d| %.2e\n", n_cases, worst_f, worst_i, worst_s);
    if (slots[0].st) bad_inputs(slots[0].st, fe, bert);
    if (slots[0].m) concurrent(slots[0].m, fe, bert);
    if (slots[0].st) stream_more(slots[0].st, fe, bert);
    for (int i = 0; i < 4; i++) sbv2_state_free(slots[i].st), sbv2_model_free(slots[i].m);
    sbv2_frontend_free(fe);
    sbv2_bert_free(bert);
    cJSON_Delete(root);
    printf("tts: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
