/* What the text-to-speech pipeline needs from the frontend beyond the public
 * API (frontend.c). */
#ifndef SBV2_TEXT_FRONTEND_H
#define SBV2_TEXT_FRONTEND_H

#include "common.h"

/* "".join(text_to_sep_kata(text)[0]) on text as given (not normalised), as
 * SBV2's extract_bert_feature prepares the assist text: Open JTalk's word
 * surfaces through replace_punctuation. *out: malloc'd. */
int sbv2_frontend_sep_text(const sbv2_frontend *fe, const char *text, size_t len, char **out, sbv2_error *err);

/* Checks a user dictionary CSV (len bytes) row by row before MeCab's
 * compiler sees it; name only names it in errors. */
int sbv2_user_csv_check(const char *text, size_t len, const char *name, sbv2_error *err);

#endif
