/* AIVMX metadata, as AivisSpeech's aivmlib writes it into an ONNX file:
 *   aivm_manifest          compact JSON (manifest_version "1.0", speakers, styles)
 *   aivm_hyper_parameters  config.json with spk2id/style2id rebuilt from the manifest
 *   aivm_style_vectors     base64 of the style_vectors.npy bytes
 * Defaults follow aivmlib's generate_aivm_metadata(): one speaker per spk2id
 * entry with every style, "Neutral" shown as "ノーマル", random UUIDs, version
 * 1.0.0, epochs/steps from the model file name (e<digits>, s<digits>). */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "onnx/export.h"

char *sbv2_style_vectors_base64(const sbv2_model *m);
int sbv2_add_aivmx_metadata(ob_graph *g, const sbv2_model *m, const sbv2_export_options *opt, sbv2_error *err);
int sbv2_aivm_metadata(const sbv2_model *m, const char *model_format, const char *file_name, char **man_out, char **hp_out,
                       char **sv_out, sbv2_error *err);

/* A 16x16 solid PNG (the manifest requires an icon per speaker). */
static const char k_icon[] =
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAFklEQVR42mPwqj5BEmIY1TCqYfhqAACQoY0Q3Bx0dwAAAABJRU5ErkJggg==";

#define NEUTRAL_JA "\xe3\x83\x8e\xe3\x83\xbc\xe3\x83\x9e\xe3\x83\xab" /* ノーマル */

/* Random version-4 UUID from /dev/urandom (time-seeded mix as a fallback). */
static void uuid4(char out[37], uint64_t salt) {
    uint8_t b[16];
    FILE *fp = fopen("/dev/urandom", "rb");
    size_t got = fp ? fread(b, 1, 16, fp) : 0;
    if (fp) fclose(fp);
    if (got != 16) {
        uint64_t x = (uint64_t)time(NULL) ^ (salt * 0x9E3779B97F4A7C15ull) ^ (uint64_t)clock();
        for (int i = 0; i < 16; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[i] = (uint8_t)x;
        }
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Code points of a UTF-8 string. */
static size_t utf8_len(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* First "<c><two or more digits>" in name, as re.search(r"c(\d{2,})"). */
static long find_count(const char *name, char c) {
    for (const char *p = name; p && *p; p++)
        if (*p == c && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2])) return strtol(p + 1, NULL, 10);
    return -1;
}

static const char *style_display_name(const sbv2_model *m, int i) {
    const char *n = m->styles.name[i];
    if (strcmp(n, "Neutral") != 0) return n;
    for (int k = 0; k < m->styles.n; k++)
        if (m->styles.name[k] && strcmp(m->styles.name[k], NEUTRAL_JA) == 0) return n;
    return NEUTRAL_JA;
}

/* The three AIVM strings for m (model_format "ONNX" or "Safetensors"). A model
 * read from an AIVM file keeps its manifest (UUIDs, names, licence), with
 * model_format set; otherwise the manifest is generated. */
int sbv2_aivm_metadata(const sbv2_model *m, const char *model_format, const char *file_name, char **man_out, char **hp_out,
                       char **sv_out, sbv2_error *err) {
    *man_out = *hp_out = *sv_out = NULL;
    if (m->aivm_manifest) {
        cJSON *man = cJSON_Parse(m->aivm_manifest);
        if (man) {
            cJSON_DeleteItemFromObjectCaseSensitive(man, "model_format");
            cJSON_AddStringToObject(man, "model_format", model_format);
        }
        *man_out = man ? cJSON_PrintUnformatted(man) : NULL;
        *hp_out = m->config_json ? strdup(m->config_json) : NULL;
        *sv_out = sbv2_style_vectors_base64(m);
        cJSON_Delete(man);
        if (!*man_out || !*hp_out || !*sv_out) {
            free(*man_out), free(*hp_out), free(*sv_out);
            *man_out = *hp_out = *sv_out = NULL;
            return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory writing AIVM metadata");
        }
        return SBV2_OK;
    }
    const int jp_extra = m->hp.arch == SBV2_ARCH_JP_EXTRA;
    for (int i = 0; i < m->styles.n; i++) {
        if (!m->styles.name[i]) continue;
        if (i > 31) return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "AIVMX allows style ids 0..31, the model has style %d", i);
        size_t l = utf8_len(style_display_name(m, i));
        if (l < 1 || l > 20)
            return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "AIVMX style names have 1..20 characters: \"%s\"", m->styles.name[i]);
    }
    char name[512];
    snprintf(name, sizeof name, "%s", m->hp.model_name[0] ? m->hp.model_name : "sbv2c-model");
    if (utf8_len(name) > 80) return sbv2_fail(err, SBV2_ERR_UNSUPPORTED, "AIVMX model names have at most 80 characters");

    /* manifest, fields in aivmlib's declaration order */
    cJSON *man = cJSON_CreateObject();
    char uuid[37];
    uuid4(uuid, 1);
    cJSON_AddStringToObject(man, "manifest_version", "1.0");
    cJSON_AddStringToObject(man, "name", name);
    cJSON_AddStringToObject(man, "description", "");
    cJSON_AddItemToObject(man, "creators", cJSON_CreateArray());
    cJSON_AddStringToObject(man, "terms_of_use", ""); /* aivmlib's field for the licence (Markdown) */
    cJSON_AddStringToObject(man, "model_architecture", jp_extra ? "Style-Bert-VITS2 (JP-Extra)" : "Style-Bert-VITS2");
    cJSON_AddStringToObject(man, "model_format", model_format);
    const char *fname = file_name ? file_name : "";
    long epochs = find_count(fname, 'e'), steps = find_count(fname, 's');
    if (epochs >= 0) cJSON_AddNumberToObject(man, "training_epochs", (double)epochs);
    else cJSON_AddNullToObject(man, "training_epochs");
    if (steps >= 0) cJSON_AddNumberToObject(man, "training_steps", (double)steps);
    else cJSON_AddNullToObject(man, "training_steps");
    cJSON_AddStringToObject(man, "uuid", uuid);
    cJSON_AddStringToObject(man, "version", "1.0.0");
    cJSON *spks = cJSON_AddArrayToObject(man, "speakers");
    cJSON *spk2id = cJSON_CreateObject(), *style2id = cJSON_CreateObject();
    int n_style_names = 0;
    for (int i = 0; i < m->styles.n; i++)
        if (m->styles.name[i]) cJSON_AddNumberToObject(style2id, style_display_name(m, i), i), n_style_names++;
    for (int s = 0; s < m->speakers.n; s++) {
        if (!m->speakers.name[s]) continue;
        cJSON *sp = cJSON_CreateObject();
        cJSON_AddStringToObject(sp, "name", m->speakers.name[s]);
        cJSON_AddStringToObject(sp, "icon", k_icon);
        cJSON *langs = cJSON_AddArrayToObject(sp, "supported_languages");
        cJSON_AddItemToArray(langs, cJSON_CreateString("ja"));
        if (!jp_extra) {
            cJSON_AddItemToArray(langs, cJSON_CreateString("en"));
            cJSON_AddItemToArray(langs, cJSON_CreateString("zh"));
        }
        uuid4(uuid, (uint64_t)s + 2);
        cJSON_AddStringToObject(sp, "uuid", uuid);
        cJSON_AddNumberToObject(sp, "local_id", s);
        cJSON *sts = cJSON_AddArrayToObject(sp, "styles");
        for (int i = 0; i < m->styles.n; i++) {
            if (!m->styles.name[i]) continue;
            cJSON *st = cJSON_CreateObject();
            cJSON_AddStringToObject(st, "name", style_display_name(m, i));
            cJSON_AddNullToObject(st, "icon");
            cJSON_AddNumberToObject(st, "local_id", i);
            cJSON_AddItemToObject(st, "voice_samples", cJSON_CreateArray());
            cJSON_AddItemToArray(sts, st);
        }
        cJSON_AddItemToArray(spks, sp);
        cJSON_AddNumberToObject(spk2id, m->speakers.name[s], s);
    }
    /* hyper-parameters: config.json with the maps the manifest implies */
    cJSON *hp = m->config_json ? cJSON_Parse(m->config_json) : NULL;
    if (!hp) hp = cJSON_CreateObject();
    cJSON_DeleteItemFromObjectCaseSensitive(hp, "model_name");
    cJSON_AddStringToObject(hp, "model_name", name);
    cJSON *data = cJSON_GetObjectItemCaseSensitive(hp, "data");
    if (!cJSON_IsObject(data)) {
        cJSON_DeleteItemFromObjectCaseSensitive(hp, "data");
        data = cJSON_AddObjectToObject(hp, "data");
    }
    const char *drop[] = {"training_files", "validation_files", "spk2id", "style2id", "num_styles"};
    for (size_t i = 0; data && i < sizeof drop / sizeof drop[0]; i++) cJSON_DeleteItemFromObjectCaseSensitive(data, drop[i]);
    if (data) {
        cJSON_AddStringToObject(data, "training_files", "train.list");
        cJSON_AddStringToObject(data, "validation_files", "val.list");
        cJSON_AddItemToObject(data, "spk2id", spk2id);
        spk2id = NULL;
        cJSON_AddNumberToObject(data, "num_styles", n_style_names);
        cJSON_AddItemToObject(data, "style2id", style2id);
        style2id = NULL;
    }
    char *man_s = cJSON_PrintUnformatted(man), *hp_s = cJSON_PrintUnformatted(hp), *sv = sbv2_style_vectors_base64(m);
    int rc = SBV2_OK;
    if (!man_s || !hp_s || !sv) {
        free(man_s), free(hp_s), free(sv);
        rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory writing AIVM metadata");
    } else *man_out = man_s, *hp_out = hp_s, *sv_out = sv;
    cJSON_Delete(man), cJSON_Delete(hp), cJSON_Delete(spk2id), cJSON_Delete(style2id);
    return rc;
}

int sbv2_add_aivmx_metadata(ob_graph *g, const sbv2_model *m, const sbv2_export_options *opt, sbv2_error *err) {
    char *man, *hp, *sv;
    const int rc = sbv2_aivm_metadata(m, "ONNX", opt->model_file_name, &man, &hp, &sv, err);
    if (rc == SBV2_OK) {
        ob_metadata(g, "aivm_manifest", man);
        ob_metadata(g, "aivm_hyper_parameters", hp);
        ob_metadata(g, "aivm_style_vectors", sv);
    }
    free(man), free(hp), free(sv);
    return rc;
}
