#!/bin/bash
# End-to-end tests of the sbv2 CLI: info, infer (against the golden output),
# dumps, WAV output, clear errors for bad inputs, testmodel + demo.
# usage: cli_test.sh BUILD_DIR GOLDEN_DIR
set -u
BUILD=$1
GOLDEN=$2
SBV2=$BUILD/sbv2
CMP=$BUILD/tests/npy_compare
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib.sh"

golden_or_skip "$GOLDEN"
JPX=$GOLDEN/netg/tiny-jp-extra
V2=$GOLDEN/netg/tiny-v2

check "help" "$SBV2" --help
expect_error "unknown command" "unknown command" "$SBV2" frobnicate
check "info text" "$SBV2" info "$JPX/model.safetensors"
"$SBV2" info --json "$JPX/model.safetensors" >"$TMP/info.json" 2>&1
if grep -q '"architecture": "JP-Extra"' "$TMP/info.json" && grep -q '"spk_b": 1' "$TMP/info.json" &&
   grep -q '"Sad": 2' "$TMP/info.json" && grep -q '"hidden_channels": 24' "$TMP/info.json"; then ok "info --json JP-Extra"
else bad "info --json JP-Extra: $(cat "$TMP/info.json")"; fi
"$SBV2" info --json "$V2/model.safetensors" >"$TMP/info2.json" 2>&1
if grep -q '"architecture": "multilingual"' "$TMP/info2.json" && grep -q '"n_layers_trans_flow": 4' "$TMP/info2.json"; then
    ok "info --json multilingual"
else bad "info --json multilingual: $(cat "$TMP/info2.json")"; fi
expect_error "two safetensors in a directory" "pass the path" "$SBV2" info "$JPX"

for model in "$JPX" "$V2"; do
    c=$model/cases/c1_len7
    name=$(basename "$model")
    check "infer $name" "$SBV2" infer "$model/model.safetensors" --inputs "$c" --output "$TMP/$name.npy" \
        --wav "$TMP/$name.wav" --dump "$TMP/dump_$name" --seed 7 --threads 2
    check "infer $name output vs golden" "$CMP" "$TMP/$name.npy" "$c/output.npy" 1e-4
    check "infer $name dumped z vs golden" "$CMP" "$TMP/dump_$name/z.npy" "$c/z.npy" 1e-4
    check "infer $name dumped y_lengths exact" "$CMP" "$TMP/dump_$name/y_lengths.npy" "$c/y_lengths.npy" 0
    samples=$(( ($(stat -c %s "$TMP/$name.wav") - 44) / 2 ))
    frames=$(( samples / 512 ))
    if [ "$samples" -gt 0 ] && [ $((frames * 512)) -eq "$samples" ] && head -c 4 "$TMP/$name.wav" | grep -q RIFF; then
        ok "infer $name wav ($samples samples)"
    else bad "infer $name wav"; fi
done

# every golden case through a model file: output within 1e-4, durations exact
golden_cases() { # MODEL_FILE MODEL_DIR LABEL [fp16]
    local f=$1 model=$2 label=$3 fp16=${4:-}
    for c in "$model"/cases/*/; do
        c=${c%/}; local cn in; cn=$(basename "$c")
        if [ -n "$fp16" ]; then case "$cn" in *_fp16) in=${c%_fp16} ;; *) continue ;; esac
        else case "$cn" in *_fp16) continue ;; esac; in=$c; fi
        local lengths=(true)
        [ -f "$c/y_lengths.npy" ] && lengths=("$CMP" "$TMP/odump/y_lengths.npy" "$c/y_lengths.npy" 0)
        if "$SBV2" infer "$f" --inputs "$in" --output "$TMP/o.npy" --dump "$TMP/odump" --threads 2 >"$TMP/log" 2>&1 &&
           "$CMP" "$TMP/o.npy" "$c/output.npy" 1e-4 >>"$TMP/log" 2>&1 &&
           "$CMP" "$TMP/odump/w_ceil.npy" "$c/w_ceil.npy" 0 >>"$TMP/log" 2>&1 && "${lengths[@]}" >>"$TMP/log" 2>&1; then
            ok "$label $cn vs golden"
        else bad "$label $cn vs golden"; sed 's/^/     /' "$TMP/log"; fi
    done
}
# AivisSpeech .aivm files written by `sbv2 convert --aivm` load natively and give
# every golden case of their model (output within 1e-4, durations exact)
for src in "$JPX/model.safetensors" "$JPX/model_fp16.safetensors" "$V2/model.safetensors"; do
    model=$(dirname "$src")
    name=$(basename "$model")_$(basename "$src" .safetensors)
    check "convert --aivm $name" "$SBV2" convert "$src" --aivm -o "$TMP/$name.aivm"
    "$SBV2" info --json "$TMP/$name.aivm" >"$TMP/$name.info" 2>&1
    if grep -q '"aivm_manifest": {"manifest_version":"1.0"' "$TMP/$name.info" && grep -q '"model_format":"Safetensors"' "$TMP/$name.info"; then
        ok "info --json $name.aivm shows the manifest"
    else bad "info --json $name.aivm: $(head -c 600 "$TMP/$name.info")"; fi
    case "$name" in *fp16*) golden_cases "$TMP/$name.aivm" "$model" "$name.aivm" fp16 ;; *) golden_cases "$TMP/$name.aivm" "$model" "$name.aivm" ;; esac
done
# ONNX files load natively: SBV2's own torch exports (convert_onnx.py, config.json and
# style_vectors.npy beside them), and sbv2c's .onnx/.aivmx exports of both models
# (the fp16 file too), every golden case: output within 1e-4, durations exact
for model in "$JPX" "$V2"; do
    name=$(basename "$model")
    golden_cases "$model/model.onnx" "$model" "SBV2's $name/model.onnx"
    check "convert $name to .onnx" "$SBV2" convert "$model/model.safetensors" -o "$TMP/own_$name.onnx"
    check "convert $name to .aivmx" "$SBV2" convert "$model/model.safetensors" --aivmx -o "$TMP/own_$name.aivmx"
    golden_cases "$TMP/own_$name.onnx" "$model" "sbv2c's $name .onnx"
    golden_cases "$TMP/own_$name.aivmx" "$model" "sbv2c's $name .aivmx"
done
check "convert the fp16 file to .aivmx" "$SBV2" convert "$JPX/model_fp16.safetensors" --aivmx -o "$TMP/own_fp16.aivmx"
golden_cases "$TMP/own_fp16.aivmx" "$JPX" "sbv2c's fp16 .aivmx" fp16
mkdir -p "$TMP/onnx_only" && cp "$JPX/model.onnx" "$TMP/onnx_only/"
expect_error "SBV2's .onnx without config.json beside it" "config.json" "$SBV2" info "$TMP/onnx_only/model.onnx"
cp "$JPX/config.json" "$JPX/style_vectors.npy" "$TMP/onnx_only/"
check "a folder with only an .onnx" "$SBV2" info "$TMP/onnx_only"
check "an .aivmx converts to .aivm" "$SBV2" convert "$TMP/own_tiny-jp-extra.aivmx" --aivm -o "$TMP/from_aivmx.aivm"
golden_cases "$TMP/from_aivmx.aivm" "$JPX" ".aivm from an .aivmx"
check "SBV2's .onnx converts to .aivm" "$SBV2" convert "$V2/model.onnx" --aivm -o "$TMP/from_onnx.aivm"
golden_cases "$TMP/from_onnx.aivm" "$V2" ".aivm from SBV2's tiny-v2 .onnx"
check "an .aivm converts to .aivm again" "$SBV2" convert "$TMP/tiny-jp-extra_model.aivm" --aivm -o "$TMP/again.aivm"
u1=$("$SBV2" info "$TMP/tiny-jp-extra_model.aivm" | grep "AIVM uuid"); u2=$("$SBV2" info "$TMP/again.aivm" | grep "AIVM uuid")
if [ -n "$u1" ] && [ "$u1" = "$u2" ]; then ok "the manifest (its UUID) survives a round trip"; else bad "round trip: '$u1' vs '$u2'"; fi
check "an .aivm converts to .aivmx" "$SBV2" convert "$TMP/tiny-jp-extra_model.aivm" --aivmx -o "$TMP/a.aivmx"
cp "$TMP/tiny-v2_model.aivm" "$TMP/named.safetensors"
check "the format comes from the content (an .aivm named .safetensors)" "$SBV2" info "$TMP/named.safetensors"
expect_error "--aivm with --aivmx" "exclude each other" "$SBV2" convert "$JPX/model.safetensors" --aivm --aivmx

# malformed inputs: clear errors, no crash
cp -r "$JPX/cases/c1_len7" "$TMP/bad"
cp "$TMP/bad/in_bert.npy" "$TMP/bad/in_x_tst.npy"
expect_error "wrong dtype" "dtype float32, expected int64" "$SBV2" infer "$JPX/model.safetensors" --inputs "$TMP/bad" --output "$TMP/x.npy"
cp "$JPX/cases/c1_len7/in_x_tst.npy" "$TMP/bad/in_x_tst.npy"
cp "$JPX/cases/c2_len33/in_tones.npy" "$TMP/bad/in_tones.npy"
expect_error "wrong length" "expected 7" "$SBV2" infer "$JPX/model.safetensors" --inputs "$TMP/bad" --output "$TMP/x.npy"
rm "$TMP/bad/in_tones.npy"
expect_error "missing input" "in_tones.npy" "$SBV2" infer "$JPX/model.safetensors" --inputs "$TMP/bad" --output "$TMP/x.npy"
expect_error "v2 needs ja_bert" "in_ja_bert.npy" "$SBV2" infer "$V2/model.safetensors" --inputs "$JPX/cases/c1_len7" --output "$TMP/x.npy"
expect_error "missing option" "usage" "$SBV2" infer "$JPX/model.safetensors"
expect_error "bad threads" "bad --threads" "$SBV2" infer "$JPX/model.safetensors" --inputs x --output y --threads 0

# random models in SBV2's layout, both architectures and both resblock types
check "testmodel jp-extra" "$SBV2" testmodel "$TMP/m1" --seed 3
check "demo jp-extra" "$SBV2" demo "$TMP/m1" --wav "$TMP/m1.wav" --seed 1 --tokens 12 --style Style_2 --speaker speaker_1
check "testmodel multilingual resblock 2" "$SBV2" testmodel "$TMP/m2" --arch multilingual --resblock 2 --speakers 4 --styles 6
check "demo multilingual resblock 2" "$SBV2" demo "$TMP/m2/model.safetensors" --wav "$TMP/m2.wav" --tokens 12 --style 5 --speaker 3
expect_error "demo unknown style" "style" "$SBV2" demo "$TMP/m1" --wav "$TMP/x.wav" --style Nope
"$SBV2" demo "$TMP/m1" --wav "$TMP/a.wav" --seed 5 --tokens 8 --noise 0.7 >/dev/null 2>&1
"$SBV2" demo "$TMP/m1" --wav "$TMP/b.wav" --seed 5 --tokens 8 --noise 0.7 >/dev/null 2>&1
if cmp -s "$TMP/a.wav" "$TMP/b.wav"; then ok "demo seed reproducible"; else bad "demo seed reproducible"; fi

# Japanese frontend
out=$("$SBV2" g2p --json "彼女は100円持っている?" 2>&1)
if echo "$out" | grep -q '"norm_text":"彼女は百円持っている?"' && echo "$out" | grep -q '"phones":\["_","k","a","n","o","j","o","w","a","hy","a","k","u","e","N"'; then
    ok "g2p --json"
else bad "g2p --json: $out"; fi
out=$("$SBV2" g2p --json --no-jp-extra "ほん" 2>&1)
if echo "$out" | grep -q '"phone_ids":\[0,0,0,37,0,65,0,62,0,0,0\]'; then ok "g2p --no-jp-extra"; else bad "g2p --no-jp-extra: $out"; fi
expect_error "g2p rejects invalid UTF-8" "UTF-8" "$SBV2" g2p "$(printf 'a\xff')"
expect_error "g2p rejects kw" "symbol table" "$SBV2" g2p "クヮルテット"
head -20 "$GOLDEN/g2p/dev.jsonl" | "$SBV2" g2p --jsonl >"$TMP/g2p.jsonl" 2>"$TMP/g2p.err"
if [ "$(wc -l <"$TMP/g2p.jsonl")" -eq 20 ] && grep -q "ms per 1,000 characters" "$TMP/g2p.err"; then ok "g2p --jsonl"
else bad "g2p --jsonl: $(cat "$TMP/g2p.err")"; fi
printf 'ほげふが,,,1,名詞,固有名詞,一般,*,*,*,ほげふが,モゲムガ,モゲムガ,1/4,*\n' >"$TMP/user.csv"
if "$SBV2" g2p "ほげふが" --user-dict "$TMP/user.csv" 2>&1 | grep -q "phones: _ m o g e m u g a _"; then ok "g2p --user-dict"
else bad "g2p --user-dict"; fi
expect_error "g2p bad user dict" "user dictionary" "$SBV2" g2p "x" --user-dict "$TMP/g2p.err"

# BERT features
BT=$GOLDEN/bert/tiny
out=$("$SBV2" bert "$BT" --text "今日はいい天気ですね." --ids --word2ph 3,4,8,4,2,2,4,6,4,4,4,2,2 --output "$TMP/feat.npy" \
      --layer-output "$TMP/state.npy" 2>&1)
if [ "$(echo "$out" | tail -1)" = "[1, 268, 55, 18, 9, 9, 455, 197, 13, 23, 305, 53, 2]" ]; then ok "bert --ids"; else bad "bert --ids: $out"; fi
check "bert --output matches SBV2's feature" "$CMP" "$TMP/feat.npy" "$BT/cases/r01.feature.npy" 1e-4
check "bert from pytorch_model.bin" "$SBV2" bert "$BT" --weights "$BT/pytorch_model.bin" --text "今日" --word2ph 1,2,2,1 --output "$TMP/f2.npy"
expect_error "bert word2ph length" "word2ph has 2 entries" "$SBV2" bert "$BT" --text "今日" --word2ph 1,2 --output "$TMP/x.npy"
expect_error "bert missing dir" "config.json" "$SBV2" bert "$TMP/nope" --text "a"
expect_error "bert output needs word2ph" "needs --word2ph" "$SBV2" bert "$BT" --text "a" --output "$TMP/x.npy"
check "testmodel-bert" "$SBV2" testmodel-bert "$TMP/tb" --layers 3 --hidden 24 --heads 2 --head-size 12 --intermediate 40
check "bert on a testmodel-bert folder" "$SBV2" bert "$TMP/tb" --text "一丁七" --word2ph 1,2,2,2,1 --output "$TMP/tb.npy"
# the summation order does not depend on the thread count: bit-identical states
long=""; for i in $(seq 0 99); do long="$long$(printf "\\u$(printf %x $((0x4e00 + (i * 7) % 30)))")"; done
"$SBV2" testmodel-bert "$TMP/tb4" --hidden 128 --heads 4 --head-size 32 --intermediate 2100 --layers 3 >/dev/null 2>&1
"$SBV2" bert "$TMP/tb4" --text "$long" --layer-output "$TMP/tb1.npy" --threads 1 >/dev/null 2>&1
"$SBV2" bert "$TMP/tb4" --text "$long" --layer-output "$TMP/tb3.npy" --threads 3 >/dev/null 2>&1
if [ -s "$TMP/tb1.npy" ] && cmp -s "$TMP/tb1.npy" "$TMP/tb3.npy"; then ok "bert: 1 and 3 threads bit-identical"
else bad "bert: 1 and 3 threads bit-identical"; fi
expect_error "testmodel-bert even conv kernel" "odd --conv-kernel" "$SBV2" testmodel-bert "$TMP/tb2" --conv-kernel 2
expect_error "testmodel-bert bad value" "bad or incomplete option" "$SBV2" testmodel-bert "$TMP/tb2" --hidden x
sed -i 's/"conv_kernel_size": 3/"conv_kernel_size": 4/' "$TMP/tb/config.json"
expect_error "bert rejects an even conv_kernel_size" "must be odd" "$SBV2" bert "$TMP/tb" --text "a"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
