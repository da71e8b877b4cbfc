/* The SBV2 generator (net_g) inference path: hyper-parameters and weights. */
#ifndef SBV2_MODEL_H
#define SBV2_MODEL_H

#include "common.h"
#include "core/ops.h"
#include "core/fftconv.h"
#include "core/winograd.h"
#include "formats/safetensors.h"

#define SBV2_MAX_UPS 16
#define SBV2_MAX_RESKERNELS 8
#define SBV2_MAX_DILATIONS 3
/* Kernel forms of the decoder's resblock convs, chosen per conv at load by
   its channels C, taps k and dilation d (see resblock_form in bind.c; timed
   one conv at a time on the full-size model's stages, AVX2 and AVX-512 on a
   Zen 4, where both paths ranked the forms alike): FFT overlap-save for
   kernels of 7+ taps (5 at dilation 1) from SBV2_FFT_MIN_CH channels, up to
   SBV2_FFT_MAX_CH channels or beyond it for kernels of SBV2_FFT_WIDE_MIN_K+
   taps (32 floats of weights per channel pair); Winograd F(3,3) for the rest
   from SBV2_WINO_MIN_CH channels, but below SBV2_FFT_MIN_CH only undilated
   (a dilated Winograd or FFT pass over few channels costs more than it
   saves); else the direct packed kernel. Up to SBV2_ALL_FORMS_CH channels
   every applicable form is kept, so tests can run each path on small
   models. */
#define SBV2_WINO_MIN_CH 16
#define SBV2_FFT_MIN_CH 64
#define SBV2_FFT_MAX_CH 256
#define SBV2_FFT_WIDE_MIN_K 9
#define SBV2_ALL_FORMS_CH 32
enum { SBV2_PATH_DEFAULT = 0, SBV2_PATH_DIRECT, SBV2_PATH_WINOGRAD, SBV2_PATH_FFT };

/* Everything infer() depends on, from config.json plus the constants SBV2's
 * constructors fix (see config.c). */
typedef struct sbv2_hparams {
    sbv2_arch arch;
    char version[64];
    char model_name[128];
    int sampling_rate;
    int add_blank;           /* data.add_blank (SBV2's default: true) */
    int n_speakers;
    int inter_channels, hidden_channels, filter_channels;
    int n_heads, n_layers, kernel_size, gin_channels;
    char resblock; /* '1' or '2' */
    int n_res_kernels;
    int res_kernel_sizes[SBV2_MAX_RESKERNELS];
    int res_dilations[SBV2_MAX_RESKERNELS][SBV2_MAX_DILATIONS];
    int n_res_dilations[SBV2_MAX_RESKERNELS];
    int n_ups;
    int ups_rates[SBV2_MAX_UPS], ups_kernels[SBV2_MAX_UPS];
    int ups_initial_channel;
    /* fixed by the constructors */
    int n_flows;             /* 4 transformer coupling layers */
    int n_layers_trans_flow; /* 6 (JP-Extra) or 4 (older); the weights decide */
    int flow_kernel;         /* 5 */
    int dp_filter, dp_kernel;    /* 256, 3 */
    int sdp_kernel, sdp_n_flows; /* 3, 4 (filter = hidden) */
    int sdp_bins;                /* 10 */
    float sdp_tail;              /* 5.0 */
    int cond_layer_idx;          /* 2 */
} sbv2_hparams;

/* Parses config.json text into hp plus the speaker/style name maps. */
typedef struct name_map {
    int n;       /* number of ids */
    char **name; /* [n], NULL where no name maps to the id */
} name_map;

int sbv2_config_parse(const char *json, size_t len, sbv2_hparams *hp, name_map *spk, name_map *sty,
                      sbv2_error *err);
void name_map_free(name_map *m);

typedef struct mha_t {
    conv1d_t q, k, v, o;
    const float *rel_k, *rel_v; /* [2*window+1][k_channels] (heads share) */
    int window, n_heads;
} mha_t;

typedef struct ffn_t {
    conv1d_t c1, c2; /* same padding, ReLU */
} ffn_t;

/* attentions.Encoder: n_layers x (rel-pos MHA + LN + FFN + LN), speaker
 * embedding added before layer cond_idx. */
typedef struct encoder_t {
    int n_layers, hidden, cond_idx;
    mha_t *attn;
    layernorm_t *ln1, *ln2;
    ffn_t *ffn;
    conv1d_t spk; /* spk_emb_linear as a 1x1 conv [hidden][gin] */
} encoder_t;

typedef struct text_encoder_t {
    const float *emb, *tone_emb, *lang_emb; /* [n][hidden] */
    int n_vocab, n_tones, n_langs;
    conv1d_t bert_proj, ja_bert_proj, en_bert_proj; /* the last two: older arch only */
    conv1d_t style_proj;                            /* Linear(256, hidden) */
    encoder_t enc;
    conv1d_t proj;                                  /* [2*inter][hidden] */
} text_encoder_t;

typedef struct dp_t {
    conv1d_t cond, conv1, conv2, proj;
    layernorm_t ln1, ln2;
} dp_t;

typedef struct dds_t {
    int n_layers, kernel;
    conv1d_t sep[3], c1x1[3];
    layernorm_t ln1[3], ln2[3];
} dds_t;

typedef struct convflow_t {
    conv1d_t pre, proj;
    dds_t dds;
    int filter;
} convflow_t;

typedef struct sdp_t {
    conv1d_t pre, proj, cond;
    dds_t dds;
    const float *ea_m, *ea_logs; /* ElementwiseAffine(2): [2][1] */
    convflow_t cf[4];            /* flows[1], [3], [5], [7]; reverse skips cf[0] */
    int n_cf;
} sdp_t;

typedef struct coupling_t {
    conv1d_t pre, post;
    encoder_t enc;
} coupling_t;

typedef struct resblock_t {
    int n;       /* convs per branch: 3 for type "1", 2 for type "2" */
    int has_c2;  /* type "1": each branch is c1 then c2 */
    conv1d_t c1[SBV2_MAX_DILATIONS], c2[SBV2_MAX_DILATIONS]; /* c2 unused for type "2" */
    wino_conv w1[SBV2_MAX_DILATIONS], w2[SBV2_MAX_DILATIONS]; /* Winograd forms (when .ok) */
    fft_conv f1[SBV2_MAX_DILATIONS], f2[SBV2_MAX_DILATIONS];  /* FFT forms (when .ok) */
    int path[SBV2_MAX_DILATIONS], path2[SBV2_MAX_DILATIONS];   /* default SBV2_PATH_* of c1, of c2 */
    int dil[SBV2_MAX_DILATIONS];
} resblock_t;

typedef struct ups_t {
    const float *w; /* folded weight as PyTorch/ONNX lay it out: [cin][cout][k] (dropped after load) */
    const float *b;
    int cin, cout, k, stride, pad;
    /* polyphase form: output phase r (o = q*stride + r) is a stride-1 conv of x
       with phase[r] (taps reversed) and left padding phase_pad[r] */
    conv1d_t *phase;
    int *phase_pad;
    const char *wn_key; /* set when w was dropped after building the phases */
} ups_t;

typedef struct decoder_t {
    conv1d_t conv_pre, cond, conv_post;
    ups_t ups[SBV2_MAX_UPS];
    resblock_t *res; /* [n_ups * n_res_kernels] */
} decoder_t;

struct sbv2_model {
    sbv2_hparams hp;
    name_map speakers, styles;
    float *style_vectors; /* [n_styles][256] */
    int n_style_rows;
    const float *emb_g;   /* [n_speakers][gin] */
    text_encoder_t enc_p;
    dp_t dp;
    sdp_t sdp;
    coupling_t flow[8];
    decoder_t dec;
    int64_t n_params;
    int weights_f16;
    st_file st;
    /* every buffer the loader allocated (converted or folded weights) */
    void **owned;
    size_t n_owned, cap_owned;
    char *config_json;   /* config.json as read (ONNX metadata) */
    char *aivm_manifest; /* the AIVM manifest (JSON) of an .aivm file, or NULL */
    /* the parameter names of weights the loader converted or folded (the
       export names its initializers after them) */
    const void **wname_ptr;
    char **wname;
    size_t n_wname, cap_wname;
};

/* The parameter name a bound weight pointer came from ("dec.ups.0.weight" for
 * a folded weight-norm pair), or NULL. */
const char *sbv2_weight_name(const struct sbv2_model *m, const void *p);
/* The loader records a converted or folded weight's name (0, or -1 out of memory). */
int sbv2_weight_name_add(struct sbv2_model *m, const void *p, const char *name);

/* Folds the weight-norm pair under `prefix` again into out (shape[0] *
 * shape[1] * shape[2] floats), for the ONNX export. */
int sbv2_refold_wn(const struct sbv2_model *m, const char *prefix, const int64_t shape[3], float *out);

/* Builds every layer from the opened safetensors file (model.c). */
int sbv2_model_bind_weights(struct sbv2_model *m, sbv2_error *err);
/* Style vectors [rows][256] (float32/64, finite) against the config's style
 * names, which are then sized to the rows; what names the source in errors. */
struct npy_array;
/* An .aivm file's __metadata__ (JSON object text): the manifest checked as
 * aivmlib's schema declares it, config.json from aivm_hyper_parameters, the
 * style vectors from aivm_style_vectors (base64 of an .npy). Fills
 * m->hp, speakers, styles, style vectors, config_json and aivm_manifest. */
int sbv2_aivm_read_metadata(struct sbv2_model *m, const char *metadata_json, size_t len, sbv2_error *err);
/* Python's base64.b64decode (characters outside the alphabet dropped, the
 * padding checked): *out malloc'd. */
int sbv2_base64_decode(const char *s, size_t len, uint8_t **out, size_t *n_out);
/* Style vectors from base64 of an .npy (AIVM and sbv2c metadata); what names them in errors. */
int sbv2_style_vectors_from_base64(struct sbv2_model *m, const char *b64, const char *what, sbv2_error *err);
int sbv2_model_set_style_vectors(struct sbv2_model *m, const struct npy_array *a, const char *what, sbv2_error *err);

const struct sbv2_model *sbv2_state_model(const sbv2_state *state);
/* The streaming split of infer(): text encoder, durations and flow for the
 * whole line (frames[n_tokens], when not NULL: each token's duration in
 * frames, ceil(w); *z [inter_channels][*n_frames], malloc'd)... */
int sbv2_infer_latent(sbv2_state *state, const sbv2_infer_input *in, const sbv2_infer_params *p, int64_t *frames,
                      float **z, int *n_frames, sbv2_error *err);
/* ...then the decoder on frames [f0, f1) of z with decoder_context_frames()
 * of context each side, so that the windows joined equal the whole-line
 * decode (up to rounding); the window ending at T keeps the decoder's tail. */
int sbv2_decode_window(sbv2_state *state, const float *z, int T, int64_t speaker_id, int f0, int f1, int n_threads,
                       float **audio, size_t *n_samples, sbv2_error *err);
/* Frames of z on each side that reach one output sample of the decoder
 * (its receptive field, rounded up, plus one). */
int decoder_context_frames(const struct sbv2_model *m);
/* Samples the decoder makes of T frames (T * hop for SBV2's configurations). */
size_t decoder_output_length(const struct sbv2_model *m, int T);

#endif
