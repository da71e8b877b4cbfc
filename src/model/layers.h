/* Forward passes of the generator's parts (batch 1, activations [C][T]). */
#ifndef SBV2_LAYERS_H
#define SBV2_LAYERS_H

#include "core/conv.h"
#include "model/model.h"

/* Per-call context threaded through every part. */
typedef struct run_ctx {
    int nt;                   /* threads */
    sbv2_tensor_callback cb;  /* intermediate dumps (may be NULL) */
    void *ud;
    int aborted;
    int conv_path;            /* SBV2_PATH_DEFAULT, or a resblock kernel form tests force */
    struct scratch *ws;       /* the state's reusable buffers */
} run_ctx;

/* Reports tensor `name` (float, batch dim 1 prepended to [d1][d2][d3]). */
void run_dump(run_ctx *r, const char *name, const float *data, int ndim, int64_t d1, int64_t d2, int64_t d3);

/* attentions.Encoder; g (gin values) may be NULL; dump_prefix names the
 * per-layer outputs ("enc_layer") or NULL. x is updated in place. */
int encoder_forward(run_ctx *r, const encoder_t *e, float *x, int t, const float *mask, const float *g,
                    const char *dump_prefix);
void encoder_free(encoder_t *e);

/* TextEncoder: returns x [H][L], m_p and logs_p [I][L]. */
int text_encoder_forward(run_ctx *r, const struct sbv2_model *m, const sbv2_infer_input *in, int L,
                         const float *mask, const float *g, float *x, float *m_p, float *logs_p);

/* Duration predictors: logw [L]. noise: [2][L] standard normals (or NULL = zeros). */
int dp_forward(run_ctx *r, const struct sbv2_model *m, const float *x, int L, const float *mask, const float *g,
               float *logw);
int sdp_reverse(run_ctx *r, const struct sbv2_model *m, const float *x, int L, const float *mask, const float *g,
                const float *noise, float noise_scale_w, float *logw);

/* Inverse of the rational-quadratic spline with linear tails (transforms.py). */
float rq_spline_inverse(float x, const float *uw, const float *uh, const float *ud, int bins, float tail,
                        float inv_sqrt_filter);

/* Reverse transformer-coupling flow, z [I][T] in place. */
int flow_reverse(run_ctx *r, const struct sbv2_model *m, float *z, int T, const float *mask, const float *g);

/* HiFi-GAN generator: z [I][T] -> wav [T * hop]. *n_out receives the length. */
int decoder_forward(run_ctx *r, const struct sbv2_model *m, const float *z, int T, const float *g, float **wav,
                    size_t *n_out);

/* Tests: run the decoder's resblock convs with one kernel form (SBV2_PATH_*)
 * wherever the model holds it (every form is kept up to SBV2_ALL_FORMS_CH
 * channels); SBV2_PATH_DEFAULT restores the load-time choice. */
void sbv2_state_set_conv_path(sbv2_state *state, int path);

#endif
