#include "formats/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sbv2_read_file(const char *path, size_t max, const char *what, char **out, size_t *len, sbv2_error *err) {
    const char *w = what ? what : "", *sp = what ? " " : "";
    *out = NULL, *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return sbv2_fail(err, errno == ENOENT ? SBV2_ERR_NOT_FOUND : SBV2_ERR_IO, "cannot open %s%s%s: %s", w, sp, path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = buf ? SBV2_OK : sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory reading %s%s%s", w, sp, path);
    while (rc == SBV2_OK) {
        if (n + 1 == cap) { /* keep room for the NUL; never more than max + 1 bytes and the NUL */
            const size_t want = cap <= SIZE_MAX / 2 ? cap * 2 : SIZE_MAX;
            const size_t ncap = max < SIZE_MAX - 2 && want > max + 2 ? max + 2 : want;
            char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) { rc = sbv2_fail(err, SBV2_ERR_NO_MEMORY, "out of memory reading %s%s%s", w, sp, path); break; }
            buf = nb, cap = ncap;
        }
        /* at most one byte past max: enough to tell the file is too long */
        size_t room = cap - n - 1;
        if (max < SIZE_MAX && room > max + 1 - n) room = max + 1 - n;
        const size_t r = fread(buf + n, 1, room, f);
        n += r;
        if (n > max) rc = sbv2_fail(err, SBV2_ERR_FORMAT, "%s%s%s is over %zu bytes; not a file of this kind", w, sp, path, max);
        else if (r == 0) break;
    }
    if (rc == SBV2_OK && ferror(f)) rc = sbv2_fail(err, SBV2_ERR_IO, "cannot read %s%s%s: %s", w, sp, path, strerror(errno));
    fclose(f);
    if (rc != SBV2_OK) { free(buf); return rc; }
    buf[n] = '\0';
    *out = buf, *len = n;
    return SBV2_OK;
}
