/* Small UTF-8 helpers for the text frontend. */
#ifndef SBV2_UTF8_H
#define SBV2_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes one code point at s[0..n); returns its length in bytes, or 0 for
 * invalid UTF-8 (overlong, surrogate, > U+10FFFF, truncated). */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Encodes cp into out (4 bytes room); returns the length. */
size_t utf8_encode(uint32_t cp, char *out);
/* Number of code points of a valid NUL-terminated string. */
size_t utf8_count(const char *s);

/* Growable byte buffer (NUL-terminated while ok). */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;
void sb_add(sbuf *b, const char *s, size_t n);
void sb_adds(sbuf *b, const char *s);
void sb_addcp(sbuf *b, uint32_t cp);

#endif
