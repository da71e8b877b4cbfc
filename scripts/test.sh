#!/bin/bash
# Builds with -Werror and runs every test twice: under ASan+UBSan (build-asan/)
# and optimised (build/, where the CLI lives). Parity tests read the golden
# data in ../shared/golden.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
# Test-time only: ONNX Runtime from npm, to run the graphs `sbv2 convert` writes.
# --ignore-scripts: its install script only fetches optional GPU files.
if ! command -v npm >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm
fi
# Test-time only: QEMU's user mode, to run the AVX2 kernels on any x86-64 CPU.
if [ "$(uname -m)" = x86_64 ] && ! command -v qemu-x86_64 >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-user
fi
if [ ! -d tests/ort/node_modules/onnxruntime-node ]; then
    (cd tests/ort && npm install --ignore-scripts --no-audit --no-fund --no-package-lock)
fi
# Test-time only: clang with libFuzzer (the fuzz targets) and Valgrind.
need=()
for p in clang libclang-rt-14-dev valgrind; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# Test-time only: Debian's Chromium (the web page's browser test, with a Japanese
# font for its screenshot) and nginx (the scale-out test).
need=()
for p in chromium fonts-ipafont-gothic; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p"); done
[ -x /usr/sbin/nginx ] || need+=(nginx)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# Test-time only: OpenAI's Node client (sbv2 serve as OpenAI's API) and
# playwright-core (drives the system Chromium; it downloads no browser).
if [ ! -d tests/serve/node_modules/openai ] || [ ! -d tests/serve/node_modules/playwright-core ]; then
    (cd tests/serve && npm install --ignore-scripts --no-audit --no-fund --no-package-lock)
fi
jobs=$(nproc)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSBV2_SANITIZE=ON -DSBV2_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
# (the server's load test sends fewer requests under the sanitizers, which are ~10x slower)
SBV2_LOAD_REQUESTS=100 SBV2_LOAD_ONE_WORKER=0 SBV2_SCALEOUT_REQUESTS=100 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSBV2_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"
# Every fuzz target (clang, libFuzzer, ASan+UBSan): its corpus replayed, then
# 15 s of fuzzing. Longer runs: scripts/fuzz.sh.
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSBV2_FUZZ=ON -DSBV2_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz --output-on-failure -j"$jobs"
