#include "core/isa.h"

#include <stdlib.h>
#include <string.h>

isa_t isa_cpu(void) {
#ifdef SBV2_X86
    /* the cpu model is initialised by libgcc before main; reading it is pure */
    if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
    return ISA_GENERIC;
}

int isa_from_env(isa_t *out) {
    const char *e = getenv("SBV2_ISA");
    if (!e || !*e) return -1;
    if (!strcmp(e, "avx512")) *out = ISA_AVX512;
    else if (!strcmp(e, "avx2")) *out = ISA_AVX2;
    else if (!strcmp(e, "generic") || !strcmp(e, "portable")) *out = ISA_GENERIC;
    else return -2;
    return 0;
}

isa_t isa_active(void) {
    isa_t cpu = isa_cpu(), want;
    return isa_from_env(&want) == 0 && want < cpu ? want : cpu;
}

const char *isa_name(isa_t isa) {
    switch (isa) {
    case ISA_AVX512: return "avx512";
    case ISA_AVX2: return "avx2+fma";
    default: return "generic";
    }
}
