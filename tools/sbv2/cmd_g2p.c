/* sbv2 g2p: SBV2's Japanese frontend (normalize_text + g2p + symbol ids). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbv2.h"
#include "cli.h"

static void g2p_usage(FILE *fp) {
    fprintf(fp,
            "usage: sbv2 g2p TEXT [--json] [--no-jp-extra] [--dict DIR] [--user-dict CSV]\n"
            "       sbv2 g2p --jsonl [--no-jp-extra] [--dict DIR] [--user-dict CSV] < IN.jsonl > OUT.jsonl\n"
            "  Japanese text -> what SBV2's get_text() computes: norm_text, phones, tones,\n"
            "  word2ph, bert_text and the model's ids with blanks (phone_ids, tone_ids,\n"
            "  lang_ids, word2ph_blank).\n"
            "  --json         one JSON object instead of readable lines\n"
            "  --jsonl        read JSON objects with a \"text\" field, one per line, from stdin;\n"
            "                 write one object per line (\"error\" when a text is rejected);\n"
            "                 the time per 1,000 characters goes to stderr\n"
            "  --no-jp-extra  read ん as the older (non JP-Extra) models do\n"
            "  --dict DIR     Open JTalk MeCab dictionary (default: the one set up at build)\n"
            "  --user-dict CSV  user words, MeCab/Open JTalk CSV rows as pyopenjtalk and SBV2 use:\n"
            "                 surface,left_id,right_id,cost,pos,pos1,pos2,pos3,ctype,cform,orig,\n"
            "                 read,pron,acc/morae,chain_rule\n");
}

static cJSON *ints(const int *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}
static cJSON *longs(const int64_t *v, size_t n) {
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
    return a;
}

static cJSON *result_json(const char *text, const sbv2_g2p_result *r) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "text", text);
    cJSON_AddStringToObject(o, "norm_text", r->norm_text);
    cJSON *ph = cJSON_CreateStringArray(r->phones, (int)r->n_phones);
    cJSON_AddItemToObject(o, "phones", ph);
    cJSON_AddItemToObject(o, "tones", ints(r->tones, r->n_phones));
    cJSON_AddItemToObject(o, "word2ph", ints(r->word2ph, r->n_word2ph));
    cJSON_AddItemToObject(o, "phone_ids", longs(r->phone_ids, r->n_ids));
    cJSON_AddItemToObject(o, "tone_ids", longs(r->tone_ids, r->n_ids));
    cJSON_AddItemToObject(o, "lang_ids", longs(r->lang_ids, r->n_ids));
    cJSON_AddItemToObject(o, "word2ph_blank", longs(r->word2ph_blank, r->n_word2ph));
    cJSON_AddStringToObject(o, "bert_text", r->bert_text);
    return o;
}

static int print_json(cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return 1;
    puts(s);
    free(s);
    return 0;
}

static int run_jsonl(const sbv2_frontend *fe, int jp_extra) {
    size_t cap = 1 << 16, chars = 0;
    char *line = malloc(cap);
    double secs = 0;
    int bad = 0;
    if (!line) return 1;
    for (;;) {
        size_t n = 0;
        int c;
        while ((c = getchar()) != EOF && c != '\n') {
            if (n + 1 >= cap) {
                char *p = realloc(line, cap *= 2);
                if (!p) { free(line); return 1; }
                line = p;
            }
            line[n++] = (char)c;
        }
        if (n == 0 && c == EOF) break;
        line[n] = '\0';
        cJSON *in = cJSON_Parse(line);
        const cJSON *t = in ? cJSON_GetObjectItemCaseSensitive(in, "text") : NULL;
        if (!cJSON_IsString(t)) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "error", "line is not a JSON object with a \"text\" string");
            print_json(o);
            cJSON_Delete(in);
            bad++;
            if (c == EOF) break;
            continue;
        }
        sbv2_g2p_result *r = NULL;
        sbv2_error err = {0};
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rc = sbv2_g2p(fe, t->valuestring, strlen(t->valuestring), jp_extra, &r, &err);
        clock_gettime(CLOCK_MONOTONIC, &b);
        secs += (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
        for (const char *p = t->valuestring; *p; p++) chars += ((unsigned char)*p & 0xc0) != 0x80;
        cJSON *o;
        if (rc == SBV2_OK) o = result_json(t->valuestring, r);
        else {
            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "text", t->valuestring);
            cJSON_AddStringToObject(o, "error", err.message);
        }
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(in, "id");
        if (cJSON_IsString(id)) cJSON_AddStringToObject(o, "id", id->valuestring);
        print_json(o);
        sbv2_g2p_result_free(r);
        cJSON_Delete(in);
        if (c == EOF) break;
    }
    free(line);
    fprintf(stderr, "sbv2 g2p: %zu characters in %.1f ms (%.2f ms per 1,000 characters)%s\n", chars, secs * 1e3,
            chars ? secs * 1e6 / (double)chars : 0.0, bad ? "; some lines were not JSON objects with \"text\"" : "");
    return 0;
}

int cmd_g2p(int argc, char **argv) {
    const char *text = NULL;
    int json = 0, jsonl = 0, jp_extra = 1;
    sbv2_frontend_options fo = sbv2_frontend_default_options();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { g2p_usage(stdout); return 0; }
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--jsonl")) jsonl = 1;
        else if (!strcmp(a, "--no-jp-extra")) jp_extra = 0;
        else if ((!strcmp(a, "--dict") || !strcmp(a, "--user-dict")) && i + 1 < argc) {
            if (!strcmp(a, "--dict")) fo.dict_dir = argv[++i];
            else fo.user_dict = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "sbv2 g2p: unknown or incomplete option %s\n", a);
            g2p_usage(stderr);
            return 2;
        } else if (!text) text = a;
        else {
            fprintf(stderr, "sbv2 g2p: one TEXT only (quote it)\n");
            return 2;
        }
    }
    if (!text && !jsonl) { g2p_usage(stderr); return 2; }
    sbv2_error err = {0};
    sbv2_frontend *fe = sbv2_frontend_new(&fo, &err);
    if (!fe) { fprintf(stderr, "sbv2 g2p: %s\n", err.message); return 1; }
    int rc;
    if (jsonl) rc = run_jsonl(fe, jp_extra);
    else {
        sbv2_g2p_result *r = NULL;
        if (sbv2_g2p(fe, text, strlen(text), jp_extra, &r, &err) != SBV2_OK) {
            fprintf(stderr, "sbv2 g2p: %s\n", err.message);
            rc = 1;
        } else if (json) {
            rc = print_json(result_json(text, r));
        } else {
            printf("norm_text: %s\nbert_text: %s\nphones:", r->norm_text, r->bert_text);
            for (size_t i = 0; i < r->n_phones; i++) printf(" %s", r->phones[i]);
            printf("\ntones:  ");
            for (size_t i = 0; i < r->n_phones; i++) printf(" %d", r->tones[i]);
            printf("\nword2ph:");
            for (size_t i = 0; i < r->n_word2ph; i++) printf(" %d", r->word2ph[i]);
            printf("\n");
            rc = 0;
        }
        sbv2_g2p_result_free(r);
    }
    sbv2_frontend_free(fe);
    return rc;
}
