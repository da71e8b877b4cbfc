/* SBV2's g2p() after Open JTalk: from the NJD word list to phones, tones and
 * word2ph (style_bert_vits2/nlp/japanese/g2p.py). */
#ifndef SBV2_JP_G2P_H
#define SBV2_JP_G2P_H

#include <stddef.h>

#include "common.h"
#include "text/njd.h"

typedef struct jp_g2p_out {
    size_t n_phones;
    const char **phones; /* static strings, "_" at both ends */
    int *tones;          /* 0/1 per phone */
    size_t n_word2ph;
    int *word2ph;        /* per BERT character, 1 for each "_" */
    char *bert_text;     /* "".join(sep_text) */
    size_t n_prosody;
    const char **prosody; /* __pyopenjtalk_g2p_prosody() symbols (for tests) */
} jp_g2p_out;

/* Errors (SBV2_ERR_INVALID_ARGUMENT, message says which): readings that are
 * not katakana, tone/phone misalignment, a leading ー after an empty word —
 * the cases where SBV2's g2p() raises. */
int jp_g2p_from_njd(const njd_list *njd, jp_g2p_out *out, sbv2_error *err);
void jp_g2p_out_free(jp_g2p_out *o);

/* cleaned_text_to_sequence() + intersperse (add_blank): phone_ids, tone_ids,
 * lang_ids get 2*n_phones+1 entries (blanks 0), w2p_blank n_word2ph
 * (2*w, +1 on the first). use_jp_extra = 0 reads N as n (older models).
 * A phone outside SBV2's symbol table (kw, gw) is an error, as in SBV2. */
int jp_g2p_ids(const jp_g2p_out *o, int use_jp_extra, int *phone_ids, int *tone_ids, int *lang_ids, int *w2p_blank,
               sbv2_error *err);

#endif
