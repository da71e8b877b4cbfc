#!/bin/bash
# sbv2 convert, checked with ONNX Runtime (npm onnxruntime-node): every golden
# model is exported, every case runs in ONE session per model (dynamic axes),
# output within 1e-4 of SBV2's PyTorch output with full optimisation and with
# optimisation disabled, no ORT warning, finite audio with noise on, and the
# same length as sbv2c's. usage: onnx_test.sh BUILD_DIR GOLDEN_DIR ORT_DIR
set -u
BUILD=$1
GOLDEN=$2
ORT=$3
SBV2=$BUILD/sbv2
CMP=$BUILD/tests/npy_compare
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib.sh"

golden_or_skip "$GOLDEN"
if [ ! -d "$ORT/node_modules/onnxruntime-node" ]; then
    if [ "${CI:-}" = "true" ]; then echo "FAIL: onnxruntime-node not installed in $ORT"; exit 1; fi
    echo "SKIP: onnxruntime-node not installed (cd tests/ort && npm install --ignore-scripts)"; exit 77
fi

for mdir in "$GOLDEN"/netg/*/; do
    [ -f "$mdir/cases.json" ] || continue
    name=$(basename "$mdir")
    onnx=$TMP/$name.onnx
    if "$SBV2" convert "$mdir/model.safetensors" -o "$onnx" >"$TMP/log" 2>&1; then ok "$name: convert"
    else bad "$name: convert: $(cat "$TMP/log")"; continue; fi
    # cases that use the fp32 weights (the fp16 case has its own weights file)
    cases=()
    for c in "$mdir"/cases/*/; do [ -f "$c/in_x_tst.npy" ] && cases+=("${c%/}"); done
    for opt in all disabled; do
        mkdir -p "$TMP/out_$opt"
        if node "$ORT/run.js" --opt "$opt" "$onnx" "$TMP/out_$opt" "${cases[@]}" >"$TMP/ort.log" 2>&1; then
            if grep -q "\[W:" "$TMP/ort.log"; then bad "$name ($opt): ORT warnings: $(grep '\[W:' "$TMP/ort.log" | head -3)"
            else ok "$name ($opt): ORT ran ${#cases[@]} cases in one session without warnings"; fi
        else bad "$name ($opt): ORT failed: $(tail -5 "$TMP/ort.log")"; continue; fi
        for c in "${cases[@]}"; do
            cn=$(basename "$c")
            if r=$("$CMP" "$TMP/out_$opt/$cn.npy" "$c/output.npy" 1e-4 2>&1); then ok "$name/$cn ($opt): $r"
            else bad "$name/$cn ($opt): $r"; fi
        done
    done
    # noise inside the graph: finite audio, same length as sbv2c (durations fixed by sdp_ratio 0)
    c=${cases[2]:-${cases[0]}}
    mkdir -p "$TMP/noise"
    if node "$ORT/run.js" --set noise_scale=0.667 --set noise_scale_w=0.8 --set sdp_ratio=0 "$onnx" "$TMP/noise" "$c" >"$TMP/ort.log" 2>&1 &&
       "$SBV2" infer "$mdir/model.safetensors" --inputs "$c" --output "$TMP/noise/sbv2c.npy" --noise-scale 0.667 \
           --noise-scale-w 0.8 --sdp-ratio 0 --seed 1 >/dev/null 2>&1; then
        a=$(stat -c %s "$TMP/noise/$(basename "$c").npy"); b=$(stat -c %s "$TMP/noise/sbv2c.npy")
        if grep -q "finite" "$TMP/ort.log" && ! grep -q "NOT FINITE" "$TMP/ort.log" && [ "$a" = "$b" ] &&
           ! "$CMP" "$TMP/noise/$(basename "$c").npy" "$c/output.npy" 1e-3 >/dev/null 2>&1; then
            ok "$name: noisy graph gives finite audio of sbv2c's length ($(( (a - 128) / 4 )) samples)"
        else bad "$name: noisy graph: $(cat "$TMP/ort.log") sizes $a vs $b"; fi
    else bad "$name: noisy run failed: $(tail -3 "$TMP/ort.log")"; fi
done

# A decoder width SBV2 accepts but that does not divide by 2^5 (SBV2 sizes each
# stage with floor division: 100 -> 50, 25, 12, 6, 3): sbv2c against ONNX
# Runtime on its own export, for both architectures.
for arch in jp-extra multilingual; do
    fm=$TMP/floor-$arch
    if "$SBV2" testmodel "$fm" --arch $arch --decoder-channels 100 --seed 11 >"$TMP/log" 2>&1 &&
       "$SBV2" convert "$fm" -o "$fm.onnx" >>"$TMP/log" 2>&1 &&
       "$SBV2" demo "$fm" --tokens 23 --seed 4 --noise 0 --noise-w 0 --save-inputs "$fm-in" --inputs-only >>"$TMP/log" 2>&1 &&
       "$SBV2" infer "$fm" --inputs "$fm-in" --output "$fm-sbv2c.npy" --threads 3 >>"$TMP/log" 2>&1 &&
       mkdir -p "$fm-ort" && node "$ORT/run.js" "$fm.onnx" "$fm-ort" "$fm-in" >>"$TMP/log" 2>&1; then
        if r=$("$CMP" "$fm-ort/$(basename "$fm-in").npy" "$fm-sbv2c.npy" 1e-4 2>&1); then ok "decoder channels 100 ($arch): sbv2c vs ORT: $r"
        else bad "decoder channels 100 ($arch): sbv2c vs ORT: $r"; fi
    else bad "decoder channels 100 ($arch): $(tail -5 "$TMP/log")"; fi
done

# CLI behaviour of convert
J=$GOLDEN/netg/tiny-jp-extra
mkdir -p "$TMP/m"
cp "$J/model.safetensors" "$J/config.json" "$J/style_vectors.npy" "$TMP/m/"
mv "$TMP/m/model.safetensors" "$TMP/m/voice_e10_s200.safetensors"
if "$SBV2" convert "$TMP/m" >/dev/null 2>&1 && [ -s "$TMP/m/voice_e10_s200.onnx" ]; then ok "convert: default output beside the model"
else bad "convert: default output beside the model"; fi
before=$(stat -c %Y "$TMP/m/voice_e10_s200.onnx")
sleep 1
"$SBV2" convert "$TMP/m" >"$TMP/log" 2>&1
if grep -q "keeping it" "$TMP/log" && [ "$(stat -c %Y "$TMP/m/voice_e10_s200.onnx")" = "$before" ]; then ok "convert: existing output kept"
else bad "convert: existing output kept"; fi
"$SBV2" convert "$TMP/m" --force >/dev/null 2>&1
if [ "$(stat -c %Y "$TMP/m/voice_e10_s200.onnx")" != "$before" ]; then ok "convert: --force overwrites"; else bad "convert: --force overwrites"; fi
rm "$TMP/m/style_vectors.npy"
if ! "$SBV2" convert "$TMP/m" --force >"$TMP/log" 2>&1 && grep -q "style_vectors.npy" "$TMP/log"; then ok "convert: all three files required"
else bad "convert: all three files required: $(cat "$TMP/log")"; fi

# sbv2 convert-bert: the BERT export against transformers' hidden state
for bdir in "$GOLDEN"/bert/*/; do
    [ -f "$bdir/cases.json" ] || continue
    name=bert-$(basename "$bdir")
    if "$SBV2" convert-bert "$bdir" -o "$TMP/$name.onnx" >"$TMP/log" 2>&1; then ok "$name: convert-bert"
    else bad "$name: convert-bert: $(cat "$TMP/log")"; continue; fi
    for opt in all disabled; do
        if (abs=$(cd "$bdir" && pwd) && cd "$ORT" && node bert.js "$TMP/$name.onnx" "$abs" --opt $opt) >"$TMP/log" 2>&1; then ok "$name: ORT ($opt) $(cat "$TMP/log")"
        else bad "$name: ORT ($opt): $(cat "$TMP/log")"; fi
    done
done

# Odd-sized random DeBERTa-v2 models (heads of 18 and 20, log buckets and plain
# clamped positions, a 2100-wide FFN that goes in K slices, 5- and 1-tap
# ConvLayer): sbv2c's forward pass (1 and 2 threads) against ONNX Runtime on
# their exports, long texts (past the buckets) and short ones.
long=""; short=""
for i in $(seq 0 149); do long="$long$(printf "\\u$(printf %x $((0x4e00 + (i * 37) % 290)))")"; done
for i in 0 3 9 27 81 243 7; do short="$short$(printf "\\u$(printf %x $((0x4e00 + i)))")"; done
for cfg in "--hidden 72 --heads 4 --head-size 18 --layers 5 --intermediate 2100 --buckets 16 --max-relative 64 --conv-kernel 5" \
           "--hidden 40 --heads 3 --head-size 20 --layers 4 --intermediate 96 --buckets 0 --max-relative 24 --conv-kernel 1"; do
    bd=$TMP/bert_rand
    rm -rf "$bd"
    # shellcheck disable=SC2086
    if ! "$SBV2" testmodel-bert "$bd" $cfg --vocab 300 --seed 5 >"$TMP/log" 2>&1 || ! "$SBV2" convert-bert "$bd" -o "$bd.onnx" --force >>"$TMP/log" 2>&1; then
        bad "random bert ($cfg): $(cat "$TMP/log")"; continue
    fi
    # the export does not depend on the kernel path the model was loaded for
    # (the AVX2 path keeps its position tables as strips, the others as rows)
    for isa in avx2 generic; do
        if SBV2_ISA=$isa "$SBV2" convert-bert "$bd" -o "$bd.$isa.onnx" --force >"$TMP/log" 2>&1 && cmp -s "$bd.onnx" "$bd.$isa.onnx"; then
            ok "random bert ($cfg): export on the $isa path byte-identical"
        else bad "random bert ($cfg): export on the $isa path differs $(cat "$TMP/log")"; fi
        rm -f "$bd.$isa.onnx"
    done
    for text in "$long" "$short"; do
        for th in 1 2; do
            what="random bert ($cfg), ${#text} chars, $th threads"
            if "$SBV2" bert "$bd" --text "$text" --ids --layer-output "$TMP/st.npy" --threads $th >"$TMP/out" 2>"$TMP/log" &&
               tail -1 "$TMP/out" >"$TMP/ids.json" &&
               (cd "$ORT" && node bert_ids.js "$bd.onnx" "$TMP/ids.json" "$TMP/ort.npy") >>"$TMP/log" 2>&1 &&
               "$CMP" "$TMP/ort.npy" "$TMP/st.npy" 1e-4 >"$TMP/cmp" 2>&1; then ok "$what: $(cat "$TMP/cmp")"
            else bad "$what: $(cat "$TMP/log" "$TMP/cmp" 2>/dev/null)"; fi
            [ $th = 1 ] && cp "$TMP/st.npy" "$TMP/st1.npy"
        done
        # every other thread count (3 and 5 split neither the heads nor the tiles
        # evenly, 8 is above the cores) gives the 1-thread state bit for bit
        for th in 2 3 5 8; do
            what="random bert ($cfg), ${#text} chars, $th threads vs 1"
            if "$SBV2" bert "$bd" --text "$text" --layer-output "$TMP/st.npy" --threads $th >/dev/null 2>"$TMP/log" &&
               cmp -s "$TMP/st.npy" "$TMP/st1.npy"; then ok "$what: bit-identical"
            else bad "$what: differs $(cat "$TMP/log")"; fi
        done
    done
done

# Strassen's linear layers (long inputs on the AVX2 path, SBV2_STRASSEN=2
# forces them at any length on every path): a model whose every layer fits
# them, an even (152) and an odd (9) token count, against ONNX Runtime; the
# AVX2 form that sums A as it packs it, the AVX-512 and portable ones that
# sum it first, and every thread count give the same bits; and the plain
# products' state differs (so the Strassen path did run).
bd=$TMP/bert_strassen
rm -rf "$bd"
if ! "$SBV2" testmodel-bert "$bd" --hidden 128 --heads 2 --head-size 64 --layers 4 --intermediate 384 --buckets 16 --max-relative 64 \
        --vocab 300 --seed 7 >"$TMP/log" 2>&1 || ! "$SBV2" convert-bert "$bd" -o "$bd.onnx" --force >>"$TMP/log" 2>&1; then
    bad "strassen bert: $(cat "$TMP/log")"
else
    for text in "$long" "$short"; do
        what="strassen bert, ${#text} chars"
        if SBV2_STRASSEN=2 "$SBV2" bert "$bd" --text "$text" --ids --layer-output "$TMP/st1.npy" --threads 1 >"$TMP/out" 2>"$TMP/log" &&
           tail -1 "$TMP/out" >"$TMP/ids.json" &&
           (cd "$ORT" && node bert_ids.js "$bd.onnx" "$TMP/ids.json" "$TMP/ort.npy") >>"$TMP/log" 2>&1 &&
           "$CMP" "$TMP/ort.npy" "$TMP/st1.npy" 1e-4 >"$TMP/cmp" 2>&1; then ok "$what vs ORT: $(cat "$TMP/cmp")"
        else bad "$what vs ORT: $(cat "$TMP/log" "$TMP/cmp" 2>/dev/null)"; fi
        if SBV2_STRASSEN=0 "$SBV2" bert "$bd" --text "$text" --layer-output "$TMP/plain.npy" >/dev/null 2>"$TMP/log" &&
           ! cmp -s "$TMP/plain.npy" "$TMP/st1.npy"; then ok "$what: not the plain products' rounding (it ran)"
        else bad "$what: the same bits as the plain products, or failed $(cat "$TMP/log")"; fi
        for run in "avx2 1" "avx2 3" "avx2 5" "generic 2" "native 2" "native 8"; do
            set -- $run
            isa=$1; [ "$isa" = native ] && isa=""
            what="strassen bert, ${#text} chars, ${1} kernels, $2 threads vs 1"
            if SBV2_STRASSEN=2 SBV2_ISA=$isa "$SBV2" bert "$bd" --text "$text" --layer-output "$TMP/st.npy" --threads "$2" >/dev/null 2>"$TMP/log" &&
               cmp -s "$TMP/st.npy" "$TMP/st1.npy"; then ok "$what: bit-identical"
            else bad "$what: differs $(cat "$TMP/log")"; fi
        done
    done
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
