/* SBV2's g2p() from the NJD word list. Two views of the same words are
 * reconciled as SBV2 does: prosody (accent rises/falls, phrase boundaries)
 * from what Open JTalk's labels say (computed here directly: moras, accent
 * phrases, breath groups, as jpcommon_label.c builds them), and the
 * punctuation-preserving phone list from each word's surface and reading. */
#include "text/jp_g2p.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/jp_tables.h"
#include "text/normalize.h"
#include "text/utf8.h"

#define MAX_M 49 /* jpcommon_label.c clamps mora positions to this */

/* growable arrays */
typedef struct { const char **p; size_t n, cap; int oom; } pvec;
typedef struct { int *p; size_t n, cap; int oom; } ivec;
static void pv_push(pvec *v, const char *s) {
    if (v->oom) return;
    if (v->n == v->cap) {
        size_t c = v->cap ? 2 * v->cap : 32;
        const char **q = realloc(v->p, c * sizeof *q);
        if (!q) { v->oom = 1; return; }
        v->p = q, v->cap = c;
    }
    v->p[v->n++] = s;
}
static void iv_push(ivec *v, int x) {
    if (v->oom) return;
    if (v->n == v->cap) {
        size_t c = v->cap ? 2 * v->cap : 32;
        int *q = realloc(v->p, c * sizeof *q);
        if (!q) { v->oom = 1; return; }
        v->p = q, v->cap = c;
    }
    v->p[v->n++] = x;
}

static const char *const PUNCT = "!?,.'-"; /* PUNCTUATIONS minus …, which is multi-byte */
static int is_punct_cp(uint32_t c) { return c == 0x2026 || (c < 128 && c && strchr(PUNCT, (int)c)); }
/* every code point of s is one of PUNCTUATIONS (true for "") */
static int all_punct(const char *s) {
    for (size_t i = 0, n = strlen(s); i < n;) {
        uint32_t c;
        size_t l = utf8_decode(s + i, n - i, &c);
        if (!l || !is_punct_cp(c)) return 0;
        i += l;
    }
    return 1;
}

/* ---- prosody from the labels' view ------------------------------------------ */

typedef struct { const char *ph; int mora; } lphone; /* mora -1: pause */

typedef struct {
    pvec out;
    int fail;
} prosody_ctx;

static int prosody(const njd_list *njd, pvec *out) {
    lphone *ph = NULL;
    int *mora_word = NULL, *word_ap = NULL, *word_last_ph = NULL, *ap_acc = NULL, *ap_q = NULL;
    size_t nph = 0, nmora = 0, nword = 0, nap = 0;
    const size_t cap = 1024 + 4 * (njd->n + 1) * 8; /* grown below if needed */
    size_t cph = cap, cm = cap, cw = njd->n + 1;
    int rc = -1;
    ph = malloc(cph * sizeof *ph), mora_word = malloc(cm * sizeof(int));
    word_ap = malloc(cw * sizeof(int)), word_last_ph = malloc(cw * sizeof(int));
    ap_acc = malloc(cw * sizeof(int)), ap_q = calloc(cw, sizeof(int));
    if (!ph || !mora_word || !word_ap || !word_last_ph || !ap_acc || !ap_q) goto done;
    int pause = 0;
#define PUSH_PH(P, M)                                                                       \
    do {                                                                                    \
        const lphone v_ = {(P), (M)};                                                       \
        if (nph == cph) {                                                                   \
            lphone *q_ = realloc(ph, 2 * cph * sizeof *ph);                                 \
            if (!q_) goto done;                                                             \
            ph = q_, cph *= 2;                                                              \
        }                                                                                   \
        ph[nph] = v_;                                                                       \
        nph++;                                                                              \
    } while (0)
    for (size_t wi = 0; wi < njd->n; wi++) {
        const char *pron = njd->w[wi].pron ? njd->w[wi].pron : "";
        if (!strcmp(pron, "、")) { pause = 1; continue; }
        if (!strcmp(pron, "？")) {
            if (nph) ap_q[word_ap[mora_word[ph[nph - 1].mora]]] = 1;
            pause = 1;
            continue;
        }
        int first = 1; /* no mora of this word yet */
        for (const char *s = pron; *s;) {
            size_t ml;
            const jp_mora *m;
            if (!strncmp(s, "ー", 3)) {
                /* long vowel: the previous phoneme again, a mora of the current word */
                if (nph && !pause) {
                    if (nmora == cm) {
                        int *q = realloc(mora_word, 2 * cm * sizeof(int));
                        if (!q) goto done;
                        mora_word = q, cm *= 2;
                    }
                    mora_word[nmora] = mora_word[nmora - 1];
                    PUSH_PH(ph[nph - 1].ph, (int)nmora);
                    word_last_ph[mora_word[nmora]] = (int)nph - 1;
                    nmora++;
                }
                s += 3;
            } else if (!strncmp(s, "’", 3)) {
                s += 3; /* devoicing mark: SBV2 reads unvoiced vowels as voiced */
            } else if ((m = jp_mora_prefix(s, &ml)) != NULL) {
                if (pause) {
                    if (nph) PUSH_PH("pau", -1);
                    pause = 0;
                }
                if (first) { nword++; first = 0; }
                if (nmora == cm) {
                    int *q = realloc(mora_word, 2 * cm * sizeof(int));
                    if (!q) goto done;
                    mora_word = q, cm *= 2;
                }
                mora_word[nmora] = (int)nword - 1;
                if (m->consonant) PUSH_PH(m->consonant, (int)nmora);
                PUSH_PH(!strcmp(m->vowel, "q") ? "cl" : m->vowel, (int)nmora);
                word_last_ph[nword - 1] = (int)nph - 1;
                nmora++;
                s += ml;
            } else {
                break; /* not a mora: Open JTalk skips the rest of the reading */
            }
        }
        if (first) continue;
        /* accent phrase of the new word */
        const int w = (int)nword - 1;
        if (w == 0) {
            word_ap[w] = 0, ap_acc[0] = njd->w[wi].acc, nap = 1;
        } else if (njd->w[wi].chain_flag == 1) {
            word_ap[w] = (int)nap - 1;
        } else {
            word_ap[w] = (int)nap, ap_acc[nap] = njd->w[wi].acc, nap++;
        }
    }
    /* the symbols, from the A/F/E features of each phoneme */
    if (nph == 0) { rc = 0; goto done; }
    int *ap_n = calloc(nap, sizeof(int)), *mora_idx = malloc((nmora ? nmora : 1) * sizeof(int));
    if (!ap_n || !mora_idx) { free(ap_n), free(mora_idx); goto done; }
    for (size_t m = 0; m < nmora; m++) mora_idx[m] = ++ap_n[word_ap[mora_word[m]]];
    pv_push(out, "^");
    for (size_t i = 0; i < nph; i++) {
        if (ph[i].mora < 0) { pv_push(out, "_"); continue; }
        const int m = ph[i].mora, a = word_ap[mora_word[m]];
        const int f1 = ap_n[a], acc = ap_acc[a] == 0 ? f1 : ap_acc[a];
        int a2 = mora_idx[m];
        int a1 = a2 - acc, a3 = f1 - a2 + 1;
        if (a1 < -MAX_M) a1 = -MAX_M;
        if (a1 > MAX_M) a1 = MAX_M;
        if (a2 > MAX_M) a2 = MAX_M;
        if (a3 > MAX_M) a3 = MAX_M;
        if (a3 < 1) a3 = 1;
        int a2n = -50;
        if (i + 1 < nph && ph[i + 1].mora >= 0) {
            a2n = mora_idx[ph[i + 1].mora];
            if (a2n > MAX_M) a2n = MAX_M;
        }
        const char *p = ph[i].ph;
        pv_push(out, p);
        const int vowelish = !strcmp(p, "a") || !strcmp(p, "i") || !strcmp(p, "u") || !strcmp(p, "e") ||
                             !strcmp(p, "o") || !strcmp(p, "N") || !strcmp(p, "cl");
        if (a3 == 1 && a2n == 1 && vowelish) pv_push(out, "#");
        else if (a1 == 0 && a2n == a2 + 1 && a2 != (f1 > MAX_M ? MAX_M : f1)) pv_push(out, "]");
        else if (a2 == 1 && a2n == 2) pv_push(out, "[");
    }
    pv_push(out, ap_q[word_ap[mora_word[ph[nph - 1].mora]]] ? "?" : "$");
    free(ap_n), free(mora_idx);
    rc = out->oom ? -1 : 0;
done:
#undef PUSH_PH
    free(ph), free(mora_word), free(word_ap), free(word_last_ph), free(ap_acc), free(ap_q);
    return rc;
}

/* __g2phone_tone_wo_punct(): phones with 0/1 tones, punctuation gone */
static int tones_wo_punct(const pvec *pros, pvec *ph, ivec *tn, sbv2_error *err) {
    size_t start = 0;
    int cur = 0;
    for (size_t i = 0; i < pros->n; i++) {
        const char *s = pros->p[i];
        if (!strcmp(s, "^")) continue;
        if (!strcmp(s, "$") || !strcmp(s, "?") || !strcmp(s, "_") || !strcmp(s, "#")) {
            /* __fix_phone_tone on the phrase [start, n) */
            int lo = 1 << 30, hi = -(1 << 30);
            for (size_t k = start; k < tn->n; k++) lo = tn->p[k] < lo ? tn->p[k] : lo, hi = tn->p[k] > hi ? tn->p[k] : hi;
            if (tn->n > start) {
                if (lo == hi && lo != 0) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "unexpected tone values");
                if (hi - lo > 1 || lo < -1 || hi > 1) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "unexpected tone values");
                if (lo == -1)
                    for (size_t k = start; k < tn->n; k++) tn->p[k] = tn->p[k] == -1 ? 0 : 1;
            }
            start = tn->n;
            cur = 0;
        } else if (!strcmp(s, "[")) {
            cur++;
        } else if (!strcmp(s, "]")) {
            cur--;
        } else {
            pv_push(ph, !strcmp(s, "cl") ? "q" : s);
            iv_push(tn, cur);
        }
    }
    return ph->oom || tn->oom ? sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory") : SBV2_OK;
}

/* Python's \w on one code point */
static int is_word_cp(uint32_t c) {
    if (c == '_') return 1;
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO || k == UTF8PROC_CATEGORY_ND ||
           k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* __kata_to_phoneme_list(): appends the word's phones (interned strings). */
static int kata_to_phonemes(const char *yomi, pvec *out, sbv2_error *err) {
    const size_t n = strlen(yomi);
    if (all_punct(yomi)) {
        for (size_t i = 0; i < n;) {
            uint32_t c;
            size_t l = utf8_decode(yomi + i, n - i, &c);
            pv_push(out, jp_phone_intern(yomi + i, l));
            i += l;
        }
        return SBV2_OK;
    }
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t l = utf8_decode(yomi + i, n - i, &c);
        if (!l || c < 0x30a0 || c > 0x30ff)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "reading is not katakana: %s", yomi);
        i += l;
    }
    /* " c v" per mora, other characters as they are; then (\w)(ー*) -> each
       ー repeats the character before it */
    sbuf sp = {0};
    for (size_t i = 0; i < n;) {
        size_t ml;
        const jp_mora *m = jp_mora_prefix(yomi + i, &ml);
        if (m) {
            if (m->consonant) sb_adds(&sp, " "), sb_adds(&sp, m->consonant);
            sb_adds(&sp, " "), sb_adds(&sp, m->vowel);
            i += ml;
        } else {
            uint32_t c;
            size_t l = utf8_decode(yomi + i, n - i, &c);
            sb_add(&sp, yomi + i, l);
            i += l;
        }
    }
    sbuf lg = {0};
    for (size_t i = 0; sp.p && i < sp.n;) {
        uint32_t c;
        size_t l = utf8_decode(sp.p + i, sp.n - i, &c);
        sb_add(&lg, sp.p + i, l);
        if (is_word_cp(c)) {
            size_t j = i + l;
            while (j + 3 <= sp.n && !strncmp(sp.p + j, "ー", 3)) {
                sb_adds(&lg, " ");
                sb_add(&lg, sp.p + i, l);
                j += 3;
            }
            i = j;
        } else {
            i += l;
        }
    }
    free(sp.p);
    if (lg.oom || sp.oom) { free(lg.p); return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); }
    /* .strip().split(" ") */
    const char *s = lg.p ? lg.p : "";
    size_t a = 0, b = strlen(s);
    while (a < b && s[a] == ' ') a++;
    while (b > a && s[b - 1] == ' ') b--;
    for (size_t i = a; i <= b;) {
        size_t j = i;
        while (j < b && s[j] != ' ') j++;
        const char *tok = jp_phone_intern(s + i, j - i);
        if (!tok) {
            free(lg.p);
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "reading gives an unknown phone: %s", yomi);
        }
        pv_push(out, tok);
        i = j + 1;
    }
    free(lg.p);
    return SBV2_OK;
}

int jp_g2p_from_njd(const njd_list *njd, jp_g2p_out *out, sbv2_error *err) {
    memset(out, 0, sizeof *out);
    pvec pros = {0}, ptw = {0}, all = {0};
    ivec tw = {0}, word_n = {0}, w2p = {0}, tones = {0};
    pvec phones = {0};
    sbuf bert = {0};
    int rc = SBV2_OK;
    const size_t W = njd->n;
    size_t *wstart = calloc(W + 1, sizeof(size_t)); /* word i's phones: all[wstart[i] .. wstart[i+1]) */
    if (!wstart) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    if (prosody(njd, &pros)) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto done; }
    if ((rc = tones_wo_punct(&pros, &ptw, &tw, err)) != SBV2_OK) goto done;
    sb_add(&bert, "", 0);
    /* text_to_sep_kata + __kata_to_phoneme_list per word */
    for (size_t i = 0; i < W; i++) {
        const njd_word *w = &njd->w[i];
        char *word = NULL;
        const char *str = w->string ? w->string : "";
        if ((rc = jp_replace_punctuation(str, strlen(str), &word, err)) != SBV2_OK) goto done;
        sbuf yomi = {0};
        sb_add(&yomi, "", 0);
        for (const char *p = w->pron ? w->pron : ""; *p;) {
            if (!strncmp(p, "’", 3)) { p += 3; continue; }
            sb_add(&yomi, p, 1), p++;
        }
        if (yomi.p && !strcmp(yomi.p, "、")) {
            yomi.n = 0, yomi.p[0] = '\0';
            if (all_punct(word)) sb_adds(&yomi, word);
            else
                for (size_t k = utf8_count(word); k > 0; k--) sb_adds(&yomi, "'"); /* unreadable: ' per character */
        } else if (yomi.p && !strcmp(yomi.p, "？")) {
            yomi.n = 0, yomi.p[0] = '\0';
            sb_adds(&yomi, "?");
        }
        if (!yomi.p || !yomi.p[0]) {
            /* SBV2 asserts a non-empty reading; an empty one after a pause mark stays empty */
        }
        wstart[i] = all.n;
        rc = yomi.oom ? sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory") : kata_to_phonemes(yomi.p ? yomi.p : "", &all, err);
        free(yomi.p);
        sb_adds(&bert, word);
        iv_push(&word_n, all_punct(word) && utf8_count(word) == 1 ? 1 : (int)utf8_count(word));
        free(word);
        if (rc != SBV2_OK) goto done;
    }
    wstart[W] = all.n;
    if (all.oom || word_n.oom || bert.oom) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto done; }
    /* __handle_long(): a word starting with ー continues the previous word's
       vowel (or N), else it is a dash */
    for (size_t i = 0; i < W; i++) {
        size_t s = wstart[i], e = wstart[i + 1];
        if (s == e) continue;
        if (!strcmp(all.p[s], "ー")) {
            if (i != 0) {
                if (wstart[i - 1] == wstart[i]) {
                    rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "ー follows a word without phones");
                    goto done;
                }
                const char *prev = all.p[wstart[i] - 1];
                int v = !strcmp(prev, "a") || !strcmp(prev, "i") || !strcmp(prev, "u") || !strcmp(prev, "e") ||
                        !strcmp(prev, "o") || !strcmp(prev, "N");
                all.p[s] = v ? prev : "-";
            } else {
                all.p[s] = "-";
            }
        }
        for (size_t j = s; j < e; j++)
            if (!strcmp(all.p[j], "ー")) {
                const char *pp = all.p[j == s ? e - 1 : j - 1];
                all.p[j] = jp_phone_intern(pp + strlen(pp) - 1, 1);
                if (!all.p[j]) { rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "unknown phone after ー"); goto done; }
            }
    }
    /* __align_tones() */
    pv_push(&phones, "_");
    iv_push(&tones, 0);
    size_t ti = 0;
    for (size_t k = 0; k < all.n; k++) {
        const char *p = all.p[k];
        if (ti >= ptw.n) pv_push(&phones, p), iv_push(&tones, 0);
        else if (!strcmp(p, ptw.p[ti])) pv_push(&phones, p), iv_push(&tones, tw.p[ti++]);
        else if (all_punct(p)) pv_push(&phones, p), iv_push(&tones, 0);
        else {
            rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "phone '%s' does not align with the accent phones", p);
            goto done;
        }
    }
    pv_push(&phones, "_");
    iv_push(&tones, 0);
    /* word2ph: each word's phones spread over its characters */
    iv_push(&w2p, 1);
    for (size_t i = 0; i < W; i++) {
        const int nph = (int)(wstart[i + 1] - wstart[i]), nw = word_n.p[i];
        if (nw == 0) {
            if (nph) { rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "phones for a word without characters"); goto done; }
            continue;
        }
        /* __distribute_phone: round robin from the left */
        for (int c = 0; c < nw; c++) iv_push(&w2p, nph / nw + (c < nph % nw ? 1 : 0));
    }
    iv_push(&w2p, 1);
    if (phones.oom || tones.oom || w2p.oom) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto done; }
    out->n_phones = phones.n, out->phones = phones.p, out->tones = tones.p;
    out->n_word2ph = w2p.n, out->word2ph = w2p.p;
    out->bert_text = bert.p;
    out->n_prosody = pros.n, out->prosody = pros.p;
    phones.p = NULL, tones.p = NULL, w2p.p = NULL, bert.p = NULL, pros.p = NULL;
done:
    free(wstart), free(pros.p), free(ptw.p), free(all.p), free(tw.p), free(word_n.p), free(w2p.p), free(tones.p);
    free(phones.p), free(bert.p);
    return rc;
}

void jp_g2p_out_free(jp_g2p_out *o) {
    if (!o) return;
    free(o->phones), free(o->tones), free(o->word2ph), free(o->bert_text), free(o->prosody);
    memset(o, 0, sizeof *o);
}

int jp_g2p_ids(const jp_g2p_out *o, int use_jp_extra, int *phone_ids, int *tone_ids, int *lang_ids, int *w2p_blank,
               sbv2_error *err) {
    const size_t n = 2 * o->n_phones + 1;
    for (size_t i = 0; i < n; i++) phone_ids[i] = tone_ids[i] = lang_ids[i] = 0;
    for (size_t i = 0; i < o->n_phones; i++) {
        const char *p = o->phones[i];
        if (!use_jp_extra && !strcmp(p, "N")) p = "n";
        const int id = jp_symbol_id(p);
        if (id < 0) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "phone '%s' is not in the symbol table", p);
        phone_ids[2 * i + 1] = id;
        tone_ids[2 * i + 1] = o->tones[i] + JP_TONE_START;
        lang_ids[2 * i + 1] = JP_LANG_ID;
    }
    for (size_t i = 0; i < o->n_word2ph; i++) w2p_blank[i] = 2 * o->word2ph[i] + (i == 0);
    return SBV2_OK;
}
