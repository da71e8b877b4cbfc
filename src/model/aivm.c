/* AivisSpeech's AIVM format (aivmlib): a safetensors file whose __metadata__
 * holds three strings, aivm_manifest (JSON), aivm_hyper_parameters (SBV2's
 * config.json) and aivm_style_vectors (base64 of style_vectors.npy). The
 * manifest is checked against aivmlib's AivmManifest schema: its types, enums,
 * UUIDs, SemVer, data URLs and bounds. The voice's speakers and styles come
 * from the hyper-parameters' spk2id/style2id, which aivmlib rewrites from the
 * manifest whenever it writes a file. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/npy.h"
#include "model/model.h"

int sbv2_base64_decode(const char *s, size_t len, uint8_t **out, size_t *n_out) {
    *out = NULL, *n_out = 0;
    uint8_t *o = malloc(len / 4 * 3 + 3);
    if (!o) return SBV2_ERR_NO_MEMORY;
    size_t n = 0, q = 0, pad = 0;
    int done = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < len && !done; i++) {
        const unsigned char c = (unsigned char)s[i];
        const int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
                    : c == '+' ? 62 : c == '/' ? 63 : c == '=' ? -2 : -1;
        if (v == -2) { /* padding ends the data once it completes a quantum */
            if (q >= 2 && q + ++pad >= 4) done = 1;
            continue;
        }
        if (v < 0) continue; /* binascii drops what is not in the alphabet */
        pad = 0;
        acc = acc << 6 | (uint32_t)v;
        if (++q == 4) {
            o[n++] = (uint8_t)(acc >> 16), o[n++] = (uint8_t)(acc >> 8), o[n++] = (uint8_t)acc;
            q = 0, acc = 0;
        }
    }
    if (!done && q) { free(o); return SBV2_ERR_FORMAT; } /* "Incorrect padding" */
    if (q == 2) o[n++] = (uint8_t)(acc >> 4);
    else if (q == 3) o[n++] = (uint8_t)(acc >> 10), o[n++] = (uint8_t)(acc >> 2);
    *out = o, *n_out = n;
    return SBV2_OK;
}

/* ---- the manifest, as aivmlib's pydantic schema declares it ------------------ */

static int is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* What Python's UUID() accepts: 32 hex digits once "urn:", "uuid:", braces and
 * hyphens are removed. */
static int valid_uuid(const char *s) {
    if (!strncmp(s, "urn:", 4)) s += 4;
    if (!strncmp(s, "uuid:", 5)) s += 5;
    int digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '{' || *p == '}' || *p == '-') continue;
        if (!is_hex(*p)) return 0;
        digits++;
    }
    return digits == 32;
}

/* A SemVer 2.0 numeric identifier: 0 or no leading zero. */
static const char *semver_num(const char *p) {
    if (*p == '0') return p + 1;
    if (*p < '1' || *p > '9') return NULL;
    while (*p >= '0' && *p <= '9') p++;
    return p;
}
static int ident_char(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'; }
/* dot-separated identifiers; prerelease: numeric ones without leading zeros */
static const char *semver_idents(const char *p, int prerelease) {
    for (;;) {
        const char *b = p;
        int alpha = 0;
        while (ident_char(*p)) alpha |= !(*p >= '0' && *p <= '9'), p++;
        if (p == b) return NULL;
        if (prerelease && !alpha && p - b > 1 && *b == '0') return NULL;
        if (*p != '.') return p;
        p++;
    }
}
static int valid_semver(const char *s) {
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        if (!(p = semver_num(p))) return 0;
        if (i < 2 && *p++ != '.') return 0;
    }
    if (*p == '-' && !(p = semver_idents(p + 1, 1))) return 0;
    if (*p == '+' && !(p = semver_idents(p + 1, 0))) return 0;
    return *p == '\0';
}

/* ^data:<kind>/(a|b);base64,[A-Za-z0-9+/=]+$ */
static int valid_data_url(const char *s, const char *kind, const char *a, const char *b) {
    char pre[64];
    for (int k = 0; k < 2; k++) {
        snprintf(pre, sizeof pre, "data:%s/%s;base64,", kind, k ? b : a);
        const size_t l = strlen(pre);
        if (strncmp(s, pre, l)) continue;
        const char *p = s + l;
        if (!*p) return 0;
        for (; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '/' || *p == '='))
                return 0;
        return 1;
    }
    return 0;
}

/* pydantic's int: a JSON integer (or a float with no fraction) */
static int json_int(const cJSON *v, long long lo, long long hi) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= (double)lo &&
           v->valuedouble <= (double)hi;
}

typedef struct {
    sbv2_error *err;
    char where[96];
} mctx;

static int bad(mctx *c, const char *field, const char *why) {
    return sbv2_fail(c->err, SBV2_ERR_FORMAT, "AIVM manifest: %s%s %s", c->where, field, why);
}

/* a required (or, with dflt, optional) string field, non-empty if min1 */
static int str_field(mctx *c, const cJSON *o, const char *k, int required, int min1, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v) return required ? bad(c, k, "is missing") : (out ? (*out = "", 0) : 0);
    if (!cJSON_IsString(v)) return bad(c, k, "is not a string");
    if (min1 && !*v->valuestring) return bad(c, k, "is empty");
    if (out) *out = v->valuestring;
    return 0;
}

static int check_style(mctx *c, const cJSON *st) {
    if (!cJSON_IsObject(st)) return bad(c, "", "is not an object");
    if (str_field(c, st, "name", 1, 1, NULL)) return -1;
    const cJSON *icon = cJSON_GetObjectItemCaseSensitive(st, "icon");
    if (icon && !cJSON_IsNull(icon) && (!cJSON_IsString(icon) || !valid_data_url(icon->valuestring, "image", "jpeg", "png")))
        return bad(c, "icon", "is not a data:image/jpeg or data:image/png base64 URL");
    if (!json_int(cJSON_GetObjectItemCaseSensitive(st, "local_id"), 0, 31)) return bad(c, "local_id", "is not an integer from 0 to 31");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(st, "voice_samples");
    if (vs && !cJSON_IsArray(vs)) return bad(c, "voice_samples", "is not a list");
    const cJSON *s;
    cJSON_ArrayForEach(s, vs) {
        if (!cJSON_IsObject(s)) return bad(c, "voice_samples", "has an entry that is not an object");
        const cJSON *au = cJSON_GetObjectItemCaseSensitive(s, "audio");
        if (!cJSON_IsString(au) || !valid_data_url(au->valuestring, "audio", "wav", "mp4"))
            return bad(c, "voice_samples.audio", "is not a data:audio/wav or data:audio/mp4 base64 URL");
        if (str_field(c, s, "transcript", 1, 1, NULL)) return -1;
    }
    return 0;
}

static int check_speaker(mctx *c, const cJSON *sp) {
    if (!cJSON_IsObject(sp)) return bad(c, "", "is not an object");
    if (str_field(c, sp, "name", 1, 1, NULL)) return -1;
    const cJSON *icon = cJSON_GetObjectItemCaseSensitive(sp, "icon");
    if (!cJSON_IsString(icon) || !valid_data_url(icon->valuestring, "image", "jpeg", "png"))
        return bad(c, "icon", "is missing or not a data:image/jpeg or data:image/png base64 URL");
    const cJSON *langs = cJSON_GetObjectItemCaseSensitive(sp, "supported_languages"), *l;
    if (!cJSON_IsArray(langs)) return bad(c, "supported_languages", "is missing or not a list");
    cJSON_ArrayForEach(l, langs) if (!cJSON_IsString(l) || strlen(l->valuestring) < 2 || strlen(l->valuestring) > 2)
        return bad(c, "supported_languages", "has an entry that is not a 2-letter code");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(sp, "uuid");
    if (!cJSON_IsString(u) || !valid_uuid(u->valuestring)) return bad(c, "uuid", "is missing or not a UUID");
    if (!json_int(cJSON_GetObjectItemCaseSensitive(sp, "local_id"), 0, 2147483647)) return bad(c, "local_id", "is not an integer >= 0");
    const cJSON *sts = cJSON_GetObjectItemCaseSensitive(sp, "styles"), *st;
    if (!cJSON_IsArray(sts)) return bad(c, "styles", "is missing or not a list");
    const size_t wl = strlen(c->where);
    int i = 0;
    cJSON_ArrayForEach(st, sts) {
        snprintf(c->where + wl, sizeof c->where - wl, "styles[%d].", i++);
        if (check_style(c, st)) return -1;
    }
    c->where[wl] = '\0';
    return 0;
}

static int check_manifest(const cJSON *m, sbv2_error *err) {
    mctx c = {err, ""};
    if (!cJSON_IsObject(m)) return sbv2_fail(err, SBV2_ERR_FORMAT, "AIVM manifest: not a JSON object");
    const char *s = "";
    if (str_field(&c, m, "manifest_version", 1, 0, &s)) return -1;
    if (strcmp(s, "1.0")) return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "AIVM manifest version \"%s\": only 1.0 is defined", s);
    if (str_field(&c, m, "name", 1, 1, NULL) || str_field(&c, m, "description", 0, 0, NULL) ||
        str_field(&c, m, "terms_of_use", 0, 0, NULL))
        return -1;
    const cJSON *cr = cJSON_GetObjectItemCaseSensitive(m, "creators"), *x;
    if (cr && !cJSON_IsArray(cr)) return bad(&c, "creators", "is not a list");
    cJSON_ArrayForEach(x, cr) if (!cJSON_IsString(x)) return bad(&c, "creators", "has an entry that is not a string");
    if (str_field(&c, m, "model_architecture", 1, 0, &s)) return -1;
    if (strcmp(s, "Style-Bert-VITS2") && strcmp(s, "Style-Bert-VITS2 (JP-Extra)"))
        return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "AIVM model_architecture \"%s\": sbv2c runs Style-Bert-VITS2 and Style-Bert-VITS2 (JP-Extra)", s);
    if (str_field(&c, m, "model_format", 1, 0, &s)) return -1;
    if (strcmp(s, "Safetensors") && strcmp(s, "ONNX")) return bad(&c, "model_format", "is neither Safetensors nor ONNX");
    static const char *const counts[] = {"training_epochs", "training_steps"};
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, counts[i]);
        if (v && !cJSON_IsNull(v) && !json_int(v, 0, 9007199254740991LL)) return bad(&c, counts[i], "is not null or an integer >= 0");
    }
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "uuid");
    if (!cJSON_IsString(u) || !valid_uuid(u->valuestring)) return bad(&c, "uuid", "is missing or not a UUID");
    if (str_field(&c, m, "version", 1, 0, &s)) return -1;
    if (!valid_semver(s)) return bad(&c, "version", "is not a SemVer 2.0 version (like 1.0.0)");
    const cJSON *sps = cJSON_GetObjectItemCaseSensitive(m, "speakers"), *sp;
    if (!cJSON_IsArray(sps)) return bad(&c, "speakers", "is missing or not a list");
    int i = 0;
    cJSON_ArrayForEach(sp, sps) {
        snprintf(c.where, sizeof c.where, "speakers[%d].", i++);
        if (check_speaker(&c, sp)) return -1;
    }
    return 0;
}

int sbv2_style_vectors_from_base64(sbv2_model *m, const char *b64, const char *what, sbv2_error *err) {
    uint8_t *npy = NULL;
    size_t nn = 0;
    int rc = sbv2_base64_decode(b64, strlen(b64), &npy, &nn);
    if (rc == SBV2_ERR_NO_MEMORY) return sbv2_fail(err, rc, "out of memory");
    if (rc != SBV2_OK) return sbv2_fail(err, rc, "%s: not valid base64", what);
    npy_array a;
    rc = npy_parse(&a, npy, nn, err);
    if (rc == SBV2_OK) rc = sbv2_model_set_style_vectors(m, &a, what, err);
    else {
        char pre[128];
        snprintf(pre, sizeof pre, "%s: ", what);
        sbv2_error_prefix(err, pre);
    }
    npy_free(&a);
    free(npy);
    return rc;
}

int sbv2_aivm_read_metadata(sbv2_model *m, const char *metadata_json, size_t len, sbv2_error *err) {
    cJSON *meta = cJSON_ParseWithLength(metadata_json, len), *man = NULL;
    int rc = SBV2_OK;
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(meta, "aivm_manifest");
    const cJSON *jh = cJSON_GetObjectItemCaseSensitive(meta, "aivm_hyper_parameters");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(meta, "aivm_style_vectors");
    if (!cJSON_IsObject(meta)) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "AIVM metadata is not a JSON object");
    else if (!cJSON_IsString(jm) || !*jm->valuestring) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "AIVM manifest not found");
    else if (!(man = cJSON_Parse(jm->valuestring))) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "AIVM manifest: not valid JSON");
    else if (check_manifest(man, err)) rc = err && err->code ? err->code : SBV2_ERR_FORMAT;
    else if (!cJSON_IsString(jh)) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "AIVM hyper-parameters (aivm_hyper_parameters) not found");
    else if (!cJSON_IsString(js)) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "AIVM style vectors (aivm_style_vectors) not found: Style-Bert-VITS2 needs them");
    if (rc == SBV2_OK) {
        rc = sbv2_config_parse(jh->valuestring, strlen(jh->valuestring), &m->hp, &m->speakers, &m->styles, err);
        if (rc != SBV2_OK) sbv2_error_prefix(err, "AIVM hyper-parameters: ");
    }
    if (rc == SBV2_OK) {
        const char *arch = cJSON_GetObjectItemCaseSensitive(man, "model_architecture")->valuestring;
        if ((m->hp.arch == SBV2_ARCH_JP_EXTRA) != (strcmp(arch, "Style-Bert-VITS2 (JP-Extra)") == 0))
            rc = sbv2_fail(err, SBV2_ERR_FORMAT, "AIVM manifest says %s, but the hyper-parameters describe the %s architecture", arch,
                           m->hp.arch == SBV2_ARCH_JP_EXTRA ? "JP-Extra" : "older multilingual");
    }
    if (rc == SBV2_OK) rc = sbv2_style_vectors_from_base64(m, js->valuestring, "AIVM style vectors", err);
    if (rc == SBV2_OK) {
        m->config_json = strdup(jh->valuestring);
        m->aivm_manifest = strdup(jm->valuestring);
        if (!m->config_json || !m->aivm_manifest) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    }
    cJSON_Delete(man), cJSON_Delete(meta);
    return rc;
}

/* ---- writing: the model's safetensors file with the AIVM metadata ------------- */

int sbv2_aivm_metadata(const sbv2_model *m, const char *model_format, const char *file_name, char **man_out, char **hp_out,
                       char **sv_out, sbv2_error *err);

/* As aivmlib's write_aivm_metadata: the weights as the model holds them (the
 * safetensors file's tensors unchanged, or an ONNX file's initializers) under
 * a header with the three __metadata__ keys (a safetensors source keeps its
 * other metadata). The header is padded with spaces to a multiple of 8 bytes,
 * as the format allows. */
int sbv2_export_aivm(const sbv2_model *m, const char *path, const sbv2_export_options *options, sbv2_error *err) {
    if (!m || !path) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "model and path must not be NULL");
    if (options && options->struct_size != sizeof *options)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "options.struct_size is %zu, expected %zu", options->struct_size, sizeof *options);
    const st_file *st = &m->st;
    cJSON *hdr = cJSON_CreateObject();
    cJSON *meta = st->metadata ? cJSON_Parse(st->metadata) : NULL;
    if (!cJSON_IsObject(meta)) cJSON_Delete(meta), meta = cJSON_CreateObject();
    char *man = NULL, *hp = NULL, *sv = NULL, *text = NULL;
    int rc = hdr && meta ? SBV2_OK : sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    /* tensors in the order of their data (a safetensors file's own order), contiguous */
    const st_tensor **ord = rc == SBV2_OK ? malloc(sizeof *ord * (st->n_tensors + 1)) : NULL;
    if (rc == SBV2_OK && !ord) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; ord && i < st->n_tensors; i++) ord[i] = &st->tensors[i];
    for (size_t i = 1; ord && st->map && i < st->n_tensors; i++) /* insertion sort by address: nearly sorted already */
        for (size_t k = i; k > 0 && ord[k - 1]->data > ord[k]->data; k--) {
            const st_tensor *t = ord[k];
            ord[k] = ord[k - 1], ord[k - 1] = t;
        }
    size_t off = 0;
    for (size_t i = 0; rc == SBV2_OK && i < st->n_tensors; i++) {
        const st_tensor *t = ord[i];
        cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray(), *offs = cJSON_CreateArray();
        for (int d = 0; shape && d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t->nbytes)));
        off += t->nbytes;
        if (!o || !shape || !offs) {
            cJSON_Delete(o), cJSON_Delete(shape), cJSON_Delete(offs);
            rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
            break;
        }
        cJSON_AddStringToObject(o, "dtype", st_dtype_name(t->dtype));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddItemToObject(o, "data_offsets", offs);
        cJSON_AddItemToObject(hdr, t->name, o);
    }
    if (rc == SBV2_OK) rc = sbv2_aivm_metadata(m, "Safetensors", options ? options->model_file_name : NULL, &man, &hp, &sv, err);
    if (rc == SBV2_OK) {
        const char *keys[3] = {"aivm_manifest", "aivm_hyper_parameters", "aivm_style_vectors"}, *vals[3] = {man, hp, sv};
        for (int i = 0; i < 3; i++) {
            cJSON_DeleteItemFromObjectCaseSensitive(meta, keys[i]);
            cJSON_AddStringToObject(meta, keys[i], vals[i]);
        }
        cJSON_AddItemToObject(hdr, "__metadata__", meta);
        meta = NULL;
        if (!(text = cJSON_PrintUnformatted(hdr))) rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory writing the AIVM header");
    }
    free(man), free(hp), free(sv);
    cJSON_Delete(hdr), cJSON_Delete(meta);
    FILE *fp = NULL;
    if (rc == SBV2_OK && !(fp = fopen(path, "wb"))) rc = sbv2_fail(err, SBV2_ERR_IO, "cannot create %s", path);
    if (rc == SBV2_OK) {
        const size_t tl = strlen(text), padded = (tl + 7) & ~(size_t)7;
        uint8_t len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(text, 1, tl, fp) == tl;
        for (size_t i = tl; ok && i < padded; i++) ok = fputc(' ', fp) != EOF;
        for (size_t i = 0; ok && i < st->n_tensors; i++) ok = fwrite(ord[i]->data, 1, ord[i]->nbytes, fp) == ord[i]->nbytes;
        ok = (fclose(fp) == 0) && ok;
        if (!ok) remove(path), rc = sbv2_fail(err, SBV2_ERR_IO, "cannot write %s", path);
    }
    free(text), free(ord);
    return rc;
}

const char *sbv2_model_aivm_manifest(const sbv2_model *m) { return m ? m->aivm_manifest : NULL; }
