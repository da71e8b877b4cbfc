/* Includes only the public header and is built as strict ISO C11
 * (-pedantic-errors): proves sbv2.h is plain C with no internal dependency.
 * Also checks the API invariants that need no model. */
#include "sbv2.h"

#include <stdio.h>
#include <string.h>

static int failures = 0, passed = 0;
#define CHECK(cond)                                                   \
    do {                                                              \
        if (cond) passed++;                                           \
        else {                                                        \
            failures++;                                               \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                             \
    } while (0)

int main(void) {
    sbv2_infer_params p = sbv2_infer_default_params();
    CHECK(p.struct_size == sizeof p);
    CHECK(p.length_scale == 1.0f && p.noise_scale > 0 && p.noise_scale_w > 0);
    CHECK(p.n_threads >= 1 && p.on_tensor == NULL);
    CHECK(strcmp(sbv2_status_string(SBV2_OK), "ok") == 0);
    CHECK(strlen(sbv2_status_string(SBV2_ERR_FORMAT)) > 0);
    CHECK(strcmp(sbv2_status_string(12345), "unknown error") == 0);
    CHECK(strcmp(sbv2_version_string(), SBV2_VERSION_STRING) == 0);
    CHECK(sbv2_system_info() != NULL);

    sbv2_error err;
    memset(&err, 0, sizeof err);
    CHECK(sbv2_model_load(NULL, &err) == NULL && err.code == SBV2_ERR_INVALID_ARGUMENT && err.message[0]);
    CHECK(sbv2_model_load("/nonexistent/sbv2/model", &err) == NULL && err.code == SBV2_ERR_NOT_FOUND);
    CHECK(strstr(err.message, "/nonexistent/sbv2/model") != NULL);
    CHECK(sbv2_model_load("/nonexistent", NULL) == NULL); /* err is optional */
    CHECK(sbv2_state_new(NULL, &err) == NULL && err.code == SBV2_ERR_INVALID_ARGUMENT);
    CHECK(sbv2_infer(NULL, NULL, NULL, NULL, NULL, &err) == SBV2_ERR_INVALID_ARGUMENT);

    /* freeing NULL is always safe */
    sbv2_model_free(NULL);
    sbv2_state_free(NULL);
    sbv2_free(NULL);

    printf("%d passed, %d failed\n", passed, failures);
    return failures ? 1 : 0;
}
