/* vocab.txt and the tokenizer. First byte odd: the rest is a vocab.txt
 * (bert_tokenizer_parse), which then tokenises a fixed mixed text; even: the
 * rest is text for the golden tiny BERT's vocabulary. */
#include <stdio.h>
#include <stdlib.h>

#include "bert/tokenizer.h"
#include "fuzz_common.h"

static bert_tokenizer *golden;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    sbv2_error err = {0};
    if (bert_tokenizer_load(&golden, SBV2_GOLDEN_DIR "/bert/tiny/vocab.txt", &err) != 0) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.message);
        exit(1);
    }
    return 0;
}

static void run(const bert_tokenizer *t, const char *text, size_t len) {
    int64_t *ids = NULL;
    size_t n = 0;
    sbv2_error err = {0};
    if (bert_tokenize(t, text, len, &ids, &n, &err) == 0)
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= bert_tokenizer_vocab_size(t)) abort(); /* an id outside the vocabulary */
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    if (data[0] & 1) {
        bert_tokenizer *t = NULL;
        sbv2_error err = {0};
        if (bert_tokenizer_parse(&t, (const char *)data + 1, size - 1, "fuzz", &err) == 0) {
            static const char text[] = "今日は、ＡＢＣ abc 123！？ \t\xe3\x80\x80ｶﾀｶﾅ😀";
            run(t, text, sizeof text - 1);
        }
        bert_tokenizer_free(t);
    } else {
        run(golden, (const char *)data + 1, size - 1);
    }
    return 0;
}
