#!/bin/bash
# Loading a model file: sbv2c's sbv2_model_load (through `sbv2 info`) against
# ONNX Runtime's session creation on the same file, engines alternating in
# fresh processes; medians of ROUNDS of wall time and peak RSS, and ratios.
#   scripts/bench_load.sh MODEL.aivmx|MODEL.onnx [ROUNDS]   (needs tests/ort/node_modules)
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 rounds=${2:-5}
SBV2=${SBV2:-build/sbv2}
[ -f "$model" ] || { echo "usage: $0 MODEL.aivmx|MODEL.onnx [ROUNDS]" >&2; exit 2; }
[ -d tests/ort/node_modules/onnxruntime-node ] || { echo "tests/ort/node_modules missing: run ./scripts/test.sh once" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq 1 "$rounds"); do
    /usr/bin/time -f "%e %M" -o "$tmp/s.$r" "$SBV2" info "$model" >/dev/null
    /usr/bin/time -f "%e %M" -o "$tmp/o.$r" node tests/ort/load.js "$model" 1 >"$tmp/oj.$r"
done
med() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
s_t=$(cat "$tmp"/s.* | awk '{print $1}' | med); s_m=$(cat "$tmp"/s.* | awk '{print $2}' | med)
o_t=$(cat "$tmp"/o.* | awk '{print $1}' | med); o_m=$(cat "$tmp"/o.* | awk '{print $2}' | med)
o_c=$(cat "$tmp"/oj.* | sed 's/.*: *\([0-9.]*\).*/\1/' | med)
printf 'model: %s (%s MB), %s rounds, engines alternating, fresh processes\n' "$model" "$(( $(stat -c %s "$model") / 1000000 ))" "$rounds"
printf '%-28s %10s %12s\n' engine "wall s" "peak RSS MB"
div() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a / b}'; }
printf '%-28s %10.3f %12.0f\n' "sbv2c (sbv2 info: load)" "$s_t" "$(div "$s_m" 1024)"
printf '%-28s %10.3f %12.0f   (InferenceSession.create alone: %.3f s)\n' "ONNX Runtime (node, create)" "$o_t" "$(div "$o_m" 1024)" "$o_c"
printf 'ORT/sbv2c: wall %.2fx, peak RSS %.2fx\n' "$(div "$o_t" "$s_t")" "$(div "$o_m" "$s_m")"
