/* Open JTalk's NJD processing as pyopenjtalk.run_frontend() runs it, on a
 * word list whose unset fields are NULL (Open JTalk prints them as "*"). */
#ifndef SBV2_NJD_RULES_H
#define SBV2_NJD_RULES_H

#include "text/njd.h"

#define NJD_N_KANA 369
typedef struct njd_kana {
    const char *kana, *read;
    int morae;
} njd_kana;
extern const njd_kana njd_kana_list[NJD_N_KANA];

/* A MeCab result line "surface,pos,...,acc/mora,chain_rule[,chain_flag]"
 * appended as one word (or several, for the dictionary's chained entries). */
int njd_push_mecab(njd_list *l, const char *line);
/* NJDNode_load of a one-word feature line into an existing word (fields it
 * names replaced; the chain flag kept unless the line has one). */
void njd_load_word(njd_word *w, const char *line);
/* Sets a field (NULL or "" = unset). */
void njd_set_field(char **f, const char *s);
void njd_word_free(njd_word *w);

/* njd_set_pronunciation, njd_set_digit, njd_set_accent_phrase,
 * njd_set_accent_type (the long-vowel step is a no-op in Open JTalk 1.11; the
 * unvoiced-vowel marks are not made: SBV2 reads them as voiced). */
int njd_apply_rules(njd_list *l);
/* NULL fields -> "*" (what run_frontend returns). */
int njd_finish(njd_list *l);

#endif
