#!/bin/bash
# The CLI's main commands under Valgrind's memcheck (optimised build): no
# invalid access, no use of uninitialised memory, no leak. Valgrind 3.19 does
# not decode AVX-512, so the AVX2 kernels run (SBV2_ISA=avx2), one thread.
# Each command also runs an error path, whose cleanup leaks most easily.
# usage: valgrind_test.sh BUILD_DIR GOLDEN_DIR
set -u
BUILD=$1
GOLDEN=$(cd "$2" 2>/dev/null && pwd || echo "$2")
SBV2=$BUILD/sbv2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib.sh"
golden_or_skip "$GOLDEN"
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
export SBV2_ISA=avx2 OMP_NUM_THREADS=1
M=$GOLDEN/netg/tiny-jp-extra/model.safetensors
M2=$GOLDEN/netg/tiny-v2/model.safetensors
B=$GOLDEN/tts/bert
# vg NAME EXPECT(0|fail) CMD...: memcheck must report nothing (exit 99 if it
# does); the command itself must succeed, or fail cleanly for "fail".
vg() {
    local name=$1 want=$2; shift 2
    valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes "$@" >"$TMP/log" 2>&1
    local rc=$?
    if [ $rc -eq 99 ] || { [ "$want" = 0 ] && [ $rc -ne 0 ]; } || { [ "$want" = fail ] && [ $rc -eq 0 ]; }; then
        bad "$name (exit $rc)"; sed 's/^/     /' "$TMP/log" | head -60
    else ok "$name"; fi
}
vg "info" 0 "$SBV2" info "$M"
vg "info (older architecture)" 0 "$SBV2" info "$M2"
vg "info (missing file)" fail "$SBV2" info "$TMP/none.safetensors"
vg "infer" 0 "$SBV2" infer "$M" --inputs "$GOLDEN/netg/tiny-jp-extra/cases/c1_len7" --output "$TMP/o.npy" --threads 1
vg "infer (bad inputs dir)" fail "$SBV2" infer "$M" --inputs "$TMP" --output "$TMP/o.npy"
vg "g2p" 0 "$SBV2" g2p "今日は良い天気ですね。123円、ＡＢＣ？" --json
vg "g2p (invalid UTF-8)" fail "$SBV2" g2p "$(printf 'a\xffb')"
vg "bert" 0 "$SBV2" bert "$GOLDEN/bert/tiny" --text "吾輩は猫である。" --layer-output "$TMP/s.npy" --threads 1
vg "bert (word2ph count wrong)" fail "$SBV2" bert "$GOLDEN/bert/tiny" --text "猫" --word2ph 1,2 --output "$TMP/f.npy"
vg "say" 0 "$SBV2" say "$M" "ヒューズが飛んだ。" --bert "$B" --threads 1 -o "$TMP/a.wav"
vg "say (two lines, stream, alignment)" 0 "$SBV2" say "$M" "$(printf 'わーい！\nまた明日。')" --bert "$B" --threads 1 \
    --stream --alignment "$TMP/a.json" -o "$TMP/b.wav"
vg "say (unknown style)" fail "$SBV2" say "$M" "あ" --bert "$B" --style NoSuchStyle -o "$TMP/c.wav"
vg "convert (ONNX)" 0 "$SBV2" convert "$M" -o "$TMP/m.onnx"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
