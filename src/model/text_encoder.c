/* TextEncoder (enc_p): symbol/tone/language embeddings + BERT projection(s) +
 * style projection, scaled by sqrt(hidden), then the relative-position
 * transformer with speaker conditioning, then proj -> (m_p, logs_p). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/layers.h"

int text_encoder_forward(run_ctx *r, const struct sbv2_model *m, const sbv2_infer_input *in, int L,
                         const float *mask, const float *g, float *x, float *m_p, float *logs_p) {
    const text_encoder_t *te = &m->enc_p;
    const int H = m->hp.hidden_channels, I = m->hp.inter_channels;
    const int multi = m->hp.arch == SBV2_ARCH_MULTILINGUAL;
    float *bp = malloc(sizeof(float) * ((size_t)H * L * 3 + (size_t)H + (size_t)2 * I * L));
    if (!bp) return SBV2_ERR_NO_MEMORY;
    float *jp = bp + (size_t)H * L, *ep = jp + (size_t)H * L, *style = ep + (size_t)H * L;
    float *stats = style + H;
    op_conv1d(&te->bert_proj, in->bert, L, 1, 0, bp, L, r->nt);
    if (multi) {
        /* a missing ja/en feature is zeros: its projection is just the bias */
        if (in->ja_bert) op_conv1d(&te->ja_bert_proj, in->ja_bert, L, 1, 0, jp, L, r->nt);
        else for (int h = 0; h < H; h++) for (int t = 0; t < L; t++) jp[(size_t)h * L + t] = te->ja_bert_proj.b[h];
        if (in->en_bert) op_conv1d(&te->en_bert_proj, in->en_bert, L, 1, 0, ep, L, r->nt);
        else for (int h = 0; h < H; h++) for (int t = 0; t < L; t++) ep[(size_t)h * L + t] = te->en_bert_proj.b[h];
    }
    op_conv1d(&te->style_proj, in->style_vec, 1, 1, 0, style, 1, 1);
    const float scale = sqrtf((float)H);
    for (int t = 0; t < L; t++) {
        const float *e = te->emb + (size_t)in->phone_ids[t] * H;
        const float *tn = te->tone_emb + (size_t)in->tone_ids[t] * H;
        const float *lg = te->lang_emb + (size_t)in->lang_ids[t] * H;
        for (int h = 0; h < H; h++) {
            /* same association order as the PyTorch expression */
            float v = e[h] + tn[h];
            v = v + lg[h];
            v = v + bp[(size_t)h * L + t];
            if (multi) {
                v = v + jp[(size_t)h * L + t];
                v = v + ep[(size_t)h * L + t];
            }
            v = v + style[h];
            x[(size_t)h * L + t] = v * scale;
        }
    }
    op_mul_mask(x, H, L, mask);
    run_dump(r, "enc_in", x, 2, H, L, 0);
    int rc = encoder_forward(r, &te->enc, x, L, mask, g, "enc_layer");
    if (rc == SBV2_OK) {
        op_conv1d(&te->proj, x, L, 1, 0, stats, L, r->nt);
        op_mul_mask(stats, 2 * I, L, mask);
        memcpy(m_p, stats, sizeof(float) * (size_t)I * L);
        memcpy(logs_p, stats + (size_t)I * L, sizeof(float) * (size_t)I * L);
    }
    free(bp);
    return rc;
}
