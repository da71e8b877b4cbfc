/* wav_compare A.wav B.wav MAX_LSB: exit 0 when both are PCM16 mono WAVs of
 * the same rate and length whose samples differ by at most MAX_LSB.
 * wav_compare --f32 A.f32 B.f32 TOL: the same for raw float32 samples
 * differing by at most TOL. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_common.h"

static int16_t *load(const char *path, size_t *n, uint32_t *rate) {
    size_t len = 0;
    unsigned char *b = (unsigned char *)read_whole_file(path, &len);
    if (!b || len < 44 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WAVEfmt ", 8) || memcmp(b + 36, "data", 4) || b[20] != 1 ||
        b[22] != 1 || b[34] != 16) {
        free(b);
        return NULL;
    }
    *rate = b[24] | b[25] << 8 | b[26] << 16 | (uint32_t)b[27] << 24;
    *n = (len - 44) / 2;
    int16_t *s = malloc(sizeof(int16_t) * (*n + 1));
    for (size_t i = 0; s && i < *n; i++) s[i] = (int16_t)(b[44 + 2 * i] | b[45 + 2 * i] << 8);
    free(b);
    return s;
}

static int compare_f32(const char *pa, const char *pb, const char *tol) {
    size_t la = 0, lb = 0;
    char *a = read_whole_file(pa, &la), *b = read_whole_file(pb, &lb);
    int rc = 1;
    if (!a || !b || la % 4 || lb % 4) fprintf(stderr, "wav_compare: cannot read float32 samples from %s\n", !a || la % 4 ? pa : pb);
    else if (la != lb) fprintf(stderr, "wav_compare: %zu samples vs %zu\n", la / 4, lb / 4);
    else {
        double worst = 0;
        size_t off = 0;
        for (size_t i = 0; i < la / 4; i++) {
            float x, y;
            memcpy(&x, a + 4 * i, 4), memcpy(&y, b + 4 * i, 4);
            const double d = isfinite(x) && isfinite(y) ? fabs((double)x - (double)y) : INFINITY;
            worst = d > worst ? d : worst;
            off += d != 0;
        }
        printf("max |d| = %.3g on %zu of %zu samples (allowed %s)\n", worst, off, la / 4, tol);
        rc = worst <= atof(tol) ? 0 : 1;
    }
    free(a), free(b);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 5 && strcmp(argv[1], "--f32") == 0) return compare_f32(argv[2], argv[3], argv[4]);
    if (argc != 4) {
        fprintf(stderr, "usage: wav_compare A.wav B.wav MAX_LSB | --f32 A.f32 B.f32 TOL\n");
        return 2;
    }
    size_t na = 0, nb = 0;
    uint32_t ra = 0, rb = 0;
    int16_t *a = load(argv[1], &na, &ra), *b = load(argv[2], &nb, &rb);
    if (!a || !b) {
        fprintf(stderr, "wav_compare: %s is not a PCM16 mono WAV\n", !a ? argv[1] : argv[2]);
        return 1;
    }
    if (na != nb || ra != rb) {
        fprintf(stderr, "wav_compare: %zu samples at %u Hz vs %zu at %u Hz\n", na, ra, nb, rb);
        return 1;
    }
    int worst = 0;
    size_t off = 0;
    for (size_t i = 0; i < na; i++) {
        const int d = abs(a[i] - b[i]);
        worst = d > worst ? d : worst;
        off += d != 0;
    }
    printf("max |d| = %d LSB on %zu of %zu samples (allowed %s)\n", worst, off, na, argv[3]);
    free(a), free(b);
    return worst <= atoi(argv[3]) ? 0 : 1;
}
