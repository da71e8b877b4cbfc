/* SBV2's Japanese text normalisation (style_bert_vits2/nlp/japanese/normalizer.py). */
#ifndef SBV2_NORMALIZE_H
#define SBV2_NORMALIZE_H

#include <stddef.h>

#include "common.h"

/* normalize_text(): NFKC, numbers spelled as num2words(lang="ja") spells
 * them, currency symbols, ~ as ー, the punctuation map, every other
 * character outside kana/kanji/Latin/Greek/punctuation dropped, combining
 * (han)dakuten dropped. *out: malloc'd UTF-8. Errors: invalid UTF-8
 * (SBV2_ERR_INVALID_ARGUMENT), a number of 51 or more integer digits
 * (num2words' OverflowError, SBV2_ERR_INVALID_ARGUMENT). */
int jp_normalize_text(const char *text, size_t len, char **out, sbv2_error *err);
/* replace_punctuation(): the punctuation map and the character filter. */
int jp_replace_punctuation(const char *text, size_t len, char **out, sbv2_error *err);
/* num2words(digits[.digits], lang="ja"); 0 or -1 (too big). */
int jp_num2words(const char *num, size_t len, char **out);

#endif
