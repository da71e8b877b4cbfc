/* Weight lookup helpers used while binding a model (see weights.c). */
#ifndef SBV2_WEIGHTS_H
#define SBV2_WEIGHTS_H

#include "model/model.h"

typedef struct wctx {
    struct sbv2_model *m;
    sbv2_error *err;
    int rc;      /* first error; later calls do nothing */
    int no_pack; /* bind without a packed copy (the caller makes another form) */
    int folded;  /* the last w_get_wn() folded a pair into a new buffer */
    int keep_folded; /* keep the folded weight after packing (another form follows) */
} wctx;

float *w_alloc(wctx *c, size_t n);
void w_release(wctx *c, const float *data, size_t n);
/* Frees a folded weight once its packed forms exist; keeps its key for export. */
void w_drop_folded(wctx *c, const float **w, const char **key, const char *prefix);
const st_tensor *w_find(wctx *c, const char *name);
/* ndim 1..3; unused dims are ignored. */
const float *w_get(wctx *c, int ndim, int64_t d0, int64_t d1, int64_t d2, const char *fmt, ...) SBV2_PRINTF(6, 7);
const float *w_get_wn(wctx *c, const int64_t shape[3], const char *fmt, ...) SBV2_PRINTF(3, 4);
void w_conv(wctx *c, conv1d_t *conv, int cout, int cin, int k, int bias, const char *fmt, ...) SBV2_PRINTF(7, 8);
void w_linear(wctx *c, conv1d_t *lin, int cout, int cin, const char *fmt, ...) SBV2_PRINTF(5, 6);
void w_wn_conv(wctx *c, conv1d_t *conv, int cout, int cin, int k, const char *fmt, ...) SBV2_PRINTF(6, 7);
void w_layernorm(wctx *c, layernorm_t *ln, int ch, const char *fmt, ...) SBV2_PRINTF(4, 5);

#endif
