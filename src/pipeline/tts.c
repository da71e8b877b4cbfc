/* Text in, audio out: SBV2's TTSModel.infer() (tts_model.py) over
 * models/infer.py's get_text() and infer(): per line normalize_text -> g2p
 * (raise_yomi_error=False) -> given phones/tones -> ids + blanks -> BERT
 * feature -> net_g.infer(); lines joined with int(44100 * split_interval)
 * zeros; convert_to_16_bit_wav. Every line is read by the frontend first,
 * so bad text fails before any model work. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "bert/deberta.h"
#include "common.h"
#include "pipeline/tts.h"
#include "model/model.h"
#include "text/frontend.h"
#include "text/jp_adjust.h"
#include "text/jp_tables.h"
#include "text/utf8.h"

sbv2_tts_params sbv2_tts_default_params(void) {
    sbv2_tts_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.language = "JP";
    p.style = "Neutral";
    p.style_weight = 1.0;
    p.sdp_ratio = 0.2;
    p.noise = 0.6;
    p.noise_w = 0.8;
    p.length = 1.0;
    p.line_split = 1;
    p.split_interval = 0.5;
    p.assist_text_weight = 1.0;
    p.pitch_scale = 1.0;
    p.intonation_scale = 1.0;
    p.max_chars = 5000;
    p.split_sentences = -1;
    p.sentence_chars = 100;
    p.stream_first_frames = 8;
    p.stream_max_frames = 256;
    p.n_threads = 1;
    return p;
}

typedef struct {
    sbv2_tts_result pub;
    float *audio;
    int16_t *pcm;
    sbv2_span *spans;
    sbv2_tts_line *lines;
} tts_result_impl;

void sbv2_tts_result_free(sbv2_tts_result *result) {
    if (!result) return;
    tts_result_impl *r = (tts_result_impl *)result; /* pub is the first member */
    for (size_t i = 0; r->lines && i < r->pub.n_lines; i++)
        free((char *)r->lines[i].text), free((char *)r->lines[i].norm_text), free((char *)r->lines[i].bert_text);
    free(r->audio), free(r->pcm), free(r->spans), free(r->lines);
    free(r);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One line after the frontend: what get_text() hands to the BERT and net_g. */
typedef struct {
    sbv2_g2p_result *g;
    size_t n_ph;              /* phones ("_" at both ends) */
    const char **phones;      /* static symbol strings */
    int *tones;               /* 0/1 (or given) */
    int *w2p;                 /* [n_w2p] per BERT token, before add_blank */
    size_t n_w2p;
    size_t L;                 /* model tokens */
    int64_t *ids;             /* phone, tone, lang ids: [3][L] */
    int *w2p_model;           /* [n_w2p]: word2ph as extract_bert_feature gets it */
} line_in;

static void line_free(line_in *l) {
    sbv2_g2p_result_free(l->g);
    free(l->phones), free(l->tones), free(l->w2p), free(l->ids), free(l->w2p_model);
    memset(l, 0, sizeof *l);
}

/* clean_text_with_given_phone_tone(): the frontend's phones, tones and
 * word2ph, replaced by given_phone / given_tone the way SBV2 does it. */
static int apply_given(line_in *l, const sbv2_tts_params *p, int jp_extra, sbv2_error *err) {
    const char **given = NULL;
    if (p->n_given_phone && p->n_given_tone) {
        if (p->n_given_phone != p->n_given_tone)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "length of given_phone (%zu) != length of given_tone (%zu)",
                             p->n_given_phone, p->n_given_tone);
        given = malloc(sizeof *given * p->n_given_phone);
        if (!given) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        for (size_t i = 0; i < p->n_given_phone; i++) {
            const char *s = p->given_phone[i] ? p->given_phone[i] : "";
            given[i] = jp_phone_intern(s, strlen(s)); /* NULL: not a symbol (SBV2: KeyError) */
            if (!given[i]) {
                free(given);
                return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "given_phone[%zu] '%s' is not in SBV2's symbol table", i, s);
            }
        }
        long sum = 0;
        for (size_t i = 0; i < l->n_w2p; i++) sum += l->w2p[i];
        if ((long)p->n_given_phone != sum) {
            /* older models: given N reads as n, but only on this path (as in SBV2) */
            if (!jp_extra)
                for (size_t i = 0; i < p->n_given_phone; i++)
                    if (!strcmp(given[i], "N")) given[i] = jp_phone_intern("n", 1);
            int *adj = malloc(sizeof(int) * l->n_w2p);
            int rc = adj ? jp_adjust_word2ph(l->w2p, l->n_w2p, l->phones, l->n_ph, given, p->n_given_phone, adj, err)
                         : sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
            if (rc == SBV2_OK) {
                sum = 0;
                for (size_t i = 0; i < l->n_w2p; i++) sum += adj[i];
                if ((long)p->n_given_phone != sum)
                    rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "length of given_phone (%zu) != sum of word2ph (%ld)",
                                   p->n_given_phone, sum);
            }
            if (rc != SBV2_OK) {
                free(adj), free(given);
                return rc;
            }
            free(l->w2p);
            l->w2p = adj;
        }
        free(l->phones);
        l->phones = given, l->n_ph = p->n_given_phone;
    } /* given_phone without given_tone: ignored, as clean_text_with_given_phone_tone does */
    if (p->n_given_tone) {
        if (l->n_ph != p->n_given_tone)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "length of phone (%zu) != length of given_tone (%zu)", l->n_ph,
                             p->n_given_tone);
        int *t = realloc(l->tones, sizeof(int) * (l->n_ph ? l->n_ph : 1));
        if (!t) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        l->tones = t;
        for (size_t i = 0; i < l->n_ph; i++) t[i] = p->given_tone[i];
    }
    return SBV2_OK;
}

/* The frontend's part of get_text() for one line. */
static int line_prepare(const sbv2_frontend *fe, const sbv2_hparams *hp, const char *text, size_t len,
                        const sbv2_tts_params *p, int use_given, line_in *l, sbv2_error *err) {
    const int jp_extra = hp->arch == SBV2_ARCH_JP_EXTRA;
    int rc = sbv2_g2p(fe, text, len, jp_extra, &l->g, err);
    if (rc != SBV2_OK) return rc;
    const sbv2_g2p_result *g = l->g;
    l->n_ph = g->n_phones, l->n_w2p = g->n_word2ph;
    l->phones = malloc(sizeof(char *) * g->n_phones);
    l->tones = malloc(sizeof(int) * g->n_phones);
    l->w2p = malloc(sizeof(int) * g->n_word2ph);
    if (!l->phones || !l->tones || !l->w2p) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < g->n_phones; i++) {
        /* the older architecture's g2p spells ん n (the ids already say so) */
        const char *ph = g->phones[i];
        l->phones[i] = !jp_extra && !strcmp(ph, "N") ? jp_phone_intern("n", 1) : ph;
        l->tones[i] = g->tones[i];
    }
    for (size_t i = 0; i < g->n_word2ph; i++) l->w2p[i] = g->word2ph[i];
    if (use_given && (rc = apply_given(l, p, jp_extra, err)) != SBV2_OK) return rc;
    /* cleaned_text_to_sequence() + intersperse(…, 0) and word2ph * 2, +1 on the first */
    const size_t P = l->n_ph, L = hp->add_blank ? 2 * P + 1 : P;
    l->L = L;
    l->ids = calloc(3 * L, sizeof(int64_t));
    l->w2p_model = malloc(sizeof(int) * (l->n_w2p ? l->n_w2p : 1));
    if (!l->ids || !l->w2p_model) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < P; i++) {
        const size_t t = hp->add_blank ? 2 * i + 1 : i;
        l->ids[t] = jp_symbol_id(l->phones[i]);
        l->ids[L + t] = (int64_t)l->tones[i] + JP_TONE_START;
        l->ids[2 * L + t] = JP_LANG_ID;
    }
    for (size_t i = 0; i < l->n_w2p; i++) l->w2p_model[i] = hp->add_blank ? 2 * l->w2p[i] + (i == 0) : l->w2p[i];
    return SBV2_OK;
}

static int is_space_cp(uint32_t c) {
    const utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP ||
           k == UTF8PROC_CATEGORY_CC || c == 0xFEFF;
}

/* Valid UTF-8, not blank, within the length limit. */
static int check_text(const char *text, size_t max_chars, sbv2_error *err) {
    if (!text) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "text is NULL");
    const size_t n = strlen(text);
    size_t chars = 0;
    int blank = 1;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        const size_t l = utf8_decode(text + i, n - i, &c);
        if (!l) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "text is not valid UTF-8 (byte %zu)", i);
        if (!is_space_cp(c)) blank = 0;
        i += l, chars++;
    }
    if (blank) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, n ? "text is only white space" : "text is empty");
    if (max_chars && chars > max_chars)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "text has %zu characters, more than the limit of %zu (max_chars)", chars,
                         max_chars);
    return SBV2_OK;
}

static int check_range(double v, double lo, double hi, const char *name, sbv2_error *err) {
    if (!isfinite(v) || v < lo || v > hi) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s = %g is not in [%g, %g]", name, v, lo, hi);
    return SBV2_OK;
}

static int check_params(const sbv2_tts_params *p, sbv2_error *err) {
    if (p->language && strcmp(p->language, "JP"))
        return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "language '%s' is not supported: only Japanese (JP) text", p->language);
    int rc;
    if ((rc = check_range(p->style_weight, 0, 100, "style_weight", err)) || (rc = check_range(p->sdp_ratio, 0, 1, "sdp_ratio", err)) ||
        (rc = check_range(p->noise, 0, 10, "noise", err)) || (rc = check_range(p->noise_w, 0, 10, "noise_w", err)) ||
        (rc = check_range(p->length, 0, 100, "length", err)) || (rc = check_range(p->split_interval, 0, 3600, "split_interval", err)) ||
        (rc = check_range(p->assist_text_weight, 0, 10, "assist_text_weight", err)))
        return rc;
    if (!(p->length > 0)) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "length must be above 0");
    if (p->pitch_scale != 1.0 || p->intonation_scale != 1.0)
        return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "pitch_scale and intonation_scale other than 1 (SBV2's pyworld pass) are not supported");
    if ((p->n_given_phone && !p->given_phone) || (p->n_given_tone && !p->given_tone))
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "n_given_phone/n_given_tone set without the array");
    if (p->stream_first_frames < 1 || p->stream_max_frames < p->stream_first_frames)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "stream windows: need 1 <= stream_first_frames <= stream_max_frames");
    return SBV2_OK;
}

int sbv2_tts_check_params(const sbv2_tts_params *p, sbv2_error *err) {
    if (!p || p->struct_size != sizeof *p)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "sbv2_tts_params is NULL or its struct_size is wrong");
    return check_params(p, err);
}

/* convert_to_16_bit_wav(): data / max|data| * 32767, astype(int16), in the
 * dtype numpy ends up with (float64 once float64 zeros were joined in). */
static void to_int16(const float *x, size_t n, int as_double, int16_t *out) {
    float peak = 0.0f;
    for (size_t i = 0; i < n; i++) peak = fabsf(x[i]) > peak ? fabsf(x[i]) : peak;
    if (peak == 0.0f) { /* numpy: 0/0 = NaN, whose int16 cast is undefined; silence stays silence */
        memset(out, 0, sizeof(int16_t) * n);
        return;
    }
    if (as_double)
        for (size_t i = 0; i < n; i++) out[i] = (int16_t)(((double)x[i] / (double)peak) * 32767.0);
    else
        for (size_t i = 0; i < n; i++) {
            const float q = x[i] / peak;
            out[i] = (int16_t)(q * 32767.0f);
        }
}

/* [start, end) byte ranges of the lines TTSModel.infer synthesises. */
static size_t split_lines(const char *text, int line_split, size_t *start, size_t *end) {
    const size_t n = strlen(text);
    if (!line_split) {
        start[0] = 0, end[0] = n;
        return 1;
    }
    size_t k = 0, s = 0;
    for (size_t i = 0; i <= n; i++)
        if (i == n || text[i] == '\n') {
            if (i > s) start[k] = s, end[k] = i, k++; /* empty lines are dropped */
            s = i + 1;
        }
    return k;
}

static char *dup_range(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = '\0';
    return d;
}

/* One synthesis unit: a line TTSModel.infer synthesises alone (or, with
 * split_sentences, one sentence of a long line). */
typedef struct {
    size_t start, end; /* bytes of the text */
    size_t text_line;  /* which "\n" line it comes from */
} unit_t;

static int is_sentence_end(uint32_t c) {
    return c == 0x3002 /* 。 */ || c == 0xFF01 /* ！ */ || c == 0xFF1F /* ？ */ || c == '!' || c == '?' || c == '.' ||
           c == 0xFF0E /* ． */;
}

/* Splits [s, e) after each run of sentence ends when it is longer than
 * max_chars characters; a piece of white space only joins the one before. */
static size_t split_sentences(const char *text, size_t s, size_t e, size_t max_chars, size_t line, unit_t *out) {
    size_t chars = 0;
    for (size_t i = s; i < e; i += utf8_decode(text + i, e - i, &(uint32_t){0})) chars++;
    if (!max_chars || chars <= max_chars) {
        out[0] = (unit_t){s, e, line};
        return 1;
    }
    size_t n = 0, piece = s;
    int in_end = 0;
    for (size_t i = s; i < e;) {
        uint32_t c;
        const size_t l = utf8_decode(text + i, e - i, &c);
        if (in_end && !is_sentence_end(c)) out[n++] = (unit_t){piece, i, line}, piece = i;
        in_end = is_sentence_end(c);
        i += l;
    }
    if (piece < e) {
        int blank = 1;
        for (size_t i = piece; i < e;) {
            uint32_t c;
            const size_t l = utf8_decode(text + i, e - i, &c);
            blank &= is_space_cp(c);
            i += l;
        }
        if (blank && n) out[n - 1].end = e;
        else out[n++] = (unit_t){piece, e, line};
    }
    return n;
}

/* Everything one text's synthesis needs, prepared before any model work. */
typedef struct {
    sbv2_state *state;
    const sbv2_model *m;
    const sbv2_frontend *fe;
    const sbv2_bert *bert;
    sbv2_tts_params p;
    char *text, *assist_sep;
    int spk;
    float style_vec[SBV2_STYLE_DIM];
    size_t n_units, n_text_lines;
    unit_t *units;
    line_in *in;           /* [n_units] */
    sbv2_tts_line *lines;  /* [n_units] */
    sbv2_span *spans;      /* every token of every unit, and the pauses */
    size_t n_spans;
    size_t gap;            /* int(44100 * split_interval) */
    int64_t hop;
    double t_g2p, t_bert, t_gen;
} tts_job;

static void job_free(tts_job *j) {
    for (size_t k = 0; j->in && k < j->n_units; k++) line_free(&j->in[k]);
    for (size_t k = 0; j->lines && k < j->n_units; k++)
        free((char *)j->lines[k].text), free((char *)j->lines[k].norm_text), free((char *)j->lines[k].bert_text);
    free(j->text), free(j->assist_sep), free(j->units), free(j->in), free(j->lines), free(j->spans);
    memset(j, 0, sizeof *j);
}

static int fail_line(sbv2_error *err, int rc, const tts_job *j, size_t k) {
    if (j->n_units > 1) {
        char pre[48];
        snprintf(pre, sizeof pre, "line %zu: ", k + 1);
        sbv2_error_prefix(err, pre);
    }
    return rc;
}

/* pauses go between units of different text lines */
static int gap_after(const tts_job *j, size_t k) {
    return k + 1 < j->n_units && j->units[k + 1].text_line != j->units[k].text_line;
}

static int job_prepare(tts_job *j, sbv2_state *state, const sbv2_frontend *fe, const sbv2_bert *bert, const char *text,
                       const sbv2_tts_params *params, int streaming, sbv2_error *err) {
    memset(j, 0, sizeof *j);
    if (!state || !fe || !bert) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "state, fe and bert are required");
    j->state = state, j->fe = fe, j->bert = bert;
    j->p = sbv2_tts_default_params();
    if (params) {
        if (params->struct_size != sizeof j->p)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "sbv2_tts_params.struct_size is %zu, expected %zu (use sbv2_tts_default_params())",
                             params->struct_size, sizeof j->p);
        j->p = *params;
    }
    const sbv2_tts_params *p = &j->p;
    const sbv2_model *m = j->m = sbv2_state_model(state);
    const sbv2_hparams *hp = &m->hp;
    int rc;
    if ((rc = check_params(p, err)) != SBV2_OK) return rc;
    if (sbv2_bert_hidden_size(bert) != SBV2_BERT_DIM)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "the BERT's hidden size is %zu; SBV2's bert_proj takes %d channels",
                         sbv2_bert_hidden_size(bert), SBV2_BERT_DIM);
    if ((rc = check_text(text, p->max_chars, err)) != SBV2_OK) return rc;
    /* speaker and style, as TTSModel.infer looks them up */
    j->spk = p->speaker_id;
    if (p->speaker) {
        j->spk = sbv2_model_speaker_id(m, p->speaker);
        if (j->spk < 0) return sbv2_fail(err, SBV2_ERR_NOT_FOUND, "the model has no speaker '%s'", p->speaker);
    }
    if (j->spk < 0 || j->spk >= sbv2_model_n_speakers(m))
        return sbv2_fail(err, SBV2_ERR_NOT_FOUND, "speaker id %d is not in [0, %d)", j->spk, sbv2_model_n_speakers(m));
    int sty = p->style_id;
    if (p->style) {
        sty = sbv2_model_style_id(m, p->style);
        if (sty < 0) {
            char names[256] = "";
            for (int i = 0; i < sbv2_model_n_styles(m); i++) {
                const char *nm = sbv2_model_style_name(m, i);
                if (nm && strlen(names) + strlen(nm) + 3 < sizeof names) strcat(names, i ? ", " : ""), strcat(names, nm);
            }
            return sbv2_fail(err, SBV2_ERR_NOT_FOUND, "the model has no style '%s' (it has: %s)", p->style, names);
        }
    }
    if ((rc = sbv2_model_style_vector(m, sty, (float)p->style_weight, j->style_vec, err)) != SBV2_OK) return rc;
    const char *assist = p->use_assist_text && p->assist_text && *p->assist_text ? p->assist_text : NULL;
    if (assist && (rc = check_text(assist, p->max_chars, err)) != SBV2_OK) {
        sbv2_error_prefix(err, "assist_text: ");
        return rc;
    }
    const size_t tlen = strlen(text);
    j->text = dup_range(text, tlen);
    if (!j->text) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    /* units: the lines SBV2 synthesises, sentences of long lines when asked */
    const int given = !p->line_split && (p->n_given_phone || p->n_given_tone);
    const int split = !given && (p->split_sentences > 0 || (p->split_sentences < 0 && streaming));
    const size_t max_units = tlen + 1; /* a unit holds a character at least */
    size_t *ls = malloc(sizeof(size_t) * max_units), *le = malloc(sizeof(size_t) * max_units);
    j->units = malloc(sizeof(unit_t) * max_units);
    if (!ls || !le || !j->units) {
        free(ls), free(le);
        return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    }
    j->n_text_lines = split_lines(j->text, p->line_split, ls, le);
    for (size_t k = 0; k < j->n_text_lines; k++)
        j->n_units += split_sentences(j->text, ls[k], le[k], split ? p->sentence_chars : 0, k, j->units + j->n_units);
    free(ls), free(le);
    j->in = calloc(j->n_units ? j->n_units : 1, sizeof *j->in);
    j->lines = calloc(j->n_units ? j->n_units : 1, sizeof *j->lines);
    if (!j->in || !j->lines) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    /* the frontend on every unit, before any model work */
    const double t0 = now_s();
    int any_phone = 0;
    for (size_t k = 0; k < j->n_units; k++) {
        const unit_t *u = &j->units[k];
        /* given_phone/given_tone only reach get_text() without line_split */
        rc = line_prepare(fe, hp, j->text + u->start, u->end - u->start, p, given, &j->in[k], err);
        if (rc != SBV2_OK) return fail_line(err, rc, j, k);
        sbv2_tts_line *ol = &j->lines[k];
        ol->text = dup_range(j->text + u->start, u->end - u->start);
        ol->norm_text = dup_range(j->in[k].g->norm_text, strlen(j->in[k].g->norm_text));
        ol->bert_text = dup_range(j->in[k].g->bert_text, strlen(j->in[k].g->bert_text));
        if (!ol->text || !ol->norm_text || !ol->bert_text) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        any_phone |= j->in[k].n_ph > 2;
        j->n_spans += j->in[k].L + gap_after(j, k);
    }
    if (!any_phone) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "the text has nothing to pronounce (no phones after normalisation)");
    if (assist && (rc = sbv2_frontend_sep_text(fe, assist, strlen(assist), &j->assist_sep, err)) != SBV2_OK) {
        sbv2_error_prefix(err, "assist_text: ");
        return rc;
    }
    j->t_g2p = now_s() - t0;
    j->spans = calloc(j->n_spans ? j->n_spans : 1, sizeof *j->spans);
    if (!j->spans) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    j->gap = (size_t)(44100.0 * p->split_interval); /* int(): truncation of the double product */
    j->hop = 1;
    for (int u = 0; u < hp->n_ups; u++) j->hop *= hp->ups_rates[u];
    return SBV2_OK;
}

int sbv2_tts_validate(sbv2_state *state, const sbv2_frontend *fe, const sbv2_bert *bert, const char *text,
                      const sbv2_tts_params *params, int streaming, sbv2_error *err) {
    tts_job j;
    const int rc = job_prepare(&j, state, fe, bert, text, params, streaming, err);
    job_free(&j);
    return rc;
}

/* Unit k's BERT feature and net_g up to the flow: z [I][*T]; its spans
 * (from span index si, audio offset pos) and line record are filled. */
static int job_latent(tts_job *j, size_t k, size_t si, int64_t pos, float **z, int *T, sbv2_error *err) {
    const line_in *l = &j->in[k];
    const sbv2_hparams *hp = &j->m->hp;
    const int nt = j->p.n_threads > 0 ? j->p.n_threads : 1;
    float *feat = NULL, *zeros = NULL;
    size_t P = 0;
    int64_t *frames = malloc(sizeof(int64_t) * l->L);
    if (!frames) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    const double tb = now_s();
    int rc = bert_feature(j->bert, l->g->bert_text, strlen(l->g->bert_text), l->w2p_model, l->n_w2p, j->assist_sep,
                          j->p.assist_text_weight, nt, &feat, &P, err);
    if (rc == SBV2_OK && P != l->L) rc = sbv2_fail(err, SBV2_ERR_INTERNAL, "BERT feature has %zu columns for %zu tokens", P, l->L);
    const double tg = now_s();
    j->t_bert += tg - tb;
    if (rc == SBV2_OK) {
        sbv2_infer_input in;
        memset(&in, 0, sizeof in);
        in.n_tokens = l->L;
        in.phone_ids = l->ids, in.tone_ids = l->ids + l->L, in.lang_ids = l->ids + 2 * l->L;
        in.style_vec = j->style_vec;
        in.speaker_id = j->spk;
        if (hp->arch == SBV2_ARCH_JP_EXTRA) {
            in.bert = feat;
        } else { /* get_text(): bert and en_bert zeros, the feature as ja_bert */
            zeros = calloc((size_t)SBV2_BERT_DIM * l->L, sizeof(float));
            if (!zeros) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
            in.bert = zeros, in.ja_bert = feat;
        }
        sbv2_infer_params ip = sbv2_infer_default_params();
        ip.length_scale = j->p.length, ip.sdp_ratio = j->p.sdp_ratio, ip.noise_scale = j->p.noise, ip.noise_scale_w = j->p.noise_w;
        ip.n_threads = nt;
        ip.seed = j->p.seed + k;
        if (rc == SBV2_OK) rc = sbv2_infer_latent(j->state, &in, &ip, frames, z, T, err);
    }
    j->t_gen += now_s() - tg;
    free(feat), free(zeros);
    if (rc != SBV2_OK) {
        free(frames);
        return rc;
    }
    /* alignment: token t spans frames[t] * hop samples; BERT token c feeds
       w2p_model[c] consecutive tokens; spans are clipped to the decoder's length
       and the last token takes any rest (durations below one frame in all) */
    const int64_t n = (int64_t)decoder_output_length(j->m, *T), end = pos + n;
    sbv2_tts_line *ol = &j->lines[k];
    ol->first_sample = pos, ol->n_samples = n, ol->first_span = si, ol->n_spans = l->L;
    size_t c = 0, used = 0;
    for (size_t t = 0; t < l->L; t++) {
        while (c < l->n_w2p && used >= (size_t)l->w2p_model[c]) c++, used = 0;
        used++;
        sbv2_span *sp = &j->spans[si + t];
        const int is_phone = !hp->add_blank || (t & 1);
        const size_t ph = hp->add_blank ? t / 2 : t;
        sp->kind = is_phone ? SBV2_SPAN_PHONE : SBV2_SPAN_BLANK;
        sp->phone = is_phone ? l->phones[ph] : "_";
        sp->tone = is_phone ? l->tones[ph] : 0;
        sp->line = (int)k;
        sp->char_index = c >= 1 && c + 1 < l->n_w2p ? (int)c - 1 : -1;
        sp->first_sample = pos < end ? pos : end;
        sp->n_samples = t + 1 == l->L ? end - sp->first_sample
                                      : (sp->first_sample + frames[t] * j->hop > end ? end - sp->first_sample : frames[t] * j->hop);
        pos = sp->first_sample + sp->n_samples;
    }
    free(frames);
    return SBV2_OK;
}

int sbv2_tts(sbv2_state *state, const sbv2_frontend *fe, const sbv2_bert *bert, const char *text,
             const sbv2_tts_params *params, sbv2_tts_result **result, sbv2_error *err) {
    if (result) *result = NULL;
    if (!result) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "result is required");
    tts_job j;
    int rc = job_prepare(&j, state, fe, bert, text, params, 0, err);
    tts_result_impl *r = rc == SBV2_OK ? calloc(1, sizeof *r) : NULL;
    if (rc == SBV2_OK && !r) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    size_t total = 0, si = 0;
    for (size_t k = 0; rc == SBV2_OK && k < j.n_units; k++) {
        float *z = NULL, *wav = NULL;
        int T = 0;
        size_t nw = 0;
        rc = job_latent(&j, k, si, (int64_t)total, &z, &T, err);
        const double t0 = now_s();
        if (rc == SBV2_OK) /* the whole line at once: the decoder exactly as net_g.infer runs it */
            rc = sbv2_decode_window(state, z, T, j.spk, 0, T, j.p.n_threads, &wav, &nw, err);
        j.t_gen += now_s() - t0;
        free(z);
        const size_t add = nw + (gap_after(&j, k) ? j.gap : 0);
        float *na = rc == SBV2_OK ? realloc(r->audio, sizeof(float) * (total + add ? total + add : 1)) : NULL;
        if (rc == SBV2_OK && !na) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        if (rc != SBV2_OK) {
            free(wav);
            fail_line(err, rc, &j, k);
            break;
        }
        r->audio = na;
        memcpy(r->audio + total, wav, sizeof(float) * nw);
        free(wav);
        total += nw, si += j.in[k].L;
        if (gap_after(&j, k)) {
            memset(r->audio + total, 0, sizeof(float) * j.gap);
            j.spans[si++] = (sbv2_span){SBV2_SPAN_PAUSE, "", -1, (int)k, -1, (int64_t)total, (int64_t)j.gap};
            total += j.gap;
        }
    }
    if (rc == SBV2_OK && !(r->pcm = malloc(sizeof(int16_t) * (total ? total : 1)))) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    if (rc != SBV2_OK) {
        if (r) free(r->audio), free(r->pcm), free(r);
        job_free(&j);
        return rc;
    }
    /* numpy joins float32 lines with float64 zeros: float64 from two lines on */
    to_int16(r->audio, total, j.p.line_split && j.n_text_lines >= 2, r->pcm);
    r->pub.sampling_rate = j.m->hp.sampling_rate;
    r->pub.n_samples = total;
    r->pub.audio = r->audio, r->pub.pcm16 = r->pcm;
    r->spans = j.spans, r->pub.spans = j.spans, r->pub.n_spans = si;
    r->lines = j.lines, r->pub.lines = j.lines, r->pub.n_lines = j.n_units;
    r->pub.seconds_g2p = j.t_g2p, r->pub.seconds_bert = j.t_bert, r->pub.seconds_generator = j.t_gen;
    j.spans = NULL, j.lines = NULL; /* the result owns them now */
    job_free(&j);
    *result = &r->pub;
    return SBV2_OK;
}

/* ---- streaming ---------------------------------------------------------------- */

struct sbv2_tts_stream {
    tts_job j;
    size_t k;             /* unit being decoded */
    float *z;             /* its latent, NULL between units */
    int T, f, win;        /* its frames, the next window's first frame and length */
    int gap_due;          /* a pause chunk comes next */
    size_t si;            /* spans filled so far (next unit's first) */
    size_t handed;        /* spans handed out */
    int64_t pos;          /* samples handed out */
    float *buf;           /* the current chunk */
    int16_t *pcm;
    size_t cap;
    int finished;
};

int sbv2_tts_stream_start(sbv2_state *state, const sbv2_frontend *fe, const sbv2_bert *bert, const char *text,
                          const sbv2_tts_params *params, sbv2_tts_stream **stream, sbv2_error *err) {
    if (stream) *stream = NULL;
    if (!stream) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "stream is required");
    sbv2_tts_stream *s = calloc(1, sizeof *s);
    if (!s) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    int rc = job_prepare(&s->j, state, fe, bert, text, params, 1, err);
    if (rc != SBV2_OK) {
        job_free(&s->j);
        free(s);
        return rc;
    }
    /* the arrays handed in are not needed after the frontend; the strings are copies */
    s->j.p.given_phone = NULL, s->j.p.given_tone = NULL, s->j.p.assist_text = NULL, s->j.p.speaker = NULL, s->j.p.style = NULL;
    s->j.p.language = NULL;
    *stream = s;
    return SBV2_OK;
}

static int chunk_room(sbv2_tts_stream *s, size_t n, sbv2_error *err) {
    if (n <= s->cap) return SBV2_OK;
    float *b = realloc(s->buf, sizeof(float) * n);
    if (b) s->buf = b;
    int16_t *q = b ? realloc(s->pcm, sizeof(int16_t) * n) : NULL;
    if (q) s->pcm = q;
    if (!b || !q) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    s->cap = n;
    return SBV2_OK;
}

int sbv2_tts_stream_next(sbv2_tts_stream *s, sbv2_tts_chunk *chunk, sbv2_error *err) {
    if (!s || !chunk) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "stream and chunk are required");
    memset(chunk, 0, sizeof *chunk);
    if (s->finished) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "the stream has ended (or failed)");
    tts_job *j = &s->j;
    int rc = SBV2_OK;
    size_t n = 0;
    if (s->gap_due) { /* the silence between two lines */
        if ((rc = chunk_room(s, j->gap ? j->gap : 1, err)) != SBV2_OK) goto fail;
        memset(s->buf, 0, sizeof(float) * j->gap);
        memset(s->pcm, 0, sizeof(int16_t) * j->gap);
        n = j->gap;
        j->spans[s->si++] = (sbv2_span){SBV2_SPAN_PAUSE, "", -1, (int)s->k - 1, -1, s->pos, (int64_t)j->gap};
        chunk->line = (int)s->k - 1;
        s->gap_due = 0;
    } else {
        if (!s->z) {
            if ((rc = job_latent(j, s->k, s->si, s->pos, &s->z, &s->T, err)) != SBV2_OK) goto fail_line;
            s->si += j->in[s->k].L;
            s->f = 0, s->win = j->p.stream_first_frames;
        }
        const int f1 = s->T - s->f > s->win ? s->f + s->win : s->T;
        float *wav = NULL;
        const double t0 = now_s();
        rc = sbv2_decode_window(j->state, s->z, s->T, j->spk, s->f, f1, j->p.n_threads, &wav, &n, err);
        j->t_gen += now_s() - t0;
        if (rc == SBV2_OK) rc = chunk_room(s, n, err);
        if (rc != SBV2_OK) {
            free(wav);
            goto fail_line;
        }
        memcpy(s->buf, wav, sizeof(float) * n);
        free(wav);
        for (size_t i = 0; i < n; i++) { /* no peak to normalise by: clip and scale */
            const float v = s->buf[i] > 1.0f ? 1.0f : s->buf[i] < -1.0f ? -1.0f : s->buf[i];
            s->pcm[i] = (int16_t)lrintf(v * 32767.0f);
        }
        chunk->line = (int)s->k;
        s->f = f1;
        s->win = s->win > j->p.stream_max_frames / 2 ? j->p.stream_max_frames : 2 * s->win;
        if (s->f == s->T) { /* the unit is done */
            free(s->z);
            s->z = NULL;
            s->gap_due = gap_after(j, s->k);
            s->k++;
        }
    }
    chunk->samples = s->buf, chunk->pcm16 = s->pcm, chunk->n_samples = n;
    chunk->first_sample = s->pos;
    s->pos += (int64_t)n;
    /* the spans that start before this chunk's end */
    const size_t h0 = s->handed;
    while (s->handed < s->si && j->spans[s->handed].first_sample < s->pos) s->handed++;
    if (s->k == j->n_units && !s->gap_due) { /* the rest (empty spans at the very end) go with the last chunk */
        s->handed = s->si;
        chunk->is_last = 1;
        s->finished = 1;
    }
    chunk->spans = j->spans + h0, chunk->n_spans = s->handed - h0;
    return SBV2_OK;
fail_line:
    fail_line(err, rc, j, s->k);
fail:
    s->finished = 1;
    return rc;
}

const sbv2_tts_line *sbv2_tts_stream_line(const sbv2_tts_stream *s, size_t i) {
    return s && i < s->j.n_units ? &s->j.lines[i] : NULL;
}

size_t sbv2_tts_stream_n_lines(const sbv2_tts_stream *s) { return s ? s->j.n_units : 0; }

void sbv2_tts_stream_free(sbv2_tts_stream *s) {
    if (!s) return;
    free(s->z), free(s->buf), free(s->pcm);
    job_free(&s->j);
    free(s);
}
