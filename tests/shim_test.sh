#!/bin/bash
# The benchmarks' CPUID shim (tests/tools/cpuid_avx2.c): under it a process sees
# no AVX-512, so sbv2 reports cpu=avx2+fma and runs its AVX2 kernels, and Node
# (which the bench runs ONNX Runtime in) still starts. usage: shim_test.sh BUILD_DIR
set -u
BUILD=$1
SHIM=$BUILD/tests/libcpuid_avx2.so
. "$(dirname "$0")/lib.sh"
native=$("$BUILD/sbv2" --version)
under=$(LD_PRELOAD=$SHIM "$BUILD/sbv2" --version 2>&1)
case "$native" in
*cpu=avx512*)
    if echo "$under" | grep -q "kernels=avx2+fma cpu=avx2+fma"; then ok "shim hides AVX-512: $under"
    else bad "shim: sbv2 --version under it says: $under"; fi ;;
*)
    if [ "$under" = "$native" ]; then ok "no AVX-512 here; the shim changes nothing: $under"
    else bad "shim changed a CPU without AVX-512: $under vs $native"; fi ;;
esac
if command -v node >/dev/null; then
    if out=$(LD_PRELOAD=$SHIM node -e 'console.log("node ok")' 2>&1) && [ "$out" = "node ok" ]; then ok "node runs under the shim"
    else bad "node under the shim: $out"; fi
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
