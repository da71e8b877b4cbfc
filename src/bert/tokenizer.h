/* The tokenizer SBV2 really gets for ku-nlp/deberta-v2-large-japanese-char-wwm:
 * transformers' BertJapaneseTokenizer (basic word split, one token per
 * character after NFKC), not tokenizer.json. */
#ifndef SBV2_BERT_TOKENIZER_H
#define SBV2_BERT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct bert_tokenizer bert_tokenizer; /* immutable, shareable */

/* vocab.txt: one token per LF-terminated line, line i = id i. */
int bert_tokenizer_load(bert_tokenizer **out, const char *vocab_path, sbv2_error *err);
/* The same from a vocab.txt image held by the caller (copied); name only
 * names it in errors. */
int bert_tokenizer_parse(bert_tokenizer **out, const char *data, size_t len, const char *name, sbv2_error *err);
void bert_tokenizer_free(bert_tokenizer *t);
size_t bert_tokenizer_vocab_size(const bert_tokenizer *t);
/* [CLS] tokens [SEP] as ids (malloc'd, free()); invalid UTF-8 is an error. */
int bert_tokenize(const bert_tokenizer *t, const char *text, size_t len, int64_t **ids, size_t *n_ids, sbv2_error *err);

#endif
