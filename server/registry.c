/* Model folders as SBV2's TTSModelHolder.refresh() lists them: sorted
 * subfolders of the root, dot-names skipped, each with model files sorted
 * newest first and a config.json; the newest .safetensors (or .aivm) is the
 * one used. AivisSpeech's .aivm files are models too, in a folder or right in
 * the root (named by their stem); their speakers and styles are read from
 * the header (aivm_hyper_parameters) without loading them. .aivmx files (ONNX)
 * likewise, from their metadata_props; a folder's .onnx (SBV2's
 * convert_onnx.py) uses the folder's config.json. */
#include "registry.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *slurp(const char *path, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(cap + 1);
    size_t n = b ? fread(b, 1, cap, f) : 0;
    fclose(f);
    if (b) b[n] = '\0';
    return b;
}

static int ends_with(const char *s, const char *suf) {
    const size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The hyper-parameters (config.json text) in an .aivm header, or NULL. */
static char *aivm_hyper_parameters(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char len8[8];
    char *out = NULL;
    if (fread(len8, 1, 8, f) == 8) {
        unsigned long long n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
        char *h = n >= 2 && n <= (100ull << 20) ? malloc((size_t)n) : NULL;
        if (h && fread(h, 1, (size_t)n, f) == (size_t)n) {
            cJSON *j = cJSON_ParseWithLength(h, (size_t)n);
            const cJSON *hp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "__metadata__"), "aivm_hyper_parameters");
            if (cJSON_IsString(hp)) out = strdup(hp->valuestring);
            cJSON_Delete(j);
        }
        free(h);
    }
    fclose(f);
    return out;
}

/* protobuf, just enough to walk ModelProto's top level and skip the graph */
static int pb_varint(FILE *f, unsigned long long *v) {
    *v = 0;
    for (int sh = 0; sh < 64; sh += 7) {
        const int c = fgetc(f);
        if (c == EOF) return -1;
        *v |= (unsigned long long)(c & 0x7f) << sh;
        if (!(c & 0x80)) return 0;
    }
    return -1;
}

/* metadata_props[key] of an ONNX file (ModelProto field 14: key 1, value 2), or NULL */
static char *onnx_meta(const char *path, const char *key) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *out = NULL;
    unsigned long long tag, len;
    while (!out && pb_varint(f, &tag) == 0) {
        const int wt = (int)(tag & 7);
        if (wt == 0) { if (pb_varint(f, &len)) break; continue; }
        if (wt == 1 || wt == 5) { if (fseek(f, wt == 1 ? 8 : 4, SEEK_CUR)) break; continue; }
        if (wt != 2 || pb_varint(f, &len) || len > (1ull << 40)) break;
        if ((tag >> 3) != 14 || len > (64u << 20)) { /* not metadata: skip (the graph is most of the file) */
            if (fseek(f, (long)len, SEEK_CUR)) break;
            continue;
        }
        unsigned char *e = malloc((size_t)len + 1);
        if (!e || fread(e, 1, (size_t)len, f) != (size_t)len) { free(e); break; }
        const char *k = NULL, *v = NULL;
        size_t kl = 0, vl = 0;
        for (size_t i = 0; i < len;) { /* StringStringEntryProto: two strings */
            const unsigned t = e[i++];
            unsigned long long l = 0;
            for (int sh = 0; i < len && sh < 64; sh += 7) {
                l |= (unsigned long long)(e[i] & 0x7f) << sh;
                if (!(e[i++] & 0x80)) break;
            }
            if ((t & 7) != 2 || l > len - i) break;
            if (t >> 3 == 1) k = (const char *)e + i, kl = (size_t)l;
            else if (t >> 3 == 2) v = (const char *)e + i, vl = (size_t)l;
            i += (size_t)l;
        }
        if (k && v && kl == strlen(key) && !memcmp(k, key, kl) && (out = malloc(vl + 1))) memcpy(out, v, vl), out[vl] = '\0';
        free(e);
    }
    fclose(f);
    return out;
}

static void entry_free(model_entry *e) {
    if (!e) return;
    sbv2_model_free(e->model);
    cJSON_Delete(e->spk2id), cJSON_Delete(e->style2id);
    free(e);
}

/* The entry with spk2id/style2id from config.json text js (taken), or NULL
 * (e freed) when they are missing, as SBV2 would skip the model. */
static model_entry *with_maps(model_entry *e, char *js) {
    cJSON *root_j = js ? cJSON_Parse(js) : NULL;
    free(js);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root_j, "data");
    e->spk2id = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(data, "spk2id"), 1);
    e->style2id = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(data, "style2id"), 1);
    cJSON_Delete(root_j);
    if (!cJSON_IsObject(e->spk2id) || !cJSON_IsObject(e->style2id)) {
        entry_free(e);
        return NULL;
    }
    e->refs = 1; /* the list's own reference */
    return e;
}

/* One folder, or NULL when SBV2 would skip it. */
static model_entry *scan_folder(const char *root, const char *name) {
    model_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->dir, sizeof e->dir, "%s/%s", root, name);
    snprintf(e->config, sizeof e->config, "%s/config.json", e->dir);
    DIR *d = opendir(e->dir);
    struct stat st;
    double newest = -1;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (de->d_name[0] == '.' || !(ends_with(de->d_name, ".safetensors") || ends_with(de->d_name, ".aivm") ||
                                      ends_with(de->d_name, ".onnx") || ends_with(de->d_name, ".aivmx")))
            continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", e->dir, de->d_name);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        /* safetensors/aivm before ONNX (a folder often holds a model and its
           convert_onnx.py export, which loads slower), then the newest */
        const int onnx = ends_with(de->d_name, ".onnx") || ends_with(de->d_name, ".aivmx");
        const double mt = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec + (onnx ? 0 : 1e12);
        if (mt > newest) newest = mt, snprintf(e->file, sizeof e->file, "%s", p);
    }
    if (d) closedir(d);
    char *js = newest >= 0 && stat(e->config, &st) == 0 ? slurp(e->config, 1 << 20) : NULL;
    if (!js && newest >= 0 && (js = ends_with(e->file, ".aivm") ? aivm_hyper_parameters(e->file) : onnx_meta(e->file, "aivm_hyper_parameters")))
        snprintf(e->config, sizeof e->config, "%s", e->file); /* the config lives in the file */
    return newest >= 0 ? with_maps(e, js) : (free(js), entry_free(e), NULL);
}

/* An .aivm or .aivmx right in the root: a model named by the file's stem. */
static model_entry *scan_file(const char *root, const char *fname) {
    model_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    const int x = ends_with(fname, ".aivmx");
    snprintf(e->name, sizeof e->name, "%.*s", (int)(strlen(fname) - strlen(x ? ".aivmx" : ".aivm")), fname);
    snprintf(e->dir, sizeof e->dir, "%s", root);
    snprintf(e->file, sizeof e->file, "%s/%s", root, fname);
    snprintf(e->config, sizeof e->config, "%s", e->file);
    return with_maps(e, x ? onnx_meta(e->file, "aivm_hyper_parameters") : aivm_hyper_parameters(e->file));
}

static int scan(registry *r, model_entry ***out, size_t *n_out, sbv2_error *err) {
    DIR *d = opendir(r->root);
    if (!d) {
        snprintf(err->message, sizeof err->message, "cannot open the models folder %s", r->root);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        char p[8192];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", r->root, de->d_name);
        if (stat(p, &st) != 0 || !(S_ISDIR(st.st_mode) || (S_ISREG(st.st_mode) && (ends_with(de->d_name, ".aivm") || ends_with(de->d_name, ".aivmx"))))) continue;
        if (n == cap) {
            char **q = realloc(names, sizeof *names * (cap = cap ? 2 * cap : 16));
            if (!q) break;
            names = q;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    model_entry **list = calloc(n ? n : 1, sizeof *list);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        model_entry *e = !list || !names[i] ? NULL
                         : ends_with(names[i], ".aivm") || ends_with(names[i], ".aivmx") ? scan_file(r->root, names[i])
                                                                                           : scan_folder(r->root, names[i]);
        if (e) list[k++] = e;
        free(names[i]);
    }
    free(names);
    *out = list, *n_out = k;
    return list ? 0 : -1;
}

int registry_init(registry *r, const char *root, int max_loaded, sbv2_error *err) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    snprintf(r->root, sizeof r->root, "%s", root);
    r->max_loaded = max_loaded > 0 ? max_loaded : 1;
    return scan(r, &r->list, &r->n, err);
}

static void drop_list_refs(model_entry **list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (--list[i]->refs == 0) entry_free(list[i]);
    free(list);
}

int registry_refresh(registry *r, sbv2_error *err) {
    model_entry **list = NULL;
    size_t n = 0;
    if (scan(r, &list, &n, err) != 0) return -1;
    pthread_mutex_lock(&r->mu);
    /* keep the loaded model of a folder whose file did not change */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < r->n; j++)
            if (!strcmp(list[i]->name, r->list[j]->name) && !strcmp(list[i]->file, r->list[j]->file) && r->list[j]->model &&
                r->list[j]->refs == 1) {
                list[i]->model = r->list[j]->model, list[i]->last_used = r->list[j]->last_used;
                r->list[j]->model = NULL;
            }
    model_entry **old = r->list;
    const size_t on = r->n;
    r->list = list, r->n = n;
    drop_list_refs(old, on);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void registry_free(registry *r) {
    drop_list_refs(r->list, r->n);
    r->list = NULL, r->n = 0;
    pthread_mutex_destroy(&r->mu);
}

/* beyond max_loaded: unload the least recently used that nobody uses */
static void evict(registry *r) {
    for (;;) {
        int loaded = 0;
        model_entry *lru = NULL;
        for (size_t i = 0; i < r->n; i++) {
            model_entry *e = r->list[i];
            if (!e->model) continue;
            loaded++;
            if (e->refs == 1 && (!lru || e->last_used < lru->last_used)) lru = e;
        }
        if (loaded <= r->max_loaded || !lru) return;
        sbv2_model_free(lru->model);
        lru->model = NULL;
    }
}

model_entry *registry_acquire(registry *r, const char *name, long index, sbv2_error *err) {
    pthread_mutex_lock(&r->mu);
    model_entry *e = NULL;
    if (name) {
        for (size_t i = 0; i < r->n && !e; i++)
            if (!strcmp(r->list[i]->name, name)) e = r->list[i];
    } else if (index >= 0 && (size_t)index < r->n) {
        e = r->list[index];
    }
    if (!e) {
        pthread_mutex_unlock(&r->mu);
        err->code = SBV2_ERR_NOT_FOUND;
        snprintf(err->message, sizeof err->message, "model not found");
        return NULL;
    }
    if (!e->model) { /* loading holds the lock: rare, and it keeps one copy per model */
        e->model = sbv2_model_load(e->file, err);
        if (!e->model) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
    }
    e->refs++;
    e->last_used = ++r->clock;
    evict(r);
    pthread_mutex_unlock(&r->mu);
    return e;
}

void registry_release(registry *r, model_entry *e) {
    if (!e) return;
    pthread_mutex_lock(&r->mu);
    if (--e->refs == 0) entry_free(e); /* dropped from the list by a refresh meanwhile */
    else evict(r);
    pthread_mutex_unlock(&r->mu);
}

static cJSON *id2spk(const cJSON *spk2id) {
    cJSON *o = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, spk2id) {
        char k[32];
        snprintf(k, sizeof k, "%d", it->valueint);
        cJSON_AddStringToObject(o, k, it->string);
    }
    return o;
}

cJSON *registry_info(registry *r) {
    cJSON *o = cJSON_CreateObject();
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        const model_entry *e = r->list[i];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "config_path", e->config);
        cJSON_AddStringToObject(m, "model_path", e->file);
        cJSON_AddStringToObject(m, "device", "cpu");
        cJSON_AddItemToObject(m, "spk2id", cJSON_Duplicate(e->spk2id, 1));
        cJSON_AddItemToObject(m, "id2spk", id2spk(e->spk2id));
        cJSON_AddItemToObject(m, "style2id", cJSON_Duplicate(e->style2id, 1));
        char k[32];
        snprintf(k, sizeof k, "%zu", i);
        cJSON_AddItemToObject(o, k, m);
    }
    pthread_mutex_unlock(&r->mu);
    return o;
}

cJSON *registry_openai_models(registry *r) {
    cJSON *o = cJSON_CreateObject(), *data = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "object", "list");
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "id", r->list[i]->name);
        cJSON_AddStringToObject(m, "object", "model");
        cJSON_AddNumberToObject(m, "created", 0);
        cJSON_AddStringToObject(m, "owned_by", "sbv2c");
        cJSON_AddItemToArray(data, m);
    }
    pthread_mutex_unlock(&r->mu);
    cJSON_AddItemToObject(o, "data", data);
    return o;
}

size_t registry_count(registry *r) {
    pthread_mutex_lock(&r->mu);
    const size_t n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int registry_loaded(registry *r) {
    pthread_mutex_lock(&r->mu);
    int n = 0;
    for (size_t i = 0; i < r->n; i++) n += r->list[i]->model != NULL;
    pthread_mutex_unlock(&r->mu);
    return n;
}
