/* net_g.infer(): speaker embedding -> text encoder -> durations (SDP/DP mix)
 * -> hard alignment -> prior sample -> reverse flow -> decoder. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/layers.h"

struct sbv2_state {
    const sbv2_model *model;
    scratch ws; /* grow-only buffers reused by every request on this state */
    int conv_path;
};

void sbv2_state_set_conv_path(sbv2_state *state, int path) { state->conv_path = path; }

sbv2_state *sbv2_state_new(const sbv2_model *model, sbv2_error *err) {
    if (!model) {
        sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "model is NULL");
        return NULL;
    }
    sbv2_state *s = calloc(1, sizeof *s);
    if (!s) {
        sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        return NULL;
    }
    s->model = model;
    return s;
}

void sbv2_state_free(sbv2_state *state) {
    if (!state) return;
    scratch_free(&state->ws);
    free(state);
}

sbv2_infer_params sbv2_infer_default_params(void) {
    sbv2_infer_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.length_scale = 1.0;
    p.sdp_ratio = 0.2;
    p.noise_scale = 0.6;
    p.noise_scale_w = 0.8;
    p.seed = 0;
    p.n_threads = 1;
    return p;
}

static int check_input(const sbv2_model *m, const sbv2_infer_input *in, const sbv2_infer_params *p, sbv2_error *err) {
    if (!in || !p) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "input and params must not be NULL");
    if (p->struct_size != sizeof *p)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "params.struct_size is %zu, expected %zu (use sbv2_infer_default_params())",
                         p->struct_size, sizeof *p);
    if (in->n_tokens < 1 || in->n_tokens > (1u << 20))
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "n_tokens must be in [1, 2^20]");
    if (in->valid_length > in->n_tokens)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "valid_length (%zu) exceeds n_tokens (%zu)", in->valid_length, in->n_tokens);
    if (!in->phone_ids || !in->tone_ids || !in->lang_ids || !in->bert || !in->style_vec)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "phone_ids, tone_ids, lang_ids, bert and style_vec are required");
    if (in->speaker_id < 0 || in->speaker_id >= m->hp.n_speakers)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "speaker id %lld out of range [0, %d)", (long long)in->speaker_id,
                         m->hp.n_speakers);
    const text_encoder_t *te = &m->enc_p;
    for (size_t i = 0; i < in->n_tokens; i++) {
        if (in->phone_ids[i] < 0 || in->phone_ids[i] >= te->n_vocab)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "phone id %lld at %zu out of range [0, %d)",
                             (long long)in->phone_ids[i], i, te->n_vocab);
        if (in->tone_ids[i] < 0 || in->tone_ids[i] >= te->n_tones)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "tone id %lld at %zu out of range [0, %d)",
                             (long long)in->tone_ids[i], i, te->n_tones);
        if (in->lang_ids[i] < 0 || in->lang_ids[i] >= te->n_langs)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "language id %lld at %zu out of range [0, %d)",
                             (long long)in->lang_ids[i], i, te->n_langs);
    }
    const double sc[4] = {p->length_scale, p->sdp_ratio, p->noise_scale, p->noise_scale_w};
    const char *nm[4] = {"length_scale", "sdp_ratio", "noise_scale", "noise_scale_w"};
    for (int i = 0; i < 4; i++)
        if (!isfinite(sc[i]) || sc[i] < 0 || sc[i] > 1000)
            return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "%s must be finite and in [0, 1000]", nm[i]);
    return SBV2_OK;
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Frames beyond this are refused: ~6 hours of audio at the default hop. */
#define SBV2_MAX_FRAMES (1 << 24)

const sbv2_model *sbv2_state_model(const sbv2_state *state) { return state ? state->model : NULL; }

static int infer_run(sbv2_state *state, const sbv2_infer_input *in, const sbv2_infer_params *p, float **audio,
                     size_t *n_samples, int64_t *frames, float **latent, int *n_frames, sbv2_error *err);

int sbv2_infer(sbv2_state *state, const sbv2_infer_input *in, const sbv2_infer_params *p, float **audio,
               size_t *n_samples, sbv2_error *err) {
    return infer_run(state, in, p, audio, n_samples, NULL, NULL, NULL, err);
}

/* Everything of infer(): up to the flow's z [I][T] when latent is set (the
 * decoder left to the caller), else to the audio. */
static int infer_run(sbv2_state *state, const sbv2_infer_input *in, const sbv2_infer_params *p, float **audio,
                     size_t *n_samples, int64_t *frames, float **latent, int *n_frames, sbv2_error *err) {
    if (!state || (!latent && (!audio || !n_samples))) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "state, audio and n_samples must not be NULL");
    if (audio) *audio = NULL;
    if (n_samples) *n_samples = 0;
    if (latent) *latent = NULL, *n_frames = 0;
    const sbv2_model *m = state->model;
    int rc = check_input(m, in, p, err);
    if (rc != SBV2_OK) return rc;
    const sbv2_hparams *hp = &m->hp;
    const int L = (int)in->n_tokens, H = hp->hidden_channels, I = hp->inter_channels, G = hp->gin_channels;
    const size_t valid = in->valid_length ? in->valid_length : in->n_tokens;
    run_ctx r = {p->n_threads > 0 ? p->n_threads : 1, p->on_tensor, p->user_data, 0, state->conv_path, &state->ws};
    sbv2_rng rng;
    sbv2_rng_seed(&rng, p->seed);

    float *mask = NULL, *x = NULL, *m_p = NULL, *logs_p = NULL, *noise_w = NULL, *lw_sdp = NULL, *lw_dp = NULL;
    float *logw = NULL, *w = NULL, *w_ceil = NULL, *attn = NULL, *z = NULL, *logs_exp = NULL, *ymask = NULL;
    int *frame_src = NULL;
    float *wav = NULL;
    size_t nwav = 0;
    const float *g = m->emb_g + (size_t)in->speaker_id * G;

    mask = malloc(sizeof(float) * (size_t)L);
    x = malloc(sizeof(float) * (size_t)H * L);
    m_p = malloc(sizeof(float) * (size_t)I * L);
    logs_p = malloc(sizeof(float) * (size_t)I * L);
    noise_w = malloc(sizeof(float) * 2 * (size_t)L);
    lw_sdp = malloc(sizeof(float) * 5 * (size_t)L);
    if (!mask || !x || !m_p || !logs_p || !noise_w || !lw_sdp) goto nomem;
    lw_dp = lw_sdp + L, logw = lw_dp + L, w = logw + L, w_ceil = w + L;
    for (int t = 0; t < L; t++) mask[t] = (size_t)t < valid ? 1.0f : 0.0f;

    run_dump(&r, "g", g, 2, G, 1, 0);
    if ((rc = text_encoder_forward(&r, m, in, L, mask, g, x, m_p, logs_p)) != SBV2_OK) goto fail;
    run_dump(&r, "enc_x", x, 2, H, L, 0);
    run_dump(&r, "m_p", m_p, 2, I, L, 0);
    run_dump(&r, "logs_p", logs_p, 2, I, L, 0);
    run_dump(&r, "x_mask", mask, 2, 1, L, 0);

    /* noise for the SDP first, then for the prior: a fixed order per seed */
    sbv2_rng_normal(&rng, noise_w, 2 * (size_t)L);
    if ((rc = sdp_reverse(&r, m, x, L, mask, g, noise_w, (float)p->noise_scale_w, lw_sdp)) != SBV2_OK) goto fail;
    if ((rc = dp_forward(&r, m, x, L, mask, g, lw_dp)) != SBV2_OK) goto fail;
    run_dump(&r, "logw_sdp", lw_sdp, 2, 1, L, 0);
    run_dump(&r, "logw_dp", lw_dp, 2, 1, L, 0);
    const float ratio = (float)p->sdp_ratio, one_minus = (float)(1.0 - p->sdp_ratio), length = (float)p->length_scale;
    double total = 0;
    for (int t = 0; t < L; t++) {
        logw[t] = lw_sdp[t] * ratio + lw_dp[t] * one_minus;
        w[t] = expf(logw[t]) * mask[t] * length;
        w_ceil[t] = ceilf(w[t]);
        total += w_ceil[t];
    }
    run_dump(&r, "logw", logw, 2, 1, L, 0);
    run_dump(&r, "w", w, 2, 1, L, 0);
    run_dump(&r, "w_ceil", w_ceil, 2, 1, L, 0);
    if (!isfinite(total) || total > SBV2_MAX_FRAMES) {
        rc = sbv2_fail(err, SBV2_ERR_INTERNAL, "predicted durations are not finite or too long (%g frames)", total);
        goto out;
    }
    const int T = total < 1 ? 1 : (int)total;
    if (frames)
        for (int t = 0; t < L; t++) frames[t] = (int64_t)w_ceil[t];
    int64_t ylen = T;
    if (r.cb && !r.aborted) {
        sbv2_tensor_view v = {"y_lengths", 1, 1, {1, 0, 0, 0}, &ylen};
        if (r.cb(&v, r.ud) != 0) r.aborted = 1;
    }

    /* hard alignment: frame f belongs to the token whose cumulative span holds it */
    frame_src = malloc(sizeof(int) * (size_t)T);
    z = malloc(sizeof(float) * (size_t)I * T);
    logs_exp = malloc(sizeof(float) * (size_t)I * T);
    ymask = malloc(sizeof(float) * (size_t)T);
    if (!frame_src || !z || !logs_exp || !ymask) goto nomem;
    for (int f = 0; f < T; f++) frame_src[f] = -1, ymask[f] = 1.0f;
    {
        int f = 0;
        for (int t = 0; t < L; t++)
            for (int k = 0; k < (int)w_ceil[t] && f < T; k++) frame_src[f++] = t;
    }
    run_dump(&r, "y_mask", ymask, 2, 1, T, 0);
    if (r.cb && !r.aborted) {
        attn = calloc((size_t)T * L, sizeof(float));
        if (!attn) goto nomem;
        for (int f = 0; f < T; f++)
            if (frame_src[f] >= 0) attn[(size_t)f * L + frame_src[f]] = 1.0f;
        run_dump(&r, "attn", attn, 3, 1, T, L);
        free(attn);
        attn = NULL;
    }
    for (int c = 0; c < I; c++)
        for (int f = 0; f < T; f++) {
            int s = frame_src[f];
            z[(size_t)c * T + f] = s >= 0 ? m_p[(size_t)c * L + s] : 0.0f;
            logs_exp[(size_t)c * T + f] = s >= 0 ? logs_p[(size_t)c * L + s] : 0.0f;
        }
    run_dump(&r, "m_p_exp", z, 2, I, T, 0);
    run_dump(&r, "logs_p_exp", logs_exp, 2, I, T, 0);
    /* z_p = m_p + randn * exp(logs_p) * noise_scale (noise_scale 0 keeps m_p exactly) */
    if (p->noise_scale != 0.0) {
        const float ns = (float)p->noise_scale;
        float *eps = malloc(sizeof(float) * (size_t)I * T);
        if (!eps) goto nomem;
        sbv2_rng_normal(&rng, eps, (size_t)I * T);
        for (size_t e = 0; e < (size_t)I * T; e++) z[e] = z[e] + eps[e] * expf(logs_exp[e]) * ns;
        free(eps);
    }
    run_dump(&r, "z_p", z, 2, I, T, 0);
    if ((rc = flow_reverse(&r, m, z, T, ymask, g)) != SBV2_OK) goto fail;
    run_dump(&r, "z", z, 2, I, T, 0);
    if (latent) {
        if (r.aborted) {
            rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "aborted by the tensor callback");
            goto out;
        }
        *latent = z, *n_frames = T;
        z = NULL;
        rc = SBV2_OK;
        goto out;
    }
    if ((rc = decoder_forward(&r, m, z, T, g, &wav, &nwav)) != SBV2_OK) goto fail;
    run_dump(&r, "output", wav, 2, 1, (int64_t)nwav, 0);
    if (r.aborted) {
        rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "aborted by the tensor callback");
        goto out;
    }
    if (!all_finite(wav, nwav)) {
        rc = sbv2_fail(err, SBV2_ERR_INTERNAL, "the generator produced non-finite samples");
        goto out;
    }
    *audio = wav;
    *n_samples = nwav;
    wav = NULL;
    rc = SBV2_OK;
    goto out;
nomem:
    rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory during inference");
    goto out;
fail:
    if (rc == SBV2_ERR_NO_MEMORY) sbv2_fail(err, rc, "out of memory during inference");
    else sbv2_fail(err, rc, "inference failed (%s)", sbv2_status_string(rc));
out:
    free(mask);
    free(x);
    free(m_p);
    free(logs_p);
    free(noise_w);
    free(lw_sdp);
    free(frame_src);
    free(z);
    free(logs_exp);
    free(ymask);
    free(attn);
    free(wav);
    return rc;
}

int sbv2_infer_latent(sbv2_state *state, const sbv2_infer_input *in, const sbv2_infer_params *p, int64_t *frames,
                      float **z, int *n_frames, sbv2_error *err) {
    if (!z || !n_frames) return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "z and n_frames must not be NULL");
    return infer_run(state, in, p, NULL, NULL, frames, z, n_frames, err);
}

int sbv2_decode_window(sbv2_state *state, const float *z, int T, int64_t speaker_id, int f0, int f1, int n_threads,
                       float **audio, size_t *n_samples, sbv2_error *err) {
    *audio = NULL, *n_samples = 0;
    const sbv2_model *m = state->model;
    if (f0 < 0 || f1 > T || f0 >= f1 || speaker_id < 0 || speaker_id >= m->hp.n_speakers)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "bad decoder window [%d, %d) of %d frames", f0, f1, T);
    const int I = m->hp.inter_channels, C = decoder_context_frames(m);
    const int a = f0 - C > 0 ? f0 - C : 0, b = f1 + C < T ? f1 + C : T, W = b - a;
    int64_t hop = 1;
    for (int u = 0; u < m->hp.n_ups; u++) hop *= m->hp.ups_rates[u];
    run_ctx r = {n_threads > 0 ? n_threads : 1, NULL, NULL, 0, state->conv_path, &state->ws};
    /* the whole line (the one-shot call) reads z in place; a window is copied out */
    float *zw = W == T ? NULL : malloc(sizeof(float) * (size_t)I * W), *wav = NULL;
    size_t nwav = 0;
    if (W != T && !zw) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (int c = 0; zw && c < I; c++) memcpy(zw + (size_t)c * W, z + (size_t)c * T + a, sizeof(float) * (size_t)W);
    int rc = decoder_forward(&r, m, zw ? zw : z, W, m->emb_g + (size_t)speaker_id * m->hp.gin_channels, &wav, &nwav);
    free(zw);
    if (rc != SBV2_OK) return sbv2_fail(err, rc, "decoding failed (%s)", sbv2_status_string(rc));
    /* the decoder is shift-invariant by hop samples per frame: local sample i of
       a window from frame a is global a * hop + i; the last window keeps the tail */
    const size_t s0 = (size_t)((f0 - a) * hop), s1 = f1 == T ? nwav : (size_t)((f1 - a) * hop);
    if (s1 > nwav || s0 >= s1 || !all_finite(wav + s0, s1 - s0)) {
        free(wav);
        return sbv2_fail(err, SBV2_ERR_INTERNAL, "the decoder gave %zu samples for a %d-frame window", nwav, W);
    }
    memmove(wav, wav + s0, sizeof(float) * (s1 - s0));
    *audio = wav, *n_samples = s1 - s0;
    return SBV2_OK;
}
