/* metadata_props of exported ONNX files: the model describes itself
 * (hyper-parameters, style vectors, speaker/style maps). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "formats/npy.h"
#include "onnx/export.h"

static char *base64(const uint8_t *d, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        *p++ = tbl[v >> 18 & 63];
        *p++ = tbl[v >> 12 & 63];
        *p++ = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        *p++ = i + 2 < n ? tbl[v & 63] : '=';
    }
    *p = 0;
    return o;
}

static char *name_map_json(const name_map *nm) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < nm->n; i++)
        if (nm->name[i]) cJSON_AddNumberToObject(o, nm->name[i], i);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* base64 of style_vectors.npy as a float32 [n, 256] npy file. */
char *sbv2_style_vectors_base64(const sbv2_model *m) {
    int64_t shape[2] = {m->n_style_rows, SBV2_STYLE_DIM};
    size_t len;
    uint8_t *npy = npy_encode(NPY_F32, 2, shape, m->style_vectors, &len);
    char *b = npy ? base64(npy, len) : NULL;
    free(npy);
    return b;
}

int sbv2_add_aivmx_metadata(ob_graph *g, const sbv2_model *m, const sbv2_export_options *opt, sbv2_error *err);

int sbv2_add_metadata(ob_graph *g, const sbv2_model *m, const sbv2_export_options *opt, sbv2_error *err) {
    char *sv = sbv2_style_vectors_base64(m), *spk = name_map_json(&m->speakers), *sty = name_map_json(&m->styles);
    int rc = SBV2_OK;
    if (!sv || !spk || !sty) {
        rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory writing metadata");
    } else {
        ob_metadata(g, "sbv2_architecture", m->hp.arch == SBV2_ARCH_JP_EXTRA ? "JP-Extra" : "multilingual");
        ob_metadata(g, "sbv2_version", m->hp.version);
        ob_metadata(g, "sbv2_hyper_parameters", m->config_json ? m->config_json : "{}");
        ob_metadata(g, "sbv2_style_vectors", sv);
        ob_metadata(g, "sbv2_spk2id", spk);
        ob_metadata(g, "sbv2_style2id", sty);
        if (opt->aivmx) rc = sbv2_add_aivmx_metadata(g, m, opt, err);
    }
    free(sv);
    free(spk);
    free(sty);
    if (rc == SBV2_OK && ob_failed(g)) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory writing metadata");
    return rc;
}
