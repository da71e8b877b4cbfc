#!/bin/bash
# The AVX2+FMA kernels on any x86-64 CPU: the kernels test and the BERT and
# generator parity tests under QEMU's user-mode emulation of a Haswell (AVX2
# and FMA, no AVX-512), so the path most laptops take is checked even on an
# AVX-512 machine.
# usage: isa_test.sh TEST_BINARY...   (needs qemu-x86_64: Debian's qemu-user)
set -u
if ! command -v qemu-x86_64 >/dev/null; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL: qemu-x86_64 not installed (apt-get install qemu-user)"; exit 1; fi
    echo "SKIP: qemu-x86_64 not installed (apt-get install qemu-user)"; exit 77
fi
fail=0
for t in "$@"; do
    # QEMU warns about CPU features of the model it does not emulate; they are irrelevant here
    # 3 threads, which do not divide the heads or tiles (the case that once
    # deadlocked), against the golden outputs; the generator's default kernel
    # forms only (every form and thread count, bit for bit against 1 thread,
    # runs natively with SBV2_ISA=avx2: the avx2_forced tests)
    out=$(SBV2_TEST_THREADS=3 SBV2_TEST_PATHS=default qemu-x86_64 -cpu Haswell "$t" 2> >(grep -v "TCG doesn't support requested feature" >&2))
    rc=$?
    echo "$out" | tail -3
    if [ $rc -ne 0 ]; then echo "FAIL: $(basename "$t") under -cpu Haswell exited $rc"; fail=1
    elif ! echo "$out" | grep -q "^kernels: avx2+fma$"; then echo "FAIL: $(basename "$t") did not take the AVX2 path"; fail=1
    else echo "ok   $(basename "$t") on the AVX2+FMA kernels"; fi
done
exit $fail
