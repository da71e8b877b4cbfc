/* adjust_word2ph(), step for step as g2p.py writes it: the differences come
 * from one longest common subsequence (the same backtrace, so the same one
 * when several exist), then each character's count moves by the size change
 * of the difference that starts at its phones, then counts below 1 and above
 * 6 are evened out to the right. Quirks kept on purpose: the trailing
 * difference leaves out the last phone of each list (SBV2's slice ends at
 * len - 1), and only the first difference starting at a phone counts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/jp_adjust.h"

typedef struct {
    size_t gen_begin;
    long gen_len, given_len;
} diff_t;

/* LCS tables above this many cells are refused (SBV2's is O(m n) too). */
#define LCS_MAX_CELLS ((size_t)64 << 20)

int jp_adjust_word2ph(const int *word2ph, size_t n_w2p, const char *const *generated, size_t n_gen,
                      const char *const *given, size_t n_given, int *out, sbv2_error *err) {
    if (n_w2p < 2 || n_gen < 2 || n_given < 2)
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "given_phone needs at least the two \"_\" boundary phones");
    /* the dummies at both ends are set aside */
    const int *w = word2ph + 1;
    const size_t nw = n_w2p - 2, m = n_gen - 2, n = n_given - 2;
    const char *const *X = generated + 1, *const *Y = given + 1;
    if ((m + 1) > LCS_MAX_CELLS / (n + 1))
        return sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "given_phone is too long to align (%zu x %zu phones)", n_given, n_gen);
    uint32_t *L = calloc((m + 1) * (n + 1), sizeof *L);
    size_t *px = malloc(sizeof(size_t) * (m < n ? m : n) + 1), *py = malloc(sizeof(size_t) * (m < n ? m : n) + 1);
    diff_t *d = malloc(sizeof(diff_t) * ((m < n ? m : n) + 2));
    long *adj = calloc(nw ? nw : 1, sizeof *adj);
    int rc = SBV2_OK;
    if (!L || !px || !py || !d || !adj) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory"); goto done; }
#define AT(i, j) L[(size_t)(i) * (n + 1) + (j)]
    for (size_t i = 1; i <= m; i++)
        for (size_t j = 1; j <= n; j++)
            AT(i, j) = !strcmp(X[i - 1], Y[j - 1]) ? AT(i - 1, j - 1) + 1 : (AT(i - 1, j) > AT(i, j - 1) ? AT(i - 1, j) : AT(i, j - 1));
    size_t np = 0;
    for (size_t i = m, j = n; i > 0 && j > 0;) { /* the backtrace, pairs collected in reverse */
        if (!strcmp(X[i - 1], Y[j - 1])) px[np] = i - 1, py[np] = j - 1, np++, i--, j--;
        else if (AT(i - 1, j) >= AT(i, j - 1)) i--;
        else j--;
    }
#undef AT
    size_t nd = 0;
    long prev_x = -1, prev_y = -1;
    for (size_t k = np; k-- > 0;) {
        const long x = (long)px[k], y = (long)py[k];
        if (x - prev_x - 1 > 0 || y - prev_y - 1 > 0) /* both empty: dropped */
            d[nd++] = (diff_t){(size_t)(prev_x + 1), x - prev_x - 1, y - prev_y - 1};
        prev_x = x, prev_y = y;
    }
    if (prev_x < (long)m - 1 || prev_y < (long)n - 1) {
        /* value = list[prev + 1 : len - 1]: Python clamps a negative length to 0 */
        long gl = (long)m - 1 - (prev_x + 1), yl = (long)n - 1 - (prev_y + 1);
        gl = gl > 0 ? gl : 0, yl = yl > 0 ? yl : 0;
        if (gl || yl) d[nd++] = (diff_t){(size_t)(prev_x + 1), gl, yl};
    }
    size_t cur = 0;
    for (size_t e = 0; e < nw; e++)
        for (int r = 0; r < w[e]; r++, cur++) {
            for (size_t k = 0; k < nd; k++)
                if (d[k].gen_begin == cur) {
                    adj[e] += d[k].given_len - d[k].gen_len;
                    break;
                }
            adj[e] += 1;
        }
    long sum = 0;
    for (size_t e = 0; e < nw; e++) sum += adj[e];
    if (sum != (long)n) {
        rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT,
                       "given_phone cannot be aligned with the text's characters (%zu phones, adjusted word2ph sums to %ld)",
                       n, sum);
        goto done;
    }
    for (size_t e = 0; e < nw; e++) /* at least 1 phone per character, taken from the right */
        if (adj[e] < 1) {
            long diff = 1 - adj[e];
            adj[e] = 1;
            for (size_t i = 1; i < nw; i++) {
                if (e + i >= nw) break;
                if (adj[e + i] - diff >= 1) {
                    adj[e + i] -= diff;
                    break;
                }
                diff -= adj[e + i] - 1;
                adj[e + i] = 1;
                if (diff == 0) break;
            }
        }
    for (size_t e = 0; e < nw; e++) /* at most 6, the rest pushed to the right */
        if (adj[e] > 6) {
            long diff = adj[e] - 6;
            adj[e] = 6;
            for (size_t i = 1; i < nw; i++) {
                if (e + i >= nw) break;
                if (adj[e + i] + diff <= 6) {
                    adj[e + i] += diff;
                    break;
                }
                diff -= 6 - adj[e + i];
                adj[e + i] = 6;
                if (diff == 0) break;
            }
        }
    out[0] = 1, out[n_w2p - 1] = 1;
    for (size_t e = 0; e < nw; e++) {
        if (adj[e] > INT32_MAX || adj[e] < INT32_MIN) { rc = sbv2_fail(err, SBV2_ERR_INVALID_ARGUMENT, "word2ph overflow"); goto done; }
        out[e + 1] = (int)adj[e];
    }
done:
    free(L), free(px), free(py), free(d), free(adj);
    return rc;
}
