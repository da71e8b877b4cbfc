/* LD_PRELOAD shim for the benchmarks: the process sees a CPU without
 * AVX-512 (nor AMX, AVX-VNNI), so ONNX Runtime's MLAS takes the AVX2+FMA
 * kernels an AVX2 machine runs, and sbv2c's forced AVX2 path can be timed
 * against the same class of kernels on an AVX-512 machine. How: Linux's
 * CPUID faulting (arch_prctl ARCH_SET_CPUID, 0) turns every CPUID into a
 * SIGSEGV, answered here from a table read at start-up with those feature
 * bits cleared. Test-time only; not part of libsbv2. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

typedef struct {
    unsigned leaf, sub, r[4];
} cpuid_entry;

static cpuid_entry g_tab[512];
static int g_n;
static struct sigaction g_prev;
static int g_active;
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

/* Later SIGSEGV handlers (Node's WebAssembly trap handler) are kept as the
 * one this shim passes other faults to, so CPUID stays answered here. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    static sigaction_fn real; /* test-time shim, not library code */
    if (!real) real = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    if (sig == SIGSEGV && g_active) {
        if (old) *old = g_prev;
        if (act) g_prev = *act;
        return 0;
    }
    return real(sig, act, old);
}

static void record(unsigned leaf, unsigned sub) {
    if (g_n >= (int)(sizeof g_tab / sizeof g_tab[0])) return;
    cpuid_entry *e = &g_tab[g_n++];
    e->leaf = leaf, e->sub = sub;
    __cpuid_count(leaf, sub, e->r[0], e->r[1], e->r[2], e->r[3]);
    if (leaf == 7 && sub == 0) {
        e->r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        e->r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        e->r[3] &= ~((1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    }
    if (leaf == 7 && sub == 1) e->r[0] &= ~((1u << 4) | (1u << 5)); /* AVX-VNNI, AVX512_BF16 */
}

static void on_segv(int sig, siginfo_t *si, void *ucv) {
    ucontext_t *uc = ucv;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    if (ip && ip[0] == 0x0f && ip[1] == 0xa2) { /* CPUID */
        const unsigned leaf = (unsigned)g[REG_RAX], sub = (unsigned)g[REG_RCX];
        unsigned r[4] = {0, 0, 0, 0};
        int found = 0;
        for (int i = 0; i < g_n && !found; i++) /* exact subleaf, else subleaf 0 */
            if (g_tab[i].leaf == leaf && g_tab[i].sub == sub) memcpy(r, g_tab[i].r, sizeof r), found = 1;
        /* a leaf read at subleaf 0 only ignores ECX: answer with that; a leaf
           read at many subleaves answers zeros past them, so enumerations
           (leaf 4, AMD's 0x8000001D cache list) end as on the CPU */
        int subs = 0;
        for (int i = 0; i < g_n; i++) subs += g_tab[i].leaf == leaf;
        for (int i = 0; i < g_n && !found && subs == 1; i++)
            if (g_tab[i].leaf == leaf && g_tab[i].sub == 0) memcpy(r, g_tab[i].r, sizeof r), found = 1;
        g[REG_RAX] = r[0], g[REG_RBX] = r[1], g[REG_RCX] = r[2], g[REG_RDX] = r[3];
        g[REG_RIP] += 2;
        return;
    }
    /* not ours: whoever handled SIGSEGV before, or the default action */
    if (g_prev.sa_flags & SA_SIGINFO && g_prev.sa_sigaction) g_prev.sa_sigaction(sig, si, ucv);
    else if (g_prev.sa_handler != SIG_DFL && g_prev.sa_handler != SIG_IGN && g_prev.sa_handler) g_prev.sa_handler(sig);
    else {
        g_active = 0;
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    }
}

__attribute__((constructor)) static void cpuid_avx2_init(void) {
    unsigned a, b, c, d;
    __cpuid(0, a, b, c, d);
    const unsigned max = a < 0x40 ? a : 0x40;
    for (unsigned l = 0; l <= max; l++)
        for (unsigned s = 0; s < (l == 4 || l == 7 || l == 0xb || l == 0xd || l == 0xf || l == 0x10 || l == 0x12 || l == 0x14 ||
                                          l == 0x17 || l == 0x18 || l == 0x1d || l == 0x1e || l == 0x1f
                                      ? 16u
                                      : 1u);
             s++)
            record(l, s);
    __cpuid(0x80000000u, a, b, c, d);
    for (unsigned l = 0x80000000u; l <= a && l < 0x80000030u; l++) /* AMD: cache list, QoS, topology have subleaves */
        for (unsigned s = 0; s < (l == 0x8000001du || l == 0x80000020u || l == 0x80000026u ? 16u : 1u); s++) record(l, s);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &g_prev) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        fprintf(stderr, "cpuid_avx2: CPUID faulting is not available here; the CPU's features stay visible\n");
        sigaction(SIGSEGV, &g_prev, NULL);
        return;
    }
    g_active = 1;
}
