/* The Japanese frontend against SBV2's own outputs (golden/g2p/dev.jsonl):
 * normalize_text() from the raw text, and g2p() fed with the record's NJD
 * words (pyopenjtalk.run_frontend output), stage by stage. Prints the match
 * rate and the first difference of every mismatching record. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <unistd.h>

#include "sbv2.h"
#include "text/utf8.h"

#include "test_common.h"
#include "text/jp_g2p.h"
#include "text/jp_mecab.h"
#include "text/jp_tables.h"
#include "text/normalize.h"

static char *dup_str(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

static int njd_from_json(const cJSON *arr, njd_list *l) {
    l->n = (size_t)cJSON_GetArraySize(arr);
    l->w = calloc(l->n ? l->n : 1, sizeof *l->w);
    size_t i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        njd_word *w = &l->w[i++];
        w->string = dup_str(o, "string"), w->pos = dup_str(o, "pos"), w->pos_group1 = dup_str(o, "pos_group1");
        w->pos_group2 = dup_str(o, "pos_group2"), w->pos_group3 = dup_str(o, "pos_group3");
        w->ctype = dup_str(o, "ctype"), w->cform = dup_str(o, "cform"), w->orig = dup_str(o, "orig");
        w->read = dup_str(o, "read"), w->pron = dup_str(o, "pron"), w->chain_rule = dup_str(o, "chain_rule");
        w->acc = cJSON_GetObjectItem(o, "acc")->valueint, w->mora_size = cJSON_GetObjectItem(o, "mora_size")->valueint;
        w->chain_flag = cJSON_GetObjectItem(o, "chain_flag")->valueint;
    }
    return 0;
}

/* first index where the string list differs, -1 if equal */
static long diff_strs(const cJSON *ref, const char *const *got, size_t n) {
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ref) {
        if (i >= n || strcmp(e->valuestring, got[i])) return (long)i;
        i++;
    }
    return i == n ? -1 : (long)i;
}
static long diff_longs(const cJSON *ref, const int64_t *got, size_t n) {
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ref) {
        if (i >= n || e->valuedouble != (double)got[i]) return (long)i;
        i++;
    }
    return i == n ? -1 : (long)i;
}
static long diff_ints(const cJSON *ref, const int *got, size_t n) {
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ref) {
        if (i >= n || e->valueint != got[i]) return (long)i;
        i++;
    }
    return i == n ? -1 : (long)i;
}

int main(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/g2p", SBV2_GOLDEN_DIR);
    golden_dir_or_skip(path);
    snprintf(path, sizeof path, "%s/g2p/dev.jsonl", SBV2_GOLDEN_DIR);
    size_t len;
    char *all = read_whole_file(path, &len);
    if (!all) { fprintf(stderr, "cannot read %s\n", path); return 1; }
    jp_mecab *mecab = NULL;
    sbv2_error me = {0};
    if (jp_mecab_open(&mecab, NULL, NULL, &me)) printf("MeCab: %s\n", me.message);
    sbv2_frontend *fe = sbv2_frontend_new(NULL, &me);
    if (!fe) printf("frontend: %s\n", me.message);
    int njd_ok = 0, njd_n = 0, e2e_ok = 0, e2e_n = 0;
    int n_rec = 0, norm_ok = 0, norm_n = 0, g2p_ok = 0, g2p_n = 0, rejected_ok = 0, rejected_n = 0;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *r = cJSON_Parse(line);
        if (!r) continue;
        n_rec++;
        const char *id = cJSON_GetObjectItem(r, "id")->valuestring;
        const char *text = cJSON_GetObjectItem(r, "text")->valuestring;
        const cJSON *err_o = cJSON_GetObjectItem(r, "error");
        const char *stage = err_o ? cJSON_GetObjectItem(err_o, "stage")->valuestring : NULL;
        /* normalize_text */
        const cJSON *nt = cJSON_GetObjectItem(r, "norm_text");
        char *norm = NULL;
        sbv2_error e = {0};
        int rc = jp_normalize_text(text, strlen(text), &norm, &e);
        if (nt) {
            norm_n++;
            if (rc == 0 && !strcmp(norm, nt->valuestring)) norm_ok++;
            else printf("norm  %-28s got %s\n      %-28s want %s\n", id, rc ? e.message : norm, "", nt->valuestring);
        } else if (stage && !strcmp(stage, "normalize_text")) {
            rejected_n++;
            if (rc != 0) rejected_ok++;
            else printf("norm  %-28s SBV2 rejects it, we accepted: %s\n", id, norm);
        }
        free(norm);
        /* run_frontend(norm_text) against the golden NJD, and the whole chain */
        const cJSON *gnjd = cJSON_GetObjectItem(r, "njd");
        if (gnjd && nt && mecab) {
            njd_n++;
            njd_list got;
            const char *nts = nt->valuestring;
            int frc = jp_run_frontend(mecab, nts, strlen(nts), &got, &e);
            long bad = -1;
            const char *field = "";
            if (frc) bad = 0, field = e.message;
            else {
                size_t i = 0;
                const cJSON *o;
                cJSON_ArrayForEach(o, gnjd) {
                    if (i >= got.n) { bad = (long)i, field = "count"; break; }
                    const njd_word *w = &got.w[i];
                    const char *names[] = {"string", "pos", "pos_group1", "pos_group2", "pos_group3", "ctype", "cform",
                                           "orig", "read", "pron", "chain_rule"};
                    const char *vals[] = {w->string, w->pos, w->pos_group1, w->pos_group2, w->pos_group3, w->ctype,
                                          w->cform, w->orig, w->read, w->pron, w->chain_rule};
                    for (int k = 0; k < 11 && bad < 0; k++) {
                        /* the devoicing marks (’) are not made: SBV2 drops them */
                        char ref[1024];
                        const char *rv = cJSON_GetObjectItem(o, names[k])->valuestring;
                        size_t q = 0;
                        for (const char *c = rv; *c && q + 1 < sizeof ref;)
                            if (k == 9 && !strncmp(c, "’", 3)) c += 3;
                            else ref[q++] = *c++;
                        ref[q] = '\0';
                        if (strcmp(ref, vals[k])) bad = (long)i, field = names[k];
                    }
                    if (bad < 0 && cJSON_GetObjectItem(o, "acc")->valueint != w->acc) bad = (long)i, field = "acc";
                    if (bad < 0 && cJSON_GetObjectItem(o, "mora_size")->valueint != w->mora_size) bad = (long)i, field = "mora_size";
                    if (bad < 0 && cJSON_GetObjectItem(o, "chain_flag")->valueint != w->chain_flag) bad = (long)i, field = "chain_flag";
                    if (bad >= 0) break;
                    i++;
                }
                if (bad < 0 && i != got.n) bad = (long)i, field = "count";
            }
            if (bad < 0) njd_ok++;
            else {
                const cJSON *gw = cJSON_GetArrayItem(gnjd, (int)bad);
                printf("njd   %-28s word %ld %s: got '%s' want '%s'\n", id, bad, field,
                       !frc && (size_t)bad < got.n ? got.w[bad].string : "-",
                       gw ? cJSON_GetObjectItem(gw, "string")->valuestring : "-");
            }
            if (!frc) njd_list_free(&got);
        }
        /* the whole chain from the raw text, through the public API */
        const cJSON *ph = cJSON_GetObjectItem(r, "phones");
        if (fe && (ph || stage)) {
            e2e_n++;
            sbv2_g2p_result *g = NULL;
            int erc = sbv2_g2p(fe, text, strlen(text), 1, &g, &e), erc2 = 0;
            sbv2_g2p_result *g0 = NULL;
            if (!erc) erc2 = sbv2_g2p(fe, text, strlen(text), 0, &g0, &e);
            const char *what = NULL;
            long at = -1;
            if (stage) {
                if (erc) e2e_ok++;
                else what = "SBV2 rejects it, we accepted";
            } else if (erc || erc2) what = e.message;
            else {
                const size_t ni = g->n_ids;
                if ((at = diff_strs(ph, (const char *const *)g->phones, g->n_phones)) >= 0) what = "phones";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "tones"), g->tones, g->n_phones)) >= 0) what = "tones";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "word2ph"), g->word2ph, g->n_word2ph)) >= 0) what = "word2ph";
                else if (strcmp(cJSON_GetObjectItem(r, "bert_text")->valuestring, g->bert_text)) what = "bert_text";
                else if (strcmp(cJSON_GetObjectItem(r, "norm_text")->valuestring, g->norm_text)) what = "norm_text";
                else if ((at = diff_longs(cJSON_GetObjectItem(r, "phone_ids"), g->phone_ids, ni)) >= 0) what = "phone_ids";
                else if ((at = diff_longs(cJSON_GetObjectItem(r, "tone_ids"), g->tone_ids, ni)) >= 0) what = "tone_ids";
                else if ((at = diff_longs(cJSON_GetObjectItem(r, "lang_ids"), g->lang_ids, ni)) >= 0) what = "lang_ids";
                else if ((at = diff_longs(cJSON_GetObjectItem(r, "word2ph_blank"), g->word2ph_blank, g->n_word2ph)) >= 0)
                    what = "word2ph_blank";
                else if ((at = diff_longs(cJSON_GetObjectItem(r, "phone_ids_no_extra"), g0->phone_ids, g0->n_ids)) >= 0)
                    what = "phone_ids_no_extra";
                else e2e_ok++;
            }
            if (what) printf("e2e   %-28s %s at %ld\n", id, what, at);
            sbv2_g2p_result_free(g);
            sbv2_g2p_result_free(g0);
        }
        /* g2p from the golden NJD */
        const cJSON *njd = cJSON_GetObjectItem(r, "njd");
        const int g2p_rejects = stage && (!strcmp(stage, "g2p") || !strcmp(stage, "cleaned_text_to_sequence"));
        if (njd && (ph || g2p_rejects)) {
            if (g2p_rejects) rejected_n++;
            else g2p_n++;
            njd_list l;
            njd_from_json(njd, &l);
            jp_g2p_out o;
            rc = jp_g2p_from_njd(&l, &o, &e);
            const char *what = NULL;
            long at = -1;
            int *ids = NULL;
            if (!rc) {
                ids = malloc(sizeof(int) * (4 * (2 * o.n_phones + 1) + o.n_word2ph));
                int *pi = ids, *ti = pi + 2 * o.n_phones + 1, *li = ti + 2 * o.n_phones + 1, *wb = li + 2 * o.n_phones + 1;
                int *pn = wb + o.n_word2ph;
                rc = jp_g2p_ids(&o, 1, pi, ti, li, wb, &e);
                if (!rc) rc = jp_g2p_ids(&o, 0, pn, ti, li, wb, &e);
            }
            if (g2p_rejects) {
                if (rc) rejected_ok++;
                else printf("g2p   %-28s SBV2 rejects it (%s), we accepted\n", id, stage);
                free(ids);
                jp_g2p_out_free(&o);
                njd_list_free(&l);
                cJSON_Delete(r);
                continue;
            }
            const size_t ni = 2 * o.n_phones + 1;
            if (rc) what = e.message;
            else if ((at = diff_strs(cJSON_GetObjectItem(r, "prosody"), o.prosody, o.n_prosody)) >= 0) what = "prosody";
            else if ((at = diff_strs(ph, o.phones, o.n_phones)) >= 0) what = "phones";
            else if ((at = diff_ints(cJSON_GetObjectItem(r, "tones"), o.tones, o.n_phones)) >= 0) what = "tones";
            else if ((at = diff_ints(cJSON_GetObjectItem(r, "word2ph"), o.word2ph, o.n_word2ph)) >= 0) what = "word2ph";
            else if (strcmp(cJSON_GetObjectItem(r, "bert_text")->valuestring, o.bert_text)) what = "bert_text";
            else if ((at = diff_ints(cJSON_GetObjectItem(r, "phone_ids"), ids, ni)) >= 0) what = "phone_ids";
            else if ((at = diff_ints(cJSON_GetObjectItem(r, "tone_ids"), ids + ni, ni)) >= 0) what = "tone_ids";
            else if ((at = diff_ints(cJSON_GetObjectItem(r, "lang_ids"), ids + 2 * ni, ni)) >= 0) what = "lang_ids";
            else if ((at = diff_ints(cJSON_GetObjectItem(r, "word2ph_blank"), ids + 3 * ni, o.n_word2ph)) >= 0)
                what = "word2ph_blank";
            else if ((at = diff_ints(cJSON_GetObjectItem(r, "phone_ids_no_extra"), ids + 3 * ni + o.n_word2ph, ni)) >= 0)
                what = "phone_ids_no_extra";
            free(ids);
            if (!what) g2p_ok++;
            else printf("g2p   %-28s %s at %ld\n", id, what, at);
            jp_g2p_out_free(&o);
            njd_list_free(&l);
        }
        cJSON_Delete(r);
    }
    free(all);
    printf("normalize_text: %d/%d records exact (%.1f %%); rejected as SBV2 does: %d/%d\n", norm_ok, norm_n,
           100.0 * norm_ok / (norm_n ? norm_n : 1), rejected_ok, rejected_n);
    printf("g2p from NJD:   %d/%d records exact (%.1f %%)\n", g2p_ok, g2p_n, 100.0 * g2p_ok / (g2p_n ? g2p_n : 1));
    printf("run_frontend:   %d/%d records exact (%.1f %%)\n", njd_ok, njd_n, 100.0 * njd_ok / (njd_n ? njd_n : 1));
    printf("text -> ids:    %d/%d records as SBV2 (%.1f %%; SBV2's rejections included)\n", e2e_ok, e2e_n,
           100.0 * e2e_ok / (e2e_n ? e2e_n : 1));
    jp_mecab_close(mecab);
    /* fuzz: random bytes and random code points never crash */
    uint64_t s = 12345;
    for (int it = 0; it < 3000; it++) {
        char buf[64];
        int n = it % 60;
        for (int k = 0; k < n; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[k] = (char)(s >> 56);
        }
        char *o = NULL;
        sbv2_error e = {0};
        if (jp_normalize_text(buf, (size_t)n, &o, &e) == 0) free(o);
    }
    /* fuzz the whole frontend: random bytes and random code points (kana, kanji,
       digits, punctuation, anything) never crash; every outcome is a result or
       an error */
    int fuzz_ok = 0, fuzz_err = 0;
    for (int it = 0; fe && it < 1500; it++) {
        char buf[256];
        size_t n = 0;
        const int mode = it % 3, len = 1 + it % 40;
        for (int k = 0; k < len && n + 4 < sizeof buf; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t v = (uint32_t)(s >> 33);
            if (mode == 0) { buf[n++] = (char)(v & 0xff); continue; }
            static const uint32_t base[] = {0x3041, 0x30a1, 0x4e00, 0x30, 0xff01, 0x20, 0x2010, 0x1f600, 0x3099};
            uint32_t cp = mode == 1 ? base[v % 9] + (v >> 8) % 90 : 1 + v % 0x10ffff;
            if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x3042;
            n += utf8_encode(cp, buf + n);
        }
        sbv2_g2p_result *g = NULL;
        sbv2_error fe_err = {0};
        if (sbv2_g2p(fe, buf, n, 1, &g, &fe_err) == SBV2_OK) fuzz_ok++;
        else fuzz_err++;
        sbv2_g2p_result_free(g);
    }
    printf("fuzz: %d texts read, %d rejected with a message, no crash\n", fuzz_ok, fuzz_err);
    /* a user dictionary word changes the reading (and a malformed one is an error) */
    int ud_ok = 0;
    if (fe) {
        char csv[] = "/tmp/sbv2-test-udic-XXXXXX";
        int fd = mkstemp(csv);
        const char row[] = "ほげふが,,,1,名詞,固有名詞,一般,*,*,*,ほげふが,モゲムガ,モゲムガ,1/4,*\n";
        if (fd >= 0 && write(fd, row, sizeof row - 1) == (ssize_t)(sizeof row - 1)) {
            sbv2_frontend_options fo = sbv2_frontend_default_options();
            fo.user_dict = csv;
            sbv2_frontend *fu = sbv2_frontend_new(&fo, &me);
            sbv2_g2p_result *g = NULL;
            if (fu && sbv2_g2p(fu, "ほげふがです", strlen("ほげふがです"), 1, &g, &me) == SBV2_OK && g->n_phones > 3 &&
                !strcmp(g->phones[1], "m") && g->tones[1] == 1 && g->tones[2] == 1 && g->tones[3] == 0)
                ud_ok = 1;
            else printf("user dictionary: %s\n", fu ? "reading not applied" : me.message);
            sbv2_g2p_result_free(g);
            sbv2_frontend_free(fu);
            const char bad[] = "only,three,fields\n";
            if (ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, bad, sizeof bad - 1) > 0) {
                fu = sbv2_frontend_new(&fo, &me);
                if (fu) ud_ok = 0, printf("user dictionary: a malformed CSV was accepted\n");
                sbv2_frontend_free(fu);
            }
        }
        if (fd >= 0) close(fd), unlink(csv);
    }
    printf("user dictionary: %s\n", ud_ok ? "ok" : "FAILED");
    sbv2_frontend_free(fe);
    const int ok = ud_ok && e2e_ok * 100 >= 99 * e2e_n && norm_ok * 100 >= 99 * norm_n && g2p_ok * 100 >= 99 * g2p_n && rejected_ok == rejected_n;
    return ok ? 0 : 1;
}
