#!/bin/bash
# One fuzz target as CTest runs it: replay the committed corpus (every seed and
# every regression input must pass), then fuzz for SECONDS into a scratch
# corpus. Usage: run.sh BINARY NAME SOURCE_DIR WORK_DIR SECONDS
set -uo pipefail
bin=$1 name=$2 src=$3 work=$4/$2 secs=$5
seeds=$src/corpus/$name
dict=()
[ -f "$src/$name.dict" ] && dict=(-dict="$src/$name.dict")
case "$name" in bert_feature|tokenizer|tts_params)
    [ -d "$src/../../../shared/golden" ] || { echo "golden data missing"; exit 77; } ;;
esac
mkdir -p "$work" "$4/artifacts-$name"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
opts=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 "${dict[@]}")
log=$work.log
echo "== replay $seeds ($(ls "$seeds" | wc -l) inputs)"
"$bin" -runs=0 "${opts[@]}" "$seeds" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then cat "$log"; echo "FAIL: the committed corpus does not pass (exit $rc)"; exit 1; fi
tail -1 "$log"
echo "== fuzz for ${secs}s"
"$bin" -max_total_time="$secs" -print_final_stats=1 "${opts[@]}" -artifact_prefix="$4/artifacts-$name/" "$work" "$seeds" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then tail -60 "$log"; echo "FAIL: fuzzing found a crash, leak, timeout or UB (exit $rc); the input is in $4/artifacts-$name/"; exit 1; fi
grep -E "DONE|stat::number_of_executed_units|stat::peak_rss" "$log"
