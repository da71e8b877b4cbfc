#!/bin/bash
# The main job on the bundled test models: build, write a random-weight
# generator and a random-weight 1024-wide DeBERTa in SBV2's file layouts, and
# speak a Japanese sentence with them through the whole pipeline (frontend,
# BERT, generator). The audio is noise (the weights are random), but every
# stage does its real work.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/sbv2 testmodel build/testmodel --seed 1
./build/sbv2 testmodel-bert build/testbert --hidden 1024 --heads 16 --head-size 64 --layers 3 \
    --intermediate 256 --vocab 3000 --seed 1
./build/sbv2 info build/testmodel
./build/sbv2 say build/testmodel "今日はいい天気ですね。散歩に行きましょう！" --bert build/testbert \
    -o build/demo.wav --alignment build/demo.json --seed 1 --threads "$(nproc)"
