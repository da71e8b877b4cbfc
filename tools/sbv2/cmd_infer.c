/* sbv2 infer MODEL --inputs DIR --output OUT.npy [--wav OUT.wav] [--seed N]
 *            [--threads N] [--dump DIR]
 * Feeds SBV2's ONNX inputs (DIR/in_<name>.npy) to net_g.infer(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "inputs.h"
#include "formats/npy.h"
#include "formats/wav.h"
#include "sbv2.h"

static const char *k_usage =
    "usage: sbv2 infer MODEL --inputs DIR --output OUT.npy [--wav OUT.wav] [--seed N]\n"
    "                  [--threads N] [--dump DIR]\n"
    "  --inputs DIR   in_x_tst.npy, in_x_tst_lengths.npy, in_sid.npy, in_tones.npy,\n"
    "                 in_language.npy, in_bert.npy (+ in_ja_bert.npy, in_en_bert.npy for\n"
    "                 the older multilingual architecture), in_style_vec.npy,\n"
    "                 in_length_scale.npy, in_sdp_ratio.npy, in_noise_scale.npy,\n"
    "                 in_noise_scale_w.npy: SBV2's ONNX inputs, batch 1\n"
    "  --output F     the wav as float32 npy [1, 1, samples]\n"
    "  --wav F        also a 16-bit PCM WAV at the model's sampling rate\n"
    "  --seed N       noise seed (default: random); the same seed gives the same audio\n"
    "  --threads N    worker threads (default 1)\n"
    "  --dump DIR     write every intermediate tensor as DIR/<name>.npy\n"
    "  --length-scale X, --sdp-ratio X, --noise-scale X, --noise-scale-w X\n"
    "                 override the scalar read from DIR\n";

int cli_parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-') return 0;
    *out = v;
    return 1;
}

typedef struct {
    const char *dir;
    int failed;
} dump_ctx;

static int dump_tensor(const sbv2_tensor_view *t, void *ud) {
    dump_ctx *d = ud;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.npy", d->dir, t->name);
    sbv2_error err;
    if (npy_save(path, t->is_int64 ? NPY_I64 : NPY_F32, t->ndim, t->shape, t->data, &err) != SBV2_OK) {
        fprintf(stderr, "sbv2 infer: %s\n", err.message);
        d->failed = 1;
        return 1;
    }
    return 0;
}

int cmd_infer(int argc, char **argv) {
    const char *model_path = NULL, *in_dir = NULL, *out_npy = NULL, *out_wav = NULL, *dump_dir = NULL;
    uint64_t seed = 0, threads = 1;
    int have_seed = 0;
    const char *ovr_name[4] = {"--length-scale", "--sdp-ratio", "--noise-scale", "--noise-scale-w"};
    float ovr_val[4];
    int ovr_set[4] = {0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(a, "--inputs") && v) in_dir = v, i++;
        else if (!strcmp(a, "--output") && v) out_npy = v, i++;
        else if (!strcmp(a, "--wav") && v) out_wav = v, i++;
        else if (!strcmp(a, "--dump") && v) dump_dir = v, i++;
        else if (!strcmp(a, "--seed") && v) {
            if (!cli_parse_u64(v, &seed)) { fprintf(stderr, "sbv2 infer: bad --seed %s\n", v); return 2; }
            have_seed = 1, i++;
        } else if (!strcmp(a, "--threads") && v) {
            if (!cli_parse_u64(v, &threads) || threads < 1 || threads > 1024) {
                fprintf(stderr, "sbv2 infer: bad --threads %s\n", v);
                return 2;
            }
            i++;
        } else if (a[0] == '-' && v && (!strcmp(a, ovr_name[0]) || !strcmp(a, ovr_name[1]) || !strcmp(a, ovr_name[2]) || !strcmp(a, ovr_name[3]))) {
            int k = 0;
            while (strcmp(a, ovr_name[k])) k++;
            char *end;
            ovr_val[k] = strtof(v, &end);
            if (!*v || *end) { fprintf(stderr, "sbv2 infer: bad %s %s\n", a, v); return 2; }
            ovr_set[k] = 1, i++;
        } else if (a[0] == '-') {
            fprintf(stderr, "sbv2 infer: unknown or incomplete option %s\n%s", a, k_usage);
            return 2;
        } else if (!model_path) model_path = a;
        else { fprintf(stderr, "sbv2 infer: unexpected argument %s\n", a); return 2; }
    }
    if (!model_path || !in_dir || !out_npy) {
        fputs(k_usage, stderr);
        return 2;
    }
    if (!have_seed) seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load(model_path, &err);
    if (!m) {
        fprintf(stderr, "sbv2 infer: %s\n", err.message);
        return 1;
    }
    sbv2_model_info info;
    sbv2_model_get_info(m, &info);
    const int multi = info.arch == SBV2_ARCH_MULTILINGUAL;
    int rc = SBV2_OK, exit_code = 1;
    float *audio = NULL;
    size_t n = 0;
    sbv2_state *st = NULL;
    cli_inputs ci;
    rc = cli_inputs_load(&ci, in_dir, multi, &err);
    if (rc != SBV2_OK) goto out;
    sbv2_infer_input inp = ci.input;
    sbv2_infer_params p = ci.params;
    double *scal[4] = {&p.length_scale, &p.sdp_ratio, &p.noise_scale, &p.noise_scale_w};
    for (int k = 0; k < 4; k++)
        if (ovr_set[k]) *scal[k] = ovr_val[k];
    p.seed = seed;
    p.n_threads = (int)threads;
    dump_ctx dc = {dump_dir, 0};
    if (dump_dir) {
        if (mkdir(dump_dir, 0777) != 0 && errno != EEXIST) {
            rc = sbv2_fail(&err, SBV2_ERR_IO, "cannot create %s: %s", dump_dir, strerror(errno));
            goto out;
        }
        p.on_tensor = dump_tensor;
        p.user_data = &dc;
    }
    st = sbv2_state_new(m, &err);
    if (!st) { rc = err.code; goto out; }
    rc = sbv2_infer(st, &inp, &p, &audio, &n, &err);
    if (rc != SBV2_OK) goto out;
    const int64_t shape[3] = {1, 1, (int64_t)n};
    rc = npy_save(out_npy, NPY_F32, 3, shape, audio, &err);
    if (rc == SBV2_OK && out_wav) rc = wav_write_pcm16(out_wav, audio, n, info.sampling_rate, &err);
    if (rc == SBV2_OK) {
        fprintf(stderr, "sbv2 infer: %zu samples (%.2f s at %d Hz), seed %llu\n", n, (double)n / info.sampling_rate,
                info.sampling_rate, (unsigned long long)seed);
        exit_code = 0;
    }
out:
    if (rc != SBV2_OK) fprintf(stderr, "sbv2 infer: %s\n", err.message);
    cli_inputs_free(&ci);
    sbv2_free(audio);
    sbv2_state_free(st);
    sbv2_model_free(m);
    return exit_code;
}
