/* The BERT feature step (sbv2_bert_feature) on the golden tiny DeBERTa with
 * an arbitrary word2ph: mostly as long as the token list (so the checks past
 * the length are reached), sometimes any length; values small or raw; an
 * assist text with its weight now and then. Texts are short: each input runs
 * the model. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "sbv2.h"

static sbv2_bert *bert;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sbv2_error err = {0};
    if (!(bert = sbv2_bert_load(SBV2_GOLDEN_DIR "/bert/tiny", NULL, &err))) {
        fprintf(stderr, "fuzz_bert_feature: %s\n", err.message);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = {data, size};
    const int flags = fz_u8(&in);
    char text[65], assist[33];
    fz_str(&in, text, 64);
    if (flags & 4) fz_str(&in, assist, 32);
    else assist[0] = '\0';
    const float weight = (float)fz_f64(&in);
    size_t n = fz_u8(&in) % 80;
    if (!(flags & 1)) { /* the token count, as g2p would give it */
        int64_t *ids = NULL;
        sbv2_error err = {0};
        if (sbv2_bert_tokenize(bert, text, strlen(text), &ids, &n, &err) != 0) n = 0;
        sbv2_free(ids);
    }
    int *w2p = malloc(sizeof(int) * (n ? n : 1));
    if (!w2p) return 0;
    for (size_t i = 0; i < n; i++) w2p[i] = flags & 2 ? (int)fz_u32(&in) : fz_u8(&in) % 6;
    float *feat = NULL;
    size_t np = 0;
    sbv2_error err = {0};
    if (sbv2_bert_feature(bert, text, strlen(text), w2p, n, assist, weight, 1, &feat, &np, &err) == 0) {
        size_t sum = 0;
        for (size_t i = 0; i < n; i++) sum += (size_t)w2p[i];
        if (np != sum) abort(); /* one column per phone */
    }
    sbv2_free(feat);
    free(w2p);
    return 0;
}
