#!/bin/bash
# The main job on the bundled test model: build, write a random-weight model in
# SBV2's file layout, show it, synthesize with it. The audio is noise (the
# weights are random), but every stage of the real inference path runs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
./build/sbv2 testmodel build/testmodel --seed 1
./build/sbv2 info build/testmodel
./build/sbv2 demo build/testmodel --wav build/demo.wav --tokens 60 --seed 1 --threads "$(nproc)"
