/* sbv2 bert: SBV2's BERT features (DeBERTa-v2) for a text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/npy.h"
#include "sbv2.h"
#include "cli.h"

static void bert_usage(FILE *fp) {
    fprintf(fp,
            "usage: sbv2 bert BERT_DIR (--text T | --text-file PATH) [--word2ph N,N,...]\n"
            "                 [--assist-text A --assist-weight W] [--output FEAT.npy]\n"
            "                 [--layer-output STATE.npy] [--ids] [--threads N] [--weights FILE]\n"
            "  BERT_DIR: config.json, vocab.txt and model.safetensors or pytorch_model.bin, as SBV2\n"
            "  downloads ku-nlp/deberta-v2-large-japanese-char-wwm.\n"
            "  --word2ph       phones per token after add_blank (what extract_bert_feature receives);\n"
            "                  needed for --output, one entry per token ([CLS] and [SEP] included)\n"
            "  --output        per-phone feature [hidden, phones] (float32 .npy)\n"
            "  --layer-output  the hidden state SBV2 uses (hidden_states[-3]) [tokens, hidden]\n"
            "  --ids           print the token ids as one JSON array on the last line of stdout\n");
}

int cmd_bert(int argc, char **argv) {
    const char *dir = NULL, *text = NULL, *text_file = NULL, *w2p_s = NULL, *assist = NULL, *out = NULL, *lay = NULL;
    const char *weights = NULL;
    float aw = 0.0f;
    int print_ids = 0;
    uint64_t threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int has = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { bert_usage(stdout); return 0; }
        else if (!strcmp(a, "--text") && has) text = argv[++i];
        else if (!strcmp(a, "--text-file") && has) text_file = argv[++i];
        else if (!strcmp(a, "--word2ph") && has) w2p_s = argv[++i];
        else if (!strcmp(a, "--assist-text") && has) assist = argv[++i];
        else if (!strcmp(a, "--assist-weight") && has) {
            char *e;
            aw = strtof(argv[++i], &e);
            if (*e || !(aw >= 0.0f && aw <= 1.0f)) { fprintf(stderr, "sbv2 bert: bad --assist-weight (0..1)\n"); return 2; }
        } else if (!strcmp(a, "--output") && has) out = argv[++i];
        else if (!strcmp(a, "--layer-output") && has) lay = argv[++i];
        else if (!strcmp(a, "--weights") && has) weights = argv[++i];
        else if (!strcmp(a, "--ids")) print_ids = 1;
        else if (!strcmp(a, "--threads") && has) {
            if (!cli_parse_u64(argv[++i], &threads) || threads < 1 || threads > 256) { fprintf(stderr, "sbv2 bert: bad --threads\n"); return 2; }
        } else if (a[0] == '-') {
            fprintf(stderr, "sbv2 bert: unknown or incomplete option %s\n", a);
            bert_usage(stderr);
            return 2;
        } else if (!dir) dir = a;
        else { fprintf(stderr, "sbv2 bert: unexpected argument %s\n", a); return 2; }
    }
    if (!dir || (!text == !text_file)) { bert_usage(stderr); return 2; }
    if (out && !w2p_s) { fprintf(stderr, "sbv2 bert: --output needs --word2ph\n"); return 2; }
    char *owned = NULL;
    if (text_file) {
        FILE *f = fopen(text_file, "rb");
        if (!f) { fprintf(stderr, "sbv2 bert: cannot open %s\n", text_file); return 1; }
        size_t cap = 1 << 16, n = 0, r;
        owned = malloc(cap);
        while (owned && (r = fread(owned + n, 1, cap - n - 1, f)) > 0) {
            n += r;
            if (n + 1 == cap) {
                char *q = realloc(owned, cap *= 2);
                if (!q) { free(owned); owned = NULL; }
                else owned = q;
            }
        }
        fclose(f);
        if (!owned) { fprintf(stderr, "sbv2 bert: out of memory\n"); return 1; }
        while (n && (owned[n - 1] == '\n' || owned[n - 1] == '\r')) n--; /* the file's final newline */
        owned[n] = '\0';
        text = owned;
    }
    sbv2_error err = {0};
    int rc = 1;
    int *w2p = NULL;
    size_t nw = 0;
    if (w2p_s) {
        w2p = malloc(sizeof(int) * (strlen(w2p_s) / 2 + 2));
        for (const char *p = w2p_s; w2p && *p;) {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p || v < 0 || v > 100000 || (*e && *e != ',')) { fprintf(stderr, "sbv2 bert: bad --word2ph\n"); free(w2p), free(owned); return 2; }
            w2p[nw++] = (int)v;
            p = *e ? e + 1 : e;
        }
    }
    sbv2_bert *b = sbv2_bert_load(dir, weights, &err);
    int64_t *ids = NULL;
    size_t n = 0;
    float *st = NULL, *feat = NULL;
    size_t P = 0;
    if (!b) { fprintf(stderr, "sbv2 bert: %s\n", err.message); goto done; }
    if (sbv2_bert_tokenize(b, text, strlen(text), &ids, &n, &err) != SBV2_OK) { fprintf(stderr, "sbv2 bert: %s\n", err.message); goto done; }
    const int64_t H = (int64_t)sbv2_bert_hidden_size(b);
    if (lay) {
        if (sbv2_bert_hidden(b, ids, n, (int)threads, &st, &err) != SBV2_OK) { fprintf(stderr, "sbv2 bert: %s\n", err.message); goto done; }
        const int64_t shape[2] = {(int64_t)n, H};
        if (npy_save(lay, NPY_F32, 2, shape, st, &err) != SBV2_OK) { fprintf(stderr, "sbv2 bert: %s\n", err.message); goto done; }
    }
    if (out) {
        if (sbv2_bert_feature(b, text, strlen(text), w2p, nw, assist, aw, (int)threads, &feat, &P, &err) != SBV2_OK) {
            fprintf(stderr, "sbv2 bert: %s\n", err.message);
            goto done;
        }
        const int64_t shape[2] = {H, (int64_t)P};
        if (npy_save(out, NPY_F32, 2, shape, feat, &err) != SBV2_OK) { fprintf(stderr, "sbv2 bert: %s\n", err.message); goto done; }
    }
    printf("%zu tokens, hidden %lld%s%s\n", n, (long long)H, out ? ", feature written" : "", lay ? ", state written" : "");
    if (print_ids) {
        printf("[");
        for (size_t i = 0; i < n; i++) printf("%s%lld", i ? ", " : "", (long long)ids[i]);
        printf("]\n");
    }
    rc = 0;
done:
    sbv2_free(ids), sbv2_free(st), sbv2_free(feat);
    sbv2_bert_free(b);
    free(w2p), free(owned);
    return rc;
}
