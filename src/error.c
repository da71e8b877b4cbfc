#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int sbv2_fail(sbv2_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void sbv2_error_prefix(sbv2_error *err, const char *prefix) {
    if (!err) return;
    char tmp[sizeof err->message];
    snprintf(tmp, sizeof tmp, "%s%s", prefix, err->message);
    memcpy(err->message, tmp, sizeof tmp);
}

const char *sbv2_status_string(int code) {
    switch (code) {
    case SBV2_OK: return "ok";
    case SBV2_ERR_INVALID_ARGUMENT: return "invalid argument";
    case SBV2_ERR_IO: return "i/o error";
    case SBV2_ERR_FORMAT: return "malformed file";
    case SBV2_ERR_NO_MEMORY: return "out of memory";
    case SBV2_ERR_UNSUPPORTED: return "unsupported";
    case SBV2_ERR_NOT_FOUND: return "not found";
    case SBV2_ERR_INTERNAL: return "internal error";
    default: return "unknown error";
    }
}

const char *sbv2_version_string(void) { return SBV2_VERSION_STRING; }

void sbv2_free(void *p) { free(p); }
