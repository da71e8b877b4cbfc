/* sbv2 bench-bert: sbv2c's DeBERTa-v2 against ONNX Runtime on the
 * convert-bert export of the same random full-size weights (the real
 * ku-nlp/deberta-v2-large-japanese-char-wwm configuration), same threads,
 * alternating engines, each round in fresh processes. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "formats/npy.h"
#include "sbv2.h"
#include "cli.h"

#ifndef SBV2_SOURCE_DIR
#define SBV2_SOURCE_DIR "."
#endif

static uint16_t to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000;
    int e = (int)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffff;
    if (e <= 0) return (uint16_t)sign; /* tiny: zero */
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    return (uint16_t)(sign | (uint32_t)e << 10 | (m + 0x1000) >> 13);
}

typedef struct { char name[160]; int ndim; int64_t shape[3]; int kind; } wdesc; /* kind 0 random, 1 ones, 2 zeros */

/* The real configuration, random fp16 weights, a vocabulary of CJK characters. */
static int write_model(const char *dir) {
    enum { H = 1024, L = 24, I = 4096, V = 22012, P2 = 512 };
    char p[4200];
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fprintf(f, "{\"architectures\": [\"DebertaV2ForMaskedLM\"], \"attention_head_size\": 64, \"conv_act\": \"gelu\",\n"
               " \"conv_kernel_size\": 3, \"hidden_act\": \"gelu\", \"hidden_size\": %d, \"intermediate_size\": %d,\n"
               " \"layer_norm_eps\": 1e-07, \"max_position_embeddings\": 512, \"max_relative_positions\": -1,\n"
               " \"model_type\": \"deberta-v2\", \"norm_rel_ebd\": \"layer_norm\", \"num_attention_heads\": 16,\n"
               " \"num_hidden_layers\": %d, \"pad_token_id\": 0, \"pos_att_type\": [\"p2c\", \"c2p\"],\n"
               " \"position_biased_input\": false, \"position_buckets\": 256, \"relative_attention\": true,\n"
               " \"share_att_key\": true, \"torch_dtype\": \"float16\", \"type_vocab_size\": 0, \"vocab_size\": %d}\n",
            H, I, L, V);
    fclose(f);
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    f = fopen(p, "w");
    if (!f) return -1;
    fprintf(f, "[PAD]\n[CLS]\n[SEP]\n[UNK]\n[MASK]\n");
    for (uint32_t c = 0x4e00; c < 0x4e00 + V - 5; c++)
        fprintf(f, "%c%c%c\n", 0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    fclose(f);
    /* tensor list */
    wdesc *w = calloc(16 * L + 16, sizeof *w);
    int n = 0;
#define ADD(K, ND, A, B, C, ...) do { snprintf(w[n].name, sizeof w[n].name, __VA_ARGS__); w[n].ndim = ND; w[n].shape[0] = A; w[n].shape[1] = B; w[n].shape[2] = C; w[n].kind = K; n++; } while (0)
    ADD(0, 2, V, H, 0, "deberta.embeddings.word_embeddings.weight");
    ADD(1, 1, H, 0, 0, "deberta.embeddings.LayerNorm.weight");
    ADD(2, 1, H, 0, 0, "deberta.embeddings.LayerNorm.bias");
    ADD(0, 2, P2, H, 0, "deberta.encoder.rel_embeddings.weight");
    ADD(1, 1, H, 0, 0, "deberta.encoder.LayerNorm.weight");
    ADD(2, 1, H, 0, 0, "deberta.encoder.LayerNorm.bias");
    ADD(0, 3, H, H, 3, "deberta.encoder.conv.conv.weight");
    ADD(0, 1, H, 0, 0, "deberta.encoder.conv.conv.bias");
    ADD(1, 1, H, 0, 0, "deberta.encoder.conv.LayerNorm.weight");
    ADD(2, 1, H, 0, 0, "deberta.encoder.conv.LayerNorm.bias");
    for (int l = 0; l < L; l++) {
        const char *lin[6] = {"attention.self.query_proj", "attention.self.key_proj", "attention.self.value_proj",
                              "attention.output.dense", "intermediate.dense", "output.dense"};
        const int outd[6] = {H, H, H, H, I, H}, ind[6] = {H, H, H, H, H, I};
        for (int k = 0; k < 6; k++) {
            ADD(0, 2, outd[k], ind[k], 0, "deberta.encoder.layer.%d.%s.weight", l, lin[k]);
            ADD(0, 1, outd[k], 0, 0, "deberta.encoder.layer.%d.%s.bias", l, lin[k]);
        }
        ADD(1, 1, H, 0, 0, "deberta.encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(2, 1, H, 0, 0, "deberta.encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(1, 1, H, 0, 0, "deberta.encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(2, 1, H, 0, 0, "deberta.encoder.layer.%d.output.LayerNorm.bias", l);
    }
#undef ADD
    /* safetensors header */
    size_t hcap = (size_t)n * 256 + 64, hl = 0, off = 0;
    char *hdr = malloc(hcap);
    if (!hdr) { free(w); return -1; }
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "{");
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < w[i].ndim; d++) numel *= (size_t)w[i].shape[d];
        hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s\"%s\":{\"dtype\":\"F16\",\"shape\":[", i ? "," : "", w[i].name);
        for (int d = 0; d < w[i].ndim; d++) hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s%lld", d ? "," : "", (long long)w[i].shape[d]);
        hl += (size_t)snprintf(hdr + hl, hcap - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + 2 * numel);
        off += 2 * numel;
    }
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "}");
    while (hl % 8) hdr[hl++] = ' ';
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    f = fopen(p, "wb");
    int rc = f ? 0 : -1;
    uint64_t hl64 = hl;
    if (f) fwrite(&hl64, 8, 1, f), fwrite(hdr, 1, hl, f);
    sbv2_rng rng;
    sbv2_rng_seed(&rng, 2024);
    float *buf = malloc(sizeof(float) * (1 << 20));
    uint16_t *hb = malloc(sizeof(uint16_t) * (1 << 20));
    for (int i = 0; f && buf && hb && i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < w[i].ndim; d++) numel *= (size_t)w[i].shape[d];
        for (size_t done = 0; done < numel;) {
            size_t c = numel - done < (1 << 20) ? numel - done : (1 << 20);
            if (w[i].kind == 0) sbv2_rng_normal(&rng, buf, c);
            for (size_t k = 0; k < c; k++) hb[k] = to_half(w[i].kind == 0 ? buf[k] * 0.02f : w[i].kind == 1 ? 1.0f : 0.0f);
            if (fwrite(hb, 2, c, f) != c) rc = -1;
            done += c;
        }
    }
    if (f && fclose(f) != 0) rc = -1;
    free(buf), free(hb), free(hdr), free(w);
    return rc;
}

/* child: sbv2 bench-bert-run BERT_DIR IDS.npy THREADS REPS */
int cmd_bench_bert_run(int argc, char **argv) {
    uint64_t th = 1, reps = 1;
    if (argc != 5 || !cli_parse_u64(argv[3], &th) || !cli_parse_u64(argv[4], &reps) || th < 1 || reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: sbv2 bench-bert-run BERT_DIR IDS.npy THREADS REPS (REPS 1..1000)\n");
        return 2;
    }
    sbv2_error err = {0};
    npy_array ids;
    if (npy_load(&ids, argv[2], &err) != SBV2_OK || ids.dtype != NPY_I64 || ids.numel == 0) {
        fprintf(stderr, "sbv2 bench-bert-run: %s is not a non-empty int64 .npy\n", argv[2]);
        return 1;
    }
    sbv2_bert *b = sbv2_bert_load(argv[1], NULL, &err);
    if (!b) { fprintf(stderr, "%s\n", err.message); npy_free(&ids); return 1; }
    double *t = malloc(sizeof(double) * reps);
    int rc = 0;
    for (uint64_t i = 0; t && i < reps + 2 && !rc; i++) {
        struct timespec a, c;
        clock_gettime(CLOCK_MONOTONIC, &a);
        float *st = NULL;
        rc = sbv2_bert_hidden(b, (const int64_t *)ids.data, ids.numel, (int)th, &st, &err);
        clock_gettime(CLOCK_MONOTONIC, &c);
        sbv2_free(st);
        if (i >= 2) t[i - 2] = (double)(c.tv_sec - a.tv_sec) * 1e3 + (double)(c.tv_nsec - a.tv_nsec) / 1e6;
    }
    if (!rc && t) {
        printf("{\"tokens\": %zu, \"times\": [", ids.numel);
        for (uint64_t i = 0; i < reps; i++) printf("%s%.3f", i ? ", " : "", t[i]);
        printf("]}\n");
    }
    free(t);
    sbv2_bert_free(b);
    npy_free(&ids);
    return rc ? 1 : 0;
}

int cmd_bench_bert(int argc, char **argv) {
    char dirbuf[256] = "";
    const char *dir = NULL, *ort_dir = SBV2_SOURCE_DIR "/tests/ort";
    uint64_t rounds = 3, reps = 3, threads = 2;
    for (int i = 1; i < argc; i++) {
        const int has = i + 1 < argc;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: sbv2 bench-bert [--dir DIR] [--ort-dir DIR] [--rounds N] [--reps N] [--threads N]\n"
                   "  Writes a full-size random-weight DeBERTa-v2 with the real configuration of\n"
                   "  ku-nlp/deberta-v2-large-japanese-char-wwm (fp16, ~700 MB) and its convert-bert\n"
                   "  export (~1.2 GB) into DIR (default: a new folder under /tmp), then times the\n"
                   "  hidden state SBV2 reads on a 40- and a 200-character text against ONNX Runtime\n"
                   "  (Node package, full optimisation, same threads; default 2), engines alternating.\n");
            return 0;
        } else if (!strcmp(argv[i], "--dir") && has) dir = argv[++i];
        else if (!strcmp(argv[i], "--ort-dir") && has) ort_dir = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && has) {
            if (!cli_parse_u64(argv[++i], &rounds) || !rounds || rounds > 50) { fprintf(stderr, "sbv2 bench-bert: bad --rounds (1..50)\n"); return 2; }
        }
        else if (!strcmp(argv[i], "--reps") && has) {
            if (!cli_parse_u64(argv[++i], &reps) || !reps || reps > 50) { fprintf(stderr, "sbv2 bench-bert: bad --reps (1..50)\n"); return 2; }
        }
        else if (!strcmp(argv[i], "--threads") && has) {
            if (!cli_parse_u64(argv[++i], &threads) || !threads || threads > 64) { fprintf(stderr, "sbv2 bench-bert: bad --threads (1..64)\n"); return 2; }
        }
        else { fprintf(stderr, "sbv2 bench-bert: unknown or incomplete option %s\n", argv[i]); return 2; }
    }
    if (!dir) {
        snprintf(dirbuf, sizeof dirbuf, "/tmp/sbv2-bench-bert-XXXXXX");
        if (!mkdtemp(dirbuf)) { fprintf(stderr, "sbv2 bench-bert: cannot make a folder: %s\n", strerror(errno)); return 1; }
        dir = dirbuf;
    }
    mkdir(dir, 0755); /* --dir may not exist yet */
    char model[4200], onnx[4200], script[4200], self[4200];
    snprintf(model, sizeof model, "%s/bert", dir);
    snprintf(onnx, sizeof onnx, "%s/bert.onnx", dir);
    snprintf(script, sizeof script, "%s/bench_bert.js", ort_dir);
    snprintf(self, sizeof self, "/proc/self/exe");
    char exe[4200];
    ssize_t el = readlink(self, exe, sizeof exe - 1);
    if (el <= 0) return 1;
    exe[el] = '\0';
    printf("sbv2 bench-bert: working in %s\n", dir);
    struct stat sb;
    snprintf(self, sizeof self, "%s/model.safetensors", model);
    if (stat(self, &sb) != 0 && write_model(model) != 0) { fprintf(stderr, "sbv2 bench-bert: cannot write the model\n"); return 1; }
    if (stat(onnx, &sb) != 0) {
        sbv2_error err = {0};
        sbv2_bert *b = sbv2_bert_load(model, NULL, &err);
        if (!b || sbv2_bert_export_onnx(b, onnx, &err) != SBV2_OK) {
            fprintf(stderr, "sbv2 bench-bert: %s\n", err.message);
            sbv2_bert_free(b);
            return 1;
        }
        sbv2_bert_free(b);
    }
    const int chars[2] = {40, 200};
    printf("\n%-7s %-7s %-8s %-14s %-14s %-9s %-10s %s\n", "chars", "tokens", "threads", "sbv2c ms", "ORT ms", "ORT/sbv2c",
           "sbv2c MB", "ORT MB");
    for (int li = 0; li < 2; li++) {
        char ids_path[4300];
        snprintf(ids_path, sizeof ids_path, "%s/ids_%d.npy", dir, chars[li]);
        int64_t ids[256];
        const int T = chars[li] + 2;
        ids[0] = 1, ids[T - 1] = 2;
        for (int t = 1; t < T - 1; t++) ids[t] = 5 + (t * 7919) % 22000;
        const int64_t shape[1] = {T};
        sbv2_error err = {0};
        if (npy_save(ids_path, NPY_I64, 1, shape, ids, &err) != SBV2_OK) return 1;
        char th[16], rp[16];
        snprintf(th, sizeof th, "%llu", (unsigned long long)threads);
        snprintf(rp, sizeof rp, "%llu", (unsigned long long)reps);
        double ts[1024], to[1024], rs = 0, ro = 0;
        int ns = 0, no = 0;
        for (uint64_t r = 0; r < rounds; r++) {
            char *a1[] = {exe, "bench-bert-run", model, ids_path, th, rp, NULL};
            char *a2[] = {"node", script, onnx, ids_path, th, rp, NULL};
            child_result cs = {0}, co = {0};
            if (bench_run_child(a1, &cs) != 0 || bench_run_child(a2, &co) != 0) { fprintf(stderr, "sbv2 bench-bert: a child failed\n"); return 1; }
            cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(cs.json, "times")) if (ns < 1024) ts[ns++] = e->valuedouble;
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(co.json, "times")) if (no < 1024) to[no++] = e->valuedouble;
            rs = cs.rss_mb > rs ? cs.rss_mb : rs, ro = co.rss_mb > ro ? co.rss_mb : ro;
            cJSON_Delete(cs.json), cJSON_Delete(co.json);
        }
        const double ms = bench_median(ts, ns), mo = bench_median(to, no);
        printf("%-7d %-7d %-8llu %-14.1f %-14.1f %-9.2f %-10.0f %.0f\n", chars[li], T, (unsigned long long)threads, ms, mo, mo / ms, rs, ro);
        fflush(stdout);
    }
    printf("\nmedians over %llu rounds x %llu runs (after 2 warm-ups), engines alternating, fresh processes;\n"
           "both compute hidden_states[-3] (22 of 24 layers) from the same token ids; RSS = peak of each process.\n",
           (unsigned long long)rounds, (unsigned long long)reps);
    return 0;
}
