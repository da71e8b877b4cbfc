/* The Japanese frontend against SBV2's own outputs (golden/g2p/dev.jsonl):
 * normalize_text() from the raw text, and g2p() fed with the record's NJD
 * words (pyopenjtalk.run_frontend output), stage by stage. Prints the match
 * rate and the first difference of every mismatching record. */
#include <cjson/cJSON.h>
#include <stdint.h>

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
                    for (int k = 0; k < 11 && bad < 0; k++)
                        if (strcmp(cJSON_GetObjectItem(o, names[k])->valuestring, vals[k])) bad = (long)i, field = names[k];
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
        /* the whole chain from the raw text */
        const cJSON *ph = cJSON_GetObjectItem(r, "phones");
        if (mecab && (ph || stage)) {
            e2e_n++;
            char *nrm = NULL;
            njd_list nl = {0};
            jp_g2p_out go = {0};
            int erc = jp_normalize_text(text, strlen(text), &nrm, &e);
            if (!erc) erc = jp_run_frontend(mecab, nrm, strlen(nrm), &nl, &e);
            if (!erc) erc = jp_g2p_from_njd(&nl, &go, &e);
            int *ids = NULL;
            if (!erc) {
                size_t ni = 2 * go.n_phones + 1;
                ids = malloc(sizeof(int) * (3 * ni + go.n_word2ph + ni));
                erc = jp_g2p_ids(&go, 1, ids, ids + ni, ids + 2 * ni, ids + 3 * ni, &e);
                if (!erc) erc = jp_g2p_ids(&go, 0, ids + 3 * ni + go.n_word2ph, ids + ni, ids + 2 * ni, ids + 3 * ni, &e);
                if (!erc) jp_g2p_ids(&go, 1, ids, ids + ni, ids + 2 * ni, ids + 3 * ni, &e);
            }
            const char *what = NULL;
            long at = -1;
            if (stage) {
                if (erc) e2e_ok++;
                else what = "SBV2 rejects it, we accepted";
            } else if (erc) what = e.message;
            else {
                const size_t ni = 2 * go.n_phones + 1;
                if ((at = diff_strs(ph, go.phones, go.n_phones)) >= 0) what = "phones";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "tones"), go.tones, go.n_phones)) >= 0) what = "tones";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "word2ph"), go.word2ph, go.n_word2ph)) >= 0) what = "word2ph";
                else if (strcmp(cJSON_GetObjectItem(r, "bert_text")->valuestring, go.bert_text)) what = "bert_text";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "phone_ids"), ids, ni)) >= 0) what = "phone_ids";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "tone_ids"), ids + ni, ni)) >= 0) what = "tone_ids";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "lang_ids"), ids + 2 * ni, ni)) >= 0) what = "lang_ids";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "word2ph_blank"), ids + 3 * ni, go.n_word2ph)) >= 0)
                    what = "word2ph_blank";
                else if ((at = diff_ints(cJSON_GetObjectItem(r, "phone_ids_no_extra"), ids + 3 * ni + go.n_word2ph, ni)) >= 0)
                    what = "phone_ids_no_extra";
                else e2e_ok++;
            }
            if (what) printf("e2e   %-28s %s at %ld\n", id, what, at);
            free(ids), free(nrm);
            jp_g2p_out_free(&go);
            njd_list_free(&nl);
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
    const int ok = norm_ok * 100 >= 99 * norm_n && g2p_ok * 100 >= 99 * g2p_n && rejected_ok == rejected_n;
    return ok ? 0 : 1;
}
