/* DeBERTa-v2 model internals shared by the forward pass (deberta.c) and the
 * ONNX export (src/onnx/export_bert.c). */
#ifndef SBV2_DEBERTA_H
#define SBV2_DEBERTA_H

#include "core/ops.h"
#include "formats/safetensors.h"
#include "sbv2.h"

/* A linear layer stored as W^T in 64-column panels (gemm_job.b_pstride):
 * W^T[k][c] at wt[(c / 64) * ps + k * 64 + c % 64], ps = rows * 64, the last
 * panel zero-padded; with strips (gemm_job.b_strips, chosen at load for the
 * AVX2 path) each panel holds four 16-column strips of all rows instead. */
typedef struct bert_lin {
    const float *wt, *b;
    int in, out;
    size_t ps;
    int strips;
} bert_lin;

typedef struct {
    bert_lin qkv;         /* query, key and value projections side by side: one product */
    bert_lin q, k;        /* views of qkv (for the load-time position tables) */
    bert_lin o, up, down;
    layernorm_t ln_att, ln_out;
    float *qr, *kr; /* [H][P2] (+64 readable): position rows through q/k projections */
} bert_layer;

struct sbv2_bert {
    int H, heads, D, I, n_layers, n_run, span, P2, buckets, max_pos, conv_k, vocab, c2p, p2c;
    int strips;           /* weight panels in 16-column strips (bert_lin) */
    int strassen_min;     /* inputs of this many tokens or more run the linear layers
                             as Strassen's 7 half-size products; 0: never */
    float eps;
    const st_tensor *emb;
    layernorm_t ln_emb;
    bert_lin conv;        /* ConvLayer taps as one W^T [k*H][H] in panels: tap kk is rows kk*H.. */
    layernorm_t ln_conv;
    bert_layer *layers;
    st_file st;
    void **owned;
    size_t n_owned, cap_owned;
    struct bert_tokenizer *tok;
    const char *prefix;
};

/* Where entry r of head h's row k of a layer's position table (qr, kr) is:
   [HD][P2] rows, or 16-wide strips per head when b->strips. */
size_t bert_pos_at(const sbv2_bert *b, int h, int k, int r);
/* Row of the relative-position tables for query i - key j = r (log buckets). */
int bert_rel_index(const sbv2_bert *b, int r);
/* sbv2_bert_feature with the assist weight as SBV2's Python float. */
int bert_feature(const sbv2_bert *b, const char *text, size_t len, const int *word2ph, size_t n_word2ph,
                 const char *assist_text, double assist_weight, int n_threads, float **feature, size_t *n_phones,
                 sbv2_error *err);
/* The weights prefix ("deberta." or "") of the loaded file. */
const char *bert_prefix(const sbv2_bert *b);

#endif
