/* sbv2 bench: sbv2c against ONNX Runtime on the same machine, same model,
 * same inputs, in one run.
 *  1. writes a full-size random-weight JP-Extra model in SBV2's file layout,
 *  2. exports it with sbv2_export_onnx(),
 *  3. makes zero-noise inputs of 10, 60 and 200 phones,
 *  4. for 1 and 2 threads runs sbv2c and ONNX Runtime (Node, full graph
 *     optimisation) alternately, each in its own child process (so peak RSS is
 *     per engine), and prints medians, real-time factors, the ORT/sbv2c ratio,
 *     a per-stage breakdown, decoder GFLOP/s against the kernel's measured in-cache rate.
 * `sbv2 bench-run` is the sbv2c child. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/conv.h"
#include "core/isa.h"
#include "inputs.h"
#include "sbv2.h"

#ifndef SBV2_SOURCE_DIR
#define SBV2_SOURCE_DIR "."
#endif

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + 1e-6 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n) {
    if (n <= 0) return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- the sbv2c child: stage times from the tensor callback --------------- */

enum { ST_TEXT, ST_DUR, ST_ALIGN, ST_FLOW, ST_DEC, N_ST };
static const char *k_stage_names[N_ST] = {"text_encoder", "durations", "alignment", "flow", "decoder"};

typedef struct {
    double t_last, ms[N_ST];
} stage_clock;

/* Stage ends: enc_x, logw, z_p, z, output (see infer.c). */
static int on_tensor(const sbv2_tensor_view *t, void *ud) {
    stage_clock *c = ud;
    int st = -1;
    if (!strcmp(t->name, "enc_x")) st = ST_TEXT;
    else if (!strcmp(t->name, "logw")) st = ST_DUR;
    else if (!strcmp(t->name, "z_p")) st = ST_ALIGN;
    else if (!strcmp(t->name, "z")) st = ST_FLOW;
    else if (!strcmp(t->name, "output")) st = ST_DEC;
    if (st >= 0) {
        double n = now_ms();
        c->ms[st] += n - c->t_last;
        c->t_last = n;
    }
    return 0;
}

int cmd_bench_run(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: sbv2 bench-run MODEL INPUT_DIR THREADS REPS\n");
        return 2;
    }
    uint64_t threads, reps;
    if (!cli_parse_u64(argv[3], &threads) || !cli_parse_u64(argv[4], &reps) || threads < 1 || reps < 1) return 2;
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load(argv[1], &err);
    if (!m) { fprintf(stderr, "bench-run: %s\n", err.message); return 1; }
    sbv2_model_info info;
    sbv2_model_get_info(m, &info);
    cli_inputs ci;
    if (cli_inputs_load(&ci, argv[2], info.arch == SBV2_ARCH_MULTILINGUAL, &err) != SBV2_OK) {
        fprintf(stderr, "bench-run: %s\n", err.message);
        sbv2_model_free(m);
        return 1;
    }
    sbv2_state *st = sbv2_state_new(m, &err);
    double *times = calloc(reps, sizeof *times), *stage[N_ST];
    for (int s = 0; s < N_ST; s++) stage[s] = calloc(reps, sizeof(double));
    size_t n = 0;
    int rc = 0;
    const uint64_t warm = 2; /* warm-up runs, as many as the ORT side does */
    for (uint64_t r = 0; r < reps + warm && rc == 0; r++) {
        stage_clock clk;
        memset(&clk, 0, sizeof clk);
        sbv2_infer_params p = ci.params;
        p.n_threads = (int)threads;
        p.seed = 1;
        p.on_tensor = on_tensor;
        p.user_data = &clk;
        float *audio = NULL;
        double t0 = now_ms();
        clk.t_last = t0;
        rc = sbv2_infer(st, &ci.input, &p, &audio, &n, &err);
        double dt = now_ms() - t0;
        sbv2_free(audio);
        if (r >= warm) {
            times[r - warm] = dt;
            for (int s = 0; s < N_ST; s++) stage[s][r - warm] = clk.ms[s];
        }
    }
    if (rc != 0) fprintf(stderr, "bench-run: %s\n", err.message);
    else {
        printf("{\"samples\": %zu, \"times\": [", n);
        for (uint64_t r = 0; r < reps; r++) printf("%s%.3f", r ? ", " : "", times[r]);
        printf("], \"stages\": {");
        for (int s = 0; s < N_ST; s++) printf("%s\"%s\": %.3f", s ? ", " : "", k_stage_names[s], bench_median(stage[s], (int)reps));
        printf("}}\n");
    }
    for (int s = 0; s < N_ST; s++) free(stage[s]);
    free(times);
    cli_inputs_free(&ci);
    sbv2_state_free(st);
    sbv2_model_free(m);
    return rc ? 1 : 0;
}

/* ---- the parent ------------------------------------------------------------ */

/* Runs argv as a child, captures its stdout, returns its peak RSS. */
int bench_run_child(char *const argv[], child_result *out) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    char buf[1 << 16];
    size_t len = 0;
    ssize_t got;
    while ((got = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)got;
    close(fds[0]);
    buf[len] = 0;
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
    char *nl = strrchr(buf, '\n'), *line = nl ? nl + 1 : buf; /* the last line */
    out->json = cJSON_Parse(line);
    out->rss_mb = (double)ru.ru_maxrss / 1024.0;
    return out->json ? 0 : -1;
}

/* Dense multiply-adds x2 of the decoder for T frames (what both engines compute). */
static double decoder_gflop(const sbv2_model_info *in, int frames) {
    double f = 0, len = frames;
    int C = in->upsample_initial_channel;
    f += 2.0 * C * in->inter_channels * 7 * len; /* conv_pre */
    for (int i = 0; i < in->n_upsamples; i++) {
        f += 2.0 * C * (C / 2) * in->upsample_kernel_sizes[i] * len; /* transposed conv */
        C /= 2;
        len *= in->upsample_rates[i];
        int convs = in->resblock == '1' ? 6 : 2;
        for (int j = 0; j < in->n_resblock_kernels; j++) f += 2.0 * C * C * in->resblock_kernel_sizes[j] * convs * len;
    }
    f += 2.0 * C * 7 * len; /* conv_post */
    return f / 1e9;
}

int bench_set_isa(const char *cmd, const char *v) {
    isa_t want;
    if (setenv("SBV2_ISA", v, 1) != 0 || isa_from_env(&want) != 0) {
        fprintf(stderr, "sbv2 %s: --isa must be avx512, avx2 or generic\n", cmd);
        return -1;
    }
    if (want > isa_cpu()) fprintf(stderr, "sbv2 %s: this CPU has no %s; running %s\n", cmd, v, isa_name(isa_active()));
    return 0;
}

const char *bench_ort_preload(int want_avx2, char *buf, size_t cap) {
    if (!want_avx2 || isa_cpu() != ISA_AVX512) {
        printf("ONNX Runtime: the CPU's own kernels\n");
        return NULL;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(buf, cap, "%s/tests/libcpuid_avx2.so", self);
    if (access(buf, R_OK) != 0) {
        printf("ONNX Runtime: the CPU's own kernels (AVX-512): %s is missing, so its AVX2 kernels cannot be chosen\n", buf);
        return NULL;
    }
    printf("ONNX Runtime: its AVX2 kernels, as on an AVX2 machine (AVX-512 hidden from it by %s)\n", buf);
    return buf;
}

int bench_run_pair(char *const sbv2c[], char *const ort[], const char *ort_preload, child_result *cs, child_result *co) {
    if (bench_run_child(sbv2c, cs) != 0) return -1;
    if (ort_preload) setenv("LD_PRELOAD", ort_preload, 1);
    const int rc = bench_run_child(ort, co);
    if (ort_preload) unsetenv("LD_PRELOAD");
    return rc;
}

void bench_print_peaks(double kernel[3]) {
    const double f1 = conv_fma_loop_gflops(1, 0.3), f2 = conv_fma_loop_gflops(2, 0.3);
    kernel[0] = 0, kernel[1] = conv_kernel_gflops(1, 0.3), kernel[2] = conv_kernel_gflops(2, 0.3);
    printf("kernels: %s (cpu: %s; SBV2_ISA or --isa chooses a lower path)\n", isa_name(isa_active()), isa_name(isa_cpu()));
    printf("  FMA-loop peak       %6.1f GFLOP/s (1 thread) %6.1f GFLOP/s (2 threads)\n", f1, f2);
    printf("  kernel, in cache    %6.1f GFLOP/s (%3.0f%%)   %6.1f GFLOP/s (%3.0f%%)\n", kernel[1], 100.0 * kernel[1] / f1, kernel[2],
           100.0 * kernel[2] / f2);
}

static int sh(const char *cmd) {
    int r = system(cmd);
    return r == 0 ? 0 : -1;
}

int cmd_bench(int argc, char **argv) {
    const char *dir = NULL, *ort_dir = SBV2_SOURCE_DIR "/tests/ort";
    uint64_t rounds = 3, reps = 2, only = 0, only_threads = 0;
    int ort_avx2 = 0, ort_native = 0; /* ORT on AVX2 follows --isa below AVX-512, unless --ort-native */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: sbv2 bench [--dir DIR] [--ort-dir DIR] [--rounds N] [--reps N] [--phones N] [--threads N]\n"
                   "                  [--isa avx512|avx2|generic] [--ort-native]\n"
                   "  Writes a full-size random JP-Extra model and its ONNX export into DIR (default: a\n"
                   "  new folder under /tmp), then times sbv2c against ONNX Runtime (Node package in\n"
                   "  --ort-dir, default %s) on 10, 60 and 200 phones at 1 and 2 threads, alternating\n"
                   "  engines for N rounds of M timed runs (after two warm-up runs) each. --phones/--threads\n"
                   "  restrict the run to one length / thread count; --isa runs sbv2c's kernels on a lower\n"
                   "  path than the CPU's best (as SBV2_ISA does); with --isa avx2 on an AVX-512 CPU, ONNX\n"
                   "  Runtime runs its AVX2 kernels too (AVX-512 hidden by build/tests/libcpuid_avx2.so),\n"
                   "  unless --ort-native. Prints the FMA-loop peak and the kernel's in-cache rate first.\n",
                   SBV2_SOURCE_DIR "/tests/ort");
            return 0;
        } else if (!strcmp(a, "--dir") && v) dir = v, i++;
        else if (!strcmp(a, "--ort-dir") && v) ort_dir = v, i++;
        else if (!strcmp(a, "--isa") && v) {
            if (bench_set_isa("bench", v)) return 2;
            ort_avx2 = strcmp(v, "avx512") != 0;
            i++;
        } else if (!strcmp(a, "--ort-native")) ort_native = 1;
        else if (!strcmp(a, "--rounds") && v && cli_parse_u64(v, &rounds) && rounds >= 1) i++;
        else if (!strcmp(a, "--reps") && v && cli_parse_u64(v, &reps) && reps >= 1) i++;
        else if (!strcmp(a, "--phones") && v && cli_parse_u64(v, &only) && only >= 1 && only <= 10000) i++;
        else if (!strcmp(a, "--threads") && v && cli_parse_u64(v, &only_threads) && only_threads >= 1 && only_threads <= 2) i++;
        else { fprintf(stderr, "sbv2 bench: bad argument %s\n", a); return 2; }
    }
    char tmpl[] = "/tmp/sbv2-bench-XXXXXX", self[4096], path[4400], cmd[9000];
    if (!dir && !(dir = mkdtemp(tmpl))) { perror("mkdtemp"); return 1; }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) { fprintf(stderr, "sbv2 bench: cannot create %s\n", dir); return 1; }
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) { perror("readlink"); return 1; }
    self[sl] = 0;
    char node_script[4400], onnx[4400], model[4400];
    snprintf(node_script, sizeof node_script, "%s/bench.js", ort_dir);
    snprintf(path, sizeof path, "%s/node_modules/onnxruntime-node", ort_dir);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "sbv2 bench: onnxruntime-node not found in %s (cd %s && npm install --ignore-scripts)\n", ort_dir, ort_dir);
        return 1;
    }
    snprintf(model, sizeof model, "%s/model", dir);
    snprintf(onnx, sizeof onnx, "%s/model.onnx", dir);
    printf("sbv2 bench: working in %s\n", dir);
    snprintf(cmd, sizeof cmd, "'%s' testmodel '%s' --size full --seed 1 2>/dev/null", self, model);
    if (sh(cmd)) { fprintf(stderr, "sbv2 bench: testmodel failed\n"); return 1; }
    sbv2_error err = {0, ""};
    double t0 = now_ms();
    sbv2_model *m = sbv2_model_load(model, &err);
    if (!m) { fprintf(stderr, "sbv2 bench: %s\n", err.message); return 1; }
    double t_load = now_ms() - t0;
    sbv2_model_info info;
    sbv2_model_get_info(m, &info);
    t0 = now_ms();
    if (sbv2_export_onnx(m, onnx, NULL, &err) != SBV2_OK) { fprintf(stderr, "sbv2 bench: %s\n", err.message); return 1; }
    double t_export = now_ms() - t0;
    stat(onnx, &sb);
    printf("model: full-size JP-Extra (hidden %d, decoder %d, %lld parameters); load %.0f ms, ONNX export %.0f ms (%.0f MB)\n",
           info.hidden_channels, info.upsample_initial_channel, (long long)info.n_params, t_load, t_export, (double)sb.st_size / 1e6);
    double peak[3];
    bench_print_peaks(peak);
    char pre_buf[4200];
    const char *preload = bench_ort_preload(ort_avx2 && !ort_native, pre_buf, sizeof pre_buf);
    printf("\n");
    sbv2_model_free(m);

    int phones[3] = {10, 60, 200}, n_len = 3;
    if (only) phones[0] = (int)only, n_len = 1;
    for (int li = 0; li < n_len; li++) {
        snprintf(path, sizeof path, "%s/in_%d", dir, phones[li]);
        snprintf(cmd, sizeof cmd, "'%s' demo '%s' --tokens %d --seed %d --noise 0 --noise-w 0 --save-inputs '%s' --inputs-only",
                 self, model, phones[li], 100 + li, path);
        if (sh(cmd)) { fprintf(stderr, "sbv2 bench: cannot write inputs\n"); return 1; }
    }
    printf("%-7s %-7s %-8s %-22s %-22s %-9s %-10s %-10s %s\n", "phones", "threads", "audio_s", "sbv2c ms (RTF)",
           "ORT ms (RTF)", "ORT/sbv2c", "sbv2c MB", "ORT MB", "decoder GFLOP/s (% of peak)");
    char stage_lines[6][512];
    int n_stage_lines = 0;
    for (int threads = 1; threads <= 2; threads++) {
        if (only_threads && threads != (int)only_threads) continue;
        for (int li = 0; li < n_len; li++) {
            char in_dir[4400], th[16], rp[16];
            snprintf(in_dir, sizeof in_dir, "%s/in_%d", dir, phones[li]);
            snprintf(th, sizeof th, "%d", threads);
            snprintf(rp, sizeof rp, "%llu", (unsigned long long)reps);
            double ts[256], to[256], st_sum[N_ST] = {0};
            int ns = 0, no = 0;
            double rss_s = 0, rss_o = 0;
            long samples = 0;
            for (uint64_t r = 0; r < rounds; r++) {
                char *a1[] = {self, "bench-run", model, in_dir, th, rp, NULL};
                char *a2[] = {"node", node_script, onnx, in_dir, th, rp, NULL};
                child_result cs = {0}, co = {0};
                if (bench_run_pair(a1, a2, preload, &cs, &co) != 0) {
                    fprintf(stderr, "sbv2 bench: a child run failed\n");
                    return 1;
                }
                if (!cJSON_GetObjectItem(cs.json, "stages") || !cJSON_GetObjectItem(co.json, "samples")) {
                    fprintf(stderr, "sbv2 bench: unexpected child output\n");
                    return 1;
                }
                cJSON *e;
                cJSON_ArrayForEach(e, cJSON_GetObjectItem(cs.json, "times")) if (ns < 256) ts[ns++] = e->valuedouble;
                cJSON_ArrayForEach(e, cJSON_GetObjectItem(co.json, "times")) if (no < 256) to[no++] = e->valuedouble;
                cJSON *stj = cJSON_GetObjectItem(cs.json, "stages");
                for (int s = 0; s < N_ST; s++) st_sum[s] += cJSON_GetObjectItem(stj, k_stage_names[s])->valuedouble / (double)rounds;
                samples = (long)cJSON_GetObjectItem(cs.json, "samples")->valuedouble;
                long so = (long)cJSON_GetObjectItem(co.json, "samples")->valuedouble;
                if (so != samples) fprintf(stderr, "warning: ORT produced %ld samples, sbv2c %ld\n", so, samples);
                if (cs.rss_mb > rss_s) rss_s = cs.rss_mb;
                if (co.rss_mb > rss_o) rss_o = co.rss_mb;
                cJSON_Delete(cs.json);
                cJSON_Delete(co.json);
            }
            double ms_s = bench_median(ts, ns), ms_o = bench_median(to, no), audio = (double)samples / info.sampling_rate;
            int frames = (int)(samples / info.hop_length);
            double dec_gf = decoder_gflop(&info, frames) / (st_sum[ST_DEC] / 1e3);
            char c1[64], c2[64];
            snprintf(c1, sizeof c1, "%.0f (%.3f)", ms_s, ms_s / 1e3 / audio);
            snprintf(c2, sizeof c2, "%.0f (%.3f)", ms_o, ms_o / 1e3 / audio);
            printf("%-7d %-7d %-8.2f %-22s %-22s %-9.2f %-10.0f %-10.0f %.0f (%.0f%%)\n", phones[li], threads, audio, c1, c2,
                   ms_o / ms_s, rss_s, rss_o, dec_gf, 100.0 * dec_gf / peak[threads]);
            fflush(stdout);
            int o = snprintf(stage_lines[n_stage_lines], sizeof stage_lines[0], "%3d phones, %d thread%s, %4d frames:", phones[li],
                             threads, threads > 1 ? "s" : " ", frames);
            for (int s = 0; s < N_ST; s++)
                o += snprintf(stage_lines[n_stage_lines] + o, sizeof stage_lines[0] - (size_t)o, " %s %.0f", k_stage_names[s], st_sum[s]);
            n_stage_lines++;
        }
    }
    printf("\nsbv2c per-stage medians (ms):\n");
    for (int i = 0; i < n_stage_lines; i++) printf("  %s\n", stage_lines[i]);
    printf("\nmedians over %llu rounds x %llu runs, engines alternating, each round in a fresh process;\n"
           "RTF = inference time / audio duration; RSS = peak resident set of the engine's process;\n"
           "decoder GFLOP/s counts direct-convolution FLOPs (what a dense engine computes): above 100 %% of\n"
           "the kernel peak means the FFT and Winograd kernels needed fewer multiplications.\n",
           (unsigned long long)rounds, (unsigned long long)reps);
    return 0;
}
