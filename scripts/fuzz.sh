#!/bin/bash
# Runs the libFuzzer targets (tests/fuzz/fuzz_*.c) for SECONDS each (default
# 600), as many at once as there are cores, and prints per target the
# executions, coverage and findings. Corpora grow in build-fuzz/fuzz-corpus/
# between runs; crashes land in build-fuzz/fuzz-artifacts/.
#   scripts/fuzz.sh [SECONDS] [--runs N] [--jobs J] [TARGET ...]
# --runs N stops a target after N executions (or SECONDS, whichever first).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=600 runs=0 jobs=$(nproc) targets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    [0-9]*) secs=$1; shift ;;
    *) targets+=("$1"); shift ;;
    esac
done
./scripts/deps.sh
command -v clang >/dev/null || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo; $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang; }
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSBV2_FUZZ=ON -DSBV2_WERROR=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
if [ ${#targets[@]} -eq 0 ]; then
    for f in tests/fuzz/fuzz_*.c; do n=$(basename "$f" .c); targets+=("${n#fuzz_}"); done
fi
out=build-fuzz/fuzz-logs
mkdir -p "$out" build-fuzz/fuzz-artifacts
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
one() { # NAME SECONDS RUNS
    local n=$1 d=() o=() c=build-fuzz/fuzz-corpus/$1
    mkdir -p "$c"
    [ -f "tests/fuzz/$n.dict" ] && d=(-dict="tests/fuzz/$n.dict")
    # NAME.options: extra libFuzzer flags for one target (after the defaults, so they win)
    [ -f "tests/fuzz/$n.options" ] && read -r -a o < "tests/fuzz/$n.options"
    build-fuzz/tests/fuzz/fuzz_"$n" -max_total_time="$2" -runs="$3" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=1024 -max_len=65536 "${d[@]}" "${o[@]}" -artifact_prefix=build-fuzz/fuzz-artifacts/"$n"- \
        "$c" "tests/fuzz/corpus/$n" >"$out/$n.log" 2>&1
    echo $? >"$out/$n.rc"
}
export -f one
export out
[ "$runs" -gt 0 ] || runs=-1
echo "fuzzing ${targets[*]} for up to ${secs}s each, $jobs at a time (logs: $out)"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c "one {} $secs $runs"
printf '%-14s %12s %10s %8s %8s %7s  %s\n' target execs exec/s cov ft secs result
fail=0
for n in "${targets[@]}"; do
    l=$out/$n.log
    ex=$(awk '/stat::number_of_executed_units/{print $2}' "$l")
    rate=$(awk '/stat::average_exec_per_sec/{print $2}' "$l")
    last=$(grep -E '^#[0-9]+' "$l" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    t=$(awk -v e="${ex:-0}" -v r="${rate:-0}" 'BEGIN{ if (r > 0) printf "%d", e / r; else print "-" }')
    rc=$(cat "$out/$n.rc")
    res=ok; [ "$rc" = 0 ] || { res="FAILED (exit $rc): see $l"; fail=1; }
    printf '%-14s %12s %10s %8s %8s %7s  %s\n' "$n" "${ex:--}" "${rate:--}" "${cov:--}" "${ft:--}" "$t" "$res"
done
exit $fail
