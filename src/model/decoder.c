/* HiFi-GAN Generator: conv_pre + speaker cond, then per stage leaky ReLU,
 * transposed-conv upsampling and the mean of the multi-receptive-field
 * resblocks; finally leaky ReLU (slope 0.01), conv_post, tanh. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/layers.h"

#define LRELU_SLOPE 0.1f

/* ResBlock1 ("1"): x += c2(lrelu(c1_d(lrelu(x)))) for each dilation d.
 * ResBlock2 ("2"): x += c_d(lrelu(x)). The block starts from src and leaves
 * its result in dst (first step reads src, so no copy is needed); tmp holds
 * C*T. Activations and residual adds run inside the conv kernels. */
/* y = conv_d(lrelu(x)) + res with the form the run asks for when the model
 * holds it, else the conv's default form. */
static int res_conv(run_ctx *r, int path, const conv1d_t *c, const wino_conv *w, const fft_conv *f, const float *x,
                    int T, int d, const float *res, float *y) {
    const int want = r->conv_path;
    if ((want == SBV2_PATH_FFT && f->ok) || (want == SBV2_PATH_WINOGRAD && w->ok) || (want == SBV2_PATH_DIRECT && c->packed))
        path = want;
    int rc;
    if (path == SBV2_PATH_FFT && f->ok) rc = fftc_run(f, x, T, d, LRELU_SLOPE, res, y, r->nt, r->ws);
    else if (path == SBV2_PATH_WINOGRAD && w->ok) rc = wino_run(w, x, T, d, LRELU_SLOPE, res, y, r->nt, r->ws);
    else if (c->packed) rc = op_conv1d_fused(c, x, T, d, (c->k - 1) * d / 2, LRELU_SLOPE, res, y, T, r->nt, r->ws);
    else rc = f->ok ? fftc_run(f, x, T, d, LRELU_SLOPE, res, y, r->nt, r->ws)
                    : wino_run(w, x, T, d, LRELU_SLOPE, res, y, r->nt, r->ws);
    return rc ? SBV2_ERR_NO_MEMORY : SBV2_OK;
}

static int resblock_forward(run_ctx *r, const resblock_t *rb, const float *src, float *dst, int T, float *tmp) {
    for (int k = 0; k < rb->n; k++) {
        const float *x = k == 0 ? src : dst;
        const int d = rb->dil[k], two = rb->has_c2;
        int rc = res_conv(r, rb->path[k], &rb->c1[k], &rb->w1[k], &rb->f1[k], x, T, d, two ? NULL : x, two ? tmp : dst);
        if (rc == SBV2_OK && two) rc = res_conv(r, rb->path2[k], &rb->c2[k], &rb->w2[k], &rb->f2[k], tmp, T, 1, x, dst);
        if (rc != SBV2_OK) return rc;
    }
    return SBV2_OK;
}

/* ConvTranspose1d(lrelu(x)) through its polyphase stride-1 convs. */
static int upsample_forward(run_ctx *r, const ups_t *u, const float *x, int tin, float *y, int tout, float *tmp) {
    for (int ph = 0; ph < u->stride; ph++) {
        const int q = ph < tout ? (tout - ph + u->stride - 1) / u->stride : 0;
        if (q == 0) continue;
        if (op_conv1d_fused(&u->phase[ph], x, tin, 1, u->phase_pad[ph], LRELU_SLOPE, NULL, tmp, q, r->nt, r->ws))
            return SBV2_ERR_NO_MEMORY;
#pragma omp parallel for num_threads(r->nt) schedule(static) if ((long)u->cout * q > 100000)
        for (int co = 0; co < u->cout; co++) {
            const float *src = tmp + (size_t)co * q;
            float *dst = y + (size_t)co * tout + ph;
            for (int t = 0; t < q; t++) dst[(size_t)t * u->stride] = src[t];
        }
    }
    return SBV2_OK;
}

/* ConvTranspose1d's output length, 0 when it would be empty */
static size_t stage_length(const ups_t *u, size_t len) {
    const long nl = ((long)len - 1) * u->stride - 2L * u->pad + u->k;
    return nl < 1 ? 0 : (size_t)nl;
}

size_t decoder_output_length(const struct sbv2_model *m, int T) {
    size_t len = (size_t)T;
    for (int i = 0; i < m->hp.n_ups && len; i++) len = stage_length(&m->dec.ups[i], len);
    return len;
}

int decoder_forward(run_ctx *r, const struct sbv2_model *m, const float *z, int T, const float *g, float **wav,
                    size_t *n_out) {
    const sbv2_hparams *hp = &m->hp;
    const decoder_t *d = &m->dec;
    const int C0 = hp->ups_initial_channel;
    /* lengths of every stage */
    size_t len = (size_t)T, maxel = (size_t)C0 * T;
    for (int i = 0; i < hp->n_ups; i++) {
        const ups_t *u = &d->ups[i];
        len = stage_length(u, len);
        if (!len) return SBV2_ERR_INTERNAL;
        if ((size_t)u->cout * len > maxel) maxel = (size_t)u->cout * len;
    }
    float *x = scratch_get(r->ws, SCR_DEC_X, maxel), *y = scratch_get(r->ws, SCR_DEC_Y, maxel);
    float *acc = scratch_get(r->ws, SCR_DEC_ACC, maxel), *tmp = scratch_get(r->ws, SCR_DEC_TMP, maxel);
    float *gc = malloc(sizeof(float) * (size_t)C0);
    float *out = NULL;
    int rc = SBV2_OK;
    if (!x || !y || !acc || !tmp || !gc) { rc = SBV2_ERR_NO_MEMORY; goto done; }
    op_conv1d(&d->conv_pre, z, T, 1, 3, x, T, r->nt);
    op_conv1d(&d->cond, g, 1, 1, 0, gc, 1, 1);
    for (int c = 0; c < C0; c++)
        for (int t = 0; t < T; t++) x[(size_t)c * T + t] += gc[c];
    run_dump(r, "dec_pre", x, 2, C0, T, 0);
    int C = C0;
    size_t L = (size_t)T;
    for (int i = 0; i < hp->n_ups; i++) {
        const ups_t *u = &d->ups[i];
        size_t nl = (L - 1) * (size_t)u->stride - 2 * (size_t)u->pad + (size_t)u->k;
        if ((rc = upsample_forward(r, u, x, (int)L, y, (int)nl, tmp)) != SBV2_OK) goto done;
        C = u->cout;
        L = nl;
        /* the mean of the resblocks: acc = their sum, in order, the last one's
           add fused with the division (the same operations as apart) */
        const int nrk = hp->n_res_kernels;
        const float nk = (float)nrk;
        const long n_el = (long)C * (long)L;
        for (int j = 0; j < nrk; j++) {
            if ((rc = resblock_forward(r, &d->res[i * nrk + j], y, j == 0 ? acc : x, (int)L, tmp)) != SBV2_OK) goto done;
            if (j > 0 && j < nrk - 1) op_add_par(acc, x, (size_t)n_el, r->nt);
        }
#pragma omp parallel for num_threads(r->nt) schedule(static) if (n_el > 100000)
        for (long e = 0; e < n_el; e++) x[e] = (nrk > 1 ? acc[e] + x[e] : acc[e]) / nk;
        char name[32];
        snprintf(name, sizeof name, "dec_stage%d", i);
        run_dump(r, name, x, 2, C, (int64_t)L, 0);
    }
    out = malloc(sizeof(float) * (L ? L : 1));
    if (!out) { rc = SBV2_ERR_NO_MEMORY; goto done; }
    /* leaky ReLU (0.01) fused into conv_post's input copy */
    if (op_conv1d_fused(&d->conv_post, x, (int)L, 1, 3, 0.01f, NULL, out, (int)L, r->nt, r->ws)) {
        free(out);
        rc = SBV2_ERR_NO_MEMORY;
        goto done;
    }
#pragma omp parallel for num_threads(r->nt) schedule(static) if (L > 100000)
    for (long e = 0; e < (long)L; e++) out[e] = tanhf(out[e]);
    *wav = out;
    *n_out = L;
done:
    if (!r->ws) free(x), free(y), free(acc), free(tmp);
    free(gc);
    return rc;
}

int decoder_context_frames(const struct sbv2_model *m) {
    const sbv2_hparams *hp = &m->hp;
    const decoder_t *d = &m->dec;
    double frames = (d->conv_pre.k - 1) / 2, rate = 1; /* reach in frames, samples per frame so far */
    for (int i = 0; i < hp->n_ups; i++) {
        const ups_t *u = &d->ups[i];
        frames += (double)((u->k + u->stride - 1) / u->stride + 1) / rate; /* inputs one output sees */
        rate *= u->stride;
        int widest = 0;
        for (int j = 0; j < hp->n_res_kernels; j++) {
            const resblock_t *rb = &d->res[i * hp->n_res_kernels + j];
            int reach = 0;
            for (int k = 0; k < rb->n; k++) reach += (rb->c1[k].k - 1) / 2 * rb->dil[k] + (rb->has_c2 ? (rb->c2[k].k - 1) / 2 : 0);
            widest = reach > widest ? reach : widest;
        }
        frames += widest / rate;
    }
    frames += (d->conv_post.k - 1) / 2 / rate;
    return (int)ceil(frames) + 1;
}
