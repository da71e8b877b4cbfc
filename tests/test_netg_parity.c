/* Parity of sbv2_infer() with SBV2's PyTorch net_g.infer() on every case of
 * every model under golden/netg (each folder with a cases.json): durations,
 * frame counts and alignment exact, the wav within 1e-4, every intermediate
 * within 1e-4 * (1 + |ref|). Each case runs twice: with the default kernel
 * choice and with the Winograd resblock path forced at every width (the tiny
 * golden models are narrower than where it starts by default). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>

#include "formats/npy.h"
#include "model/layers.h"
#include "core/conv.h"
#include "sbv2.h"
#include "test_common.h"

typedef struct {
    char name[64];
    sbv2_tensor_view v;
    void *copy;
    size_t n;
} captured_t;

typedef struct {
    captured_t t[256];
    int n;
} capture_t;

static int capture(const sbv2_tensor_view *v, void *ud) {
    capture_t *c = ud;
    if (c->n >= 256) return 1;
    captured_t *e = &c->t[c->n++];
    snprintf(e->name, sizeof e->name, "%s", v->name);
    e->v = *v;
    e->n = 1;
    for (int i = 0; i < v->ndim; i++) e->n *= (size_t)v->shape[i];
    size_t bytes = e->n * (v->is_int64 ? 8 : 4);
    e->copy = malloc(bytes ? bytes : 1);
    if (!e->copy) return 1;
    memcpy(e->copy, v->data, bytes);
    e->v.data = e->copy;
    return 0;
}

static int load_npy(const char *dir, const cJSON *entry, npy_array *a) {
    const cJSON *f = cJSON_GetObjectItem(entry, "file");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, f->valuestring);
    sbv2_error err;
    if (npy_load(a, path, &err) != SBV2_OK) {
        fprintf(stderr, "  cannot load %s: %s\n", path, err.message);
        return 0;
    }
    return 1;
}

static int exact_name(const char *n) {
    return !strcmp(n, "w_ceil") || !strcmp(n, "y_lengths") || !strcmp(n, "attn") || !strcmp(n, "y_mask");
}

/* Returns the number of failed checks for one case. */
static const char *const path_name[] = {"default ", "direct  ", "winograd", "fft     "};

static int g_threads[16], g_n_threads;

static int run_case(const char *mdir, const cJSON *files, const cJSON *cs, int path, double *worst_out_total) {
    const char *cname = cJSON_GetObjectItem(cs, "name")->valuestring;
    const cJSON *params = cJSON_GetObjectItem(cs, "params");
    const cJSON *wfile = cJSON_GetObjectItem(params, "weights");
    char wpath[4096], cpath[4096], spath[4096];
    snprintf(wpath, sizeof wpath, "%s/%s", mdir, wfile ? wfile->valuestring : cJSON_GetObjectItem(files, "weights")->valuestring);
    snprintf(cpath, sizeof cpath, "%s/%s", mdir, cJSON_GetObjectItem(files, "config")->valuestring);
    snprintf(spath, sizeof spath, "%s/%s", mdir, cJSON_GetObjectItem(files, "style_vectors")->valuestring);
    sbv2_error err = {0, ""};
    sbv2_model *m = sbv2_model_load_files(wpath, cpath, spath, &err);
    if (!m) {
        printf("FAIL %s: load: %s\n", cname, err.message);
        return 1;
    }
    int fails = 0;
    const cJSON *inputs = cJSON_GetObjectItem(cs, "inputs");
    npy_array in[16];
    const char *names[16];
    int nin = 0;
    memset(in, 0, sizeof in);
    for (const cJSON *e = inputs->child; e && nin < 16; e = e->next) {
        names[nin] = e->string;
        if (!load_npy(mdir, e, &in[nin])) fails++;
        nin++;
    }
#define IN(nm) ({ void *p_ = NULL; for (int k_ = 0; k_ < nin; k_++) if (!strcmp(names[k_], nm)) p_ = in[k_].data; p_; })
    const int64_t *x = IN("x_tst");
    size_t L = 0;
    for (int k = 0; k < nin; k++)
        if (!strcmp(names[k], "x_tst")) L = (size_t)in[k].shape[1];
    sbv2_infer_input inp = {
        .n_tokens = L,
        .phone_ids = x,
        .tone_ids = IN("tones"),
        .lang_ids = IN("language"),
        .bert = IN("bert"),
        .ja_bert = IN("ja_bert"),
        .en_bert = IN("en_bert"),
        .style_vec = IN("style_vec"),
        .speaker_id = *(int64_t *)IN("sid"),
        .valid_length = (size_t) * (int64_t *)IN("x_tst_lengths"),
    };
    sbv2_infer_params p = sbv2_infer_default_params();
    p.length_scale = *(float *)IN("length_scale");
    p.sdp_ratio = *(float *)IN("sdp_ratio");
    p.noise_scale = *(float *)IN("noise_scale");
    p.noise_scale_w = *(float *)IN("noise_scale_w");
    p.n_threads = g_threads[0];
    p.seed = 20261201; /* one seed for every thread count */
    capture_t *cap = calloc(1, sizeof *cap);
    p.on_tensor = capture;
    p.user_data = cap;

    /* the style vector input is SBV2's get_style_vector(style_id, weight) */
    const cJSON *sid = cJSON_GetObjectItem(params, "style_id"), *sw = cJSON_GetObjectItem(params, "style_weight");
    if (sid && sw) {
        float sv[SBV2_STYLE_DIM];
        if (sbv2_model_style_vector(m, sid->valueint, (float)sw->valuedouble, sv, &err) != SBV2_OK) {
            printf("FAIL %s: style vector: %s\n", cname, err.message);
            fails++;
        } else {
            double e = 0;
            for (int i = 0; i < SBV2_STYLE_DIM; i++) e = fmax(e, fabs(sv[i] - inp.style_vec[i]));
            if (e > 1e-6) {
                printf("FAIL %s: style vector differs from in_style_vec by %.3g\n", cname, e);
                fails++;
            }
        }
    }

    sbv2_state *st = sbv2_state_new(m, &err);
    if (st) sbv2_state_set_conv_path(st, path); /* each resblock kernel form where the model holds it */
    float *audio = NULL;
    size_t n = 0;
    if (!st || sbv2_infer(st, &inp, &p, &audio, &n, &err) != SBV2_OK) {
        printf("FAIL %s: infer: %s\n", cname, err.message);
        fails++;
        goto done;
    }
    double worst_out = 0, worst_mid = 0;
    char worst_mid_name[64] = "";
    const cJSON *outs = cJSON_GetObjectItem(cs, "outputs");
    int checked = 0;
    for (const cJSON *e = outs->child; e; e = e->next) {
        npy_array ref;
        if (!load_npy(mdir, e, &ref)) { fails++; continue; }
        captured_t *got = NULL;
        for (int k = 0; k < cap->n; k++)
            if (!strcmp(cap->t[k].name, e->string)) got = &cap->t[k];
        if (!got) {
            printf("FAIL %s/%s: not produced\n", cname, e->string);
            fails++;
            npy_free(&ref);
            continue;
        }
        int same_shape = got->v.ndim == ref.ndim;
        for (int i = 0; same_shape && i < ref.ndim; i++) same_shape = got->v.shape[i] == ref.shape[i];
        if (!same_shape) {
            printf("FAIL %s/%s: shape differs\n", cname, e->string);
            fails++;
            npy_free(&ref);
            continue;
        }
        double maxabs = 0, maxrel = 0;
        for (size_t i = 0; i < ref.numel; i++) {
            double r, g;
            if (ref.dtype == NPY_I64) r = (double)((int64_t *)ref.data)[i];
            else r = ((float *)ref.data)[i];
            g = got->v.is_int64 ? (double)((int64_t *)got->copy)[i] : ((float *)got->copy)[i];
            double d = fabs(r - g);
            if (!(d == d)) d = INFINITY;
            maxabs = fmax(maxabs, d);
            maxrel = fmax(maxrel, d / (1 + fabs(r)));
        }
        int ok;
        if (exact_name(e->string)) ok = maxabs == 0;
        else if (!strcmp(e->string, "output")) ok = maxabs <= 1e-4;
        else ok = maxrel <= 1e-4;
        if (!strcmp(e->string, "output")) worst_out = maxabs;
        else if (!exact_name(e->string) && maxrel > worst_mid) {
            worst_mid = maxrel;
            snprintf(worst_mid_name, sizeof worst_mid_name, "%s", e->string);
        }
        if (!ok) {
            printf("FAIL %s/%s: max|d| %.3g, max rel %.3g\n", cname, e->string, maxabs, maxrel);
            fails++;
        }
        checked++;
        npy_free(&ref);
    }
    /* thread-count invariance: the same audio, bit for bit, at every count */
    for (int ti = 1; ti < g_n_threads; ti++) {
        sbv2_infer_params q = p;
        q.n_threads = g_threads[ti], q.on_tensor = NULL, q.user_data = NULL;
        float *a2 = NULL;
        size_t n2 = 0;
        const int rc = sbv2_infer(st, &inp, &q, &a2, &n2, &err);
        if (rc != SBV2_OK || n2 != n || memcmp(a2, audio, n * sizeof(float)) != 0) {
            printf("FAIL %s: %d threads give other audio than %d (%s)\n", cname, g_threads[ti], g_threads[0],
                   rc != SBV2_OK ? err.message : n2 != n ? "length" : "samples");
            fails++;
        }
        sbv2_free(a2);
    }
    /* the returned audio is the "output" tensor */
    printf("%s %-14s %s frames %-5lld samples %-7zu output max|d| %.2e  worst intermediate %.2e (%s)  %d tensors\n",
           fails ? "FAIL" : "ok  ", cname, path_name[path], (long long)(n / 512), n, worst_out, worst_mid, worst_mid_name, checked);
    if (worst_out > *worst_out_total) *worst_out_total = worst_out;
done:
    for (int k = 0; k < cap->n; k++) free(cap->t[k].copy);
    free(cap);
    for (int k = 0; k < nin; k++) npy_free(&in[k]);
    sbv2_free(audio);
    sbv2_state_free(st);
    sbv2_model_free(m);
    return fails;
}

int main(int argc, char **argv) {
    printf("kernels: %s\n", conv_isa_name()); /* which path the run-time dispatch takes here */
    test_expect_isa(conv_isa_name());
    g_n_threads = test_thread_counts(g_threads, 16);
    /* SBV2_TEST_PATHS=default: only the kernel forms the loader picks (the slow
       emulated run); otherwise every resblock form the model holds */
    const char *paths = getenv("SBV2_TEST_PATHS");
    const int last_path = paths && !strcmp(paths, "default") ? SBV2_PATH_DEFAULT : SBV2_PATH_FFT;
    printf("threads:");
    for (int i = 0; i < g_n_threads; i++) printf(" %d", g_threads[i]);
    printf(" (each bit-identical to the first)\n");
    const char *root = argc > 1 ? argv[1] : SBV2_GOLDEN_DIR "/netg";
    golden_dir_or_skip(root);
    DIR *d = opendir(root);
    if (!d) return 1;
    struct dirent *de;
    char names[64][256];
    int nm = 0;
    while ((de = readdir(d)) && nm < 64) {
        if (de->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s/cases.json", root, de->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0) snprintf(names[nm++], sizeof names[0], "%s", de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nm, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    int fails = 0, cases = 0;
    double worst = 0;
    for (int i = 0; i < nm; i++) {
        char mdir[4096], mpath[4200];
        snprintf(mdir, sizeof mdir, "%s/%s", root, names[i]);
        snprintf(mpath, sizeof mpath, "%s/cases.json", mdir);
        char *txt = read_whole_file(mpath, NULL);
        cJSON *j = txt ? cJSON_Parse(txt) : NULL;
        free(txt);
        if (!j) {
            printf("FAIL %s: cannot read cases.json\n", names[i]);
            fails++;
            continue;
        }
        printf("== %s\n", names[i]);
        const cJSON *files = cJSON_GetObjectItem(j, "files");
        const cJSON *cs;
        cJSON_ArrayForEach(cs, cJSON_GetObjectItem(j, "cases")) {
            for (int path = SBV2_PATH_DEFAULT; path <= last_path; path++) {
                fails += run_case(mdir, files, cs, path, &worst) ? 1 : 0;
                cases++;
            }
        }
        cJSON_Delete(j);
    }
    printf("%d cases, %d failed; worst output max|d| %.2e\n", cases, fails, worst);
    if (cases == 0) {
        printf("FAIL: no cases found under %s\n", root);
        return 1;
    }
    return fails ? 1 : 0;
}
