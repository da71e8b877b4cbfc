/* The Japanese frontend on arbitrary bytes: normalize_text, MeCab with Open
 * JTalk's dictionary, the NJD rules and SBV2's g2p (sbv2_g2p, both symbol
 * tables), and the assist text's text_to_sep_kata. First byte: flags. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "sbv2.h"
#include "text/frontend.h"

static sbv2_frontend *fe;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sbv2_error err = {0};
    sbv2_frontend_options o = sbv2_frontend_default_options();
    if (!(fe = sbv2_frontend_new(&o, &err))) {
        fprintf(stderr, "fuzz_frontend: %s\n", err.message);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size || size > 4096) return 0; /* long texts only take longer, and SBV2 splits them */
    const int flags = data[0];
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    sbv2_error err = {0};
    sbv2_g2p_result *r = NULL;
    if (sbv2_g2p(fe, text, len, flags & 1, &r, &err) == 0) {
        if (r->n_ids != 2 * r->n_phones + 1) abort();
        size_t sum = 0;
        for (size_t i = 0; i < r->n_word2ph; i++) sum += (size_t)r->word2ph[i];
        if (sum != r->n_phones) abort(); /* word2ph covers the phones exactly */
    }
    sbv2_g2p_result_free(r);
    if (flags & 2) {
        char *sep = NULL;
        (void)sbv2_frontend_sep_text(fe, text, len, &sep, &err);
        free(sep);
    }
    return 0;
}
