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

#endif
