/* SBV2's adjust_word2ph() (nlp/japanese/g2p.py): re-spreads word2ph over the
 * text's characters when given_phone has another length than the phones g2p
 * made, changing only the characters where the two phone lists differ. */
#ifndef SBV2_JP_ADJUST_H
#define SBV2_JP_ADJUST_H

#include <stddef.h>

#include "common.h"

/* word2ph[n_w2p] and both phone lists carry SBV2's boundary entries ("_" and
 * the 1s), which are set aside as SBV2 does. out gets n_w2p entries. Fails
 * (SBV2_ERR_INVALID_ARGUMENT) where SBV2's own assertion fails; the caller
 * still checks that out sums to n_given, as SBV2's caller does. */
int jp_adjust_word2ph(const int *word2ph, size_t n_w2p, const char *const *generated, size_t n_gen,
                      const char *const *given, size_t n_given, int *out, sbv2_error *err);

#endif
