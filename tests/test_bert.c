/* BERT features against transformers' DeBERTa-v2 and SBV2's
 * extract_bert_feature (golden/bert/<model>): token ids exact, the hidden state
 * SBV2 reads and the per-phone feature within 1e-4, from both weight files;
 * plus pytorch_model.bin == model.safetensors bit for bit, and malformed
 * weight files rejected with a message. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>

#include "formats/npy.h"
#include "formats/safetensors.h"
#include "formats/torch_zip.h"
#include "core/conv.h"
#include "sbv2.h"
#include "test_common.h"
#include <dirent.h>
#include <unistd.h>

static double maxdiff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static int load_npy(const char *dir, const char *rel, npy_array *a) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    sbv2_error e;
    return npy_load(a, p, &e);
}

static int g_threads[16], g_n_threads;

static int run_model(const char *dir, const char *weights, const char *label) {
    char path[2048];
    snprintf(path, sizeof path, "%s/cases.json", dir);
    size_t len = 0;
    char *js = read_whole_file(path, &len);
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    free(js);
    if (!root) { fprintf(stderr, "cannot read %s\n", path); return 1; }
    const int layer = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "sbv2_layer_index")->valueint;
    sbv2_error err = {0};
    char wpath[2048];
    snprintf(wpath, sizeof wpath, "%s/%s", dir, weights);
    sbv2_bert *b = sbv2_bert_load(dir, wpath, &err);
    CHECK(b != NULL, "%s: load: %s", label, err.message);
    if (!b) { cJSON_Delete(root); return 1; }
    const size_t H = sbv2_bert_hidden_size(b);
    double worst_h = 0, worst_f = 0;
    int ids_ok = 0, n_cases = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        n_cases++;
        const char *id = cJSON_GetObjectItem(c, "id")->valuestring, *text = cJSON_GetObjectItem(c, "text")->valuestring;
        const cJSON *files = cJSON_GetObjectItem(c, "files");
        npy_array ref_ids, ref_h;
        if (load_npy(dir, cJSON_GetObjectItem(files, "input_ids")->valuestring, &ref_ids) ||
            load_npy(dir, cJSON_GetObjectItem(files, "hidden_states")->valuestring, &ref_h)) {
            CHECK(0, "%s: cannot read golden arrays", id);
            continue;
        }
        int64_t *ids = NULL;
        size_t n = 0;
        int rc = sbv2_bert_tokenize(b, text, strlen(text), &ids, &n, &err);
        int same = rc == 0 && n == ref_ids.numel && !memcmp(ids, ref_ids.data, n * sizeof(int64_t));
        CHECK(same, "%s %s: token ids differ (%zu vs %zu)", label, id, n, ref_ids.numel);
        ids_ok += same;
        /* the hidden state from the golden ids */
        float *st = NULL;
        rc = sbv2_bert_hidden(b, (const int64_t *)ref_ids.data, ref_ids.numel, g_threads[0], &st, &err);
        CHECK(rc == 0, "%s %s: hidden: %s", label, id, err.message);
        const size_t T = ref_ids.numel;
        for (int ti = 1; rc == 0 && ti < g_n_threads; ti++) { /* bit-identical at every thread count */
            float *st2 = NULL;
            const int rc2 = sbv2_bert_hidden(b, (const int64_t *)ref_ids.data, T, g_threads[ti], &st2, &err);
            CHECK(rc2 == 0 && !memcmp(st, st2, sizeof(float) * T * H), "%s %s: hidden state at %d threads differs from %d", label,
                  id, g_threads[ti], g_threads[0]);
            sbv2_free(st2);
        }
        if (rc == 0) {
            const double d = maxdiff(st, (const float *)ref_h.data + (size_t)layer * T * H, T * H);
            worst_h = fmax(worst_h, d);
            CHECK(d <= 1e-4, "%s %s: hidden state max|d| %.3g", label, id, d);
        }
        sbv2_free(st);
        free(ids);
        /* SBV2's feature (with the assist text where the case has one) */
        const cJSON *fw = cJSON_GetObjectItem(files, "word2ph"), *ff = cJSON_GetObjectItem(files, "feature");
        if (fw && ff && same) {
            npy_array w2p, feat;
            if (!load_npy(dir, fw->valuestring, &w2p) && !load_npy(dir, ff->valuestring, &feat)) {
                int *w = malloc(sizeof(int) * w2p.numel);
                for (size_t i = 0; i < w2p.numel; i++) w[i] = (int)((int64_t *)w2p.data)[i];
                const cJSON *at = cJSON_GetObjectItem(c, "assist_text"), *aw = cJSON_GetObjectItem(c, "assist_text_weight");
                float *f = NULL;
                size_t P = 0;
                rc = sbv2_bert_feature(b, text, strlen(text), w, w2p.numel, at ? at->valuestring : NULL,
                                       aw ? (float)aw->valuedouble : 0.0f, 2, &f, &P, &err);
                CHECK(rc == 0 && P * H == feat.numel, "%s %s: feature: %s", label, id, rc ? err.message : "size");
                if (rc == 0 && P * H == feat.numel) {
                    const double d = maxdiff(f, (const float *)feat.data, feat.numel);
                    worst_f = fmax(worst_f, d);
                    CHECK(d <= 1e-4, "%s %s: feature max|d| %.3g", label, id, d);
                }
                sbv2_free(f);
                free(w);
                npy_free(&feat);
            }
            npy_free(&w2p);
        }
        npy_free(&ref_ids), npy_free(&ref_h);
    }
    printf("%-18s %s: %d/%d token id lists exact; hidden state max|d| %.2e, feature max|d| %.2e\n", label, weights,
           ids_ok, n_cases, worst_h, worst_f);
    sbv2_bert_free(b);
    cJSON_Delete(root);
    return 0;
}

/* pytorch_model.bin holds exactly the tensors of model.safetensors */
static void same_tensors(const char *dir) {
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s/model.safetensors", dir);
    snprintf(b, sizeof b, "%s/pytorch_model.bin", dir);
    st_file s, p;
    sbv2_error err = {0};
    int rs = st_open(&s, a, &err), rp = pt_open(&p, b, &err);
    CHECK(rs == 0 && rp == 0, "open: %s", err.message);
    if (rs || rp) return;
    CHECK(s.n_tensors == p.n_tensors, "tensor counts %zu vs %zu", s.n_tensors, p.n_tensors);
    size_t same = 0;
    for (size_t i = 0; i < s.n_tensors; i++) {
        const st_tensor *q = st_find(&p, s.tensors[i].name);
        if (q && q->dtype == s.tensors[i].dtype && q->nbytes == s.tensors[i].nbytes &&
            !memcmp(q->data, s.tensors[i].data, q->nbytes))
            same++;
        else CHECK(0, "tensor %s differs", s.tensors[i].name);
    }
    printf("pytorch_model.bin: %zu/%zu tensors bit-identical to model.safetensors\n", same, s.n_tensors);
    /* damaged copies: truncated, bytes flipped in the pickle and the directory */
    size_t len = 0;
    char *img = read_whole_file(b, &len);
    char tmp[] = "/tmp/sbv2-test-pt-XXXXXX";
    int fd = img ? mkstemp(tmp) : -1;
    int errors = 0, tries = 0;
    uint64_t seed = 99;
    for (int k = 0; fd >= 0 && k < 60; k++) {
        size_t n = len;
        char *c = malloc(len);
        memcpy(c, img, len);
        if (k < 20) n = len * (size_t)k / 20; /* truncations */
        else
            for (int f = 0; f < 1 + k % 4; f++) { /* random byte flips */
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                c[(seed >> 20) % len] ^= (char)(1 + (seed >> 8) % 255);
            }
        if (ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 && write(fd, c, n) == (ssize_t)n) {
            st_file q;
            tries++;
            if (pt_open(&q, tmp, &err) != 0) errors++;
            else st_close(&q);
        }
        free(c);
    }
    if (fd >= 0) close(fd), unlink(tmp);
    free(img);
    printf("damaged pytorch_model.bin copies: %d of %d rejected with a message, none crashed\n", errors, tries);
    CHECK(tries == 60 && errors >= 20, "truncated files must be rejected (%d/%d)", errors, tries);
    st_close(&s), st_close(&p);
}

int main(void) {
    printf("kernels: %s\n", conv_isa_name()); /* which path the run-time dispatch takes here */
    test_expect_isa(conv_isa_name());
    g_n_threads = test_thread_counts(g_threads, 16);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bert", SBV2_GOLDEN_DIR);
    golden_dir_or_skip(dir);
    /* every model folder under golden/bert with a cases.json (kept-back ones are picked up) */
    DIR *d = opendir(dir);
    struct dirent *de;
    int models = 0;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char mdir[1024], cj[1100], w[1100];
        snprintf(mdir, sizeof mdir, "%s/bert/%s", SBV2_GOLDEN_DIR, de->d_name);
        snprintf(cj, sizeof cj, "%s/cases.json", mdir);
        if (access(cj, R_OK) != 0) continue;
        models++;
        snprintf(w, sizeof w, "%s/model.safetensors", mdir);
        if (access(w, R_OK) == 0) run_model(mdir, "model.safetensors", de->d_name);
        snprintf(w, sizeof w, "%s/pytorch_model.bin", mdir);
        if (access(w, R_OK) == 0) run_model(mdir, "pytorch_model.bin", de->d_name);
        snprintf(w, sizeof w, "%s/model.safetensors", mdir);
        snprintf(cj, sizeof cj, "%s/pytorch_model.bin", mdir);
        if (access(w, R_OK) == 0 && access(cj, R_OK) == 0) same_tensors(mdir);
    }
    if (d) closedir(d);
    CHECK(models > 0, "no BERT model folders under %s", dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
