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
    const char *name;
    npy_dtype dtype;
    npy_array a;
} input_t;

/* Loads DIR/in_<name>.npy with exact dtype and rank; batch must be 1. */
static int load_input(const char *dir, input_t *in, int rank, const int64_t *shape, sbv2_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/in_%s.npy", dir, in->name);
    int rc = npy_load(&in->a, path, err);
    if (rc != SBV2_OK) return rc;
    if (in->a.dtype != in->dtype)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s: dtype %s, expected %s", path, npy_dtype_name(in->a.dtype),
                         npy_dtype_name(in->dtype));
    int scalar_ok = rank == 0 && in->a.ndim == 1 && in->a.shape[0] == 1;
    if (in->a.ndim != rank && !scalar_ok)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s: %d dims, expected %d", path, in->a.ndim, rank);
    for (int i = 0; i < rank; i++)
        if (shape[i] >= 0 && in->a.shape[i] != shape[i]) {
            if (i == 0 && in->a.shape[0] > 1)
                return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "%s: batch size %lld; only batch 1 is supported", path,
                                 (long long)in->a.shape[0]);
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s: dim %d is %lld, expected %lld", path, i,
                             (long long)in->a.shape[i], (long long)shape[i]);
        }
    return SBV2_OK;
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
    enum { X, XL, SID, TONES, LANG, BERT, JA, EN, STYLE, LS, SDP, NS, NSW, N_IN };
    input_t in[N_IN] = {
        {"x_tst", NPY_I64, {0}},        {"x_tst_lengths", NPY_I64, {0}}, {"sid", NPY_I64, {0}},
        {"tones", NPY_I64, {0}},        {"language", NPY_I64, {0}},      {"bert", NPY_F32, {0}},
        {"ja_bert", NPY_F32, {0}},      {"en_bert", NPY_F32, {0}},       {"style_vec", NPY_F32, {0}},
        {"length_scale", NPY_F32, {0}}, {"sdp_ratio", NPY_F32, {0}},     {"noise_scale", NPY_F32, {0}},
        {"noise_scale_w", NPY_F32, {0}},
    };
    int rc = SBV2_OK, exit_code = 1;
    float *audio = NULL;
    size_t n = 0;
    sbv2_state *st = NULL;
    const int64_t s_bl[2] = {1, -1}, s_b[1] = {1};
    rc = load_input(in_dir, &in[X], 2, s_bl, &err);
    int64_t L = rc == SBV2_OK ? in[X].a.shape[1] : 0;
    const int64_t s_bl2[2] = {1, L}, s_bert[3] = {1, SBV2_BERT_DIM, L}, s_style[2] = {1, SBV2_STYLE_DIM};
    if (rc == SBV2_OK && L < 1) rc = sbv2_fail(&err, SBV2_ERR_INVALID_ARGUMENT, "in_x_tst.npy has no tokens");
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[XL], 1, s_b, &err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[SID], 1, s_b, &err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[TONES], 2, s_bl2, &err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[LANG], 2, s_bl2, &err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[BERT], 3, s_bert, &err);
    if (rc == SBV2_OK && multi) rc = load_input(in_dir, &in[JA], 3, s_bert, &err);
    if (rc == SBV2_OK && multi) rc = load_input(in_dir, &in[EN], 3, s_bert, &err);
    if (rc == SBV2_OK) rc = load_input(in_dir, &in[STYLE], 2, s_style, &err);
    for (int k = LS; k <= NSW && rc == SBV2_OK; k++) rc = load_input(in_dir, &in[k], 0, NULL, &err);
    if (rc != SBV2_OK) goto out;
    int64_t xl = ((int64_t *)in[XL].a.data)[0];
    if (xl < 1 || xl > L) {
        rc = sbv2_fail(&err, SBV2_ERR_INVALID_ARGUMENT, "x_tst_lengths is %lld, must be in [1, %lld]", (long long)xl, (long long)L);
        goto out;
    }
    sbv2_infer_input inp = {
        .n_tokens = (size_t)L,
        .phone_ids = in[X].a.data,
        .tone_ids = in[TONES].a.data,
        .lang_ids = in[LANG].a.data,
        .bert = in[BERT].a.data,
        .ja_bert = multi ? in[JA].a.data : NULL,
        .en_bert = multi ? in[EN].a.data : NULL,
        .style_vec = in[STYLE].a.data,
        .speaker_id = ((int64_t *)in[SID].a.data)[0],
        .valid_length = (size_t)xl,
    };
    sbv2_infer_params p = sbv2_infer_default_params();
    p.length_scale = ((float *)in[LS].a.data)[0];
    p.sdp_ratio = ((float *)in[SDP].a.data)[0];
    p.noise_scale = ((float *)in[NS].a.data)[0];
    p.noise_scale_w = ((float *)in[NSW].a.data)[0];
    float *scal[4] = {&p.length_scale, &p.sdp_ratio, &p.noise_scale, &p.noise_scale_w};
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
    for (int k = 0; k < N_IN; k++) npy_free(&in[k].a);
    sbv2_free(audio);
    sbv2_state_free(st);
    sbv2_model_free(m);
    return exit_code;
}
