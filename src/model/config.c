/* config.json -> sbv2_hparams. Missing keys take the defaults SBV2's pydantic
 * HyperParameters uses; present keys must have the right type and a sane value.
 * The architecture follows SBV2's own rule (infer.py get_net_g): a version
 * ending in "JP-Extra" is models_jp_extra.py, anything else models.py. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

static const int k_def_res_kernels[3] = {3, 7, 11};
static const int k_def_ups_rates[5] = {8, 8, 2, 2, 2};
static const int k_def_ups_kernels[5] = {16, 16, 8, 2, 2};

/* Integer field: absent -> default; otherwise an integral number in [lo, hi]. */
static int get_int(const cJSON *obj, const char *sect, const char *key, int def, int lo, int hi, int *out,
                   sbv2_error *err) {
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v) { *out = def; return SBV2_OK; }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || floor(v->valuedouble) != v->valuedouble ||
        v->valuedouble < lo || v->valuedouble > hi)
        return sbv2_fail(err, SBV2_ERR_FORMAT, "%s.%s must be an integer in [%d, %d]", sect, key, lo, hi);
    *out = (int)v->valuedouble;
    return SBV2_OK;
}

static int get_int_list(const cJSON *obj, const char *sect, const char *key, const int *def, int ndef,
                        int maxn, int lo, int hi, int *out, int *n, sbv2_error *err) {
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v) {
        memcpy(out, def, sizeof(int) * (size_t)ndef);
        *n = ndef;
        return SBV2_OK;
    }
    int cnt = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (cnt < 1 || cnt > maxn)
        return sbv2_fail(err, SBV2_ERR_FORMAT, "%s.%s must be a list of 1 to %d integers", sect, key, maxn);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || floor(e->valuedouble) != e->valuedouble ||
            e->valuedouble < lo || e->valuedouble > hi)
            return sbv2_fail(err, SBV2_ERR_FORMAT, "%s.%s[%d] must be an integer in [%d, %d]", sect, key, i, lo, hi);
        out[i] = (int)e->valuedouble;
    }
    *n = cnt;
    return SBV2_OK;
}

void name_map_free(name_map *m) {
    if (!m || !m->name) return;
    for (int i = 0; i < m->n; i++) free(m->name[i]);
    free(m->name);
    m->name = NULL;
    m->n = 0;
}

/* {"name": id, ...} with ids in [0, n). Absent -> {default_name: 0}. */
static int get_name_map(const cJSON *data, const char *key, int n, const char *default_name, name_map *m,
                        sbv2_error *err) {
    m->n = n;
    m->name = calloc((size_t)n, sizeof *m->name);
    if (!m->name) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    const cJSON *v = data ? cJSON_GetObjectItemCaseSensitive(data, key) : NULL;
    if (!v) {
        m->name[0] = strdup(default_name);
        return m->name[0] ? SBV2_OK : sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    }
    if (!cJSON_IsObject(v)) return sbv2_fail(err, SBV2_ERR_FORMAT, "data.%s must be an object", key);
    for (const cJSON *e = v->child; e; e = e->next) {
        double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!cJSON_IsNumber(e) || floor(d) != d || d < 0 || d >= n)
            return sbv2_fail(err, SBV2_ERR_FORMAT, "data.%s[\"%s\"] must be an integer id in [0, %d)", key,
                             e->string, n);
        int id = (int)d;
        if (m->name[id]) continue; /* several names for one id: the first wins */
        m->name[id] = strdup(e->string ? e->string : "");
        if (!m->name[id]) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    }
    return SBV2_OK;
}

int sbv2_config_parse(const char *json, size_t len, sbv2_hparams *hp, name_map *spk, name_map *sty,
                      sbv2_error *err) {
    memset(hp, 0, sizeof *hp);
    memset(spk, 0, sizeof *spk);
    memset(sty, 0, sizeof *sty);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) return sbv2_fail(err, SBV2_ERR_FORMAT, "not valid JSON");
    for (const char *p = end; p && p < json + len; p++) /* as Python's json.load: nothing after the value */
        if (!isspace((unsigned char)*p) && *p != 0) {
            cJSON_Delete(root);
            return sbv2_fail(err, SBV2_ERR_FORMAT, "not valid JSON (trailing data after the top-level object)");
        }
    int rc = SBV2_OK;
    const cJSON *data = NULL, *model = NULL, *ver = NULL, *name = NULL;
    if (!cJSON_IsObject(root)) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "top level is not a JSON object"); goto out; }
    data = cJSON_GetObjectItemCaseSensitive(root, "data");
    model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (data && !cJSON_IsObject(data)) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "\"data\" is not an object"); goto out; }
    if (!cJSON_IsObject(model)) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "\"model\" section is missing or not an object"); goto out; }
    ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver && !cJSON_IsString(ver)) { rc = sbv2_fail(err, SBV2_ERR_FORMAT, "\"version\" is not a string"); goto out; }
    snprintf(hp->version, sizeof hp->version, "%s", ver ? ver->valuestring : "2.0-JP-Extra");
    name = cJSON_GetObjectItemCaseSensitive(root, "model_name");
    snprintf(hp->model_name, sizeof hp->model_name, "%s", cJSON_IsString(name) ? name->valuestring : "");
    size_t vl = strlen(hp->version);
    hp->arch = (vl >= 8 && strcmp(hp->version + vl - 8, "JP-Extra") == 0) ? SBV2_ARCH_JP_EXTRA : SBV2_ARCH_MULTILINGUAL;

    {
        const cJSON *ab = data ? cJSON_GetObjectItemCaseSensitive(data, "add_blank") : NULL;
        if (ab && !cJSON_IsBool(ab) && !cJSON_IsNumber(ab)) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "data.add_blank is not a boolean");
            goto out;
        }
        hp->add_blank = !ab || cJSON_IsTrue(ab) || (cJSON_IsNumber(ab) && ab->valuedouble != 0); /* pydantic's bool */
    }
#define INT(obj, sect, key, def, lo, hi, dst) \
    if ((rc = get_int(obj, sect, key, def, lo, hi, dst, err)) != SBV2_OK) goto out
    INT(data, "data", "sampling_rate", 44100, 1, 1000000, &hp->sampling_rate);
    INT(data, "data", "n_speakers", 1, 1, 1000000, &hp->n_speakers);
    INT(model, "model", "inter_channels", 192, 2, 65536, &hp->inter_channels);
    INT(model, "model", "hidden_channels", 192, 1, 65536, &hp->hidden_channels);
    INT(model, "model", "filter_channels", 768, 1, 65536, &hp->filter_channels);
    INT(model, "model", "n_heads", 2, 1, 1024, &hp->n_heads);
    INT(model, "model", "n_layers", 6, 1, 1024, &hp->n_layers);
    INT(model, "model", "kernel_size", 3, 1, 63, &hp->kernel_size);
    INT(model, "model", "gin_channels", 512, 0, 65536, &hp->gin_channels);
    INT(model, "model", "upsample_initial_channel", 512, 1, 1 << 20, &hp->ups_initial_channel);
#undef INT
    {
        /* a string (pydantic's str); SBV2 builds ResBlock1 for "1" and ResBlock2 for
           any other value, and so does sbv2c (the weights then have to match) */
        const cJSON *rb = cJSON_GetObjectItemCaseSensitive(model, "resblock");
        if (rb && !cJSON_IsString(rb)) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.resblock must be a string (\"1\" or \"2\")");
            goto out;
        }
        hp->resblock = !rb || !strcmp(rb->valuestring, "1") ? '1' : '2';
    }
    if ((rc = get_int_list(model, "model", "resblock_kernel_sizes", k_def_res_kernels, 3, SBV2_MAX_RESKERNELS, 1,
                           255, hp->res_kernel_sizes, &hp->n_res_kernels, err)) != SBV2_OK)
        goto out;
    {
        int need = hp->resblock == '1' ? 3 : 2;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(model, "resblock_dilation_sizes");
        if (!d) {
            for (int i = 0; i < hp->n_res_kernels; i++) {
                hp->res_dilations[i][0] = 1, hp->res_dilations[i][1] = 3, hp->res_dilations[i][2] = 5;
                hp->n_res_dilations[i] = 3;
            }
        } else {
            if (!cJSON_IsArray(d) || cJSON_GetArraySize(d) != hp->n_res_kernels) {
                rc = sbv2_fail(err, SBV2_ERR_FORMAT,
                               "model.resblock_dilation_sizes must be a list with one entry per resblock kernel (%d)",
                               hp->n_res_kernels);
                goto out;
            }
            int i = 0;
            for (const cJSON *e = d->child; e; e = e->next, i++) {
                int tmp[16], n = 0;
                char key[64];
                snprintf(key, sizeof key, "resblock_dilation_sizes[%d]", i);
                if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) > 16) {
                    rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.%s must be a list of integers", key);
                    goto out;
                }
                int j = 0;
                for (const cJSON *x = e->child; x; x = x->next, j++) {
                    if (!cJSON_IsNumber(x) || floor(x->valuedouble) != x->valuedouble || x->valuedouble < 1 ||
                        x->valuedouble > 4096) {
                        rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.%s[%d] must be an integer in [1, 4096]", key, j);
                        goto out;
                    }
                    tmp[n++] = (int)x->valuedouble;
                }
                if (n < need) {
                    rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.%s needs at least %d dilations for resblock \"%c\"",
                                   key, need, hp->resblock);
                    goto out;
                }
                for (int k = 0; k < need; k++) hp->res_dilations[i][k] = tmp[k];
                hp->n_res_dilations[i] = need;
            }
        }
    }
    {
        int nr, nk;
        if ((rc = get_int_list(model, "model", "upsample_rates", k_def_ups_rates, 5, SBV2_MAX_UPS, 1, 4096,
                               hp->ups_rates, &nr, err)) != SBV2_OK)
            goto out;
        if ((rc = get_int_list(model, "model", "upsample_kernel_sizes", k_def_ups_kernels, 5, SBV2_MAX_UPS, 1,
                               4096, hp->ups_kernels, &nk, err)) != SBV2_OK)
            goto out;
        if (nr != nk) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.upsample_rates (%d) and upsample_kernel_sizes (%d) differ in length", nr, nk);
            goto out;
        }
        hp->n_ups = nr;
        for (int i = 0; i < nr; i++)
            if (hp->ups_kernels[i] < hp->ups_rates[i]) {
                rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.upsample_kernel_sizes[%d] is smaller than its rate", i);
                goto out;
            }
        /* SBV2 sizes stage i with floor division, upsample_initial_channel // 2^(i+1):
           any count works as long as the last stage keeps a channel */
        if ((hp->ups_initial_channel >> nr) < 1) {
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.upsample_initial_channel (%d) leaves no channel after %d upsamplings (needs >= 2^%d)",
                           hp->ups_initial_channel, nr, nr);
            goto out;
        }
    }
    if (hp->hidden_channels % hp->n_heads != 0) {
        rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.hidden_channels (%d) is not divisible by n_heads (%d)",
                       hp->hidden_channels, hp->n_heads);
        goto out;
    }
    if (hp->inter_channels % 2 != 0) {
        rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.inter_channels (%d) must be even", hp->inter_channels);
        goto out;
    }
    hp->cond_layer_idx = 2;
    if (hp->gin_channels <= 0) {
        rc = sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "model.gin_channels must be > 0 (SBV2 needs a speaker embedding)");
        goto out;
    }
    if (hp->n_layers <= hp->cond_layer_idx) {
        rc = sbv2_fail(err, SBV2_ERR_FORMAT, "model.n_layers (%d) must be > 2: SBV2 adds the speaker embedding before layer 2",
                       hp->n_layers);
        goto out;
    }
    {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(model, "use_spk_conditioned_encoder");
        if (u && !cJSON_IsTrue(u)) {
            rc = sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "model.use_spk_conditioned_encoder=false is not supported (SBV2 cannot build it either)");
            goto out;
        }
    }
    /* SBV2's get_net_g() never passes use_transformer_flow, n_flow_layer,
       n_layers_trans_flow or flow_share_parameter to SynthesizerTrn, so its
       inference ignores them in config.json and builds the defaults: 4
       transformer couplings of 6 (JP-Extra) or 4 layers. The binder reads the
       depth from the weights. */
    hp->n_flows = 4;
    hp->n_layers_trans_flow = hp->arch == SBV2_ARCH_JP_EXTRA ? 6 : 4;
    hp->flow_kernel = 5;
    hp->dp_filter = 256;
    hp->dp_kernel = 3;
    hp->sdp_kernel = 3;
    hp->sdp_n_flows = 4;
    hp->sdp_bins = 10;
    hp->sdp_tail = 5.0f;
    {
        int nsty = 1;
        if ((rc = get_int(data, "data", "num_styles", 1, 1, 1000000, &nsty, err)) != SBV2_OK) goto out;
        /* the real count comes from style_vectors.npy; ids are checked against it later */
        const cJSON *s2i = data ? cJSON_GetObjectItemCaseSensitive(data, "style2id") : NULL;
        int maxid = 0;
        if (cJSON_IsObject(s2i))
            for (const cJSON *e = s2i->child; e; e = e->next)
                if (cJSON_IsNumber(e) && e->valuedouble + 1 > maxid && e->valuedouble < 1e6) maxid = (int)e->valuedouble + 1;
        if (maxid > nsty) nsty = maxid;
        if ((rc = get_name_map(data, "spk2id", hp->n_speakers, "Dummy", spk, err)) != SBV2_OK) goto out;
        if ((rc = get_name_map(data, "style2id", nsty, "Neutral", sty, err)) != SBV2_OK) goto out;
    }
out:
    cJSON_Delete(root);
    if (rc != SBV2_OK) {
        name_map_free(spk);
        name_map_free(sty);
    }
    return rc;
}
