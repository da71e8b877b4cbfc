/* User dictionary CSV rows: the row check that stands before MeCab's
 * compiler (sbv2_user_csv_check), then every accepted row as the word MeCab
 * would return for it (surface + the feature columns) through the NJD rules
 * and SBV2's g2p, since a user word's reading, pronunciation, accent and
 * chain rule reach those in-process. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "text/frontend.h"
#include "text/jp_g2p.h"
#include "text/njd_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sbv2_error err = {0};
    if (size > 16384 || sbv2_user_csv_check((const char *)data, size, "fuzz", &err) != 0) return 0;
    njd_list l = {0};
    int bad = 0;
    for (size_t pos = 0; pos < size && !bad;) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t ll = nl ? (size_t)(nl - (data + pos)) : size - pos;
        char row[4096];
        memcpy(row, data + pos, ll); /* the check allows lines under 4096 bytes */
        pos += ll + 1;
        while (ll && row[ll - 1] == '\r') ll--;
        row[ll] = '\0';
        if (!ll) continue;
        /* surface,left,right,cost,feature... -> surface,feature... */
        char *c1 = strchr(row, ','), *c4 = c1;
        for (int i = 0; c4 && i < 3; i++) c4 = strchr(c4 + 1, ',');
        if (!c1 || !c4) abort(); /* the check let a short row through */
        memmove(c1, c4, strlen(c4) + 1);
        bad = njd_push_mecab(&l, row);
    }
    if (!bad && !njd_apply_rules(&l) && !njd_finish(&l)) {
        jp_g2p_out g = {0};
        if (jp_g2p_from_njd(&l, &g, &err) == 0) {
            const size_t n = 2 * g.n_phones + 1;
            int *ids = malloc(sizeof(int) * (3 * n + g.n_word2ph + 1));
            if (ids) (void)jp_g2p_ids(&g, 1, ids, ids + n, ids + 2 * n, ids + 3 * n, &err);
            free(ids);
        }
        jp_g2p_out_free(&g);
    }
    njd_list_free(&l);
    return 0;
}
