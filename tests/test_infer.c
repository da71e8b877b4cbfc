/* Behaviour of sbv2_infer() beyond parity, on the golden tiny JP-Extra model:
 * seeded noise is reproducible, thread count does not change results, one
 * model serves concurrent states, padded inputs (x_tst_lengths < L) give the
 * unpadded result, styles interpolate as SBV2 does. */
#include <math.h>
#include <pthread.h>

#include "formats/npy.h"
#include "sbv2.h"
#include "test_common.h"


#define CASE SBV2_GOLDEN_DIR "/netg/tiny-jp-extra/cases/c2_len33/"

typedef struct {
    npy_array x, tones, lang, bert, style;
    size_t L;
} inputs_t;

static void load(npy_array *a, const char *name) {
    sbv2_error err;
    if (npy_load(a, name, &err) != SBV2_OK) {
        fprintf(stderr, "FAIL: %s\n", err.message);
        exit(1);
    }
}

static sbv2_infer_input make_input(const inputs_t *in) {
    sbv2_infer_input r = {.n_tokens = in->L, .phone_ids = in->x.data, .tone_ids = in->tones.data,
                          .lang_ids = in->lang.data, .bert = in->bert.data, .style_vec = in->style.data,
                          .speaker_id = 0};
    return r;
}

static float *run(const sbv2_model *m, const sbv2_infer_input *in, const sbv2_infer_params *p, size_t *n) {
    sbv2_error err;
    sbv2_state *st = sbv2_state_new(m, &err);
    float *a = NULL;
    if (!st || sbv2_infer(st, in, p, &a, n, &err) != SBV2_OK) {
        fprintf(stderr, "infer failed: %s\n", err.message);
        a = NULL;
    }
    sbv2_state_free(st);
    return a;
}

static double maxdiff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

typedef struct {
    const sbv2_model *m;
    const sbv2_infer_input *in;
    sbv2_infer_params p;
    float *out;
    size_t n;
} job_t;

static void *worker(void *arg) {
    job_t *j = arg;
    j->out = run(j->m, j->in, &j->p, &j->n);
    return NULL;
}

static int abort_at_z(const sbv2_tensor_view *t, void *ud) {
    ++*(int *)ud;
    return strcmp(t->name, "z") == 0;
}

int main(void) {
    golden_dir_or_skip(SBV2_GOLDEN_DIR);
    sbv2_error err;
    sbv2_model *m = sbv2_model_load(SBV2_GOLDEN_DIR "/netg/tiny-jp-extra/model.safetensors", &err);
    if (!m) { fprintf(stderr, "FAIL load: %s\n", err.message); return 1; }
    inputs_t in;
    load(&in.x, CASE "in_x_tst.npy");
    load(&in.tones, CASE "in_tones.npy");
    load(&in.lang, CASE "in_language.npy");
    load(&in.bert, CASE "in_bert.npy");
    load(&in.style, CASE "in_style_vec.npy");
    in.L = (size_t)in.x.shape[1];
    sbv2_infer_input inp = make_input(&in);

    /* 1. seeded noise: same seed -> identical, other seed -> different */
    sbv2_infer_params p = sbv2_infer_default_params();
    p.noise_scale = 0.667f, p.noise_scale_w = 0.8f, p.sdp_ratio = 0.5f, p.seed = 42;
    size_t n1, n2, n3;
    float *a1 = run(m, &inp, &p, &n1), *a2 = run(m, &inp, &p, &n2);
    p.seed = 43;
    float *a3 = run(m, &inp, &p, &n3);
    CHECK(a1 && a2 && a3, "noisy inference failed");
    if (a1 && a2 && a3) {
        CHECK(n1 == n2 && memcmp(a1, a2, n1 * sizeof *a1) == 0, "same seed gave different audio");
        CHECK(n1 != n3 || maxdiff(a1, a3, n1) > 1e-3, "different seeds gave the same audio");
        int finite = 1;
        for (size_t i = 0; i < n1; i++) finite &= isfinite(a1[i]) && fabsf(a1[i]) <= 1.0f;
        CHECK(finite, "noisy audio not finite or outside [-1, 1]");
    }

    /* 2. one model, two threads with their own states at once == sequential */
    job_t jobs[2] = {{m, &inp, p, NULL, 0}, {m, &inp, p, NULL, 0}};
    jobs[1].p.n_threads = 2;
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK(jobs[0].out && jobs[1].out && jobs[0].n == n3 && jobs[1].n == n3, "concurrent runs failed");
    if (jobs[0].out && jobs[1].out && a3 && jobs[0].n == n3 && jobs[1].n == n3) {
        CHECK(memcmp(jobs[0].out, a3, n3 * sizeof *a3) == 0, "concurrent run differs from the sequential one");
        CHECK(maxdiff(jobs[1].out, a3, n3) <= 1e-6, "2 threads differ from 1 thread by %.3g", maxdiff(jobs[1].out, a3, n3));
    }

    /* 3. zero noise: the seed does not matter */
    p.noise_scale = 0, p.noise_scale_w = 0, p.seed = 1;
    size_t z1n, z2n;
    float *z1 = run(m, &inp, &p, &z1n);
    p.seed = 2;
    float *z2 = run(m, &inp, &p, &z2n);
    CHECK(z1 && z2 && z1n == z2n && memcmp(z1, z2, z1n * sizeof *z1) == 0, "zero-noise output depends on the seed");

    /* 4. padding: extra tokens masked out by valid_length give the same audio */
    {
        size_t L2 = in.L + 9;
        int64_t *ids = malloc(3 * L2 * sizeof *ids);
        float *bert = malloc(1024 * L2 * sizeof *bert);
        for (size_t i = 0; i < L2; i++) {
            ids[i] = i < in.L ? ((int64_t *)in.x.data)[i] : 5;
            ids[L2 + i] = i < in.L ? ((int64_t *)in.tones.data)[i] : 7;
            ids[2 * L2 + i] = i < in.L ? ((int64_t *)in.lang.data)[i] : 1;
        }
        for (size_t c = 0; c < 1024; c++)
            for (size_t i = 0; i < L2; i++) bert[c * L2 + i] = i < in.L ? ((float *)in.bert.data)[c * in.L + i] : 0.7f;
        sbv2_infer_input pad = {.n_tokens = L2, .phone_ids = ids, .tone_ids = ids + L2, .lang_ids = ids + 2 * L2,
                                .bert = bert, .style_vec = in.style.data, .speaker_id = 0, .valid_length = in.L};
        size_t pn;
        float *pa = run(m, &pad, &p, &pn);
        CHECK(pa && z1 && pn == z1n, "padded input changed the length (%zu vs %zu)", pn, z1n);
        if (pa && z1 && pn == z1n) CHECK(maxdiff(pa, z1, pn) <= 1e-5, "padded input differs by %.3g", maxdiff(pa, z1, pn));
        free(pa);
        free(ids);
        free(bert);
    }

    /* 5. style interpolation: weight 0 gives the mean, weight 1 the row */
    {
        float v0[SBV2_STYLE_DIM], v1[SBV2_STYLE_DIM], vm[SBV2_STYLE_DIM], v2[SBV2_STYLE_DIM];
        CHECK(sbv2_model_style_vector(m, 2, 0.0f, v0, &err) == SBV2_OK, "style vector failed");
        CHECK(sbv2_model_style_vector(m, 0, 1.0f, vm, &err) == SBV2_OK, "style vector failed");
        CHECK(sbv2_model_style_vector(m, 2, 1.0f, v1, &err) == SBV2_OK, "style vector failed");
        CHECK(sbv2_model_style_vector(m, 2, 2.0f, v2, &err) == SBV2_OK, "style vector failed");
        CHECK(memcmp(v0, vm, sizeof v0) == 0, "weight 0 is not the mean");
        double e = 0;
        for (int i = 0; i < SBV2_STYLE_DIM; i++) e = fmax(e, fabs((double)v2[i] - (2.0 * v1[i] - vm[i])));
        CHECK(e < 1e-5, "weight 2 is not mean + 2 (style - mean): %.3g", e);
        CHECK(sbv2_model_style_vector(m, 3, 1.0f, v0, &err) == SBV2_ERR_NOT_FOUND, "style 3 should not exist");
        CHECK(sbv2_model_style_id(m, "Happy") == 1 && sbv2_model_style_id(m, "nope") == -1, "style names");
        CHECK(sbv2_model_speaker_id(m, "spk_b") == 1 && sbv2_model_speaker_id(m, NULL) == -1, "speaker names");
    }

    /* 6. a wrong struct_size is refused; the tensor callback can abort */
    {
        sbv2_infer_params q = sbv2_infer_default_params();
        size_t n;
        float *a = NULL;
        sbv2_state *st = sbv2_state_new(m, &err);
        q.struct_size = 3;
        CHECK(sbv2_infer(st, &inp, &q, &a, &n, &err) == SBV2_ERR_INVALID_ARGUMENT && a == NULL,
              "a wrong struct_size must be refused");
        q = sbv2_infer_default_params();
        int calls = 0;
        q.on_tensor = abort_at_z;
        q.user_data = &calls;
        CHECK(sbv2_infer(st, &inp, &q, &a, &n, &err) == SBV2_ERR_INVALID_ARGUMENT && a == NULL &&
                  strstr(err.message, "aborted") != NULL,
              "abort from the callback was not honoured: %s", err.message);
        CHECK(calls > 10, "callback saw only %d tensors", calls);
        sbv2_state_free(st);
    }

    free(a1), free(a2), free(a3), free(z1), free(z2), free(jobs[0].out), free(jobs[1].out);
    npy_free(&in.x), npy_free(&in.tones), npy_free(&in.lang), npy_free(&in.bert), npy_free(&in.style);
    sbv2_model_free(m);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
