/* Which tensors the inference path reads, under SBV2's state_dict names, with
 * the shapes config.json implies. Keys not named here (enc_q.*, sdp.post_*,
 * sdp.flows.1.*, iteration, ...) are never touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conv.h"
#include "model/weights.h"


/* The default form of one resblock conv (see SBV2_FFT_MIN_CH). */
static int resblock_form(int C, int k, int d, int can_wino, int can_fft) {
    if (can_fft && C >= SBV2_FFT_MIN_CH && (C <= SBV2_FFT_MAX_CH || k >= SBV2_FFT_WIDE_MIN_K) && (k >= 7 || d == 1))
        return SBV2_PATH_FFT;
    if (can_wino && C >= SBV2_WINO_MIN_CH && (C >= SBV2_FFT_MIN_CH || d == 1)) return SBV2_PATH_WINOGRAD;
    return SBV2_PATH_DIRECT;
}

static void bind_encoder(wctx *c, encoder_t *e, const sbv2_hparams *hp, int n_layers, int kernel,
                         const char *prefix) {
    const int H = hp->hidden_channels, F = hp->filter_channels;
    e->n_layers = n_layers;
    e->hidden = H;
    e->cond_idx = hp->cond_layer_idx;
    e->attn = calloc((size_t)n_layers, sizeof *e->attn);
    e->ln1 = calloc((size_t)n_layers, sizeof *e->ln1);
    e->ln2 = calloc((size_t)n_layers, sizeof *e->ln2);
    e->ffn = calloc((size_t)n_layers, sizeof *e->ffn);
    /* ownership: the four arrays are freed by sbv2_model_free via encoder_free */
    if (!e->attn || !e->ln1 || !e->ln2 || !e->ffn) {
        if (c->rc == SBV2_OK) c->rc = sbv2_fail(c->err, SBV2_ERR_NO_MEMORY, "out of memory");
        return;
    }
    const int kc = H / hp->n_heads;
    for (int i = 0; i < n_layers; i++) {
        mha_t *a = &e->attn[i];
        a->n_heads = hp->n_heads;
        w_conv(c, &a->q, H, H, 1, 1, "%s.attn_layers.%d.conv_q", prefix, i);
        w_conv(c, &a->k, H, H, 1, 1, "%s.attn_layers.%d.conv_k", prefix, i);
        w_conv(c, &a->v, H, H, 1, 1, "%s.attn_layers.%d.conv_v", prefix, i);
        w_conv(c, &a->o, H, H, 1, 1, "%s.attn_layers.%d.conv_o", prefix, i);
        /* window size is a constructor constant (4); read it from the shape */
        char name[256];
        snprintf(name, sizeof name, "%s.attn_layers.%d.emb_rel_k", prefix, i);
        const st_tensor *t = w_find(c, name);
        int rows = (t && t->ndim == 3 && t->shape[1] % 2 == 1 && t->shape[1] < 4096) ? (int)t->shape[1] : 9;
        a->window = (rows - 1) / 2;
        a->rel_k = w_get(c, 3, 1, rows, kc, "%s.attn_layers.%d.emb_rel_k", prefix, i);
        a->rel_v = w_get(c, 3, 1, rows, kc, "%s.attn_layers.%d.emb_rel_v", prefix, i);
        w_layernorm(c, &e->ln1[i], H, "%s.norm_layers_1.%d", prefix, i);
        w_conv(c, &e->ffn[i].c1, F, H, kernel, 1, "%s.ffn_layers.%d.conv_1", prefix, i);
        w_conv(c, &e->ffn[i].c2, H, F, kernel, 1, "%s.ffn_layers.%d.conv_2", prefix, i);
        w_layernorm(c, &e->ln2[i], H, "%s.norm_layers_2.%d", prefix, i);
    }
    w_linear(c, &e->spk, H, hp->gin_channels, "%s.spk_emb_linear", prefix);
}

static void bind_dds(wctx *c, dds_t *d, int ch, int kernel, const char *prefix) {
    d->n_layers = 3;
    d->kernel = kernel;
    for (int i = 0; i < 3; i++) {
        w_conv(c, &d->sep[i], ch, 1, kernel, 1, "%s.convs_sep.%d", prefix, i);
        w_conv(c, &d->c1x1[i], ch, ch, 1, 1, "%s.convs_1x1.%d", prefix, i);
        w_layernorm(c, &d->ln1[i], ch, "%s.norms_1.%d", prefix, i);
        w_layernorm(c, &d->ln2[i], ch, "%s.norms_2.%d", prefix, i);
    }
}

int sbv2_model_bind_weights(struct sbv2_model *m, sbv2_error *err) {
    wctx c = {m, err, SBV2_OK, 0, 0, 0};
    const sbv2_hparams *hp = &m->hp;
    const int H = hp->hidden_channels, I = hp->inter_channels, G = hp->gin_channels;

    /* speaker embedding */
    m->emb_g = w_get(&c, 2, hp->n_speakers, G, 0, "emb_g.weight");

    /* text encoder: vocabulary sizes come from the file (symbols, tones, languages) */
    text_encoder_t *te = &m->enc_p;
    const char *embn[3] = {"enc_p.emb.weight", "enc_p.tone_emb.weight", "enc_p.language_emb.weight"};
    int *embc[3] = {&te->n_vocab, &te->n_tones, &te->n_langs};
    for (int i = 0; i < 3; i++) {
        const st_tensor *t = w_find(&c, embn[i]);
        *embc[i] = (t && t->ndim == 2 && t->shape[0] > 0 && t->shape[0] < 1000000) ? (int)t->shape[0] : 1;
    }
    te->emb = w_get(&c, 2, te->n_vocab, H, 0, "enc_p.emb.weight");
    te->tone_emb = w_get(&c, 2, te->n_tones, H, 0, "enc_p.tone_emb.weight");
    te->lang_emb = w_get(&c, 2, te->n_langs, H, 0, "enc_p.language_emb.weight");
    w_conv(&c, &te->bert_proj, H, SBV2_BERT_DIM, 1, 1, "enc_p.bert_proj");
    if (hp->arch == SBV2_ARCH_MULTILINGUAL) {
        w_conv(&c, &te->ja_bert_proj, H, SBV2_BERT_DIM, 1, 1, "enc_p.ja_bert_proj");
        w_conv(&c, &te->en_bert_proj, H, SBV2_BERT_DIM, 1, 1, "enc_p.en_bert_proj");
    }
    w_linear(&c, &te->style_proj, H, SBV2_STYLE_DIM, "enc_p.style_proj");
    bind_encoder(&c, &te->enc, hp, hp->n_layers, hp->kernel_size, "enc_p.encoder");
    w_conv(&c, &te->proj, 2 * I, H, 1, 1, "enc_p.proj");

    /* deterministic duration predictor */
    dp_t *dp = &m->dp;
    w_conv(&c, &dp->cond, H, G, 1, 1, "dp.cond");
    w_conv(&c, &dp->conv1, hp->dp_filter, H, hp->dp_kernel, 1, "dp.conv_1");
    w_layernorm(&c, &dp->ln1, hp->dp_filter, "dp.norm_1");
    w_conv(&c, &dp->conv2, hp->dp_filter, hp->dp_filter, hp->dp_kernel, 1, "dp.conv_2");
    w_layernorm(&c, &dp->ln2, hp->dp_filter, "dp.norm_2");
    w_conv(&c, &dp->proj, 1, hp->dp_filter, 1, 1, "dp.proj");

    /* stochastic duration predictor (filter channels = hidden, as SBV2 forces) */
    sdp_t *sdp = &m->sdp;
    w_conv(&c, &sdp->pre, H, H, 1, 1, "sdp.pre");
    w_conv(&c, &sdp->proj, H, H, 1, 1, "sdp.proj");
    w_conv(&c, &sdp->cond, H, G, 1, 1, "sdp.cond");
    bind_dds(&c, &sdp->dds, H, hp->sdp_kernel, "sdp.convs");
    sdp->ea_m = w_get(&c, 2, 2, 1, 0, "sdp.flows.0.m");
    sdp->ea_logs = w_get(&c, 2, 2, 1, 0, "sdp.flows.0.logs");
    sdp->n_cf = hp->sdp_n_flows;
    /* reverse mode never runs flows[1] (the first ConvFlow): skip its weights */
    for (int i = 1; i < sdp->n_cf; i++) {
        convflow_t *cf = &sdp->cf[i];
        int idx = 2 * i + 1;
        cf->filter = H;
        w_conv(&c, &cf->pre, H, 1, 1, 1, "sdp.flows.%d.pre", idx);
        char pre[64];
        snprintf(pre, sizeof pre, "sdp.flows.%d.convs", idx);
        bind_dds(&c, &cf->dds, H, hp->sdp_kernel, pre);
        w_conv(&c, &cf->proj, 3 * hp->sdp_bins - 1, H, 1, 1, "sdp.flows.%d.proj", idx);
    }

    /* flow: transformer coupling layers at flows.0, .2, .4, .6. Their depth is a
       constructor argument (6 JP-Extra, 4 older) that trainers could change:
       the file decides (config.json's n_layers_trans_flow is ignored, as SBV2's
       inference ignores it). */
    int depth = 0;
    for (;; depth++) {
        char key[128];
        snprintf(key, sizeof key, "flow.flows.0.enc.attn_layers.%d.conv_q.weight", depth);
        if (!w_find(&c, key)) break;
    }
    if (depth > 0) m->hp.n_layers_trans_flow = depth;
    else if (c.rc == SBV2_OK && (w_find(&c, "flow.flows.0.enc.in_layers.0.weight_v") || w_find(&c, "flow.flows.0.enc.in_layers.0.weight")))
        c.rc = sbv2_fail(err, SBV2_ERR_UNSUPPORTED,
                         "the flow is a residual coupling block (use_transformer_flow=false); SBV2's inference always builds "
                         "the transformer flow and cannot run this model either");
    for (int i = 0; i < hp->n_flows; i++) {
        coupling_t *f = &m->flow[i];
        w_conv(&c, &f->pre, H, I / 2, 1, 1, "flow.flows.%d.pre", 2 * i);
        char pre[64];
        snprintf(pre, sizeof pre, "flow.flows.%d.enc", 2 * i);
        bind_encoder(&c, &f->enc, hp, hp->n_layers_trans_flow, hp->flow_kernel, pre);
        w_conv(&c, &f->post, I / 2, H, 1, 1, "flow.flows.%d.post", 2 * i);
    }

    /* HiFi-GAN decoder */
    decoder_t *d = &m->dec;
    const int C0 = hp->ups_initial_channel;
    w_conv(&c, &d->conv_pre, C0, I, 7, 1, "dec.conv_pre");
    w_conv(&c, &d->cond, C0, G, 1, 1, "dec.cond");
    d->res = calloc((size_t)hp->n_ups * (size_t)hp->n_res_kernels, sizeof *d->res);
    if (!d->res && c.rc == SBV2_OK) c.rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; i < hp->n_ups && c.rc == SBV2_OK; i++) {
        ups_t *u = &d->ups[i];
        u->cin = C0 >> i;
        u->cout = C0 >> (i + 1);
        u->k = hp->ups_kernels[i];
        u->stride = hp->ups_rates[i];
        u->pad = (u->k - u->stride) / 2;
        int64_t shape[3] = {u->cin, u->cout, u->k};
        const float *w = u->w = w_get_wn(&c, shape, "dec.ups.%d", i);
        const int ups_folded = c.folded;
        u->b = w_get(&c, 1, u->cout, 0, 0, "dec.ups.%d.bias", i);
        /* polyphase decomposition of the transposed conv (see ups_t) */
        u->phase = calloc((size_t)u->stride, sizeof *u->phase);
        u->phase_pad = calloc((size_t)u->stride, sizeof *u->phase_pad);
        if ((!u->phase || !u->phase_pad) && c.rc == SBV2_OK) c.rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
        for (int r = 0; c.rc == SBV2_OK && r < u->stride; r++) {
            const int c0 = (r + u->pad) % u->stride, base = (r + u->pad) / u->stride;
            const int M = c0 < u->k ? (u->k - c0 + u->stride - 1) / u->stride : 0;
            conv1d_t *pc = &u->phase[r];
            pc->cout = u->cout, pc->cin = u->cin, pc->k = M > 0 ? M : 1, pc->b = u->b;
            float *pw = w_alloc(&c, (size_t)u->cout * u->cin * pc->k);
            float *pk = w_alloc(&c, conv_packed_size(pc->cout, pc->cin, pc->k));
            if (!pw || !pk || !w) break;
            memset(pw, 0, sizeof(float) * (size_t)u->cout * u->cin * pc->k);
            for (int co = 0; co < u->cout; co++)
                for (int ci = 0; ci < u->cin; ci++)
                    for (int jj = 0; jj < M; jj++)
                        pw[((size_t)co * u->cin + ci) * pc->k + jj] = w[((size_t)ci * u->cout + co) * u->k + c0 + (M - 1 - jj) * u->stride];
            conv_pack(pw, pc->cout, pc->cin, pc->k, pk);
            pc->w = pw, pc->packed = pk;
            u->phase_pad[r] = (M - 1) - base;
        }
        if (ups_folded && c.rc == SBV2_OK) {
            char key[64];
            snprintf(key, sizeof key, "dec.ups.%d", i);
            w_drop_folded(&c, &u->w, &u->wn_key, key);
        }
        for (int j = 0; j < hp->n_res_kernels; j++) {
            resblock_t *r = &d->res[i * hp->n_res_kernels + j];
            int idx = i * hp->n_res_kernels + j, ks = hp->res_kernel_sizes[j];
            r->n = hp->resblock == '1' ? 3 : 2;
            r->has_c2 = hp->resblock == '1';
            for (int k = 0; k < r->n; k++) {
                r->dil[k] = hp->res_dilations[j][k];
                const int C = u->cout, all = C <= SBV2_ALL_FORMS_CH;
                for (int two = 0; two < 1 + r->has_c2; two++) {
                    /* c1 runs at the branch's dilation, c2 at 1: each gets its own default
                       form (see resblock_form), plus every other applicable one on narrow
                       stages */
                    const int d = two ? 1 : r->dil[k];
                    const int can_wino = ks % 2 == 1 && ks >= 3 && d <= 64, can_fft = fftc_supported(ks);
                    const int path = resblock_form(C, ks, d, can_wino, can_fft);
                    (two ? r->path2 : r->path)[k] = path;
                    const int wino = can_wino && (all || path == SBV2_PATH_WINOGRAD);
                    const int fft = can_fft && (all || path == SBV2_PATH_FFT);
                    conv1d_t *cv = two ? &r->c2[k] : &r->c1[k];
                    wino_conv *wc = two ? &r->w2[k] : &r->w1[k];
                    fft_conv *fc = two ? &r->f2[k] : &r->f1[k];
                    c.no_pack = !all && path != SBV2_PATH_DIRECT;
                    c.keep_folded = wino || fft;
                    char key[128];
                    snprintf(key, sizeof key, two ? "dec.resblocks.%d.convs2.%d"
                                              : hp->resblock == '1' ? "dec.resblocks.%d.convs1.%d" : "dec.resblocks.%d.convs.%d",
                             idx, k);
                    w_wn_conv(&c, cv, C, C, ks, "%s", key);
                    c.no_pack = c.keep_folded = 0;
                    if (!cv->w) continue;
                    if (wino) {
                        float *p = w_alloc(&c, wino_packed_size(C, C, ks));
                        if (p) wino_prepare(wc, cv->w, cv->b, C, C, ks, p);
                    }
                    if (fft) {
                        float *p = w_alloc(&c, fftc_packed_size(C, C, ks));
                        if (p) fftc_prepare(fc, cv->w, cv->b, C, C, ks, p);
                    }
                    if (c.rc == SBV2_OK && (wino || fft) && !wc->ok && !fc->ok && !cv->packed) /* (not over an earlier error) */
                        c.rc = sbv2_fail(c.err, SBV2_ERR_NO_MEMORY, "out of memory while loading weights");
                    if (wino || fft) w_drop_folded(&c, &cv->w, &cv->wn_key, key);
                }
            }
        }
    }
    const int ch_last = C0 >> hp->n_ups;
    w_conv(&c, &d->conv_post, 1, ch_last, 7, 0, "dec.conv_post");
    return c.rc;
}
