/* sbv2 testmodel OUTDIR: writes a random-weight model in SBV2's real file
 * layout (config.json as training writes it, model.safetensors with every
 * net_g key except enc_q.* - including the keys inference ignores - and
 * style_vectors.npy). No trained voice can ship with sbv2c, so this is what
 * the demo, the tests and the benchmark run on: it produces noise, not speech.
 * The weights are scaled so that every stage does real work, durations land
 * at a few frames per phone and the audio stays finite. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/rng.h"
#include "formats/npy.h"
#include "sbv2.h"

typedef struct dims {
    int inter, hidden, filter, heads, layers, kernel, gin, ups_initial;
    int n_speakers, n_styles;
    int multilingual;
    char resblock;
} dims;

enum init_kind { I_NORMAL, I_CONST, I_WN_G, I_ITER };

typedef struct tensor_spec {
    char name[96];
    int ndim;
    int64_t shape[3];
    enum init_kind kind;
    float a, b; /* normal: mean a, std b; const: a; weight_g: ||v|| expected = a */
    size_t numel, offset;
} tensor_spec;

typedef struct spec_list {
    tensor_spec *t;
    size_t n, cap;
    int oom;
} spec_list;

static void add(spec_list *l, enum init_kind kind, float a, float b, int ndim, int64_t d0, int64_t d1, int64_t d2,
                const char *fmt, ...) __attribute__((format(printf, 9, 10)));

static void add(spec_list *l, enum init_kind kind, float a, float b, int ndim, int64_t d0, int64_t d1, int64_t d2,
                const char *fmt, ...) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 1024;
        tensor_spec *nt = realloc(l->t, nc * sizeof *nt);
        if (!nt) { l->oom = 1; return; }
        l->t = nt, l->cap = nc;
    }
    tensor_spec *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim, t->shape[0] = d0, t->shape[1] = d1, t->shape[2] = d2;
    t->kind = kind, t->a = a, t->b = b;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) t->numel *= (size_t)t->shape[i];
}

/* Conv1d with bias, weights N(0, gain / sqrt(fan_in)). */
static void conv(spec_list *l, int cout, int cin, int k, float gain, const char *p) {
    add(l, I_NORMAL, 0, gain / sqrtf((float)(cin * k)), 3, cout, cin, k, "%s.weight", p);
    add(l, I_NORMAL, 0, 0.02f, 1, cout, 0, 0, "%s.bias", p);
}

/* Weight-normed conv: weight_v random, weight_g near ||v|| (per dim 0). */
static void wn_conv(spec_list *l, int d0, int d1, int k, int bias_n, float gain, const char *p) {
    float std = 1.0f / sqrtf((float)(d1 * k));
    add(l, I_NORMAL, 0, std, 3, d0, d1, k, "%s.weight_v", p);
    add(l, I_WN_G, gain * std * sqrtf((float)(d1 * k)), 0, 3, d0, 1, 1, "%s.weight_g", p);
    add(l, I_NORMAL, 0, 0.02f, 1, bias_n, 0, 0, "%s.bias", p);
}

static void layernorm(spec_list *l, int c, const char *p) {
    add(l, I_NORMAL, 1.0f, 0.05f, 1, c, 0, 0, "%s.gamma", p);
    add(l, I_NORMAL, 0.0f, 0.05f, 1, c, 0, 0, "%s.beta", p);
}

static void encoder(spec_list *l, const dims *d, int n_layers, int kernel, const char *p) {
    char q[160];
    for (int i = 0; i < n_layers; i++) {
        const char *nm[4] = {"conv_q", "conv_k", "conv_v", "conv_o"};
        for (int j = 0; j < 4; j++) {
            snprintf(q, sizeof q, "%s.attn_layers.%d.%s", p, i, nm[j]);
            conv(l, d->hidden, d->hidden, 1, 1.0f, q);
        }
        float rs = 1.0f / sqrtf((float)(d->hidden / d->heads));
        add(l, I_NORMAL, 0, rs, 3, 1, 9, d->hidden / d->heads, "%s.attn_layers.%d.emb_rel_k", p, i);
        add(l, I_NORMAL, 0, rs, 3, 1, 9, d->hidden / d->heads, "%s.attn_layers.%d.emb_rel_v", p, i);
        snprintf(q, sizeof q, "%s.norm_layers_1.%d", p, i);
        layernorm(l, d->hidden, q);
        snprintf(q, sizeof q, "%s.ffn_layers.%d.conv_1", p, i);
        conv(l, d->filter, d->hidden, kernel, 1.0f, q);
        snprintf(q, sizeof q, "%s.ffn_layers.%d.conv_2", p, i);
        conv(l, d->hidden, d->filter, kernel, 1.0f, q);
        snprintf(q, sizeof q, "%s.norm_layers_2.%d", p, i);
        layernorm(l, d->hidden, q);
    }
    add(l, I_NORMAL, 0, 1.0f / sqrtf((float)d->gin), 2, d->hidden, d->gin, 0, "%s.spk_emb_linear.weight", p);
    add(l, I_NORMAL, 0, 0.02f, 1, d->hidden, 0, 0, "%s.spk_emb_linear.bias", p);
}

static void dds(spec_list *l, int ch, const char *p) {
    char q[160];
    for (int i = 0; i < 3; i++) {
        snprintf(q, sizeof q, "%s.convs_sep.%d", p, i);
        conv(l, ch, 1, 3, 1.0f, q);
        snprintf(q, sizeof q, "%s.convs_1x1.%d", p, i);
        conv(l, ch, ch, 1, 1.0f, q);
        snprintf(q, sizeof q, "%s.norms_1.%d", p, i);
        layernorm(l, ch, q);
        snprintf(q, sizeof q, "%s.norms_2.%d", p, i);
        layernorm(l, ch, q);
    }
}

/* ConvFlow with a small projection: the spline stays close to identity. */
static void convflow(spec_list *l, int ch, const char *p) {
    char q[160];
    snprintf(q, sizeof q, "%s.pre", p);
    conv(l, ch, 1, 1, 1.0f, q);
    snprintf(q, sizeof q, "%s.convs", p);
    dds(l, ch, q);
    snprintf(q, sizeof q, "%s.proj", p);
    conv(l, 29, ch, 1, 0.1f, q);
}

static void build_specs(spec_list *l, const dims *d) {
    const int H = d->hidden, I = d->inter, G = d->gin;
    char q[160];
    add(l, I_ITER, 0, 0, 1, 1, 0, 0, "iteration");
    add(l, I_NORMAL, 0, 1.0f, 2, d->n_speakers, G, 0, "emb_g.weight");
    float es = 1.0f / sqrtf((float)H);
    add(l, I_NORMAL, 0, es, 2, 112, H, 0, "enc_p.emb.weight");
    add(l, I_NORMAL, 0, es, 2, 12, H, 0, "enc_p.tone_emb.weight");
    add(l, I_NORMAL, 0, es, 2, 3, H, 0, "enc_p.language_emb.weight");
    conv(l, H, 1024, 1, 0.3f, "enc_p.bert_proj");
    if (d->multilingual) {
        conv(l, H, 1024, 1, 0.3f, "enc_p.ja_bert_proj");
        conv(l, H, 1024, 1, 0.3f, "enc_p.en_bert_proj");
    }
    add(l, I_NORMAL, 0, 0.3f / 16.0f, 2, H, 256, 0, "enc_p.style_proj.weight");
    add(l, I_NORMAL, 0, 0.02f, 1, H, 0, 0, "enc_p.style_proj.bias");
    encoder(l, d, d->layers, d->kernel, "enc_p.encoder");
    conv(l, 2 * I, H, 1, 0.5f, "enc_p.proj");

    /* duration predictor: about 3.5 frames per token (470 frames for 60 phones) */
    conv(l, H, G, 1, 1.0f, "dp.cond");
    conv(l, 256, H, 3, 1.0f, "dp.conv_1");
    layernorm(l, 256, "dp.norm_1");
    conv(l, 256, 256, 3, 1.0f, "dp.conv_2");
    layernorm(l, 256, "dp.norm_2");
    add(l, I_NORMAL, 0, 0.3f / 16.0f, 3, 1, 256, 1, "dp.proj.weight");
    add(l, I_CONST, logf(2.2f), 0, 1, 1, 0, 0, "dp.proj.bias");

    /* stochastic duration predictor (+ the posterior parts inference ignores) */
    conv(l, H, H, 1, 1.0f, "sdp.pre");
    conv(l, H, H, 1, 1.0f, "sdp.proj");
    conv(l, H, G, 1, 1.0f, "sdp.cond");
    dds(l, H, "sdp.convs");
    add(l, I_CONST, -logf(2.2f), 0, 2, 2, 1, 0, "sdp.flows.0.m");
    add(l, I_CONST, 0.0f, 0, 2, 2, 1, 0, "sdp.flows.0.logs");
    for (int i = 1; i <= 7; i += 2) {
        snprintf(q, sizeof q, "sdp.flows.%d", i);
        convflow(l, H, q);
    }
    conv(l, H, 1, 1, 1.0f, "sdp.post_pre");
    conv(l, H, H, 1, 1.0f, "sdp.post_proj");
    dds(l, H, "sdp.post_convs");
    add(l, I_CONST, 0.0f, 0, 2, 2, 1, 0, "sdp.post_flows.0.m");
    add(l, I_CONST, 0.0f, 0, 2, 2, 1, 0, "sdp.post_flows.0.logs");
    for (int i = 1; i <= 7; i += 2) {
        snprintf(q, sizeof q, "sdp.post_flows.%d", i);
        convflow(l, H, q);
    }

    /* flow: 4 transformer couplings, small post so z moves but stays sane */
    int flow_layers = d->multilingual ? 4 : 6;
    for (int i = 0; i < 8; i += 2) {
        snprintf(q, sizeof q, "flow.flows.%d.pre", i);
        conv(l, H, I / 2, 1, 1.0f, q);
        snprintf(q, sizeof q, "flow.flows.%d.enc", i);
        encoder(l, d, flow_layers, 5, q);
        snprintf(q, sizeof q, "flow.flows.%d.post", i);
        conv(l, I / 2, H, 1, 0.2f, q);
    }

    /* decoder */
    const int C0 = d->ups_initial;
    const int rates[5] = {8, 8, 2, 2, 2}, kernels[5] = {16, 16, 8, 2, 2}, rk[3] = {3, 7, 11};
    conv(l, C0, I, 7, 1.0f, "dec.conv_pre");
    conv(l, C0, G, 1, 0.5f, "dec.cond");
    for (int i = 0; i < 5; i++) {
        int cin = C0 >> i, cout = C0 >> (i + 1);
        snprintf(q, sizeof q, "dec.ups.%d", i);
        /* ConvTranspose1d weight [cin, cout, k]: g per input channel */
        wn_conv(l, cin, cout, kernels[i], cout, 1.2f * sqrtf(rates[i] / 2.0f), q);
        for (int j = 0; j < 3; j++) {
            int idx = i * 3 + j;
            for (int k = 0; k < (d->resblock == '1' ? 3 : 2); k++) {
                if (d->resblock == '1') {
                    snprintf(q, sizeof q, "dec.resblocks.%d.convs1.%d", idx, k);
                    wn_conv(l, cout, cout, rk[j], cout, 0.5f, q);
                    snprintf(q, sizeof q, "dec.resblocks.%d.convs2.%d", idx, k);
                    wn_conv(l, cout, cout, rk[j], cout, 0.5f, q);
                } else {
                    snprintf(q, sizeof q, "dec.resblocks.%d.convs.%d", idx, k);
                    wn_conv(l, cout, cout, rk[j], cout, 0.5f, q);
                }
            }
        }
    }
    /* SBV2 sizes every stage with floor division: C0 // 2^(i+1) */
    add(l, I_NORMAL, 0, 1.0f / sqrtf((float)((C0 >> 5) * 7)), 3, 1, C0 >> 5, 7, "dec.conv_post.weight");
}

static int cmp_spec(const void *a, const void *b) {
    const tensor_spec *x = a, *y = b;
    /* SBV2's files hold the I64 "iteration" first, then F32 tensors by name */
    int xi = x->kind == I_ITER, yi = y->kind == I_ITER;
    if (xi != yi) return yi - xi;
    return strcmp(x->name, y->name);
}

static uint64_t hash_name(const char *s, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int write_safetensors(const char *path, spec_list *l, uint64_t seed) {
    qsort(l->t, l->n, sizeof *l->t, cmp_spec);
    cJSON *hdr = cJSON_CreateObject();
    size_t off = 0;
    for (size_t i = 0; i < l->n; i++) {
        tensor_spec *t = &l->t[i];
        size_t es = t->kind == I_ITER ? 8 : 4;
        t->offset = off;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "dtype", t->kind == I_ITER ? "I64" : "F32");
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int k = 0; k < t->ndim; k++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[k]));
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + t->numel * es)));
        cJSON_AddItemToObject(hdr, t->name, e);
        off += t->numel * es;
    }
    char *js = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    if (!js) return 0;
    size_t jl = strlen(js), pad = (8 - jl % 8) % 8;
    FILE *fp = fopen(path, "wb");
    if (!fp) { free(js); return 0; }
    uint64_t n = jl + pad;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(n >> (8 * i));
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(js, 1, jl, fp) == jl;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', fp) != EOF;
    free(js);
    float *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; ok && i < l->n; i++) {
        tensor_spec *t = &l->t[i];
        if (t->kind == I_ITER) {
            int64_t it = 1000;
            ok = fwrite(&it, 8, 1, fp) == 1;
            continue;
        }
        if (t->numel > cap) {
            free(buf);
            cap = t->numel;
            buf = malloc(cap * sizeof *buf);
            if (!buf) { ok = 0; break; }
        }
        sbv2_rng rng;
        sbv2_rng_seed(&rng, hash_name(t->name, seed));
        if (t->kind == I_CONST) {
            for (size_t k = 0; k < t->numel; k++) buf[k] = t->a;
        } else if (t->kind == I_WN_G) {
            /* g = ||v|| * U[0.7, 1.3] * gain: weight norm does real work */
            sbv2_rng_normal(&rng, buf, t->numel);
            for (size_t k = 0; k < t->numel; k++) buf[k] = t->a * (1.0f + 0.3f * tanhf(buf[k]));
        } else {
            sbv2_rng_normal(&rng, buf, t->numel);
            for (size_t k = 0; k < t->numel; k++) buf[k] = t->a + t->b * buf[k];
        }
        ok = fwrite(buf, 4, t->numel, fp) == t->numel;
    }
    free(buf);
    ok = (fclose(fp) == 0) && ok;
    return ok;
}

static int write_config(const char *path, const dims *d) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model_name", "sbv2c-random");
    cJSON *data = cJSON_AddObjectToObject(root, "data");
    cJSON_AddBoolToObject(data, "use_jp_extra", !d->multilingual);
    cJSON_AddNumberToObject(data, "max_wav_value", 32768.0);
    cJSON_AddNumberToObject(data, "sampling_rate", 44100);
    cJSON_AddNumberToObject(data, "filter_length", 2048);
    cJSON_AddNumberToObject(data, "hop_length", 512);
    cJSON_AddNumberToObject(data, "win_length", 2048);
    cJSON_AddNumberToObject(data, "n_mel_channels", 128);
    cJSON_AddBoolToObject(data, "add_blank", 1);
    cJSON_AddNumberToObject(data, "n_speakers", d->n_speakers);
    cJSON *spk = cJSON_AddObjectToObject(data, "spk2id");
    for (int i = 0; i < d->n_speakers; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "speaker_%d", i);
        cJSON_AddNumberToObject(spk, nm, i);
    }
    cJSON_AddNumberToObject(data, "num_styles", d->n_styles);
    cJSON *sty = cJSON_AddObjectToObject(data, "style2id");
    for (int i = 0; i < d->n_styles; i++) {
        char nm[32];
        if (i == 0) snprintf(nm, sizeof nm, "Neutral");
        else snprintf(nm, sizeof nm, "Style_%d", i);
        cJSON_AddNumberToObject(sty, nm, i);
    }
    cJSON *m = cJSON_AddObjectToObject(root, "model");
    cJSON_AddBoolToObject(m, "use_spk_conditioned_encoder", 1);
    cJSON_AddBoolToObject(m, "use_noise_scaled_mas", 1);
    cJSON_AddBoolToObject(m, "use_mel_posterior_encoder", 0);
    cJSON_AddBoolToObject(m, "use_duration_discriminator", d->multilingual);
    cJSON_AddNumberToObject(m, "inter_channels", d->inter);
    cJSON_AddNumberToObject(m, "hidden_channels", d->hidden);
    cJSON_AddNumberToObject(m, "filter_channels", d->filter);
    cJSON_AddNumberToObject(m, "n_heads", d->heads);
    cJSON_AddNumberToObject(m, "n_layers", d->layers);
    cJSON_AddNumberToObject(m, "kernel_size", d->kernel);
    cJSON_AddNumberToObject(m, "p_dropout", 0.1);
    char rb[2] = {d->resblock, 0};
    cJSON_AddStringToObject(m, "resblock", rb);
    const int rk[3] = {3, 7, 11}, rates[5] = {8, 8, 2, 2, 2}, kernels[5] = {16, 16, 8, 2, 2};
    cJSON_AddItemToObject(m, "resblock_kernel_sizes", cJSON_CreateIntArray(rk, 3));
    cJSON *dil = cJSON_AddArrayToObject(m, "resblock_dilation_sizes");
    const int d1[3] = {1, 3, 5}, d2[2] = {1, 2};
    for (int i = 0; i < 3; i++)
        cJSON_AddItemToArray(dil, d->resblock == '1' ? cJSON_CreateIntArray(d1, 3) : cJSON_CreateIntArray(d2, 2));
    cJSON_AddItemToObject(m, "upsample_rates", cJSON_CreateIntArray(rates, 5));
    cJSON_AddNumberToObject(m, "upsample_initial_channel", d->ups_initial);
    cJSON_AddItemToObject(m, "upsample_kernel_sizes", cJSON_CreateIntArray(kernels, 5));
    cJSON_AddNumberToObject(m, "n_layers_q", 3);
    cJSON_AddBoolToObject(m, "use_spectral_norm", 0);
    cJSON_AddNumberToObject(m, "gin_channels", d->gin);
    cJSON_AddStringToObject(root, "version", d->multilingual ? "2.7.0" : "2.7.0-JP-Extra");
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return 0;
    FILE *fp = fopen(path, "w");
    int ok = fp && fputs(s, fp) >= 0 && fputc('\n', fp) != EOF;
    if (fp) ok = (fclose(fp) == 0) && ok;
    free(s);
    return ok;
}

static int write_style_vectors(const char *path, const dims *d, uint64_t seed) {
    size_t n = (size_t)d->n_styles * 256;
    float *v = malloc(n * sizeof *v);
    if (!v) return 0;
    sbv2_rng rng;
    sbv2_rng_seed(&rng, seed ^ 0x5151);
    sbv2_rng_normal(&rng, v, n);
    if (d->n_styles > 1) /* row 0 is the mean of the others, as SBV2 computes it */
        for (int k = 0; k < 256; k++) {
            double s = 0;
            for (int i = 1; i < d->n_styles; i++) s += v[(size_t)i * 256 + k];
            v[k] = (float)(s / (d->n_styles - 1));
        }
    int64_t shape[2] = {d->n_styles, 256};
    sbv2_error err;
    int ok = npy_save(path, NPY_F32, 2, shape, v, &err) == SBV2_OK;
    free(v);
    return ok;
}

static const char *k_usage =
    "usage: sbv2 testmodel OUTDIR [--size tiny|full] [--arch jp-extra|multilingual]\n"
    "                      [--resblock 1|2] [--speakers N] [--styles N] [--seed N]\n"
    "                      [--decoder-channels N]\n"
    "  Writes config.json, model.safetensors and style_vectors.npy of a model with\n"
    "  random weights in SBV2's file layout. It makes noise, not speech.\n"
    "  --size tiny   hidden 24, decoder 32 channels (default; a few MB)\n"
    "  --size full   SBV2's default dimensions (hidden 192, decoder 512 channels)\n"
    "  --decoder-channels N   upsample_initial_channel (>= 32; need not divide by 32: SBV2\n"
    "                         sizes each stage with floor division)\n";

int cmd_testmodel(int argc, char **argv) {
    const char *out = NULL;
    dims d = {24, 24, 32, 2, 3, 3, 16, 32, 2, 3, 0, '1'};
    uint64_t seed = 1, v;
    int decoder_ch = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(a, "--size") && val && !strcmp(val, "tiny")) i++;
        else if (!strcmp(a, "--size") && val && !strcmp(val, "full")) {
            d.inter = 192, d.hidden = 192, d.filter = 768, d.heads = 2, d.layers = 6, d.gin = 512, d.ups_initial = 512;
            i++;
        } else if (!strcmp(a, "--arch") && val && (!strcmp(val, "jp-extra") || !strcmp(val, "multilingual"))) {
            d.multilingual = !strcmp(val, "multilingual");
            i++;
        } else if (!strcmp(a, "--resblock") && val && (!strcmp(val, "1") || !strcmp(val, "2"))) {
            d.resblock = val[0];
            i++;
        } else if (!strcmp(a, "--speakers") && val && cli_parse_u64(val, &v) && v >= 1 && v <= 10000) d.n_speakers = (int)v, i++;
        else if (!strcmp(a, "--styles") && val && cli_parse_u64(val, &v) && v >= 1 && v <= 10000) d.n_styles = (int)v, i++;
        else if (!strcmp(a, "--seed") && val && cli_parse_u64(val, &seed)) i++;
        else if (!strcmp(a, "--decoder-channels") && val && cli_parse_u64(val, &v) && v >= 32 && v <= 4096) decoder_ch = (int)v, i++;
        else if (a[0] == '-') {
            fprintf(stderr, "sbv2 testmodel: bad or incomplete option %s\n%s", a, k_usage);
            return 2;
        } else if (!out) out = a;
        else { fprintf(stderr, "sbv2 testmodel: unexpected argument %s\n", a); return 2; }
    }
    if (!out) { fputs(k_usage, stderr); return 2; }
    if (decoder_ch) d.ups_initial = decoder_ch;
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "sbv2 testmodel: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    char p[4200];
    spec_list l = {0};
    build_specs(&l, &d);
    int ok = !l.oom;
    snprintf(p, sizeof p, "%s/model.safetensors", out);
    ok = ok && write_safetensors(p, &l, seed);
    snprintf(p, sizeof p, "%s/config.json", out);
    ok = ok && write_config(p, &d);
    snprintf(p, sizeof p, "%s/style_vectors.npy", out);
    ok = ok && write_style_vectors(p, &d, seed);
    free(l.t);
    if (!ok) {
        fprintf(stderr, "sbv2 testmodel: cannot write the model into %s\n", out);
        return 1;
    }
    fprintf(stderr, "sbv2 testmodel: wrote a random %s model (%s dimensions) to %s\n",
            d.multilingual ? "multilingual" : "JP-Extra", d.hidden == 192 ? "full" : "tiny", out);
    return 0;
}
