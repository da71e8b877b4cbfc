#!/bin/bash
# End-to-end tests of `sbv2 say`: golden audio (SBV2's TTSModel.infer), the
# output formats and destinations, text from stdin and files, the alignment
# JSON, finding the BERT, and a clear error for every bad input.
# usage: say_test.sh BUILD_DIR GOLDEN_DIR
set -u
BUILD=$1
GOLDEN=$(cd "$2" 2>/dev/null && pwd || echo "$2")
SBV2=$BUILD/sbv2
WCMP=$BUILD/tests/wav_compare
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/lib.sh"

golden_or_skip "$GOLDEN"
TTS=$GOLDEN/tts
M=$GOLDEN/netg/tiny-jp-extra/model.safetensors
B=$TTS/bert
Z=(--noise 0 --noise-w 0)

check "say --help" "$SBV2" say --help
# SBV2's own output (zero noise), int16 within 1 LSB
check "say v01 (defaults)" "$SBV2" say "$M" "ヒューズが飛んだ。" --bert "$B" "${Z[@]}" -o "$TMP/v01.wav"
check "v01 matches TTSModel.infer" "$WCMP" "$TMP/v01.wav" "$TTS/cases/v01_short/audio.wav" 1
# the same voice as an AivisSpeech .aivm: its neutral style is "ノーマル", which the default finds
check "convert --aivm" "$SBV2" convert "$M" --aivm -o "$TMP/voice.aivm"
check "say v01 from the .aivm (defaults)" "$SBV2" say "$TMP/voice.aivm" "ヒューズが飛んだ。" --bert "$B" "${Z[@]}" -o "$TMP/v01a.wav"
check "the .aivm's v01 matches TTSModel.infer" "$WCMP" "$TMP/v01a.wav" "$TTS/cases/v01_short/audio.wav" 1
check "say v05 (3 lines, speaker 1, Happy)" "$SBV2" say "$M" "$(printf 'わーい！！\n魔境に足を踏み入れる。\nローカル路線にはファンも多い。')" \
    --bert "$B" "${Z[@]}" --speaker 1 --style Happy -o "$TMP/v05.wav" --alignment "$TMP/v05.json"
check "v05 matches TTSModel.infer" "$WCMP" "$TMP/v05.wav" "$TTS/cases/v05_lines3_split05/audio.wav" 1
check "say v08 (assist text)" "$SBV2" say "$M" "ご清聴ありがとうございました。" --bert "$B" "${Z[@]}" \
    --assist-text きょうはいいてんきですね --assist-text-weight 0.7 -o "$TMP/v08.wav"
check "v08 matches TTSModel.infer" "$WCMP" "$TMP/v08.wav" "$TTS/cases/v08_assist07/audio.wav" 1
check "say v10 (given phones and tones)" "$SBV2" say "$M" "ピッツァとピザ" --bert "$B" "${Z[@]}" --no-line-split \
    --given-phones "_ p i q ts a t o p i z a _" --given-tones "0 1 1 0 1 0 0 0 1 1 0 0 0" -o "$TMP/v10.wav"
check "v10 matches TTSModel.infer" "$WCMP" "$TMP/v10.wav" "$TTS/cases/v10_given_phone_tone/audio.wav" 1
check "say v11 (older architecture, Angry)" "$SBV2" say "$GOLDEN/netg/tiny-v2/model.safetensors" "ファイルをダウンロードしてください。" \
    --bert "$B" "${Z[@]}" --style Angry -o "$TMP/v11.wav"
check "v11 matches TTSModel.infer" "$WCMP" "$TMP/v11.wav" "$TTS/cases/v11_multilingual/audio.wav" 1

# destinations and formats: the same int16 everywhere
"$SBV2" say "$M" "ヒューズが飛んだ。" --bert "$B" "${Z[@]}" -o - -q >"$TMP/stdout.wav" 2>"$TMP/err"
if cmp -s "$TMP/stdout.wav" "$TMP/v01.wav" && [ ! -s "$TMP/err" ]; then ok "-o - writes the same WAV to stdout, --quiet is quiet"
else bad "-o - / --quiet"; fi
printf 'ヒューズが飛んだ。\n' | "$SBV2" say "$M" --bert "$B" "${Z[@]}" -o "$TMP/stdin.wav" -q
if cmp -s "$TMP/stdin.wav" "$TMP/v01.wav"; then ok "text from stdin"; else bad "text from stdin"; fi
printf 'ヒューズが飛んだ。\n' >"$TMP/t.txt"
"$SBV2" say "$M" --text-file "$TMP/t.txt" --bert "$B" "${Z[@]}" -o "$TMP/file.wav" -q
if cmp -s "$TMP/file.wav" "$TMP/v01.wav"; then ok "--text-file"; else bad "--text-file"; fi
"$SBV2" say "$M" "ヒューズが飛んだ。" --bert "$B" "${Z[@]}" --format raw -o "$TMP/v01.raw" -q
if tail -c +45 "$TMP/v01.wav" | cmp -s - "$TMP/v01.raw"; then ok "--format raw is the WAV's s16le samples"; else bad "--format raw"; fi
"$SBV2" say "$M" "ヒューズが飛んだ。" --bert "$B" "${Z[@]}" --format f32 -o "$TMP/v01.f32" -q
if [ "$(stat -c %s "$TMP/v01.f32")" -eq $(( ($(stat -c %s "$TMP/v01.wav") - 44) * 2 )) ]; then ok "--format f32 size"
else bad "--format f32 size"; fi
check "report on stderr" grep -q "real-time factor" <("$SBV2" say "$M" "ヒューズが飛んだ。" --bert "$B" -o "$TMP/r.wav" 2>&1)

# the alignment JSON: spans tile the audio, two pauses of int(44100 * 0.5) for three lines
if command -v node >/dev/null; then
    check "alignment JSON tiles the audio" node -e '
        const a = JSON.parse(require("fs").readFileSync(process.argv[1]));
        let pos = 0, pauses = 0, phones = 0;
        for (const s of a.spans) {
            if (s.first_sample !== pos || s.n_samples < 0) throw new Error("gap at " + pos);
            pos += s.n_samples;
            if (s.kind === "pause") { pauses++; if (s.n_samples !== 22050) throw new Error("pause " + s.n_samples); }
            if (s.kind === "phone") phones++;
        }
        if (pos !== a.samples || a.samples !== 269380) throw new Error("sum " + pos + " of " + a.samples);
        if (pauses !== 2 || a.lines.length !== 3 || phones < 30) throw new Error("pauses/lines/phones");
        if (a.lines[1].bert_text !== "魔境に足を踏み入れる.") throw new Error(a.lines[1].bert_text);' "$TMP/v05.json"
else bad "node is needed to read the alignment JSON"; fi

# finding the BERT: SBV2's layout, then SBV2_BERT_DIR, else every place is named
mkdir -p "$TMP/sbv2/model_assets/voice" "$TMP/sbv2/bert"
for f in model.safetensors config.json style_vectors.npy; do ln -s "$GOLDEN/netg/tiny-jp-extra/$f" "$TMP/sbv2/model_assets/voice/$f"; done
ln -s "$B" "$TMP/sbv2/bert/deberta-v2-large-japanese-char-wwm"
check "BERT found in SBV2's layout" "$SBV2" say "$TMP/sbv2/model_assets/voice" "ヒューズが飛んだ。" "${Z[@]}" -o "$TMP/lay.wav" -q
if cmp -s "$TMP/lay.wav" "$TMP/v01.wav"; then ok "the same audio through SBV2's layout"; else bad "layout audio"; fi
check "SBV2_BERT_DIR" env SBV2_BERT_DIR="$B" "$SBV2" say "$M" "ヒューズが飛んだ。" "${Z[@]}" -o "$TMP/env.wav" -q
mkdir -p "$TMP/nob/model_assets/voice"
for f in model.safetensors config.json style_vectors.npy; do ln -s "$GOLDEN/netg/tiny-jp-extra/$f" "$TMP/nob/model_assets/voice/$f"; done
expect_error "no BERT: every place named" "$TMP/nob/bert/deberta-v2-large-japanese-char-wwm" \
    env -u SBV2_BERT_DIR "$SBV2" say "$TMP/nob/model_assets/voice/model.safetensors" "あ" -o "$TMP/x.wav"
expect_error "--bert that does not exist" "$TMP/none (--bert)" "$SBV2" say "$M" "あ" --bert "$TMP/none" -o "$TMP/x.wav"
"$SBV2" testmodel-bert "$TMP/b64" --hidden 64 >/dev/null 2>&1
expect_error "a BERT that does not fit" "hidden size is 64" "$SBV2" say "$M" "あ" --bert "$TMP/b64" -o "$TMP/x.wav"
expect_error "model not found" "$TMP/nomodel" "$SBV2" say "$TMP/nomodel" "あ" --bert "$B" -o "$TMP/x.wav"
# a mistyped MODEL is reported as such (once), even where no BERT would be found either
expect_error "model not found, no BERT either" "say: model file $TMP/nomodel not found" \
    env -u SBV2_BERT_DIR "$SBV2" say "$TMP/nomodel" "あ" -o "$TMP/x.wav"

# bad input: a clear error and a non-zero exit
expect_error "empty text" "text is empty" "$SBV2" say "$M" "" --bert "$B" -o "$TMP/x.wav"
expect_error "white space only" "only white space" "$SBV2" say "$M" "$(printf ' \t\n　')" --bert "$B" -o "$TMP/x.wav"
expect_error "invalid UTF-8" "not valid UTF-8" "$SBV2" say "$M" "$(printf 'あ\xff')" --bert "$B" -o "$TMP/x.wav"
expect_error "no phones" "nothing to pronounce" "$SBV2" say "$M" "###" --bert "$B" -o "$TMP/x.wav"
expect_error "unknown style" "no style 'Furious' (it has: Neutral" "$SBV2" say "$M" "あ" --bert "$B" --style Furious -o "$TMP/x.wav"
expect_error "unknown speaker" "no speaker 'nobody'" "$SBV2" say "$M" "あ" --bert "$B" --speaker nobody -o "$TMP/x.wav"
expect_error "speaker id out of range" "speaker id 7" "$SBV2" say "$M" "あ" --bert "$B" --speaker 7 -o "$TMP/x.wav"
expect_error "NaN noise" "noise = nan" "$SBV2" say "$M" "あ" --bert "$B" --noise nan -o "$TMP/x.wav"
expect_error "negative length" "length = -1" "$SBV2" say "$M" "あ" --bert "$B" --length -1 -o "$TMP/x.wav"
expect_error "absurd sdp ratio" "sdp_ratio" "$SBV2" say "$M" "あ" --bert "$B" --sdp-ratio 50 -o "$TMP/x.wav"
expect_error "not a number" "bad or unknown argument --length" "$SBV2" say "$M" "あ" --bert "$B" --length fast -o "$TMP/x.wav"
expect_error "given phones/tones of other lengths" "length of given_phone (3) != length of given_tone (2)" \
    "$SBV2" say "$M" "あ" --bert "$B" --no-line-split --given-phones "_ a _" --given-tones "0 0" -o "$TMP/x.wav"
expect_error "text over the limit" "more than the limit of 3" "$SBV2" say "$M" "あいうえお" --bert "$B" --max-chars 3 -o "$TMP/x.wav"
expect_error "no -o" "-o OUT is missing" "$SBV2" say "$M" "あ" --bert "$B"
expect_error "bad --format" "bad or unknown argument --format" "$SBV2" say "$M" "あ" --bert "$B" --format mp3 -o "$TMP/x.wav"
expect_error "unwritable output" "cannot write" "$SBV2" say "$M" "あ" --bert "$B" -o "$TMP/no/such/dir.wav"
check "given phones with line split: a note, and SBV2's behaviour" grep -q "ignored with line split on" \
    <("$SBV2" say "$M" "あ" --bert "$B" --given-phones "_ a _" --given-tones "0 0 0" -o "$TMP/n.wav" 2>&1)

# --stream: the same float samples as the one-shot call, int16 by the clip rule, stops cleanly
V05="$(printf 'わーい！！\n魔境に足を踏み入れる。\nローカル路線にはファンも多い。')"
"$SBV2" say "$M" "$V05" --bert "$B" "${Z[@]}" --format f32 -o "$TMP/one.f32" -q
"$SBV2" say "$M" "$V05" --bert "$B" "${Z[@]}" --stream --format f32 --first-frames 3 --max-frames 20 >"$TMP/st.f32" 2>"$TMP/st.log"
# (within 1e-5, as the README promises: the Winograd and FFT forms round by
# their tile grid, which a window shifts; direct-form stages are bit-identical)
if d=$("$WCMP" --f32 "$TMP/one.f32" "$TMP/st.f32" 1e-5); then ok "--stream: the one-shot float samples, window by window: $d"
else bad "--stream f32: $d"; fi
check "--stream reports the first audio" grep -q "first audio after" "$TMP/st.log"
"$SBV2" say "$M" "$V05" --bert "$B" "${Z[@]}" --stream -q >"$TMP/st.raw"
if [ "$(stat -c %s "$TMP/st.raw")" -eq $(( $(stat -c %s "$TMP/one.f32") / 2 )) ]; then ok "--stream: s16le on stdout by default"
else bad "--stream raw size"; fi
"$SBV2" say "$M" "$V05" --bert "$B" "${Z[@]}" --stream --format wav -o "$TMP/st.wav" -q
check "--stream --format wav to a file: a complete header" "$WCMP" "$TMP/st.wav" "$TMP/st.wav" 0
if [ "$(od -An -tu4 -j40 -N4 "$TMP/st.wav" | tr -d ' ')" -eq $(( $(stat -c %s "$TMP/st.wav") - 44 )) ]; then ok "streamed WAV data size patched"
else bad "streamed WAV data size"; fi
"$SBV2" say "$M" "$V05" --bert "$B" --stream 2>"$TMP/pipe.log" | head -c 100 >/dev/null
st=${PIPESTATUS[0]}
if [ "$st" -eq 0 ] && grep -q "closed the pipe" "$TMP/pipe.log"; then ok "--stream: a closed pipe stops it cleanly"
else bad "--stream closed pipe (exit $st: $(cat "$TMP/pipe.log"))"; fi
# many short sentences in 1-frame windows: the first chunk comes at once, the last long after
LONG=$(for _ in $(seq 40); do printf 'ヒューズが飛んだ。魔境に足を踏み入れる。'; done)
timeout 120 "$SBV2" say "$M" "$LONG" --bert "$B" --stream --first-frames 1 --max-frames 1 --max-chars 0 -o "$TMP/sig.raw" 2>"$TMP/sig.log" &
pid=$!
for _ in $(seq 300); do [ -s "$TMP/sig.raw" ] && break; sleep 0.1; done # streaming has begun (bounded: 30 s)
kill -INT $pid
wait $pid
st=$?
if [ "$st" -eq 130 ] && grep -q "stopped by a signal" "$TMP/sig.log"; then ok "--stream: SIGINT stops it between chunks"
else bad "--stream SIGINT (exit $st: $(cat "$TMP/sig.log"))"; fi
expect_error "--first-frames 0" "bad or unknown argument --first-frames" "$SBV2" say "$M" "あ" --bert "$B" --stream --first-frames 0

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
