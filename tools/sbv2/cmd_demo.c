/* sbv2 demo MODEL --wav OUT.wav: synthesizes a random phone sequence (random
 * BERT features) with a model. With a trained voice it babbles; with the
 * random test model it makes noise. It exercises the whole generator until
 * the text frontend and BERT land. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/rng.h"
#include "formats/npy.h"
#include "formats/wav.h"
#include "sbv2.h"

static const char *k_usage =
    "usage: sbv2 demo MODEL --wav OUT.wav [--tokens N] [--speaker NAME|ID]\n"
    "                 [--style NAME|ID] [--style-weight W] [--length-scale X]\n"
    "                 [--sdp-ratio X] [--noise X] [--noise-w X] [--seed N] [--threads N]\n"
    "                 [--save-inputs DIR]\n"
    "  --save-inputs DIR  also write the inputs as DIR/in_<name>.npy (sbv2 infer / ONNX Runtime)\n"
    "  --inputs-only      with --save-inputs: write the inputs and stop (no --wav needed)\n";

/* A name or a numeric id. */
static int resolve(const char *s, int (*by_name)(const sbv2_model *, const char *), const sbv2_model *m) {
    int id = by_name(m, s);
    if (id >= 0) return id;
    uint64_t v;
    return cli_parse_u64(s, &v) && v < 1000000 ? (int)v : -1;
}

static int parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end) return 0;
    *out = v;
    return 1;
}

/* The inputs in SBV2's ONNX layout, batch 1. */
static int save_inputs(const char *dir, const sbv2_infer_input *in, const sbv2_infer_params *p, int multi) {
    sbv2_error err;
    char path[4200];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "sbv2 demo: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    const int64_t L = (int64_t)in->n_tokens, s1[1] = {1}, sL[2] = {1, L}, sB[3] = {1, SBV2_BERT_DIM, L}, sS[2] = {1, SBV2_STYLE_DIM};
    const int64_t len = L, sid = in->speaker_id;
    float *zeros = calloc((size_t)SBV2_BERT_DIM * (size_t)L, sizeof(float));
    /* the scalars as the ONNX signature has them: float32 */
    const float ls = (float)p->length_scale, sr = (float)p->sdp_ratio, ns = (float)p->noise_scale, nw = (float)p->noise_scale_w;
    struct { const char *name; npy_dtype t; int nd; const int64_t *shape; const void *data; } f[] = {
        {"x_tst", NPY_I64, 2, sL, in->phone_ids}, {"x_tst_lengths", NPY_I64, 1, s1, &len}, {"sid", NPY_I64, 1, s1, &sid},
        {"tones", NPY_I64, 2, sL, in->tone_ids}, {"language", NPY_I64, 2, sL, in->lang_ids}, {"bert", NPY_F32, 3, sB, in->bert},
        {"ja_bert", NPY_F32, 3, sB, in->bert}, {"en_bert", NPY_F32, 3, sB, zeros}, {"style_vec", NPY_F32, 2, sS, in->style_vec},
        {"length_scale", NPY_F32, 0, NULL, &ls}, {"sdp_ratio", NPY_F32, 0, NULL, &sr},
        {"noise_scale", NPY_F32, 0, NULL, &ns}, {"noise_scale_w", NPY_F32, 0, NULL, &nw},
    };
    int rc = zeros ? 0 : 1;
    for (size_t i = 0; !rc && i < sizeof f / sizeof f[0]; i++) {
        if (!multi && (i == 6 || i == 7)) continue;
        snprintf(path, sizeof path, "%s/in_%s.npy", dir, f[i].name);
        if (npy_save(path, f[i].t, f[i].nd, f[i].shape, f[i].data, &err) != SBV2_OK) {
            fprintf(stderr, "sbv2 demo: %s\n", err.message);
            rc = 1;
        }
    }
    free(zeros);
    return rc;
}

int cmd_demo(int argc, char **argv) {
    const char *model_path = NULL, *wav = NULL, *spk = "0", *sty = "0", *save = NULL;
    uint64_t tokens = 40, seed = (uint64_t)time(NULL), threads = 1;
    sbv2_infer_params p = sbv2_infer_default_params();
    double style_weight = 1.0;
    int inputs_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(a, "--inputs-only")) { inputs_only = 1; continue; }
        else if (!strcmp(a, "--wav") && v) wav = v;
        else if (!strcmp(a, "--save-inputs") && v) save = v;
        else if (!strcmp(a, "--tokens") && v) ok = cli_parse_u64(v, &tokens) && tokens >= 1 && tokens <= 100000;
        else if (!strcmp(a, "--seed") && v) ok = cli_parse_u64(v, &seed);
        else if (!strcmp(a, "--threads") && v) ok = cli_parse_u64(v, &threads) && threads >= 1 && threads <= 1024;
        else if (!strcmp(a, "--speaker") && v) spk = v;
        else if (!strcmp(a, "--style") && v) sty = v;
        else if (!strcmp(a, "--style-weight") && v) ok = parse_double(v, &style_weight);
        else if (!strcmp(a, "--length-scale") && v) ok = parse_double(v, &p.length_scale);
        else if (!strcmp(a, "--sdp-ratio") && v) ok = parse_double(v, &p.sdp_ratio);
        else if (!strcmp(a, "--noise") && v) ok = parse_double(v, &p.noise_scale);
        else if (!strcmp(a, "--noise-w") && v) ok = parse_double(v, &p.noise_scale_w);
        else if (a[0] == '-') ok = 0;
        else if (!model_path) { model_path = a; continue; }
        else ok = 0;
        if (!ok) {
            fprintf(stderr, "sbv2 demo: bad argument %s%s%s\n%s", a, v ? " " : "", v ? v : "", k_usage);
            return 2;
        }
        i++;
    }
    if (!model_path || (!wav && !(inputs_only && save))) { fputs(k_usage, stderr); return 2; }
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load(model_path, &err);
    if (!m) { fprintf(stderr, "sbv2 demo: %s\n", err.message); return 1; }
    sbv2_model_info info;
    sbv2_model_get_info(m, &info);
    int spk_id = resolve(spk, sbv2_model_speaker_id, m), sty_id = resolve(sty, sbv2_model_style_id, m);
    int code = 1;
    size_t L = (size_t)tokens * 2 + 1; /* add_blank: blank, phone, blank, ... */
    int64_t *ids = malloc(3 * L * sizeof *ids);
    float *bert = malloc((size_t)SBV2_BERT_DIM * L * sizeof *bert), style[SBV2_STYLE_DIM], *audio = NULL;
    sbv2_state *st = NULL;
    size_t n = 0;
    if (!ids || !bert) { fprintf(stderr, "sbv2 demo: out of memory\n"); goto out; }
    if (spk_id < 0 || spk_id >= info.n_speakers) { fprintf(stderr, "sbv2 demo: unknown speaker '%s'\n", spk); goto out; }
    if (sbv2_model_style_vector(m, sty_id, (float)style_weight, style, &err) != SBV2_OK) {
        fprintf(stderr, "sbv2 demo: style '%s': %s\n", sty, err.message);
        goto out;
    }
    sbv2_rng rng;
    sbv2_rng_seed(&rng, seed);
    int64_t *ph = ids, *tn = ids + L, *lg = ids + 2 * L;
    for (size_t i = 0; i < L; i++) {
        int blank = i % 2 == 0;
        ph[i] = blank ? 0 : 1 + (int64_t)(sbv2_rng_next(&rng) % (uint64_t)(info.n_vocab - 1));
        tn[i] = blank ? 0 : (info.n_tones > 7 ? 6 + (int64_t)(sbv2_rng_next(&rng) % 2) : 0);
        lg[i] = blank ? 0 : (info.n_languages > 1 ? 1 : 0);
    }
    sbv2_rng_normal(&rng, bert, (size_t)SBV2_BERT_DIM * L);
    for (size_t i = 0; i < (size_t)SBV2_BERT_DIM * L; i++) bert[i] *= 0.5f;
    sbv2_infer_input in = {.n_tokens = L, .phone_ids = ph, .tone_ids = tn, .lang_ids = lg, .bert = bert,
                           .ja_bert = bert, .en_bert = NULL, .style_vec = style, .speaker_id = spk_id};
    p.seed = seed;
    p.n_threads = (int)threads;
    if (save && save_inputs(save, &in, &p, info.arch == SBV2_ARCH_MULTILINGUAL) != 0) goto out;
    if (inputs_only) { code = 0; goto out; }
    st = sbv2_state_new(m, &err);
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    if (!st || sbv2_infer(st, &in, &p, &audio, &n, &err) != SBV2_OK) { fprintf(stderr, "sbv2 demo: %s\n", err.message); goto out; }
    clock_gettime(CLOCK_MONOTONIC, &w1);
    if (wav_write_pcm16(wav, audio, n, info.sampling_rate, &err) != SBV2_OK) { fprintf(stderr, "sbv2 demo: %s\n", err.message); goto out; }
    double secs = (double)n / info.sampling_rate, wall = (double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec);
    fprintf(stderr, "sbv2 demo: %zu tokens -> %.2f s of audio in %.2f s (real-time factor %.3f), seed %llu, wrote %s\n",
            L, secs, wall, wall / secs, (unsigned long long)seed, wav);
    code = 0;
out:
    free(ids);
    free(bert);
    sbv2_free(audio);
    sbv2_state_free(st);
    sbv2_model_free(m);
    return code;
}
