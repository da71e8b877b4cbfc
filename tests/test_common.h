/* Shared helpers for the test programs. */
#ifndef SBV2_TEST_COMMON_H
#define SBV2_TEST_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Golden data live at <repo>/../shared/golden. Absent under CI: a failure;
 * absent elsewhere: the test is skipped (exit 77). */
static inline int golden_dir_or_skip(const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return 1;
    const char *ci = getenv("CI");
    if (ci && *ci && strcmp(ci, "false") != 0) {
        fprintf(stderr, "FAIL: golden data not found at %s (required under CI)\n", dir);
        exit(1);
    }
    fprintf(stderr, "SKIP: golden data not found at %s\n", dir);
    exit(77);
}

/* CHECK(cond, fmt, ...): counts a pass, or prints the failure and counts it. */
static int passed __attribute__((unused)) = 0, failed __attribute__((unused)) = 0;
#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (cond) passed++;                                               \
        else {                                                            \
            failed++;                                                     \
            fprintf(stderr, "FAIL line %d: ", __LINE__);                  \
            fprintf(stderr, __VA_ARGS__);                                 \
            fprintf(stderr, "\n");                                        \
        }                                                                 \
    } while (0)

/* The thread counts a parity test runs at: SBV2_TEST_THREADS ("1,3"), by
 * default 1, 2, 3, 5 and 8 (counts that do not divide heads or tiles, and
 * counts above the cores). The first is the reference the others must match
 * bit for bit. Returns how many (at most max). */
static inline int test_thread_counts(int *out, int max) {
    const char *e = getenv("SBV2_TEST_THREADS");
    if (!e || !*e) e = "1,2,3,5,8";
    int n = 0;
    while (*e && n < max) {
        char *end;
        long v = strtol(e, &end, 10);
        if (end == e || v < 1 || v > 64) break;
        out[n++] = (int)v;
        e = *end == ',' ? end + 1 : end;
    }
    if (n == 0) out[n++] = 1;
    return n;
}

/* SBV2_TEST_EXPECT_ISA names the kernel path this run must take (a test that
 * forces one with SBV2_ISA): anything else is a failure, not a silent pass. */
static inline void test_expect_isa(const char *name) {
    const char *want = getenv("SBV2_TEST_EXPECT_ISA");
    if (want && *want && strcmp(want, name) != 0) {
        fprintf(stderr, "FAIL: the kernels run %s, expected %s\n", name, want);
        exit(1);
    }
}

/* Whole file as a NUL-terminated malloc()ed buffer (length in *len), or NULL. */
static inline char *read_whole_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) { free(b); b = NULL; }
    if (b) b[n] = 0;
    if (b && len) *len = (size_t)n;
    fclose(fp);
    return b;
}

#endif
