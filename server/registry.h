/* The models a server offers: SBV2's model_assets layout scanned as its
 * TTSModelHolder does, loaded on first use, the least recently used dropped
 * beyond a limit, shared by every request (sbv2_model is immutable). */
#ifndef SBV2_SERVER_REGISTRY_H
#define SBV2_SERVER_REGISTRY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sbv2.h"

typedef struct model_entry {
    char name[256];    /* the folder's name: what requests match against */
    char dir[4096];
    char file[4096];   /* the model file: the newest .safetensors/.aivm, else ONNX */
    char config[4096];
    cJSON *spk2id, *style2id; /* from config.json, for /models/info without loading */
    sbv2_model *model; /* NULL until first use */
    int refs;          /* requests using it now (+1 while listed) */
    uint64_t last_used;
} model_entry;

typedef struct registry {
    pthread_mutex_t mu;
    char root[4096];
    model_entry **list; /* in SBV2's order (sorted folder names) */
    size_t n;
    int max_loaded;
    uint64_t clock;
} registry;

/* Scans root; 0 or -1 with a message in err. */
int registry_init(registry *r, const char *root, int max_loaded, sbv2_error *err);
/* Scans again (POST /models/refresh); entries in use stay alive until released. */
int registry_refresh(registry *r, sbv2_error *err);
void registry_free(registry *r);
/* The entry for a name (exact match against the scanned list) or, when name
 * is NULL, the index; loaded, and held until registry_release. NULL with
 * err->code SBV2_ERR_NOT_FOUND (no such model) or a load error. */
model_entry *registry_acquire(registry *r, const char *name, long index, sbv2_error *err);
void registry_release(registry *r, model_entry *e);
/* /models/info's object (SBV2's shape); the caller deletes it. */
cJSON *registry_info(registry *r);
/* /v1/models' object. */
cJSON *registry_openai_models(registry *r);
size_t registry_count(registry *r);
int registry_loaded(registry *r);

#endif
