/* Which SIMD path the kernels take: the best the CPU has, capped by the
 * environment variable SBV2_ISA ("avx512", "avx2", "generic"), so a slower
 * path can be measured or compared on a faster CPU. Read on every call (no
 * cached global state); callers ask once per operation, not per element. */
#ifndef SBV2_ISA_H
#define SBV2_ISA_H

typedef enum { ISA_GENERIC = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 } isa_t;

isa_t isa_cpu(void);    /* what this CPU supports */
isa_t isa_active(void); /* isa_cpu() capped by SBV2_ISA */
const char *isa_name(isa_t isa);
/* SBV2_ISA's value parsed: 0 and *out set, -1 when unset, -2 when unknown */
int isa_from_env(isa_t *out);

#if defined(__x86_64__) && defined(__GNUC__)
#define SBV2_X86 1
#endif

/* SBV2_MULTIVERSION(name, (params), (args)) turns the always-inline function
 * name##_body into name(isa, params...), which runs it compiled for AVX-512,
 * AVX2 or the baseline as the caller's isa (resolved once per operation)
 * says: an explicit dispatch instead of GCC's target_clones, which follow the
 * CPU alone. name##_for(isa) gives that compilation as a function pointer
 * (for callbacks). The bodies are element-wise or fixed-order loops (no FMA
 * contraction under ISO C), so every compilation computes the same floats. */
#define SBV2_UNPAREN(...) __VA_ARGS__
#ifdef SBV2_X86
#define SBV2_MULTIVERSION(name, params, args)                                                              \
    static void name##_generic params { name##_body args; }                                               \
    __attribute__((target("avx512f"))) static void name##_avx512 params { name##_body args; }            \
    __attribute__((target("avx2"))) static void name##_avx2 params { name##_body args; }                 \
    __attribute__((unused)) static void name(isa_t isa_, SBV2_UNPAREN params) {                           \
        if (isa_ == ISA_AVX512) name##_avx512 args;                                                         \
        else if (isa_ == ISA_AVX2) name##_avx2 args;                                                        \
        else name##_generic args;                                                                           \
    }                                                                                                       \
    __attribute__((unused)) static void (*name##_for(isa_t isa_)) params {                                \
        return isa_ == ISA_AVX512 ? name##_avx512 : isa_ == ISA_AVX2 ? name##_avx2 : name##_generic;        \
    }
#else
#define SBV2_MULTIVERSION(name, params, args)                                                                       \
    static void name##_generic params { name##_body args; }                                                        \
    __attribute__((unused)) static void name(isa_t isa_, SBV2_UNPAREN params) { (void)isa_; name##_generic args; } \
    __attribute__((unused)) static void (*name##_for(isa_t isa_)) params {                                         \
        (void)isa_;                                                                                                  \
        return name##_generic;                                                                                       \
    }
#endif
#define SBV2_BODY static inline __attribute__((always_inline))

#endif
