/* SBV2's normalize_text() and replace_punctuation() (normalizer.py), and the
 * one num2words call it makes (num2words(<digits[.digits]>, lang="ja")). */
#include "text/normalize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/utf8.h"

/* __REPLACE_MAP, in its order (the regex alternation tries keys in this
 * order, so the three-character runs come before their single characters) */
static const char *const k_replace[][2] = {
    {"：", ","}, {"；", ","}, {"，", ","}, {"。", "."}, {"！", "!"}, {"？", "?"}, {"\n", "."}, {"．", "."},
    {"…", "..."}, {"···", "..."}, {"・・・", "..."}, {"·", ","}, {"・", ","}, {"、", ","}, {"$", "."},
    {"“", "'"}, {"”", "'"}, {"\"", "'"}, {"‘", "'"}, {"’", "'"}, {"（", "'"}, {"）", "'"}, {"(", "'"},
    {")", "'"}, {"《", "'"}, {"》", "'"}, {"【", "'"}, {"】", "'"}, {"[", "'"}, {"]", "'"},
    {"\xcb\x97", "-"}, {"\xe2\x80\x90", "-"}, {"\xe2\x80\x92", "-"}, {"\xe2\x80\x93", "-"}, {"\xe2\x80\x94", "-"},
    {"\xe2\x80\x95", "-"}, {"\xe2\x81\x83", "-"}, {"\xe2\x88\x92", "-"}, {"\xe2\x8e\xaf", "-"}, {"\xe2\x8f\xa4", "-"},
    {"\xe2\x94\x80", "-"}, {"\xe2\x94\x81", "-"}, {"\xe2\xb8\xba", "-"}, {"\xe2\xb8\xbb", "-"}, {"「", "'"}, {"」", "'"},
};

/* characters __PUNCTUATION_CLEANUP_PATTERN keeps */
static int kept(uint32_t c) {
    return (c >= 0x3040 && c <= 0x309f) || (c >= 0x30a0 && c <= 0x30ff) || (c >= 0x4e00 && c <= 0x9fff) ||
           (c >= 0x3400 && c <= 0x4dbf) || c == 0x3005 || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= 0xff21 && c <= 0xff3a) || (c >= 0xff41 && c <= 0xff5a) || (c >= 0x370 && c <= 0x3ff) ||
           (c >= 0x1f00 && c <= 0x1fff) || c == '!' || c == '?' || c == 0x2026 || c == ',' || c == '.' || c == '\'' ||
           c == '-';
}

static int bad_utf8(sbv2_error *err) { return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "text is not valid UTF-8"); }

int jp_replace_punctuation(const char *text, size_t len, char **out, sbv2_error *err) {
    *out = NULL;
    sbuf b = {0};
    sb_add(&b, "", 0);
    for (size_t i = 0; i < len;) {
        size_t k, n = 0;
        for (k = 0; k < sizeof k_replace / sizeof k_replace[0]; k++) {
            n = strlen(k_replace[k][0]);
            if (n <= len - i && !memcmp(text + i, k_replace[k][0], n)) break;
        }
        if (k < sizeof k_replace / sizeof k_replace[0]) {
            sb_adds(&b, k_replace[k][1]); /* replacements are all kept characters */
            i += n;
            continue;
        }
        uint32_t c;
        size_t l = utf8_decode(text + i, len - i, &c);
        if (!l) { free(b.p); return bad_utf8(err); }
        if (kept(c)) sb_add(&b, text + i, l);
        i += l;
    }
    if (b.oom) { free(b.p); return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); }
    *out = b.p;
    return SBV2_OK;
}

/* ---- num2words(lang="ja") ------------------------------------------------- */

static const char *const k_digit[10] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
static const char *const k_myriad[13] = {"", "万", "億", "兆", "京", "垓", "秭", "穣", "溝", "澗", "正", "載", "極"};

static const char *const k_unit3[3] = {"千", "百", "十"};

/* Python's Decimal keeps 28 significant digits (half-even): num2words'
 * divmod remainders of longer numbers get rounded, and it reads the rounded
 * value (999...9 with 51 digits reads 九百九十九極一極). d[0..n) -> rounded
 * digits in out (no leading zeros), returns their count. */
static size_t decimal_round28(const char *d, size_t n, char *out) {
    while (n > 1 && *d == '0') d++, n--;
    memcpy(out, d, n);
    if (n <= 28) return n;
    /* keep 28 digits, round the rest half to even, pad with zeros */
    int up;
    const int first = d[28] - '0';
    int rest_nonzero = 0;
    for (size_t i = 29; i < n; i++) rest_nonzero |= d[i] != '0';
    if (first > 5 || (first == 5 && rest_nonzero)) up = 1;
    else if (first == 5) up = (d[27] - '0') % 2;
    else up = 0;
    for (size_t i = 28; i < n; i++) out[i] = '0';
    for (long i = 27; up && i >= 0; i--) {
        if (out[i] == '9') out[i] = '0';
        else out[i]++, up = 0;
    }
    if (up) { /* carried out of the top: 10^n */
        memmove(out + 1, out, n);
        out[0] = '1';
        n++;
    }
    return n;
}

/* num2words' splitnum + merge for a non-negative integer of digits d[0..n),
 * n <= 51 (leading zeros allowed). */
static void int_words_rec(const char *d, size_t n, sbuf *b) {
    while (n > 1 && *d == '0') d++, n--;
    if (n == 1) { /* a digit card; 0 reads 零 */
        sb_adds(b, k_digit[d[0] - '0']);
        return;
    }
    if (n <= 4) { /* 千 百 十 cards: 一 before them is dropped */
        const int q = d[0] - '0';
        if (q > 1) sb_adds(b, k_digit[q]);
        sb_adds(b, k_unit3[4 - n]);
        size_t r = 1;
        while (r < n && d[r] == '0') r++;
        if (r < n) int_words_rec(d + r, n - r, b);
        return;
    }
    /* the largest myriad card 10^(4k) <= value: quotient then remainder */
    const size_t k = (n - 1) / 4, qn = n - 4 * k;
    if (qn == 1 && d[0] == '1') sb_adds(b, k_digit[1]); /* 一万, 一億, ... keep their 一 */
    else int_words_rec(d, qn, b);
    sb_adds(b, k_myriad[k]);
    size_t r = qn;
    while (r < n && d[r] == '0') r++;
    if (r < n) {
        char tmp[64];
        const size_t rn = decimal_round28(d + r, n - r, tmp);
        int_words_rec(tmp, rn, b);
    }
}

/* A non-negative integer given as decimal digits; -1 if >= 10^51 (MAXVAL). */
static int int_words(const char *d, size_t n, sbuf *b) {
    while (n > 1 && *d == '0') d++, n--;
    if (n > 51) return -1;
    int_words_rec(d, n, b);
    return 0;
}

/* Python's str(float): the shortest repr that reads back the same double. */
static void py_float_repr(double v, char *buf, size_t cap) {
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v) return;
    }
}

int jp_num2words(const char *num, size_t len, char **out) {
    *out = NULL;
    sbuf b = {0};
    const char *dot = memchr(num, '.', len);
    int frac_zero = 1;
    for (const char *p = dot ? dot + 1 : num + len; p < num + len; p++) frac_zero &= *p == '0';
    if (!dot || frac_zero) {
        /* Decimal equal to an int: the integer path */
        if (int_words(num, dot ? (size_t)(dot - num) : len, &b)) { free(b.p); return -1; }
    } else {
        /* to_cardinal_float(): through a double, as num2words does */
        char tmp[512];
        if (len >= sizeof tmp) { free(b.p); return -1; }
        memcpy(tmp, num, len);
        tmp[len] = '\0';
        const double v = strtod(tmp, NULL);
        if (!isfinite(v)) { free(b.p); return -1; }
        const double pre = trunc(v);
        char pd[400], rep[64];
        snprintf(pd, sizeof pd, "%.0f", pre);
        if (int_words(pd, strlen(pd), &b)) { free(b.p); return -1; }
        /* precision = decimal places of str(v) (its exponent as a Decimal) */
        py_float_repr(v, rep, sizeof rep);
        int prec = 0;
        const char *e = strpbrk(rep, "eE"), *pt = strchr(rep, '.');
        int frac_digits = pt ? (int)((e ? e : rep + strlen(rep)) - pt - 1) : 0;
        prec = frac_digits - (e ? atoi(e + 1) : 0);
        if (prec < 0) prec = 0;
        double post = fabs(v - pre) * pow(10.0, prec);
        double r = nearbyint(post); /* Python round(): half to even */
        long long pi = fabs(r - post) < 0.01 ? (long long)r : (long long)floor(post);
        char ps[64];
        snprintf(ps, sizeof ps, "%lld", pi);
        int plen = (int)strlen(ps);
        if (prec > 0) sb_adds(&b, "点");
        for (int i = 0; i < prec; i++) {
            int dgt = i < prec - plen ? 0 : ps[i - (prec - plen)] - '0';
            if (i - (prec - plen) >= plen) dgt = 0;
            sb_adds(&b, k_digit[dgt]);
        }
    }
    if (b.oom) { free(b.p); return -1; }
    *out = b.p;
    return 0;
}

/* ---- normalize_text ------------------------------------------------------- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* __NUMBER_WITH_SEPARATOR_PATTERN: [0-9]{1,3}(,[0-9]{3})+ -> commas removed.
 * Returns the length of the match at s (0: none). */
static size_t sep_number(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && i < 3 && is_digit(s[i])) i++;
    if (i == 0) return 0;
    size_t end = 0, j = i;
    while (j + 4 <= n && s[j] == ',' && is_digit(s[j + 1]) && is_digit(s[j + 2]) && is_digit(s[j + 3])) {
        j += 4;
        end = j;
    }
    return end;
}

static const char *currency_word(const char *s, size_t *l) {
    static const char *const cur[][2] = {{"$", "ドル"}, {"¥", "円"}, {"£", "ポンド"}, {"€", "ユーロ"}};
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(cur[i][0]);
        if (!strncmp(s, cur[i][0], n)) {
            *l = n;
            return cur[i][1];
        }
    }
    return NULL;
}

int jp_normalize_text(const char *text, size_t len, char **out, sbv2_error *err) {
    *out = NULL;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t l = utf8_decode(text + i, len - i, &c);
        if (!l || c == 0) return l ? sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "text contains a NUL character") : bad_utf8(err);
        i += l;
    }
    /* NFKC (utf8proc wants NUL-terminated input) */
    char *z = malloc(len + 1);
    if (!z) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    memcpy(z, text, len);
    z[len] = '\0';
    char *nf = (char *)utf8proc_NFKC((const utf8proc_uint8_t *)z);
    free(z);
    if (!nf) return sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory (NFKC)");
    /* 1. separators out of numbers */
    sbuf a = {0};
    sb_add(&a, "", 0);
    for (size_t i = 0, n = strlen(nf); i < n;) {
        /* the regex is tried at every position a previous match did not consume */
        size_t m = sep_number(nf + i, n - i);
        if (m) {
            for (size_t k = 0; k < m; k++)
                if (nf[i + k] != ',') sb_add(&a, nf + i + k, 1);
            i += m;
        } else {
            sb_add(&a, nf + i, 1), i++;
        }
    }
    free(nf);
    /* 2. currency: ([$¥£€])([0-9.]*[0-9]) -> number + word */
    sbuf b2 = {0};
    sb_add(&b2, "", 0);
    for (size_t i = 0; a.p && i < a.n;) {
        size_t cl;
        const char *w = currency_word(a.p + i, &cl);
        if (w) {
            size_t j = i + cl, last = 0;
            while (j < a.n && (is_digit(a.p[j]) || a.p[j] == '.')) {
                if (is_digit(a.p[j])) last = j + 1;
                j++;
            }
            if (last) {
                sb_add(&b2, a.p + i + cl, last - (i + cl));
                sb_adds(&b2, w);
                i = last;
                continue;
            }
        }
        sb_add(&b2, a.p + i, 1), i++;
    }
    free(a.p);
    /* 3. numbers: [0-9]+(\.[0-9]+)? -> num2words; 4. ~ ～ 〜 -> ー */
    sbuf c3 = {0};
    sb_add(&c3, "", 0);
    int rc = SBV2_OK;
    for (size_t i = 0; b2.p && i < b2.n;) {
        if (is_digit(b2.p[i])) {
            size_t j = i;
            while (j < b2.n && is_digit(b2.p[j])) j++;
            if (j + 1 < b2.n && b2.p[j] == '.' && is_digit(b2.p[j + 1])) {
                j++;
                while (j < b2.n && is_digit(b2.p[j])) j++;
            }
            char *w = NULL;
            if (jp_num2words(b2.p + i, j - i, &w)) {
                rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT,
                               "number too large to read (num2words reads fewer than 51 integer digits)");
                break;
            }
            sb_adds(&c3, w);
            free(w);
            i = j;
        } else if (b2.p[i] == '~') {
            sb_adds(&c3, "ー"), i++;
        } else if (!strncmp(b2.p + i, "～", 3) || !strncmp(b2.p + i, "〜", 3)) {
            sb_adds(&c3, "ー"), i += 3;
        } else {
            sb_add(&c3, b2.p + i, 1), i++;
        }
    }
    free(b2.p);
    if (rc != SBV2_OK || c3.oom) {
        free(c3.p);
        return rc != SBV2_OK ? rc : sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory");
    }
    /* 5. punctuation map and filter; 6. combining (han)dakuten dropped */
    char *p = NULL;
    rc = jp_replace_punctuation(c3.p, c3.n, &p, err);
    free(c3.p);
    if (rc != SBV2_OK) return rc;
    char *w = p;
    for (char *r = p; *r;) {
        if (!strncmp(r, "\xe3\x82\x99", 3) || !strncmp(r, "\xe3\x82\x9a", 3)) { r += 3; continue; }
        *w++ = *r++;
    }
    *w = '\0';
    *out = p;
    return SBV2_OK;
}
