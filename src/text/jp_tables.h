/* Symbol and mora tables of the Japanese frontend (see jp_tables.c). */
#ifndef SBV2_JP_TABLES_H
#define SBV2_JP_TABLES_H

#include <stddef.h>

#define JP_N_SYMBOLS 112
#define JP_N_MORAS 162
#define JP_TONE_START 6 /* LANGUAGE_TONE_START_MAP["JP"] */
#define JP_LANG_ID 1    /* LANGUAGE_ID_MAP["JP"] */

typedef struct jp_mora {
    const char *kata;      /* UTF-8 katakana, 1 or 2 characters */
    const char *consonant; /* NULL for a bare vowel, ン, ッ */
    const char *vowel;
} jp_mora;

extern const char *const jp_symbols[JP_N_SYMBOLS];
extern const jp_mora jp_moras[JP_N_MORAS];

/* Index of phone `ph` in the symbol table, or -1. */
int jp_symbol_id(const char *ph);
/* The longest mora that s starts with (NULL if none); *len gets its bytes. */
const jp_mora *jp_mora_prefix(const char *s, size_t *len);
/* Interned copy of a phone spelled in the tables ("q", "cl", punctuation...),
 * so phone lists can hold plain pointers; NULL for an unknown string. */
const char *jp_phone_intern(const char *s, size_t len);

#endif
