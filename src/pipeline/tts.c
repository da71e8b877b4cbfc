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

static int check_params(const sbv2_tts_params *p, const sbv2_hparams *hp, sbv2_error *err) {
    if (p->language && strcmp(p->language, "JP"))
        return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "language '%s' is not supported: only Japanese (JP) text%s", p->language,
                         hp->arch == SBV2_ARCH_JP_EXTRA ? " (and this JP-Extra model is trained on JP only)" : "");
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
    return SBV2_OK;
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

int sbv2_tts(sbv2_state *state, const sbv2_frontend *fe, const sbv2_bert *bert, const char *text,
             const sbv2_tts_params *params, sbv2_tts_result **result, sbv2_error *err) {
    if (result) *result = NULL;
    if (!state || !fe || !bert || !result) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "state, fe, bert and result are required");
    sbv2_tts_params p = sbv2_tts_default_params();
    if (params) {
        if (params->struct_size != sizeof p)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "sbv2_tts_params.struct_size is %zu, expected %zu (use sbv2_tts_default_params())",
                             params->struct_size, sizeof p);
        p = *params;
    }
    const sbv2_model *m = sbv2_state_model(state);
    const sbv2_hparams *hp = &m->hp;
    int rc;
    if ((rc = check_params(&p, hp, err)) != SBV2_OK) return rc;
    if (sbv2_bert_hidden_size(bert) != SBV2_BERT_DIM)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "the BERT's hidden size is %zu; SBV2's bert_proj takes %d channels",
                         sbv2_bert_hidden_size(bert), SBV2_BERT_DIM);
    if ((rc = check_text(text, p.max_chars, err)) != SBV2_OK) return rc;
    /* speaker and style, as TTSModel.infer looks them up */
    int spk = p.speaker_id;
    if (p.speaker) {
        spk = sbv2_model_speaker_id(m, p.speaker);
        if (spk < 0) return sbv2_fail(err, SBV2_ERR_NOT_FOUND, "the model has no speaker '%s'", p.speaker);
    }
    if (spk < 0 || spk >= sbv2_model_n_speakers(m))
        return sbv2_fail(err, SBV2_ERR_NOT_FOUND, "speaker id %d is not in [0, %d)", spk, sbv2_model_n_speakers(m));
    int sty = p.style_id;
    if (p.style) {
        sty = sbv2_model_style_id(m, p.style);
        if (sty < 0) {
            char names[256] = "";
            for (int i = 0; i < sbv2_model_n_styles(m); i++) {
                const char *nm = sbv2_model_style_name(m, i);
                if (nm && strlen(names) + strlen(nm) + 3 < sizeof names)
                    strcat(names, i ? ", " : ""), strcat(names, nm);
            }
            return sbv2_fail(err, SBV2_ERR_NOT_FOUND, "the model has no style '%s' (it has: %s)", p.style, names);
        }
    }
    float style_vec[SBV2_STYLE_DIM];
    if ((rc = sbv2_model_style_vector(m, sty, (float)p.style_weight, style_vec, err)) != SBV2_OK) return rc;
    const char *assist = p.use_assist_text && p.assist_text && *p.assist_text ? p.assist_text : NULL;
    if (assist && (rc = check_text(assist, p.max_chars, err)) != SBV2_OK) {
        sbv2_error_prefix(err, "assist_text: ");
        return rc;
    }

    const size_t tlen = strlen(text);
    size_t max_lines = 1;
    for (size_t i = 0; i < tlen; i++) max_lines += text[i] == '\n';
    size_t *ls = malloc(sizeof(size_t) * max_lines), *le = malloc(sizeof(size_t) * max_lines);
    line_in *lines = calloc(max_lines, sizeof *lines);
    tts_result_impl *r = calloc(1, sizeof *r);
    char *assist_sep = NULL;
    size_t nl = 0;
    if (!ls || !le || !lines || !r) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto fail; }
    nl = split_lines(text, p.line_split, ls, le);
    r->lines = calloc(nl ? nl : 1, sizeof *r->lines);
    if (!r->lines) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto fail; }
    r->pub.n_lines = nl;
    r->pub.sampling_rate = hp->sampling_rate;

    /* 1. the frontend on every line */
    double t0 = now_s();
    size_t n_spans = 0, any_phone = 0;
    for (size_t k = 0; k < nl; k++) {
        /* given_phone/given_tone only reach get_text() without line_split */
        rc = line_prepare(fe, hp, text + ls[k], le[k] - ls[k], &p, !p.line_split, &lines[k], err);
        if (rc != SBV2_OK) {
            if (nl > 1) {
                char pre[48];
                snprintf(pre, sizeof pre, "line %zu: ", k + 1);
                sbv2_error_prefix(err, pre);
            }
            goto fail;
        }
        sbv2_tts_line *ol = &r->lines[k];
        ol->text = dup_range(text + ls[k], le[k] - ls[k]);
        ol->norm_text = dup_range(lines[k].g->norm_text, strlen(lines[k].g->norm_text));
        ol->bert_text = dup_range(lines[k].g->bert_text, strlen(lines[k].g->bert_text));
        if (!ol->text || !ol->norm_text || !ol->bert_text) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto fail; }
        any_phone |= lines[k].n_ph > 2;
        n_spans += lines[k].L + (k + 1 < nl);
    }
    if (!any_phone) {
        rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "the text has nothing to pronounce (no phones after normalisation)");
        goto fail;
    }
    if (assist && (rc = sbv2_frontend_sep_text(fe, assist, strlen(assist), &assist_sep, err)) != SBV2_OK) {
        sbv2_error_prefix(err, "assist_text: ");
        goto fail;
    }
    r->pub.seconds_g2p = now_s() - t0;
    r->spans = calloc(n_spans, sizeof *r->spans);
    if (!r->spans) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto fail; }

    /* 2. BERT and net_g per line, joined as TTSModel.infer joins them */
    const size_t gap = (size_t)(44100.0 * p.split_interval); /* int(): truncation of the double product */
    sbv2_infer_params ip = sbv2_infer_default_params();
    ip.length_scale = p.length, ip.sdp_ratio = p.sdp_ratio, ip.noise_scale = p.noise, ip.noise_scale_w = p.noise_w;
    ip.n_threads = p.n_threads > 0 ? p.n_threads : 1;
    size_t total = 0, si = 0;
    for (size_t k = 0; k < nl; k++) {
        line_in *l = &lines[k];
        float *feat = NULL, *zeros = NULL, *wav = NULL;
        size_t P = 0, nw = 0;
        int64_t *frames = malloc(sizeof(int64_t) * l->L);
        if (!frames) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto fail; }
        double tb = now_s();
        rc = bert_feature(bert, l->g->bert_text, strlen(l->g->bert_text), l->w2p_model, l->n_w2p, assist_sep,
                          p.assist_text_weight, ip.n_threads, &feat, &P, err);
        if (rc == SBV2_OK && P != l->L)
            rc = sbv2_fail(err, SBV2_ERR_INTERNAL, "BERT feature has %zu columns for %zu tokens", P, l->L);
        double tg = now_s();
        r->pub.seconds_bert += tg - tb;
        if (rc == SBV2_OK) {
            sbv2_infer_input in;
            memset(&in, 0, sizeof in);
            in.n_tokens = l->L;
            in.phone_ids = l->ids, in.tone_ids = l->ids + l->L, in.lang_ids = l->ids + 2 * l->L;
            in.style_vec = style_vec;
            in.speaker_id = spk;
            if (hp->arch == SBV2_ARCH_JP_EXTRA) {
                in.bert = feat;
            } else { /* get_text(): bert and en_bert zeros, the feature as ja_bert */
                zeros = calloc((size_t)SBV2_BERT_DIM * l->L, sizeof(float));
                if (!zeros) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
                in.bert = zeros, in.ja_bert = feat;
            }
            ip.seed = p.seed + k;
            if (rc == SBV2_OK) rc = sbv2_infer_frames(state, &in, &ip, &wav, &nw, frames, err);
        }
        r->pub.seconds_generator += now_s() - tg;
        free(feat), free(zeros);
        const size_t add = nw + (k + 1 < nl ? gap : 0);
        float *na = rc == SBV2_OK ? realloc(r->audio, sizeof(float) * (total + add ? total + add : 1)) : NULL;
        if (rc == SBV2_OK && !na) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        if (rc != SBV2_OK) {
            free(wav), free(frames);
            if (nl > 1) {
                char pre[48];
                snprintf(pre, sizeof pre, "line %zu: ", k + 1);
                sbv2_error_prefix(err, pre);
            }
            goto fail;
        }
        r->audio = na;
        memcpy(r->audio + total, wav, sizeof(float) * nw);
        free(wav);
        /* alignment: token t spans frames[t] * hop samples; BERT token j feeds
           w2p_model[j] consecutive tokens */
        sbv2_tts_line *ol = &r->lines[k];
        ol->first_sample = (int64_t)total, ol->n_samples = (int64_t)nw, ol->first_span = si, ol->n_spans = l->L;
        int64_t hop = 1;
        for (int u = 0; u < hp->n_ups; u++) hop *= hp->ups_rates[u];
        int64_t pos = (int64_t)total;
        size_t j = 0, used = 0;
        for (size_t t = 0; t < l->L; t++, si++) {
            while (j < l->n_w2p && used >= (size_t)l->w2p_model[j]) j++, used = 0;
            used++;
            sbv2_span *sp = &r->spans[si];
            const int is_phone = !hp->add_blank || (t & 1);
            const size_t ph = hp->add_blank ? t / 2 : t;
            sp->kind = is_phone ? SBV2_SPAN_PHONE : SBV2_SPAN_BLANK;
            sp->phone = is_phone ? l->phones[ph] : "_";
            sp->tone = is_phone ? l->tones[ph] : 0;
            sp->line = (int)k;
            sp->char_index = j >= 1 && j + 1 < l->n_w2p ? (int)j - 1 : -1;
            sp->first_sample = pos;
            sp->n_samples = frames[t] * hop;
            pos += sp->n_samples;
        }
        free(frames);
        /* the decoder's length is the truth: spans are clipped to it and the last
           token takes any rest (durations below one frame in all) */
        const int64_t line_end = (int64_t)(total + nw);
        for (size_t q = ol->first_span; q < si; q++) {
            sbv2_span *sp = &r->spans[q];
            if (sp->first_sample > line_end) sp->first_sample = line_end;
            if (sp->first_sample + sp->n_samples > line_end || q + 1 == si) sp->n_samples = line_end - sp->first_sample;
        }
        total += nw;
        if (k + 1 < nl) {
            memset(r->audio + total, 0, sizeof(float) * gap);
            r->spans[si++] = (sbv2_span){SBV2_SPAN_PAUSE, "", -1, (int)k, -1, (int64_t)total, (int64_t)gap};
            total += gap;
        }
    }
    r->pub.n_spans = si;
    r->pcm = malloc(sizeof(int16_t) * (total ? total : 1));
    if (!r->pcm) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto fail; }
    to_int16(r->audio, total, p.line_split && nl >= 2, r->pcm);
    r->pub.n_samples = total;
    r->pub.audio = r->audio, r->pub.pcm16 = r->pcm;
    r->pub.spans = r->spans, r->pub.lines = r->lines;
    for (size_t k = 0; k < nl; k++) line_free(&lines[k]);
    free(ls), free(le), free(lines), free(assist_sep);
    *result = &r->pub;
    return SBV2_OK;
fail:
    for (size_t k = 0; lines && k < nl; k++) line_free(&lines[k]);
    free(ls), free(le), free(lines), free(assist_sep);
    sbv2_tts_result_free(r ? &r->pub : NULL);
    return rc;
}
