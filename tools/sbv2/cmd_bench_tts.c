/* sbv2 bench-tts: streaming against the one-shot call on a full-size random
 * generator and a full-size random BERT: time to first audio, to the last
 * chunk, the one-shot time, their ratio, peak RSS, and how far the streamed
 * samples are from the one-shot ones. Each run is a fresh process. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sbv2.h"
#include "cli.h"

static const char T40[] = "今日はとても良い天気なので、近くの公園まで散歩に行きました。桜が満開で綺麗です。";
static const char T200[] =
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。"
    "吾輩はここで始めて人間というものを見た。しかもあとで聞くとそれは書生という人間中で一番獰悪な種族であったそうだ。この書生というのは時々我々を"
    "捕えて煮て食うという話である。しかしその当時は何という考もなかったから別段恐しいとも思わなかった。ただ彼の掌に載せられた。";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* child: bench-tts-run MODEL BERT TEXT_FILE THREADS MODE OUT.f32 */
int cmd_bench_tts_run(int argc, char **argv) {
    if (argc != 7) return 2;
    const char *mode = argv[5];
    size_t len = 0;
    FILE *tf = fopen(argv[3], "rb");
    if (!tf) return 1;
    char text[65536];
    len = fread(text, 1, sizeof text - 1, tf);
    fclose(tf);
    text[len] = '\0';
    sbv2_error err = {0};
    sbv2_model *m = sbv2_model_load(argv[1], &err);
    sbv2_bert *b = m ? sbv2_bert_load(argv[2], NULL, &err) : NULL;
    sbv2_frontend *fe = b ? sbv2_frontend_new(NULL, &err) : NULL;
    sbv2_state *st = fe ? sbv2_state_new(m, &err) : NULL;
    FILE *of = st ? fopen(argv[6], "wb") : NULL;
    if (!of) {
        fprintf(stderr, "bench-tts-run: %s\n", err.message[0] ? err.message : "cannot open the output");
        return 1;
    }
    sbv2_tts_params p = sbv2_tts_default_params();
    p.n_threads = atoi(argv[4]);
    p.seed = 1;
    double t0 = now_s(), ttfa = 0, total = 0;
    size_t samples = 0, chunks = 0;
    int rc = 1;
    if (!strcmp(mode, "oneshot")) {
        sbv2_tts_result *r = NULL;
        if (sbv2_tts(st, fe, b, text, &p, &r, &err) == SBV2_OK) {
            total = ttfa = now_s() - t0;
            samples = r->n_samples, chunks = 1;
            rc = fwrite(r->audio, sizeof(float), r->n_samples, of) == r->n_samples ? 0 : 1;
        }
        sbv2_tts_result_free(r);
    } else {
        p.split_sentences = !strcmp(mode, "stream") ? -1 : 0;
        sbv2_tts_stream *s = NULL;
        rc = sbv2_tts_stream_start(st, fe, b, text, &p, &s, &err) == SBV2_OK ? 0 : 1;
        for (int last = 0; rc == 0 && !last;) {
            sbv2_tts_chunk c;
            if (sbv2_tts_stream_next(s, &c, &err) != SBV2_OK) { rc = 1; break; }
            if (!chunks++) ttfa = now_s() - t0;
            last = c.is_last;
            samples += c.n_samples;
            if (fwrite(c.samples, sizeof(float), c.n_samples, of) != c.n_samples) rc = 1;
        }
        total = now_s() - t0;
        sbv2_tts_stream_free(s);
    }
    fclose(of);
    if (rc) fprintf(stderr, "bench-tts-run: %s\n", err.message);
    else printf("{\"ttfa\": %.6f, \"total\": %.6f, \"samples\": %zu, \"chunks\": %zu}\n", ttfa, total, samples, chunks);
    sbv2_state_free(st), sbv2_frontend_free(fe), sbv2_bert_free(b), sbv2_model_free(m);
    return rc;
}

/* max |a - b| of two float files of the same length; -1 when they differ in length */
static double max_diff(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    double d = fa && fb ? 0 : -1;
    float x[4096], y[4096];
    size_t na, nb;
    while (d >= 0 && (na = fread(x, 4, 4096, fa)) > 0) {
        nb = fread(y, 4, 4096, fb);
        if (nb != na) { d = -1; break; }
        for (size_t i = 0; i < na; i++) d = fabs((double)x[i] - y[i]) > d ? fabs((double)x[i] - y[i]) : d;
    }
    if (d >= 0 && fread(y, 4, 1, fb) == 1) d = -1;
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return d;
}

static const char k_usage[] =
    "usage: sbv2 bench-tts [--dir DIR] [--threads 1,2] [--chars 40,200,1000] [--rounds N]\n"
    "  Writes a full-size random generator (SBV2's default dimensions) and a full-size random\n"
    "  BERT (deberta-v2-large-japanese-char-wwm's, ~700 MB) into DIR (default: sbv2-bench-tts\n"
    "  under $TMPDIR or /tmp, kept for the next run), then for texts of about 40, 200 and 1,000\n"
    "  characters at each thread count runs, alternating, fresh processes: the one-shot call\n"
    "  (sbv2_tts, SBV2's exact output), a stream with the defaults (long lines cut at sentence\n"
    "  ends), and a stream without that cut (the one-shot's audio, window by window). It prints\n"
    "  the time to first audio (TTFA), to the last chunk, the one-shot time, TTFA / one-shot,\n"
    "  peak RSS, and the largest difference of the uncut stream from the one-shot samples.\n"
    "  Medians of --rounds rounds (1).\n";

int cmd_bench_tts(int argc, char **argv) {
    const char *dir = NULL, *threads_s = "1,2", *chars_s = "40,200,1000";
    uint64_t rounds = 1;
    for (int i = 1; i < argc; i++) {
        const int has = i + 1 < argc;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(argv[i], "--dir") && has) dir = argv[++i];
        else if (!strcmp(argv[i], "--threads") && has) threads_s = argv[++i];
        else if (!strcmp(argv[i], "--chars") && has) chars_s = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && has) {
            if (!cli_parse_u64(argv[++i], &rounds) || !rounds || rounds > 20) { fprintf(stderr, "sbv2 bench-tts: bad --rounds (1..20)\n"); return 2; }
        } else { fprintf(stderr, "sbv2 bench-tts: unknown or incomplete option %s\n%s", argv[i], k_usage); return 2; }
    }
    char dbuf[4096];
    if (!dir) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dbuf, sizeof dbuf, "%s/sbv2-bench-tts", tmp && *tmp ? tmp : "/tmp");
        dir = dbuf;
    }
    mkdir(dir, 0755);
    char model[4200], bert[4200], exe[4200], path[4400];
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(bert, sizeof bert, "%s/bert", dir);
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (el <= 0) return 1;
    exe[el] = '\0';
    struct stat sb;
    snprintf(path, sizeof path, "%s/config.json", model);
    if (stat(path, &sb) != 0) {
        char *a[] = {exe, "testmodel", model, "--size", "full", "--seed", "1", NULL};
        child_result cr = {0};
        printf("sbv2 bench-tts: writing a full-size random generator to %s\n", model);
        if (bench_run_child(a, &cr) != 0 && stat(path, &sb) != 0) { fprintf(stderr, "sbv2 bench-tts: cannot write the model\n"); return 1; }
        cJSON_Delete(cr.json);
    }
    snprintf(path, sizeof path, "%s/config.json", bert);
    if (stat(path, &sb) != 0) {
        printf("sbv2 bench-tts: writing a full-size random BERT (~700 MB) to %s\n", bert);
        fflush(stdout);
        if (bert_write_test_model(bert, &BERT_REAL_DIMS, 1) != 0) { fprintf(stderr, "sbv2 bench-tts: cannot write the BERT\n"); return 1; }
    }
    printf("sbv2 bench-tts: working in %s (%s)\n", dir, sbv2_system_info());
    printf("\n%-6s %-7s %-10s %-10s %-9s %-10s %-12s %-10s %-9s %-9s %-9s\n", "chars", "threads", "one-shot", "TTFA", "TTFA/one", "last",
           "uncut TTFA", "uncut/one", "max|d|", "MB one", "MB stream");
    fflush(stdout);
    char tl[256], cl[256];
    snprintf(tl, sizeof tl, "%s", threads_s);
    for (char *ts = strtok(tl, ","); ts; ts = strtok(NULL, ",")) {
        snprintf(cl, sizeof cl, "%s", chars_s);
        char *save = NULL;
        for (char *cs = strtok_r(cl, ",", &save); cs; cs = strtok_r(NULL, ",", &save)) {
            const int chars = atoi(cs);
            /* the text: the 40- or 200-character one, or the 200 repeated to the length asked */
            char text[65536] = "";
            if (chars <= 40) snprintf(text, sizeof text, "%s", T40);
            else
                for (int k = 0; k < (chars + 199) / 200 && strlen(text) + sizeof T200 < sizeof text; k++) strcat(text, T200);
            char tf[4400];
            snprintf(tf, sizeof tf, "%s/text_%d.txt", dir, chars);
            FILE *f = fopen(tf, "wb");
            if (!f || fputs(text, f) < 0 || fclose(f) != 0) { fprintf(stderr, "sbv2 bench-tts: cannot write %s\n", tf); return 1; }
            static const char *modes[3] = {"oneshot", "stream", "stream-nosplit"};
            double v[3][2][20], rss[3] = {0};
            /* the uncut stream of a 1,000-character line is one flow over ~17,000 frames
               (minutes, and the one-shot's memory): the equality figure comes from the
               shorter texts */
            const int modes_n = chars <= 400 ? 3 : 2;
            for (uint64_t r = 0; r < rounds; r++)
                for (int k = 0; k < modes_n; k++) {
                    char out[4400];
                    snprintf(out, sizeof out, "%s/out_%s.f32", dir, modes[k]);
                    char *a[] = {exe, "bench-tts-run", model, bert, tf, ts, (char *)modes[k], out, NULL};
                    child_result cr = {0};
                    if (bench_run_child(a, &cr) != 0 || !cr.json) { fprintf(stderr, "sbv2 bench-tts: the %s run failed\n", modes[k]); return 1; }
                    v[k][0][r] = cJSON_GetObjectItem(cr.json, "ttfa")->valuedouble;
                    v[k][1][r] = cJSON_GetObjectItem(cr.json, "total")->valuedouble;
                    rss[k] = cr.rss_mb > rss[k] ? cr.rss_mb : rss[k];
                    cJSON_Delete(cr.json);
                }
            char o1[4400], o2[4400];
            snprintf(o1, sizeof o1, "%s/out_oneshot.f32", dir);
            snprintf(o2, sizeof o2, "%s/out_stream-nosplit.f32", dir);
            const double d = modes_n == 3 ? max_diff(o1, o2) : NAN;
            const double one = bench_median(v[0][1], (int)rounds), tt = bench_median(v[1][0], (int)rounds);
            const double last = bench_median(v[1][1], (int)rounds), ut = modes_n == 3 ? bench_median(v[2][0], (int)rounds) : NAN;
            printf("%-6d %-7s %-10.3f %-10.3f %-9.3f %-10.3f %-12.3f %-10.3f %-9.2g %-9.0f %-9.0f\n", chars, ts, one, tt, tt / one, last, ut,
                   ut / one, d, rss[0], rss[1]);
            fflush(stdout);
        }
    }
    printf("\nseconds, medians of %llu round(s); each run a fresh process (loading not timed); TTFA/one = first streamed\n"
           "audio / the one-shot time; uncut = a stream without the sentence cut (the one-shot's audio; max|d| = its largest\n"
           "difference from the one-shot samples, -1 = other lengths; not run above 400 characters); MB = peak RSS.\n",
           (unsigned long long)rounds);
    return 0;
}
