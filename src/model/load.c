/* Loading a model as SBV2 ships it: model directory (or .safetensors path),
 * config.json, style_vectors.npy. Also the small accessors of sbv2_model. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdint.h>

#include "core/isa.h"
#include "formats/file.h"
#include "formats/npy.h"
#include "model/layers.h"
#include "onnx/read.h"

#include <cjson/cJSON.h>

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

void sbv2_model_free(sbv2_model *m) {
    if (!m) return;
    encoder_free(&m->enc_p.enc);
    for (int i = 0; i < 8; i++) encoder_free(&m->flow[i].enc);
    free(m->dec.res);
    for (int i = 0; i < SBV2_MAX_UPS; i++) free(m->dec.ups[i].phase), free(m->dec.ups[i].phase_pad);
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->style_vectors);
    free(m->config_json);
    free(m->aivm_manifest);
    for (size_t i = 0; i < m->n_wname; i++) free(m->wname[i]);
    free(m->wname), free(m->wname_ptr);
    name_map_free(&m->speakers);
    name_map_free(&m->styles);
    st_close(&m->st);
    free(m);
}

static int load_style_vectors(sbv2_model *m, const char *path, sbv2_error *err) {
    npy_array a;
    int rc = npy_load(&a, path, err);
    if (rc != SBV2_OK) return rc;
    rc = sbv2_model_set_style_vectors(m, &a, path, err);
    npy_free(&a);
    return rc;
}

int sbv2_model_set_style_vectors(sbv2_model *m, const npy_array *ap, const char *path, sbv2_error *err) {
    const npy_array a = *ap;
    if (a.ndim != 2 || a.shape[1] != SBV2_STYLE_DIM || a.shape[0] < 1 || a.shape[0] > (1 << 20))
        return sbv2_fail(err, SBV2_ERR_FORMAT, "%s: expected shape [num_styles, 256]", path);
    if (a.dtype != NPY_F32 && a.dtype != NPY_F64)
        return sbv2_fail(err, SBV2_ERR_FORMAT, "%s: dtype %s, expected float32 or float64", path, npy_dtype_name(a.dtype));
    size_t n = a.numel;
    m->style_vectors = malloc(sizeof(float) * n);
    if (!m->style_vectors) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        float v = a.dtype == NPY_F32 ? ((float *)a.data)[i] : (float)((double *)a.data)[i];
        if (!isfinite(v)) return sbv2_fail(err, SBV2_ERR_FORMAT, "%s: non-finite value at %zu", path, i);
        m->style_vectors[i] = v;
    }
    m->n_style_rows = (int)a.shape[0];
    /* every named style must have a row; the name map is sized to the rows */
    if (m->styles.n > m->n_style_rows)
        for (int i = m->n_style_rows; i < m->styles.n; i++)
            if (m->styles.name[i])
                return sbv2_fail(err, SBV2_ERR_FORMAT, "style \"%s\" (id %d) has no row in %s (%d rows)",
                                 m->styles.name[i], i, path, m->n_style_rows);
    if (m->styles.n != m->n_style_rows) {
        char **nn = calloc((size_t)m->n_style_rows, sizeof *nn);
        if (!nn) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        for (int i = 0; i < m->styles.n && i < m->n_style_rows; i++) nn[i] = m->styles.name[i], m->styles.name[i] = NULL;
        name_map_free(&m->styles);
        m->styles.name = nn;
        m->styles.n = m->n_style_rows;
    }
    return SBV2_OK;
}

/* config.json and style_vectors.npy into m */
static int config_and_styles(sbv2_model *m, const char *config_path, const char *sv_path, sbv2_error *err) {
    char *json = NULL;
    size_t jlen = 0;
    int rc = sbv2_read_file(config_path, 64u << 20, NULL, &json, &jlen, err);
    if (rc == SBV2_OK) {
        rc = sbv2_config_parse(json, jlen, &m->hp, &m->speakers, &m->styles, err);
        if (rc != SBV2_OK) {
            char pre[300];
            snprintf(pre, sizeof pre, "%s: ", config_path);
            sbv2_error_prefix(err, pre);
        }
    }
    m->config_json = json;
    if (rc == SBV2_OK) rc = load_style_vectors(m, sv_path, err);
    return rc;
}

/* A read-only private mapping of a whole file. */
static int map_file(const char *path, uint8_t **out, size_t *n, sbv2_error *err) {
    *out = NULL, *n = 0;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sbv2_fail(err, SBV2_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        return sbv2_fail(err, SBV2_ERR_FORMAT, "%s is empty or not a regular file", path);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return sbv2_fail(err, SBV2_ERR_IO, "cannot map %s: %s", path, strerror(errno));
    *out = p, *n = (size_t)sb.st_size;
    return SBV2_OK;
}

/* The weights (m->st, opened when rc is OK) against the architecture the
 * config names, then bound; frees m on any error. */
static sbv2_model *finish_load(sbv2_model *m, int rc, const char *st_path, sbv2_error *err) {
    if (rc == SBV2_OK) {
        /* the weights must agree with the architecture config.json names */
        int has_ja = st_find(&m->st, "enc_p.ja_bert_proj.weight") != NULL;
        if (has_ja != (m->hp.arch == SBV2_ARCH_MULTILINGUAL))
            rc = sbv2_fail(err, SBV2_ERR_FORMAT,
                           "config.json version \"%s\" means the %s architecture, but the weights %s enc_p.ja_bert_proj",
                           m->hp.version, m->hp.arch == SBV2_ARCH_JP_EXTRA ? "JP-Extra" : "older multilingual",
                           has_ja ? "have" : "lack");
    }
    if (rc == SBV2_OK) {
        rc = sbv2_model_bind_weights(m, err);
        if (rc != SBV2_OK) {
            char pre[300];
            snprintf(pre, sizeof pre, "%s: ", st_path);
            sbv2_error_prefix(err, pre);
        }
    }
    if (rc != SBV2_OK) {
        sbv2_model_free(m);
        return NULL;
    }
    return m;
}

sbv2_model *sbv2_model_load_files(const char *st_path, const char *config_path, const char *sv_path, sbv2_error *err) {
    if (!st_path || !config_path || !sv_path) {
        sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "all three model paths are required");
        return NULL;
    }
    sbv2_model *m = calloc(1, sizeof *m);
    if (!m) {
        sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    int rc = config_and_styles(m, config_path, sv_path, err);
    if (rc == SBV2_OK) rc = st_open(&m->st, st_path, err);
    return finish_load(m, rc, st_path, err);
}

/* An ONNX file torch.onnx.export wrote: the weights from its initializers,
 * config and style vectors from its AIVMX metadata (.aivmx) or from
 * config.json and style_vectors.npy beside it (SBV2's convert_onnx.py). */
static sbv2_model *load_onnx(const char *path, const char *cfg, const char *sv, sbv2_error *err) {
    sbv2_model *m = calloc(1, sizeof *m);
    if (!m) {
        sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    uint8_t *img = NULL;
    size_t n = 0;
    char *meta = NULL;
    int older = 0, rc = map_file(path, &img, &n, err);
    if (rc == SBV2_OK) rc = sbv2_onnx_read(&m->st, img, n, 1, path, &older, &meta, err);
    if (img) munmap(img, n); /* the parsed messages hold their own copies */
    cJSON *mj = meta ? cJSON_Parse(meta) : NULL;
    const int aivmx = cJSON_GetObjectItemCaseSensitive(mj, "aivm_manifest") != NULL;
    const cJSON *own_hp = cJSON_GetObjectItemCaseSensitive(mj, "sbv2_hyper_parameters");
    const cJSON *own_sv = cJSON_GetObjectItemCaseSensitive(mj, "sbv2_style_vectors");
    if (rc == SBV2_OK && !aivmx && cJSON_IsString(own_hp) && cJSON_IsString(own_sv)) { /* sbv2c's own export */
        rc = sbv2_config_parse(own_hp->valuestring, strlen(own_hp->valuestring), &m->hp, &m->speakers, &m->styles, err);
        if (rc == SBV2_OK) rc = sbv2_style_vectors_from_base64(m, own_sv->valuestring, "sbv2_style_vectors", err);
        if (rc == SBV2_OK && !(m->config_json = strdup(own_hp->valuestring))) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        if (rc != SBV2_OK) {
            char pre[300];
            snprintf(pre, sizeof pre, "%s: ", path);
            sbv2_error_prefix(err, pre);
        }
        cJSON_Delete(mj);
        free(meta);
        if (rc == SBV2_OK && older != (m->hp.arch == SBV2_ARCH_MULTILINGUAL))
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: the graph's inputs do not match the config's architecture", path);
        return finish_load(m, rc, path, err);
    }
    cJSON_Delete(mj);
    if (rc == SBV2_OK && aivmx) {
        rc = sbv2_aivm_read_metadata(m, meta, strlen(meta), err);
        if (rc != SBV2_OK) {
            char pre[300];
            snprintf(pre, sizeof pre, "%s: ", path);
            sbv2_error_prefix(err, pre);
        }
    } else if (rc == SBV2_OK) {
        struct stat sb;
        if (stat(cfg, &sb) != 0 || stat(sv, &sb) != 0)
            rc = sbv2_fail(err, SBV2_ERR_NOT_FOUND, "%s has no AIVMX metadata, and %s is not beside it (SBV2's ONNX models need "
                           "config.json and style_vectors.npy in their folder)", path, stat(cfg, &sb) != 0 ? cfg : sv);
        else rc = config_and_styles(m, cfg, sv, err);
    }
    free(meta);
    if (rc == SBV2_OK && older != (m->hp.arch == SBV2_ARCH_MULTILINGUAL))
        rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s: the graph's inputs are those of the %s architecture, the config's version \"%s\" is not",
                       path, older ? "older multilingual" : "JP-Extra", m->hp.version);
    return finish_load(m, rc, path, err);
}

/* An .aivm file: weights, config and style vectors from the one file. */
static sbv2_model *load_aivm(const char *path, sbv2_error *err) {
    sbv2_model *m = calloc(1, sizeof *m);
    if (!m) {
        sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    int rc = st_open(&m->st, path, err);
    if (rc == SBV2_OK && !m->st.metadata) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s has no __metadata__ (not an AIVM file)", path);
    if (rc == SBV2_OK) {
        rc = sbv2_aivm_read_metadata(m, m->st.metadata, strlen(m->st.metadata), err);
        if (rc != SBV2_OK) {
            char pre[300];
            snprintf(pre, sizeof pre, "%s: ", path);
            sbv2_error_prefix(err, pre);
        }
    }
    return finish_load(m, rc, path, err);
}

/* What a model file is, from its first bytes and header: 'a' an AIVM
 * (safetensors with aivm_manifest), 's' plain safetensors, 'o' ONNX (a
 * protobuf ModelProto: field 1, ir_version, first), 0 unknown. */
static int sniff(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    uint8_t head[8];
    const size_t got = fread(head, 1, sizeof head, fp);
    int kind = 0;
    if (got == 8) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | head[i];
        if (n >= 2 && n <= (100u << 20)) {
            char *h = malloc(n + 1);
            if (h && fread(h, 1, n, fp) == n && h[0] == '{') {
                h[n] = 0;
                kind = strstr(h, "\"__metadata__\"") && strstr(h, "\"aivm_manifest\"") ? 'a' : 's';
            }
            free(h);
        }
        if (!kind && head[0] == 0x08) kind = 'o';
    }
    fclose(fp);
    return kind;
}
sbv2_model *sbv2_model_load(const char *path, sbv2_error *err) {
    if (!path) {
        sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "path is NULL");
        return NULL;
    }
    char dir[4096], st_path[4096], cfg[4200], sv[4200];
    if (is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        DIR *d = opendir(path);
        if (!d) {
            sbv2_fail(err, SBV2_ERR_IO, "cannot read directory %s: %s", path, strerror(errno));
            return NULL;
        }
        /* the weights SBV2 trains (.safetensors) first, then .aivm, then ONNX
           (a folder often holds a model and its convert_onnx.py export) */
        static const char *const tiers[3][2] = {{".safetensors", NULL}, {".aivm", NULL}, {".onnx", ".aivmx"}};
        int count = 0, tier = 0;
        for (; tier < 3 && count == 0; tier++) {
            rewinddir(d);
            struct dirent *e;
            while ((e = readdir(d)) != NULL)
                if (ends_with(e->d_name, tiers[tier][0]) || (tiers[tier][1] && ends_with(e->d_name, tiers[tier][1])))
                    if (count++ == 0) snprintf(st_path, sizeof st_path, "%s/%s", path, e->d_name);
        }
        closedir(d);
        if (count == 0) {
            sbv2_fail(err, SBV2_ERR_NOT_FOUND, "no model file (.safetensors, .aivm, .onnx, .aivmx) in %s", path);
            return NULL;
        }
        if (count > 1) {
            sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s holds %d %s files: pass the path of the one to load", path, count,
                      tier == 1 ? ".safetensors" : tier == 2 ? ".aivm" : "ONNX");
            return NULL;
        }
    } else {
        snprintf(st_path, sizeof st_path, "%s", path);
        const char *slash = strrchr(path, '/');
        if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
        else snprintf(dir, sizeof dir, ".");
        if (slash == path) snprintf(dir, sizeof dir, "/");
    }
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(sv, sizeof sv, "%s/style_vectors.npy", dir);
    struct stat sb;
    if (stat(st_path, &sb) != 0) {
        sbv2_fail(err, SBV2_ERR_NOT_FOUND, "model file %s not found", st_path);
        return NULL;
    }
    /* the content decides the format, not the name */
    const int kind = sniff(st_path);
    if (kind == 'a') return load_aivm(st_path, err);
    if (kind == 'o') return load_onnx(st_path, cfg, sv, err);
    if (stat(cfg, &sb) != 0) {
        sbv2_fail(err, SBV2_ERR_NOT_FOUND, "config.json not found: %s (it must sit beside the .safetensors)", cfg);
        return NULL;
    }
    if (stat(sv, &sb) != 0) {
        sbv2_fail(err, SBV2_ERR_NOT_FOUND, "style_vectors.npy not found: %s (it must sit beside the .safetensors)", sv);
        return NULL;
    }
    return sbv2_model_load_files(st_path, cfg, sv, err);
}

void sbv2_model_get_info(const sbv2_model *m, sbv2_model_info *o) {
    const sbv2_hparams *hp = &m->hp;
    memset(o, 0, sizeof *o);
    o->arch = hp->arch;
    o->arch_name = hp->arch == SBV2_ARCH_JP_EXTRA ? "JP-Extra" : "multilingual";
    o->version = hp->version;
    o->model_name = hp->model_name;
    o->sampling_rate = hp->sampling_rate;
    int hop = 1;
    for (int i = 0; i < hp->n_ups; i++) hop *= hp->ups_rates[i];
    o->hop_length = hop;
    o->n_vocab = m->enc_p.n_vocab;
    o->n_tones = m->enc_p.n_tones;
    o->n_languages = m->enc_p.n_langs;
    o->n_speakers = hp->n_speakers;
    o->n_styles = m->n_style_rows;
    o->inter_channels = hp->inter_channels;
    o->hidden_channels = hp->hidden_channels;
    o->filter_channels = hp->filter_channels;
    o->n_heads = hp->n_heads;
    o->n_layers = hp->n_layers;
    o->kernel_size = hp->kernel_size;
    o->gin_channels = hp->gin_channels;
    o->n_flow_layers = hp->n_flows;
    o->n_layers_trans_flow = hp->n_layers_trans_flow;
    o->upsample_initial_channel = hp->ups_initial_channel;
    o->n_upsamples = hp->n_ups;
    o->upsample_rates = hp->ups_rates;
    o->upsample_kernel_sizes = hp->ups_kernels;
    o->resblock = hp->resblock;
    o->n_resblock_kernels = hp->n_res_kernels;
    o->resblock_kernel_sizes = hp->res_kernel_sizes;
    o->n_params = m->n_params;
    o->weights_dtype_f16 = m->weights_f16;
}

int sbv2_model_n_speakers(const sbv2_model *m) { return m->hp.n_speakers; }
int sbv2_model_n_styles(const sbv2_model *m) { return m->n_style_rows; }

const char *sbv2_model_speaker_name(const sbv2_model *m, int i) {
    return (i >= 0 && i < m->speakers.n) ? m->speakers.name[i] : NULL;
}

const char *sbv2_model_style_name(const sbv2_model *m, int i) {
    return (i >= 0 && i < m->styles.n) ? m->styles.name[i] : NULL;
}

static int lookup(const name_map *nm, const char *name) {
    if (!name) return -1;
    for (int i = 0; i < nm->n; i++)
        if (nm->name[i] && strcmp(nm->name[i], name) == 0) return i;
    return -1;
}

int sbv2_model_speaker_id(const sbv2_model *m, const char *name) { return lookup(&m->speakers, name); }
int sbv2_model_style_id(const sbv2_model *m, const char *name) {
    const int id = lookup(&m->styles, name);
    /* AivisSpeech names the neutral style ノーマル: SBV2's default name finds it */
    if (id < 0 && name && !strcmp(name, "Neutral")) return lookup(&m->styles, "\xe3\x83\x8e\xe3\x83\xbc\xe3\x83\x9e\xe3\x83\xab");
    return id;
}

int sbv2_model_style_vector(const sbv2_model *m, int style_id, float weight, float out[SBV2_STYLE_DIM],
                            sbv2_error *err) {
    if (!m || !out) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "model and out must not be NULL");
    if (style_id < 0 || style_id >= m->n_style_rows)
        return sbv2_fail(err, SBV2_ERR_NOT_FOUND, "style id %d out of range [0, %d)", style_id, m->n_style_rows);
    if (!isfinite(weight)) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "style weight must be finite");
    const float *mean = m->style_vectors, *s = m->style_vectors + (size_t)style_id * SBV2_STYLE_DIM;
    for (int i = 0; i < SBV2_STYLE_DIM; i++) out[i] = mean[i] + (s[i] - mean[i]) * weight;
    return SBV2_OK;
}

#ifdef _OPENMP
#define OMP_FLAG "1"
#else
#define OMP_FLAG "0"
#endif
/* The kernel path that runs and the CPU's best, as fixed strings (no buffer). */
const char *sbv2_system_info(void) {
    static const char *const k_info[3][3] = {
        {"kernels=generic cpu=generic openmp=" OMP_FLAG, "kernels=generic cpu=avx2+fma openmp=" OMP_FLAG,
         "kernels=generic cpu=avx512 openmp=" OMP_FLAG},
        {"", "kernels=avx2+fma cpu=avx2+fma openmp=" OMP_FLAG, "kernels=avx2+fma cpu=avx512 openmp=" OMP_FLAG},
        {"", "", "kernels=avx512 cpu=avx512 openmp=" OMP_FLAG}};
    return k_info[isa_active()][isa_cpu()];
}
