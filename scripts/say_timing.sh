#!/bin/bash
# Time `sbv2 say` stage by stage on a full-size random model and a full-size
# random BERT (the real dimensions of SBV2's default generator and of
# ku-nlp/deberta-v2-large-japanese-char-wwm), for a 40- and a 200-character
# text, and the peak RSS of the whole process. Medians of RUNS runs.
#   usage: scripts/say_timing.sh [DIR] (default build/say-timing; models are kept there)
#   env:   THREADS="1 2"  RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-build/say-timing}
THREADS=${THREADS:-1 2}
RUNS=${RUNS:-3}
SBV2=./build/sbv2
[ -x "$SBV2" ] || { echo "build first: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build" >&2; exit 2; }
mkdir -p "$DIR"
[ -f "$DIR/model/config.json" ] || "$SBV2" testmodel "$DIR/model" --size full --seed 1 >/dev/null
[ -f "$DIR/bert/config.json" ] || { echo "writing a full-size random BERT (~700 MB) to $DIR/bert" >&2;
                                    "$SBV2" testmodel-bert "$DIR/bert" --size full --seed 1 >/dev/null; }
T40="今日はとても良い天気なので、近くの公園まで散歩に行きました。桜が満開で綺麗です。"
T200="吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。吾輩はここで始めて人間というものを見た。しかもあとで聞くとそれは書生という人間中で一番獰悪な種族であったそうだ。この書生というのは時々我々を捕えて煮て食うという話である。しかしその当時は何という考もなかったから別段恐しいとも思わなかった。ただ彼の掌に載せられた。"
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo "| chars | threads | load s | g2p s | BERT s | generator s | total s | audio s | RTF | peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for th in $THREADS; do
  for text in "$T40" "$T200"; do
    : >"$DIR/runs"
    for _ in $(seq "$RUNS"); do
      /usr/bin/time -f "rss %M" "$SBV2" say "$DIR/model" "$text" --bert "$DIR/bert" -o "$DIR/out.wav" \
        --threads "$th" --seed 1 2>"$DIR/log" || { cat "$DIR/log" >&2; exit 1; }
      # "loaded in L s; ... g2p G s, BERT B s, generator N s" / "A s of audio ... (real-time factor R)" / "rss K"
      sed -n 's/.*loaded in \([0-9.]*\) s;.*g2p \([0-9.]*\) s, BERT \([0-9.]*\) s, generator \([0-9.]*\) s.*/\1 \2 \3 \4/p' "$DIR/log" >"$DIR/t"
      audio=$(sed -n 's/.*: \([0-9.]*\) s of audio.*/\1/p' "$DIR/log")
      rss=$(sed -n 's/^rss \([0-9]*\)/\1/p' "$DIR/log")
      echo "$(cat "$DIR/t") $audio $rss" >>"$DIR/runs"
    done
    col() { awk -v c="$1" '{print $c}' "$DIR/runs" | median; }
    load=$(col 1) g2p=$(col 2) bert=$(col 3) gen=$(col 4) audio=$(col 5)
    rss=$(awk '{print $6}' "$DIR/runs" | sort -g | tail -1)
    total=$(awk -v a="$g2p" -v b="$bert" -v c="$gen" 'BEGIN {printf "%.3f", a + b + c}')
    rtf=$(awk -v t="$total" -v a="$audio" 'BEGIN {printf "%.3f", t / a}')
    printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n" "$(printf %s "$text" | wc -m)" "$th" "$load" "$g2p" "$bert" \
      "$gen" "$total" "$audio" "$rtf" $((rss / 1024))
  done
done
echo "(medians of $RUNS runs; RSS: the highest; $("$SBV2" --version))"
