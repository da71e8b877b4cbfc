/* Random-weight DeBERTa-v2 model folders (config.json, vocab.txt, fp16
 * model.safetensors) of any size, for the BERT benchmark and the tests that
 * check the native forward pass against ONNX Runtime on odd sizes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/rng.h"
#include "cli.h"

const bert_dims BERT_REAL_DIMS = {1024, 16, 64, 24, 4096, 22012, 256, -1, 3};

static uint16_t to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000;
    int e = (int)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffff;
    if (e <= 0) return (uint16_t)sign; /* tiny: zero */
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    return (uint16_t)(sign | (uint32_t)e << 10 | (m + 0x1000) >> 13);
}

typedef struct { char name[160]; int ndim; int64_t shape[3]; int kind; } wdesc; /* kind 0 random, 1 ones, 2 zeros */

int bert_write_test_model(const char *dir, const bert_dims *d, uint64_t seed) {
    const int H = d->hidden, L = d->layers, I = d->intermediate, V = d->vocab, K = d->conv_kernel;
    const int P2 = 2 * (d->buckets > 0 ? d->buckets : d->max_relative);
    if (H < 1 || L < 3 || I < 1 || V < 6 || K < 1 || P2 < 2 || d->heads < 1 || d->head_size < 1) return -1;
    char p[4200];
    mkdir(dir, 0755);
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fprintf(f, "{\"architectures\": [\"DebertaV2ForMaskedLM\"], \"attention_head_size\": %d, \"conv_act\": \"gelu\",\n"
               " \"conv_kernel_size\": %d, \"hidden_act\": \"gelu\", \"hidden_size\": %d, \"intermediate_size\": %d,\n"
               " \"layer_norm_eps\": 1e-07, \"max_position_embeddings\": 512, \"max_relative_positions\": %d,\n"
               " \"model_type\": \"deberta-v2\", \"norm_rel_ebd\": \"layer_norm\", \"num_attention_heads\": %d,\n"
               " \"num_hidden_layers\": %d, \"pad_token_id\": 0, \"pos_att_type\": [\"p2c\", \"c2p\"],\n"
               " \"position_biased_input\": false, \"position_buckets\": %d, \"relative_attention\": true,\n"
               " \"share_att_key\": true, \"torch_dtype\": \"float16\", \"type_vocab_size\": 0, \"vocab_size\": %d}\n",
            d->head_size, K, H, I, d->max_relative, d->heads, L, d->buckets, V);
    fclose(f);
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    f = fopen(p, "w");
    if (!f) return -1;
    fprintf(f, "[PAD]\n[CLS]\n[SEP]\n[UNK]\n[MASK]\n");
    /* the characters SBV2's BERT texts are made of: the punctuation g2p keeps,
       kana, then kanji from U+4E00 (as many as the vocabulary holds) */
    for (int k = 0, c = 0; k < V - 5; k++) {
        static const char punct[] = ".,!?'-";
        if (k < 6) { fprintf(f, "%c\n", punct[k]); continue; }
        if (k == 6) { fprintf(f, "\xe2\x80\xa6\n"); continue; } /* … */
        const int j = k - 7; /* hiragana U+3041..3096, katakana U+30A1..30FA, U+30FC */
        c = j < 86 ? 0x3041 + j : j < 176 ? 0x30a1 + (j - 86) : j == 176 ? 0x30fc : 0x4e00 + (j - 177);
        fprintf(f, "%c%c%c\n", 0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    }
    fclose(f);
    /* tensor list */
    wdesc *w = calloc(16 * L + 16, sizeof *w);
    int n = 0;
#define ADD(K, ND, A, B, C, ...) do { snprintf(w[n].name, sizeof w[n].name, __VA_ARGS__); w[n].ndim = ND; w[n].shape[0] = A; w[n].shape[1] = B; w[n].shape[2] = C; w[n].kind = K; n++; } while (0)
    ADD(0, 2, V, H, 0, "deberta.embeddings.word_embeddings.weight");
    ADD(1, 1, H, 0, 0, "deberta.embeddings.LayerNorm.weight");
    ADD(2, 1, H, 0, 0, "deberta.embeddings.LayerNorm.bias");
    ADD(0, 2, P2, H, 0, "deberta.encoder.rel_embeddings.weight");
    ADD(1, 1, H, 0, 0, "deberta.encoder.LayerNorm.weight");
    ADD(2, 1, H, 0, 0, "deberta.encoder.LayerNorm.bias");
    ADD(0, 3, H, H, K, "deberta.encoder.conv.conv.weight");
    ADD(0, 1, H, 0, 0, "deberta.encoder.conv.conv.bias");
    ADD(1, 1, H, 0, 0, "deberta.encoder.conv.LayerNorm.weight");
    ADD(2, 1, H, 0, 0, "deberta.encoder.conv.LayerNorm.bias");
    for (int l = 0; l < L; l++) {
        const char *lin[6] = {"attention.self.query_proj", "attention.self.key_proj", "attention.self.value_proj",
                              "attention.output.dense", "intermediate.dense", "output.dense"};
        const int HD = d->heads * d->head_size;
        const int outd[6] = {HD, HD, HD, H, I, H}, ind[6] = {H, H, H, HD, H, I};
        for (int k = 0; k < 6; k++) {
            ADD(0, 2, outd[k], ind[k], 0, "deberta.encoder.layer.%d.%s.weight", l, lin[k]);
            ADD(0, 1, outd[k], 0, 0, "deberta.encoder.layer.%d.%s.bias", l, lin[k]);
        }
        ADD(1, 1, H, 0, 0, "deberta.encoder.layer.%d.attention.output.LayerNorm.weight", l);
        ADD(2, 1, H, 0, 0, "deberta.encoder.layer.%d.attention.output.LayerNorm.bias", l);
        ADD(1, 1, H, 0, 0, "deberta.encoder.layer.%d.output.LayerNorm.weight", l);
        ADD(2, 1, H, 0, 0, "deberta.encoder.layer.%d.output.LayerNorm.bias", l);
    }
#undef ADD
    /* safetensors header */
    size_t hcap = (size_t)n * 256 + 64, hl = 0, off = 0;
    char *hdr = malloc(hcap);
    if (!hdr) { free(w); return -1; }
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "{");
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < w[i].ndim; d++) numel *= (size_t)w[i].shape[d];
        hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s\"%s\":{\"dtype\":\"F16\",\"shape\":[", i ? "," : "", w[i].name);
        for (int d = 0; d < w[i].ndim; d++) hl += (size_t)snprintf(hdr + hl, hcap - hl, "%s%lld", d ? "," : "", (long long)w[i].shape[d]);
        hl += (size_t)snprintf(hdr + hl, hcap - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + 2 * numel);
        off += 2 * numel;
    }
    hl += (size_t)snprintf(hdr + hl, hcap - hl, "}");
    while (hl % 8) hdr[hl++] = ' ';
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    f = fopen(p, "wb");
    int rc = f ? 0 : -1;
    uint64_t hl64 = hl;
    if (f) fwrite(&hl64, 8, 1, f), fwrite(hdr, 1, hl, f);
    sbv2_rng rng;
    sbv2_rng_seed(&rng, seed);
    float *buf = malloc(sizeof(float) * (1 << 20));
    uint16_t *hb = malloc(sizeof(uint16_t) * (1 << 20));
    for (int i = 0; f && buf && hb && i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < w[i].ndim; d++) numel *= (size_t)w[i].shape[d];
        for (size_t done = 0; done < numel;) {
            size_t c = numel - done < (1 << 20) ? numel - done : (1 << 20);
            if (w[i].kind == 0) sbv2_rng_normal(&rng, buf, c);
            for (size_t k = 0; k < c; k++) hb[k] = to_half(w[i].kind == 0 ? buf[k] * 0.02f : w[i].kind == 1 ? 1.0f : 0.0f);
            if (fwrite(hb, 2, c, f) != c) rc = -1;
            done += c;
        }
    }
    if (f && fclose(f) != 0) rc = -1;
    free(buf), free(hb), free(hdr), free(w);
    return rc;
}


static const char k_usage[] =
    "usage: sbv2 testmodel-bert OUTDIR [--size tiny|full] [--hidden N] [--heads N] [--head-size N] [--layers N]\n"
    "         [--intermediate N] [--vocab N] [--buckets N] [--max-relative N] [--conv-kernel N] [--seed N]\n"
    "  Writes a random-weight DeBERTa-v2 folder (config.json, vocab.txt: punctuation, kana, then kanji from U+4E00,\n"
    "  fp16 model.safetensors). Defaults: a tiny model (64 wide, 4 heads of 16, 5 layers, log buckets 16\n"
    "  up to 64, intermediate 128, vocab 300, 3-tap ConvLayer). --size full: the real dimensions of\n"
    "  ku-nlp/deberta-v2-large-japanese-char-wwm (1024 wide, 24 layers; ~700 MB); options after it\n"
    "  change single sizes.\n";

int cmd_testmodel_bert(int argc, char **argv) {
    bert_dims d = {64, 4, 16, 5, 128, 300, 16, 64, 3};
    struct { const char *name; int *dst; } ints[] = {
        {"--hidden", &d.hidden},   {"--heads", &d.heads},         {"--head-size", &d.head_size},
        {"--layers", &d.layers},   {"--intermediate", &d.intermediate}, {"--vocab", &d.vocab},
        {"--buckets", &d.buckets}, {"--max-relative", &d.max_relative}, {"--conv-kernel", &d.conv_kernel}};
    const char *out = NULL;
    uint64_t seed = 1, v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        size_t k = 0;
        while (k < sizeof ints / sizeof ints[0] && strcmp(a, ints[k].name)) k++;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(a, "--size") && val && (!strcmp(val, "full") || !strcmp(val, "tiny"))) {
            if (!strcmp(val, "full")) d = BERT_REAL_DIMS;
            i++;
        } else if (k < sizeof ints / sizeof ints[0] && val && cli_parse_u64(val, &v) && v <= 1000000) *ints[k].dst = (int)v, i++;
        else if (!strcmp(a, "--seed") && val && cli_parse_u64(val, &seed)) i++;
        else if (a[0] == '-') {
            fprintf(stderr, "sbv2 testmodel-bert: bad or incomplete option %s\n%s", a, k_usage);
            return 2;
        } else if (!out) out = a;
        else { fprintf(stderr, "sbv2 testmodel-bert: unexpected argument %s\n", a); return 2; }
    }
    if (!out) { fputs(k_usage, stderr); return 2; }
    if (d.conv_kernel % 2 == 0 || d.layers < 3 || d.vocab < 6 || d.vocab > 40000 || d.hidden < 1 || d.heads < 1 || d.head_size < 1 ||
        d.intermediate < 1 || (d.buckets < 1 && d.max_relative < 1)) {
        fprintf(stderr, "sbv2 testmodel-bert: need an odd --conv-kernel, --layers >= 3, --vocab 6..40000, sizes >= 1, "
                        "and --buckets or --max-relative\n");
        return 2;
    }
    if (bert_write_test_model(out, &d, seed) != 0) {
        fprintf(stderr, "sbv2 testmodel-bert: cannot write %s\n", out);
        return 1;
    }
    printf("%s: DeBERTa-v2, hidden %d, %d heads of %d, %d layers, intermediate %d, vocab %d\n", out, d.hidden, d.heads,
           d.head_size, d.layers, d.intermediate, d.vocab);
    return 0;
}
