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

#include "formats/npy.h"
#include "sbv2.h"
#include "cli.h"

#ifndef SBV2_SOURCE_DIR
#define SBV2_SOURCE_DIR "."
#endif

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
    int ort_avx2 = 0, ort_native = 0; /* ORT on AVX2 follows --isa below AVX-512, unless --ort-native */
    for (int i = 1; i < argc; i++) {
        const int has = i + 1 < argc;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: sbv2 bench-bert [--dir DIR] [--ort-dir DIR] [--rounds N] [--reps N] [--threads N]\n"
                   "                       [--isa avx512|avx2|generic] [--ort-native]\n"
                   "  Writes a full-size random-weight DeBERTa-v2 with the real configuration of\n"
                   "  ku-nlp/deberta-v2-large-japanese-char-wwm (fp16, ~700 MB) and its convert-bert\n"
                   "  export (~1.2 GB) into DIR (default: a new folder under /tmp), then times the\n"
                   "  hidden state SBV2 reads on a 40- and a 200-character text against ONNX Runtime\n"
                   "  (Node package, full optimisation, same threads; default 2), engines alternating.\n"
                   "  --isa runs sbv2c's kernels on a lower path than the CPU's best (as SBV2_ISA does);\n"
                   "  with --isa avx2 on an AVX-512 CPU ONNX Runtime runs its AVX2 kernels too (CPUID\n"
                   "  shim build/tests/libcpuid_avx2.so), unless --ort-native.\n");
            return 0;
        } else if (!strcmp(argv[i], "--dir") && has) dir = argv[++i];
        else if (!strcmp(argv[i], "--ort-dir") && has) ort_dir = argv[++i];
        else if (!strcmp(argv[i], "--isa") && has) {
            if (bench_set_isa("bench-bert", argv[++i])) return 2;
            ort_avx2 = strcmp(argv[i], "avx512") != 0;
        } else if (!strcmp(argv[i], "--ort-native")) ort_native = 1;
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
    if (stat(self, &sb) != 0 && bert_write_test_model(model, &BERT_REAL_DIMS, 2024) != 0) { fprintf(stderr, "sbv2 bench-bert: cannot write the model\n"); return 1; }
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
    double kernel[3];
    bench_print_peaks(kernel);
    char pre_buf[4200];
    const char *preload = bench_ort_preload(ort_avx2 && !ort_native, pre_buf, sizeof pre_buf);
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
            if (bench_run_pair(a1, a2, preload, &cs, &co) != 0) { fprintf(stderr, "sbv2 bench-bert: a child failed\n"); return 1; }
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
